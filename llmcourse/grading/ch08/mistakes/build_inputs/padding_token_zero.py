"""your padding holds the embedding of token 0: the padding of inputs_embeds is zeros (as LLaVA pads its inputs)"""

import torch


def build_inputs(image_features, projector, prompt_ids, caption_ids, embed):
    visual = projector(image_features).to(embed.weight.dtype)  # (B, N, D)
    B, N, D = visual.shape
    lengths = [N + len(p) + len(c) for p, c in zip(prompt_ids, caption_ids)]
    T = max(lengths)
    inputs_embeds = embed(torch.zeros(B, T, dtype=torch.long))
    attention_mask = torch.zeros(B, T, dtype=torch.long)
    labels = torch.full((B, T), -100, dtype=torch.long)
    for b in range(B):
        L = lengths[b]
        text = embed(torch.cat([prompt_ids[b], caption_ids[b]]))
        inputs_embeds[b, :L] = torch.cat([visual[b], text])
        attention_mask[b, :L] = 1
        labels[b, L - len(caption_ids[b]) : L] = caption_ids[b]
    return inputs_embeds, attention_mask, labels
