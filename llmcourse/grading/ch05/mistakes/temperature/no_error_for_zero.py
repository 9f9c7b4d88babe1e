"""your temperature divides by zero for temperature 0 (and accepts negative ones); raise ValueError for temperature <= 0, as Hugging Face's TemperatureLogitsWarper does"""


def apply_temperature(logits, temperature):
    return logits / temperature
