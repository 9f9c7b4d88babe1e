"""Choosing where tensors live.

Every notebook and module asks :func:`device` instead of hard-coding ``.cuda()``,
so the same code runs on a laptop CPU, an Apple GPU, or a CUDA GPU in Colab.
"""

from __future__ import annotations

import os

import torch

ENV_VAR = "LLMCOURSE_DEVICE"
_KNOWN = ("cpu", "cuda", "mps")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def device() -> torch.device:
    """The best available device: CUDA, then Apple MPS, then CPU.

    Set the environment variable ``LLMCOURSE_DEVICE`` (``cpu``, ``cuda``, ``cuda:1``, ``mps``)
    to override the choice. Asking for a device that is not available raises ``RuntimeError``
    rather than silently falling back, so a misconfigured run fails loudly.
    """
    requested = os.environ.get(ENV_VAR, "").strip().lower()
    if requested:
        kind = requested.split(":", 1)[0]
        if kind not in _KNOWN:
            raise ValueError(f"{ENV_VAR}={requested!r} is not a device this course knows; use one of {_KNOWN}")
        if kind == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"{ENV_VAR}={requested!r} but CUDA is not available on this machine")
        if kind == "mps" and not _mps_available():
            raise RuntimeError(f"{ENV_VAR}={requested!r} but Apple MPS is not available on this machine")
        return torch.device(requested)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")
