"""your temperature checks with assert, which raises AssertionError (and is skipped under python -O); raise ValueError for temperature <= 0"""


def apply_temperature(logits, temperature):
    assert temperature > 0, "temperature must be positive"
    return logits / temperature
