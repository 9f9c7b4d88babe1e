"""Load a language model and its tokenizer by name, offline by default.

    model, tokenizer = llmcourse.models.load()            # "course-gpt", bundled, no network
    model, tokenizer = llmcourse.models.load("course-chat")  # course-gpt instruction-tuned (chapter 06)
    model, tokenizer = llmcourse.models.load("gpt2")      # from the Hugging Face Hub (online)

Both come back in Hugging Face form (a ``transformers`` causal LM and a fast tokenizer), so
notebooks can use ``transformers`` (pipelines, ``generate``) and the course's own code
(``llmcourse.gpt.from_hf`` turns a GPT-2-style model into the course's :class:`~llmcourse.gpt.GPT`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

import llmcourse

CHECKPOINTS = Path(__file__).resolve().parent / "checkpoints"
BUNDLED = {"course-gpt": CHECKPOINTS / "course-gpt", "course-chat": CHECKPOINTS / "course-chat"}
DEFAULT = "course-gpt"
# how each bundled model is made again (course-chat is course-gpt instruction-tuned, chapter 06)
RETRAIN = {"course-gpt": "python -m llmcourse.train", "course-chat": "python -m llmcourse.chat_model"}


def path_of(name: str) -> Path:
    """The folder of a bundled model."""
    if name not in BUNDLED:
        raise KeyError(f"{name!r} is not a bundled model; bundled: {sorted(BUNDLED)}")
    path = BUNDLED[name]
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"the bundled model {name!r} is missing from {path}; retrain it with `{RETRAIN[name]}`")
    return path


def load(
    name: str = DEFAULT, device: torch.device | str | None = None, dtype: torch.dtype | None = None, **model_kwargs
):
    """Return ``(model, tokenizer)`` for a bundled model, a local folder, or a Hub id.

    The model is in eval mode on ``device`` (default :func:`llmcourse.device`); ``model_kwargs``
    go to ``from_pretrained`` (e.g. ``attn_implementation="eager"`` to get attention weights). A Hub id
    such as ``"gpt2"`` needs the network (e.g. in Colab); without it, or with
    ``HF_HUB_OFFLINE=1``, this raises ``RuntimeError`` naming the offline default.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if name in BUNDLED:
        source, offline = str(path_of(name)), True
    elif Path(name).is_dir():
        source, offline = name, True
    else:
        source, offline = name, False
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=offline)
        model = AutoModelForCausalLM.from_pretrained(source, local_files_only=offline, dtype=dtype, **model_kwargs)
    except OSError as exc:
        if offline:
            raise
        raise RuntimeError(
            f"could not load {name!r} from the Hugging Face Hub (no network, or HF_HUB_OFFLINE=1?). "
            f"The offline default is llmcourse.models.load({DEFAULT!r}). Original error: {exc}"
        ) from exc
    return model.to(device or llmcourse.device()).eval(), tokenizer


def logits_fn(model) -> Callable[[torch.Tensor], torch.Tensor]:
    """Wrap any causal LM as a plain function ``ids (B, T) -> logits (B, T, V)``.

    Works for a course :class:`~llmcourse.gpt.GPT` (whose forward returns ``(logits, loss)``), a
    Hugging Face causal LM (whose output has ``.logits``), or a function that already returns a
    tensor. The ids are moved to the model's device; the logits come back on that device.
    """
    try:
        device = next(model.parameters()).device
    except (AttributeError, StopIteration):
        device = None

    def logits_of(input_ids: torch.Tensor) -> torch.Tensor:
        if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 2:
            raise ValueError(
                f"input_ids must be a (B, T) tensor of token ids, got {getattr(input_ids, 'shape', type(input_ids))}"
            )
        out = model(input_ids if device is None else input_ids.to(device))
        if isinstance(out, torch.Tensor):
            logits = out
        elif isinstance(out, tuple):  # the course GPT: (logits, loss)
            logits = out[0]
        elif hasattr(out, "logits"):  # Hugging Face: CausalLMOutput
            logits = out.logits
        else:
            raise TypeError(f"cannot find logits in the model's output of type {type(out).__name__}")
        if logits.dim() != 3 or logits.shape[:2] != input_ids.shape:
            raise ValueError(
                f"expected logits of shape (B, T, V) = {tuple(input_ids.shape)} + (V,), got {tuple(logits.shape)}"
            )
        return logits

    return logits_of
