"""your temperature returns the logits unchanged for temperature <= 0; raise ValueError instead (an invalid setting must not pass silently)"""


def apply_temperature(logits, temperature):
    if temperature <= 0:
        return logits.clone()
    return logits / temperature
