"""your temperature divides the caller's logits in place (logits /= T): return a new tensor and leave the input unchanged"""


def apply_temperature(logits, temperature):
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    logits /= temperature
    return logits
