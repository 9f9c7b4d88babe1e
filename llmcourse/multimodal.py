"""Multimodal pieces for chapter 08: image patches as tokens, CLIP's loss, a LLaVA-style captioner.

- :func:`patchify` and :class:`PatchEmbedding`: the first layer of a Vision Transformer
  (*An Image is Worth 16x16 Words*, 2020), written with reshapes and an ``nn.Linear``; it equals a
  strided ``nn.Conv2d`` whose kernel is the linear layer's weight reshaped.
- :func:`clip_loss`: CLIP's symmetric contrastive loss (*Learning Transferable Visual Models From
  Natural Language Supervision*, 2021).
- :func:`build_inputs`: LLaVA's connector (*Visual Instruction Tuning*, 2023): projected image
  features, then the prompt's and the caption's token embeddings, right-padded, with the
  attention mask and the labels (-100 everywhere but on the caption) a causal LM trains on.
- :class:`DigitCaptioner`: the LLaVA recipe at toy scale: a small image encoder, a linear
  projection into a frozen language model's embedding space, and the language model writing the
  caption; trained on scikit-learn's 8x8 handwritten digits.
- :func:`draw_connectors`: diagrams of how BLIP-2, Flamingo, IDEFICS/OpenFlamingo and LLaVA feed
  images to a language model.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


# ---------------------------------------------------------------- patches as tokens


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Cut ``images`` (B, C, H, W) into non-overlapping ``patch_size`` squares.

    Returns (B, N, C * p * p) with N = (H / p) * (W / p), patches in row-major order over the grid
    and each patch flattened as (channel, row, column): the order ``F.unfold`` produces.
    """
    B, C, H, W = images.shape
    p = patch_size
    if H % p or W % p:
        raise ValueError(f"image size {H}x{W} is not a multiple of the patch size {p}")
    x = images.reshape(B, C, H // p, p, W // p, p)  # (B, C, gh, p, gw, p)
    x = x.permute(0, 2, 4, 1, 3, 5)  # (B, gh, gw, C, p, p)
    return x.reshape(B, (H // p) * (W // p), C * p * p)


class PatchEmbedding(nn.Module):
    """ViT's patch embedding: ``proj(patchify(images, p))``, (B, C, H, W) -> (B, N, embed_dim)."""

    def __init__(self, in_channels: int, patch_size: int, embed_dim: int) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Linear(in_channels * patch_size**2, embed_dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.proj(patchify(images, self.patch_size))


def as_conv2d(embedding: PatchEmbedding) -> nn.Conv2d:
    """The strided ``nn.Conv2d`` that computes the same as ``embedding`` (same weights)."""
    E, D = embedding.proj.weight.shape
    p = embedding.patch_size
    C = D // (p * p)
    conv = nn.Conv2d(C, E, p, stride=p).to(embedding.proj.weight)
    with torch.no_grad():
        conv.weight.copy_(embedding.proj.weight.reshape(E, C, p, p))
        conv.bias.copy_(embedding.proj.bias)
    return conv


# ---------------------------------------------------------------- CLIP


def clip_loss(image_embeds: torch.Tensor, text_embeds: torch.Tensor, temperature: float) -> torch.Tensor:
    """CLIP's symmetric contrastive loss for N matching (image, text) pairs, (N, D) each.

    Both are L2-normalised; logits = image @ text.T / temperature; the loss is the mean of the
    cross-entropies image -> text (rows) and text -> image (columns), the right match of row i
    being column i.
    """
    image = image_embeds / image_embeds.norm(dim=-1, keepdim=True)
    text = text_embeds / text_embeds.norm(dim=-1, keepdim=True)
    logits = image @ text.T / temperature
    labels = torch.arange(logits.shape[0], device=logits.device)
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


# ---------------------------------------------------------------- the digits


def load_digits_split(test_fraction: float = 0.25, seed: int = 0):
    """scikit-learn's 1,797 handwritten digits (8x8, shipped with the library, no download) as
    ``(train_images, train_labels, test_images, test_labels)``: images (N, 1, 8, 8) in [0, 1]."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    labels = torch.tensor(digits.target, dtype=torch.long)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    n_test = round(len(labels) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return images[train], labels[train], images[test], labels[test]


def caption_of(label: int) -> str:
    return f"the number {DIGIT_WORDS[int(label)]}"


# ---------------------------------------------------------------- LLaVA's connector


def build_inputs(
    image_features: torch.Tensor,
    projector: nn.Module,
    prompt_ids: list[torch.Tensor],
    caption_ids: list[torch.Tensor],
    embed: nn.Module,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """What a LLaVA-style model feeds its language model, and what it trains it on.

    ``image_features`` (B, N, D_img) go through ``projector`` (D_img -> D); row ``b`` of the
    sequence is then the N visual tokens, ``embed(prompt_ids[b])`` and ``embed(caption_ids[b])``
    (``prompt_ids`` and ``caption_ids``: lists of B 1-D LongTensors of any lengths), and rows are
    right-padded to the longest. Returns

    - ``inputs_embeds`` (B, T, D) in the embedding's dtype, T = N + max(len(prompt) + len(caption)),
      zeros on padding;
    - ``attention_mask`` (B, T) torch.long: 1 on the image, prompt and caption positions, 0 on padding;
    - ``labels`` (B, T) torch.long: the caption's ids on its own positions, -100 everywhere else
      (image, prompt, padding). Not shifted: the model predicts ``labels[:, t + 1]`` at position t.
    """
    visual = projector(image_features).to(embed.weight.dtype)  # (B, N, D)
    B, N, D = visual.shape
    device = visual.device
    lengths = [N + len(p) + len(c) for p, c in zip(prompt_ids, caption_ids)]
    T = max(lengths)
    inputs_embeds = visual.new_zeros(B, T, D)
    attention_mask = torch.zeros(B, T, dtype=torch.long, device=device)
    labels = torch.full((B, T), -100, dtype=torch.long, device=device)
    for b, (prompt, caption) in enumerate(zip(prompt_ids, caption_ids)):
        text = embed(torch.cat([prompt, caption]).to(device))  # (len(prompt) + len(caption), D)
        inputs_embeds[b, : lengths[b]] = torch.cat([visual[b], text])
        attention_mask[b, : lengths[b]] = 1
        labels[b, lengths[b] - len(caption) : lengths[b]] = caption.to(device)
    return inputs_embeds, attention_mask, labels


# ---------------------------------------------------------------- a LLaVA-style captioner


class DigitEncoder(nn.Module):
    """A very small Vision Transformer: patch embedding, learned positions, one encoder layer."""

    def __init__(
        self, image_size: int = 8, patch_size: int = 4, width: int = 64, depth: int = 1, heads: int = 4
    ) -> None:
        super().__init__()
        self.patches = PatchEmbedding(1, patch_size, width)
        self.position = nn.Parameter(torch.randn(1, (image_size // patch_size) ** 2, width) * 0.02)
        layer = nn.TransformerEncoderLayer(width, heads, 4 * width, dropout=0.0, batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.width = width

    def forward(self, images: torch.Tensor) -> torch.Tensor:  # (B, 1, H, W) -> (B, N, width)
        return self.norm(self.blocks(self.patches(images) + self.position))


class DigitCaptioner(nn.Module):
    """LLaVA at toy scale: image features -> linear projection W -> a frozen language model.

    The projected features are "visual tokens" put before the prompt and the caption, by
    ``connector`` (:func:`build_inputs` or an answer with its signature); only the encoder and the
    projection are trained, the language model (``lm``, a Hugging Face causal LM such as
    course-gpt) stays frozen.
    """

    def __init__(
        self, lm, tokenizer, encoder: DigitEncoder | None = None, prompt: str = " the number", connector=build_inputs
    ) -> None:
        super().__init__()
        self.encoder = encoder or DigitEncoder()
        self.lm, self.tokenizer = lm, tokenizer
        for p in self.lm.parameters():
            p.requires_grad_(False)
        self.lm.eval()
        self.projection = nn.Linear(self.encoder.width, lm.get_input_embeddings().weight.shape[1])  # LLaVA's W
        self.eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
        self.prompt, self.connector = prompt, connector
        self.prompt_ids = tokenizer.encode(prompt) if prompt else []
        # each digit's caption after the prompt, then the end token: " seven" <eos> after " the number"
        self.digit_ids = [tokenizer.encode((" " + caption_of(d))[len(prompt) :]) + [self.eos] for d in range(10)]

    def train(self, mode: bool = True):  # the language model stays in eval mode
        super().train(mode)
        self.lm.eval()
        return self

    def _ids(self, ids: list[int]) -> torch.Tensor:
        return torch.tensor(ids, dtype=torch.long, device=self.projection.weight.device)

    def caption_ids(self, labels: torch.Tensor) -> list[torch.Tensor]:
        """The token ids of each label's caption after the prompt, followed by the end token."""
        return [self._ids(self.digit_ids[label]) for label in labels.tolist()]

    def _connect(self, images: torch.Tensor, captions: list[torch.Tensor]):
        """``connector``'s (inputs_embeds, attention_mask, labels) for the images and captions."""
        features = self.encoder(images.to(self.projection.weight.device))  # (B, N, width)
        prompts = [self._ids(self.prompt_ids) for _ in captions]
        return self.connector(features, self.projection, prompts, captions, self.lm.get_input_embeddings())

    def loss(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The next-token cross-entropy on the caption's tokens only: the logits at position t are
        scored against ``targets[:, t + 1]``, what ``lm(..., labels=targets).loss`` computes."""
        inputs_embeds, attention_mask, targets = self._connect(images, self.caption_ids(labels))
        logits = self.lm(inputs_embeds=inputs_embeds, attention_mask=attention_mask).logits  # (B, T, V)
        return F.cross_entropy(logits[:, :-1].flatten(0, 1), targets[:, 1:].flatten(), ignore_index=-100)

    @torch.no_grad()
    def generate(self, images: torch.Tensor, max_new_tokens: int = 6) -> list[str]:
        """Greedy captions: the language model writes after the visual tokens and the prompt."""
        embeds, _, _ = self._connect(images, [self._ids([]) for _ in range(len(images))])  # no padding: one prompt
        wte = self.lm.get_input_embeddings()
        out = torch.empty(len(images), 0, dtype=torch.long, device=embeds.device)
        done = torch.zeros(len(images), dtype=torch.bool, device=embeds.device)
        for _ in range(max_new_tokens):
            next_id = self.lm(inputs_embeds=embeds).logits[:, -1].argmax(-1)
            next_id = next_id.masked_fill(done, self.eos)
            out = torch.cat([out, next_id[:, None]], dim=1)
            done |= next_id == self.eos
            if done.all():
                break
            embeds = torch.cat([embeds, wte(next_id)[:, None]], dim=1)
        captions = []
        for row in out.tolist():
            row = row[: row.index(self.eos)] if self.eos in row else row
            captions.append((self.prompt + self.tokenizer.decode(row)).strip())
        return captions


def train_captioner(
    captioner: DigitCaptioner,
    images,
    labels,
    steps: int = 300,
    batch_size: int = 64,
    lr: float = 1e-2,
    seed: int = 0,
    progress: bool = True,
) -> list[float]:
    """Train the encoder and the projection (AdamW, cosine schedule); returns the losses."""
    from tqdm.auto import tqdm

    torch.manual_seed(seed)
    params = [p for p in captioner.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / 20) * 0.5 * (1 + math.cos(math.pi * s / steps))
    )
    g = torch.Generator().manual_seed(seed)
    losses = []
    captioner.train()
    threads = torch.get_num_threads()
    if captioner.projection.weight.device.type == "cpu":
        torch.set_num_threads(1)  # small matrices: threads only wait for each other, badly so on a busy CPU
    try:
        bar = tqdm(range(steps), desc="training the connector", disable=not progress)
        for _ in bar:
            batch = torch.randint(len(labels), (batch_size,), generator=g)
            loss = captioner.loss(images[batch], labels[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
            bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    finally:
        torch.set_num_threads(threads)
    captioner.eval()
    return losses


def caption_accuracy(captioner: DigitCaptioner, images, labels, batch_size: int = 256) -> tuple[float, list[str]]:
    """The fraction of images whose generated caption is exactly the right one, and the captions."""
    captions: list[str] = []
    for start in range(0, len(labels), batch_size):
        captions += captioner.generate(images[start : start + batch_size])
    right = [c == caption_of(label) for c, label in zip(captions, labels.tolist())]
    return float(np.mean(right)), captions


# ---------------------------------------------------------------- diagrams


def _box(ax, x, y, w, h, text, color, fontsize=8):
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(
        FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02", facecolor=color, edgecolor="black", linewidth=0.8)
    )
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, start, end, text=""):
    ax.annotate("", xy=end, xytext=start, arrowprops={"arrowstyle": "->", "linewidth": 1.0})
    if text:
        ax.text((start[0] + end[0]) / 2 + 0.02, (start[1] + end[1]) / 2, text, fontsize=7, va="center")


FROZEN, TRAINED, DATA = "#dbe9f6", "#f8d7a8", "#e6e6e6"


def draw_connectors():
    """One panel per design: how image features reach the language model (blue: frozen,
    orange: trained). Returns the figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    for ax in axes.flat:
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.axis("off")

    ax = axes[0, 0]
    ax.set_title("LLaVA (2023): linear projection W, visual tokens before the text", fontsize=9)
    _box(ax, 0.02, 0.05, 0.22, 0.12, "image", DATA)
    _box(ax, 0.02, 0.3, 0.22, 0.14, "CLIP ViT-L/14\n(frozen)", FROZEN)
    _box(ax, 0.02, 0.56, 0.22, 0.12, "projection W", TRAINED)
    _box(ax, 0.35, 0.56, 0.25, 0.12, "visual tokens\n+ text tokens", DATA)
    _box(ax, 0.35, 0.78, 0.6, 0.14, "language model (Vicuna)\nfrozen in stage 1, trained in stage 2", FROZEN)
    _box(ax, 0.7, 0.56, 0.25, 0.12, "instruction\n(text)", DATA)
    _arrow(ax, (0.13, 0.17), (0.13, 0.3))
    _arrow(ax, (0.13, 0.44), (0.13, 0.56), " patch features")
    _arrow(ax, (0.24, 0.62), (0.35, 0.62))
    _arrow(ax, (0.7, 0.62), (0.6, 0.62))
    _arrow(ax, (0.475, 0.68), (0.475, 0.78))

    ax = axes[0, 1]
    ax.set_title("BLIP-2 (2023): Q-Former, only the connector is trained", fontsize=9)
    _box(ax, 0.02, 0.05, 0.22, 0.12, "image", DATA)
    _box(ax, 0.02, 0.3, 0.22, 0.14, "image encoder\n(ViT, frozen)", FROZEN)
    _box(ax, 0.33, 0.3, 0.3, 0.2, "Q-Former: 32 learned\nqueries cross-attend\nto image features", TRAINED)
    _box(ax, 0.33, 0.6, 0.3, 0.1, "linear to LM width", TRAINED)
    _box(ax, 0.3, 0.8, 0.66, 0.13, "frozen LLM (OPT / FlanT5)\n32 soft visual prompts + text", FROZEN)
    _arrow(ax, (0.13, 0.17), (0.13, 0.3))
    _arrow(ax, (0.24, 0.37), (0.33, 0.37))
    _arrow(ax, (0.48, 0.5), (0.48, 0.6))
    _arrow(ax, (0.48, 0.7), (0.48, 0.8))

    ax = axes[1, 0]
    ax.set_title("Flamingo (2022): Perceiver Resampler + gated cross-attention", fontsize=9)
    _box(ax, 0.02, 0.05, 0.22, 0.12, "images / video", DATA)
    _box(ax, 0.02, 0.27, 0.22, 0.13, "vision encoder\n(frozen)", FROZEN)
    _box(ax, 0.02, 0.5, 0.22, 0.16, "Perceiver\nResampler\n(64 latents)", TRAINED)
    for i, y in enumerate((0.22, 0.5, 0.78)):
        _box(ax, 0.58, y, 0.38, 0.1, f"frozen LM block {i + 1}", FROZEN)
        _box(ax, 0.36, y - 0.02, 0.18, 0.14, "gated\nx-attn\n(tanh gate, 0 at init)", TRAINED, fontsize=6)
        _arrow(ax, (0.24, 0.58), (0.36, y + 0.05))
        _arrow(ax, (0.54, y + 0.05), (0.58, y + 0.05))
    _box(ax, 0.58, 0.02, 0.38, 0.1, "interleaved text", DATA)
    _arrow(ax, (0.13, 0.17), (0.13, 0.27))
    _arrow(ax, (0.13, 0.4), (0.13, 0.5))
    _arrow(ax, (0.77, 0.12), (0.77, 0.22))

    ax = axes[1, 1]
    ax.set_title("IDEFICS / OpenFlamingo (2023): open replicas of Flamingo", fontsize=9)
    _box(ax, 0.02, 0.05, 0.3, 0.14, "OBELICS: 141M web\ndocuments, 353M images", DATA)
    _box(ax, 0.02, 0.3, 0.3, 0.13, "CLIP ViT (frozen)", FROZEN)
    _box(ax, 0.02, 0.53, 0.3, 0.13, "Perceiver Resampler", TRAINED)
    _box(ax, 0.45, 0.53, 0.2, 0.13, "gated\ncross-attention", TRAINED)
    _box(ax, 0.45, 0.8, 0.5, 0.13, "open LLM (LLaMA / MPT), frozen", FROZEN)
    _box(ax, 0.72, 0.3, 0.25, 0.13, "text with <image>\nmarkers", DATA)
    _arrow(ax, (0.17, 0.19), (0.17, 0.3))
    _arrow(ax, (0.17, 0.43), (0.17, 0.53))
    _arrow(ax, (0.32, 0.6), (0.45, 0.6))
    _arrow(ax, (0.55, 0.66), (0.55, 0.8))
    _arrow(ax, (0.84, 0.43), (0.84, 0.8))
    fig.text(0.5, 0.01, "blue: frozen   orange: trained   grey: data", ha="center", fontsize=9)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig
