"""The valid alternatives of chapter 08_multimodal's graded exercises (``llmcourse.grading.ch08``):
complete correct answers written differently from the solution, by the exercise's key in that
chapter's ``EXERCISES``.

The mutation suite (``make mutants``) grades each one and requires full marks; the class report
flags answers that are near-copies of them (``llmcourse.grading.similarity.course_code``); the
tests use them as known good answers. They live here, on the instructor's side, and not in
``llmcourse/grading/ch08.py``: that module is what the student's notebook imports, and
``autograde/`` is not part of the installed package. Read with
``llmcourse.grading.alternatives.alternatives_of`` (parsed, never run).
"""

ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "patchify": (
        r'''import torch
def patchify(images, patch_size):
    B, C, H, W = images.shape
    p = patch_size
    if H % p or W % p:
        raise ValueError('image size is not a multiple of patch_size')
    x = images.unfold(2, p, p).unfold(3, p, p)  # (B, C, gh, gw, p, p)
    return x.permute(0, 2, 3, 1, 4, 5).reshape(B, -1, C * p * p)
''',
        r'''import torch
def patchify(images, patch_size):
    B, C, H, W = images.shape
    p = patch_size
    if H % p != 0 or W % p != 0:
        raise ValueError(f'{H}x{W} is not divisible by {p}')
    rows = []
    for i in range(0, H, p):
        for j in range(0, W, p):
            rows.append(images[:, :, i:i + p, j:j + p].reshape(B, -1))
    return torch.stack(rows, dim=1)
''',
    ),
    "patch_embedding": (
        r'''import torch
from torch import nn
class PatchEmbedding(nn.Module):
    def __init__(self, in_channels, patch_size, embed_dim):
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Linear(in_channels * patch_size ** 2, embed_dim)

    def forward(self, images):
        B, C, H, W = images.shape
        p = self.patch_size
        x = images.unfold(2, p, p).unfold(3, p, p).permute(0, 2, 3, 1, 4, 5).reshape(B, -1, C * p * p)
        return x @ self.proj.weight.T + self.proj.bias
''',
        r'''import torch
from torch import nn
class PatchEmbedding(nn.Module):
    def __init__(self, in_channels, patch_size, embed_dim):
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Linear(in_channels * patch_size ** 2, embed_dim, bias=True)

    def forward(self, images):
        return self.proj(patchify(images, self.patch_size))
''',
    ),
    "clip_loss": (
        r'''import torch
import torch.nn.functional as F
def clip_loss(image_embeds, text_embeds, temperature):
    image = F.normalize(image_embeds, dim=-1)
    text = F.normalize(text_embeds, dim=-1)
    logits = image @ text.T / temperature
    log_rows = logits.log_softmax(dim=1).diagonal()
    log_cols = logits.log_softmax(dim=0).diagonal()
    return -(log_rows.mean() + log_cols.mean()) / 2
''',
        r'''import torch
import torch.nn.functional as F
def clip_loss(image_embeds, text_embeds, temperature):
    image = image_embeds / torch.sqrt((image_embeds ** 2).sum(-1, keepdim=True))
    text = text_embeds / torch.sqrt((text_embeds ** 2).sum(-1, keepdim=True))
    logits = torch.einsum("id,jd->ij", image, text) * (1.0 / temperature)
    labels = torch.arange(logits.shape[0])
    loss_i = F.cross_entropy(logits, labels)
    loss_t = F.cross_entropy(logits.t(), labels)
    return 0.5 * loss_i + 0.5 * loss_t
''',
    ),
    "build_inputs": (
        r'''import torch
from torch.nn.utils.rnn import pad_sequence
def build_inputs(image_features, projector, prompt_ids, caption_ids, embed):
    visual = projector(image_features).to(embed.weight.dtype)
    rows, masks, targets = [], [], []
    for v, p, c in zip(visual, prompt_ids, caption_ids):
        rows.append(torch.cat([v, embed(p), embed(c)]))
        masks.append(torch.ones(len(rows[-1]), dtype=torch.long))
        targets.append(torch.cat([torch.full((len(v) + len(p),), -100, dtype=torch.long), c]))
    return (pad_sequence(rows, batch_first=True), pad_sequence(masks, batch_first=True),
            pad_sequence(targets, batch_first=True, padding_value=-100))
''',
        r'''import torch
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
        labels[b, end - len(c):end] = c
    real = torch.arange(T)[None, :] < lengths[:, None]  # (B, T)
    image = torch.arange(T)[None, :].expand(B, T) < N  # (B, T)
    text = embed(ids) * (real & ~image).unsqueeze(-1)  # zeros at the image and padding positions
    inputs_embeds = text.masked_scatter(image.unsqueeze(-1), projector(image_features).to(text.dtype))
    return inputs_embeds, real.long(), labels
''',
        r'''import torch
import torch.nn.functional as F
def build_inputs(image_features, projector, prompt_ids, caption_ids, embed):
    visual = projector(image_features).to(embed.weight.dtype)
    N = visual.shape[1]
    T = N + max(len(p) + len(c) for p, c in zip(prompt_ids, caption_ids))
    embeds, masks, labels = [], [], []
    for b in range(visual.shape[0]):
        row = torch.cat([visual[b], embed(prompt_ids[b]), embed(caption_ids[b])])  # (L, D)
        pad = T - row.shape[0]
        embeds.append(F.pad(row, (0, 0, 0, pad)))
        masks.append(F.pad(torch.ones(row.shape[0], dtype=torch.long), (0, pad)))
        label = torch.cat([torch.full((N + len(prompt_ids[b]),), -100), caption_ids[b]])
        labels.append(F.pad(label, (0, pad), value=-100))
    return torch.stack(embeds), torch.stack(masks), torch.stack(labels)
''',
    ),
}
