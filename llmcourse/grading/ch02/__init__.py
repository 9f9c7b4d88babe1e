"""Graded checks of chapter 02 (transformer anatomy), declared for the grading engine.

Test cells call ``check_train_bpe(fn)``, ``check_encode(fn)``, ``check_decode(fn)``,
``check_positional_encoding(fn)``, ``check_attention(fn)`` and ``check_multi_head_attention(cls)``
(visible cases); the hidden part adds ``hidden=True``. Expected values come from Hugging Face
``tokenizers`` (``BpeTrainer``, the ``BPE`` model, the ``ByteLevel`` decoder), from the formula
evaluated in float64 and from PyTorch (``F.scaled_dot_product_attention``,
``nn.MultiheadAttention``), never from ``llmcourse.bpe`` or ``llmcourse.attention``.

One module per exercise (``train_bpe.py``, ``bpe_encode.py``, ``bpe_decode.py``,
``positional_encoding.py``, ``attention.py``, ``multi_head_attention.py``: cases, comparison,
forbidden calls, declaration and ``check_*``), what they share in ``common.py`` (the BPE oracle and
corpora, the forbidden references and fused kernels), and each catalogued mistake as an answer file
in ``mistakes/<exercise>/<id>.py`` (its docstring is the student's message). The valid alternatives
are on the instructor's side, ``autograde/alternatives/ch02/``. The mutation suite (``make
mutants``) grades every mistake and alternative.
"""

from __future__ import annotations

from llmcourse.grading.contract import Exercise

from .attention import ATTENTION, check_attention
from .bpe_decode import BPE_DECODE, check_decode
from .bpe_encode import BPE_ENCODE, check_encode
from .multi_head_attention import MULTI_HEAD_ATTENTION, check_multi_head_attention
from .positional_encoding import POSITIONAL_ENCODING, check_positional_encoding
from .train_bpe import TRAIN_BPE, check_train_bpe

EXERCISES: dict[str, Exercise] = {
    "train_bpe": TRAIN_BPE,
    "bpe_encode": BPE_ENCODE,
    "bpe_decode": BPE_DECODE,
    "positional_encoding": POSITIONAL_ENCODING,
    "attention": ATTENTION,
    "multi_head_attention": MULTI_HEAD_ATTENTION,
}

__all__ = [
    "ATTENTION",
    "BPE_DECODE",
    "BPE_ENCODE",
    "EXERCISES",
    "MULTI_HEAD_ATTENTION",
    "POSITIONAL_ENCODING",
    "TRAIN_BPE",
    "check_attention",
    "check_decode",
    "check_encode",
    "check_multi_head_attention",
    "check_positional_encoding",
    "check_train_bpe",
]
