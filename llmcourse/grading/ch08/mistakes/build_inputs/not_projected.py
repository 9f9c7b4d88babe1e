"""you put image_features into the sequence as they are: pass them through projector first, which maps their width D_img to the language model's width D"""

import torch


def build_inputs(image_features, projector, prompt_ids, caption_ids, embed):
    visual = image_features.to(embed.weight.dtype)  # (B, N, D)
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
        labels[b, L - len(caption_ids[b]) : L] = caption_ids[b]
    return inputs_embeds, attention_mask, labels
