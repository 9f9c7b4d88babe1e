"""your temperature subtracts each row's largest logit (a softmax's stability trick); the probabilities are the same but the logits are not: return logits / T, nothing else"""


def apply_temperature(logits, temperature):
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    return (logits - logits.max(dim=-1, keepdim=True).values) / temperature
