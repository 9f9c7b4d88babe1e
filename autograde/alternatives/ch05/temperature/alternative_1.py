"""Valid alternative 1 of temperature."""


def apply_temperature(logits, temperature):
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return logits * (1.0 / temperature)
