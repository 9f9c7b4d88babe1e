"""your repetition penalty is applied once per occurrence, so a token seen three times is penalised three times; penalise each distinct token once"""


def apply_repetition_penalty(logits, generated_ids, penalty):
    out = logits.clone()
    for b in range(out.shape[0]):
        for token in generated_ids[b].tolist():
            if out[b, token] > 0:
                out[b, token] = out[b, token] / penalty
            else:
                out[b, token] = out[b, token] * penalty
    return out
