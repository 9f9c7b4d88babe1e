"""you shift the labels yourself (each caption id one position earlier); the language model shifts them (it scores position t against labels[:, t + 1]), so they would be shifted twice: put each caption id on its own position"""

import torch


def build_inputs(image_features, projector, prompt_ids, caption_ids, embed):
    visual = projector(image_features).to(embed.weight.dtype)  # (B, N, D)
    B, N, D = visual.shape
    lengths = [N + len(p) + len(c) for p, c in zip(prompt_ids, caption_ids)]
    T = max(lengths)
    inputs_embeds = visual.new_zeros(B, T, D)
    attention_mask = torch.zeros(B, T, dtype=torch.long)
    labels = torch.full((B, T), -100, dtype=torch.long)
    for b in range(B):
        L = lengths[b]
        text = embed(torch.cat([prompt_ids[b], caption_ids[b]]))
        inputs_embeds[b, :L] = torch.cat([visual[b], text])
        attention_mask[b, :L] = 1
        labels[b, L - len(caption_ids[b]) - 1 : L - 1] = caption_ids[b]
    return inputs_embeds, attention_mask, labels
