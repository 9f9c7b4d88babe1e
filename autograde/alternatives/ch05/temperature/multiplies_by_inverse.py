"""Multiplies the logits by 1 / temperature instead of dividing them by the temperature."""


def apply_temperature(logits, temperature):
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return logits * (1.0 / temperature)
