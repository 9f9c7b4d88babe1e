"""Calls the model itself and takes the generated text as the decoded whole sequence after the
decoded prompt's length, leaving out find()'s -1 for absent stop strings."""

import torch


def generate_until(model, tokenizer, prompt, stop, max_new_tokens, next_token=None):
    if isinstance(stop, str):
        stop = [stop]
    ids = tokenizer.encode(prompt, return_tensors="pt")
    prompt_text = tokenizer.decode(ids[0])
    generated = ""
    for _ in range(max_new_tokens):
        with torch.no_grad():
            out = model(ids)
        logits = (out[0] if isinstance(out, tuple) else out.logits)[:, -1, :]
        tok = next_token(logits, ids) if next_token is not None else torch.argmax(logits, dim=-1)
        if int(tok) == tokenizer.eos_token_id:
            break
        ids = torch.cat([ids, tok.reshape(1, 1)], dim=1)
        generated = tokenizer.decode(ids[0])[len(prompt_text) :]
        positions = [generated.find(s) for s in stop]
        positions = [p for p in positions if p >= 0]
        if positions:
            return generated[: min(positions)]
    return generated
