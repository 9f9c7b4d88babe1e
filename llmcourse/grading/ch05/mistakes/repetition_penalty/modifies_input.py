"""your repetition penalty changes the caller's logits in place; return a new tensor and leave the input unchanged"""


def apply_repetition_penalty(logits, generated_ids, penalty):
    for b in range(logits.shape[0]):
        for token in set(generated_ids[b].tolist()):
            if logits[b, token] < 0:
                logits[b, token] *= penalty
            else:
                logits[b, token] /= penalty
    return logits
