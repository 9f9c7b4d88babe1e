"""Embeds a grid of ids with placeholders for the image, zeroes the image and padding positions and puts the projected features in with masked_scatter, as LLaVA does, instead of concatenating row by row."""

import torch


def build_inputs(image_features, projector, prompt_ids, caption_ids, embed):
    # LLaVA's way: placeholder positions for the image, then masked_scatter of the projected features
    B, N, _ = image_features.shape
    lengths = torch.tensor([N + len(p) + len(c) for p, c in zip(prompt_ids, caption_ids)])
    T = int(lengths.max())
    ids = torch.zeros(B, T, dtype=torch.long)
    labels = torch.full((B, T), -100)
    for b, (p, c) in enumerate(zip(prompt_ids, caption_ids)):
        end = int(lengths[b])
        ids[b, N:end] = torch.cat([p, c])
        labels[b, end - len(c) : end] = c
    real = torch.arange(T)[None, :] < lengths[:, None]  # (B, T)
    image = torch.arange(T)[None, :].expand(B, T) < N  # (B, T)
    text = embed(ids) * (real & ~image).unsqueeze(-1)  # zeros at the image and padding positions
    inputs_embeds = text.masked_scatter(image.unsqueeze(-1), projector(image_features).to(text.dtype))
    return inputs_embeds, real.long(), labels
