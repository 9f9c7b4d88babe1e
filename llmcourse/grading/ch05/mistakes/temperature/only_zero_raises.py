"""your temperature raises ValueError for temperature 0 only; a negative temperature is invalid too (it would reverse the order of the tokens): raise for temperature <= 0"""


def apply_temperature(logits, temperature):
    if temperature == 0:
        raise ValueError("temperature must not be 0")
    return logits / temperature
