"""LoRA: low-rank adapters on frozen linear layers (chapter 07).

*LoRA: Low-Rank Adaptation of Large Language Models* (Hu et al., 2021) freezes a pretrained
weight ``W`` (out, in) and learns a low-rank update ``B @ A`` with ``A`` (r, in) and ``B``
(out, r), ``B`` zero at the start so that training starts from the pretrained model:

    y = x W^T + b + (alpha / r) * dropout(x) A^T B^T

After training the update can be merged into ``W`` (``W + (alpha / r) B A``): one plain
``nn.Linear`` again, no extra cost at inference. This is the same computation as peft's
``peft.tuners.lora.Linear`` (``tests/test_lora.py`` compares them).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

DEFAULT_TARGETS = ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")


class LoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus a trainable low-rank update scaled by ``alpha / r``."""

    def __init__(self, base: nn.Linear, r: int, alpha: float, dropout: float = 0.0) -> None:
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"base must be an nn.Linear, got {type(base).__name__}")
        if r <= 0:
            raise ValueError(f"r must be positive, got {r}")
        self.base = base
        for p in self.base.parameters():
            p.requires_grad_(False)
        self.r, self.alpha = r, alpha
        self.scaling = alpha / r
        w = base.weight
        self.A = nn.Parameter(torch.empty(r, base.in_features, device=w.device, dtype=w.dtype))
        self.B = nn.Parameter(torch.zeros(base.out_features, r, device=w.device, dtype=w.dtype))
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))  # as peft and the paper's code: A random, B zero
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (self.dropout(x) @ self.A.T @ self.B.T) * self.scaling

    def merge(self) -> nn.Linear:
        """One ``nn.Linear`` with ``W + (alpha / r) B A`` (and the base's bias): same outputs in eval mode."""
        merged = nn.Linear(
            self.base.in_features,
            self.base.out_features,
            bias=self.base.bias is not None,
            device=self.base.weight.device,
            dtype=self.base.weight.dtype,
        )
        with torch.no_grad():
            merged.weight.copy_(self.base.weight + self.scaling * (self.B @ self.A))
            if self.base.bias is not None:
                merged.bias.copy_(self.base.bias)
        return merged


def _parent(model: nn.Module, path: str) -> tuple[nn.Module, str]:
    *parents, last = path.split(".")
    module = model
    for part in parents:
        module = getattr(module, part)
    return module, last


def apply_lora(
    model: nn.Module, r: int = 8, alpha: float = 16, dropout: float = 0.0, targets: Iterable[str] = DEFAULT_TARGETS
) -> nn.Module:
    """Freeze every parameter of ``model`` and wrap each ``nn.Linear`` whose name ends with one of
    ``targets`` in a :class:`LoRALinear` (in place; returns ``model``)."""
    targets = tuple(targets)
    for p in model.parameters():
        p.requires_grad_(False)
    names = [name for name, m in model.named_modules() if isinstance(m, nn.Linear) and name.endswith(targets)]
    if not names:
        raise ValueError(f"no nn.Linear named like {targets} in the model")
    for name in names:
        parent, attr = _parent(model, name)
        setattr(parent, attr, LoRALinear(getattr(parent, attr), r, alpha, dropout))
    return model


def merge_lora(model: nn.Module) -> nn.Module:
    """Replace every :class:`LoRALinear` in ``model`` by its merged ``nn.Linear`` (in place)."""
    names = [name for name, m in model.named_modules() if isinstance(m, LoRALinear)]
    for name in names:
        parent, attr = _parent(model, name)
        setattr(parent, attr, getattr(parent, attr).merge())
    return model


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """``(trainable, total)`` parameter counts (shared tensors counted once)."""
    seen: dict[int, nn.Parameter] = {id(p): p for p in model.parameters()}
    total = sum(p.numel() for p in seen.values())
    trainable = sum(p.numel() for p in seen.values() if p.requires_grad)
    return trainable, total
