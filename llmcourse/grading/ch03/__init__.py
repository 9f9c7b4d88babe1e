"""Graded checks of chapter 03 (GPT deep dive), declared for the grading engine.

Test cells call ``check_causal_mask(fn)``, ``check_causal_lm_loss(fn)``, ``check_block(cls)``,
``check_gpt(cls)`` and ``check_train_step(fn)`` (visible cases); the hidden part adds
``hidden=True``. Expected values never come from the course's own code (``llmcourse.attention``,
``llmcourse.losses``, ``llmcourse.gpt``, ``llmcourse.train``):

- the causal mask: read off ``F.scaled_dot_product_attention(..., is_causal=True)`` (which keys
  get a non-zero weight);
- the loss: ``F.cross_entropy`` in float64 on the shifted labels with the padding labelled
  -100, which is what ``GPT2LMHeadModel(input_ids, labels=...)`` computes
  (``tests/test_grading_ch03.py`` checks the oracle against the model's own loss);
- the block: Hugging Face's ``GPT2Block`` (eager attention, float64) with the same weights (its
  Conv1D weights are the transposes of ``nn.Linear``'s) and the 4-d additive mask Hugging Face's
  ``GPT2Model`` builds from a padding mask (the test file checks that too);
- the GPT: Hugging Face's ``GPT2LMHeadModel`` with the same weights (tied head, no dropout);
- the training step: the steps ``transformers.Trainer`` takes, written out on that model.

One module per exercise (``causal_mask.py``, ``causal_lm_loss.py``, ``block.py``, ``gpt.py``,
``train_step.py``: cases, comparison, forbidden calls, declaration and ``check_*``), what they
share in ``common.py``, and each catalogued mistake as an answer file in
``mistakes/<exercise>/<id>.py`` (its docstring is the student's message). The valid alternatives
are on the instructor's side, ``autograde/alternatives/ch03/``. The mutation suite
(``make mutants``) grades every mistake and alternative.
"""

from __future__ import annotations

from llmcourse.grading.contract import Exercise

from .block import BLOCK, check_block, hf_attention_mask
from .causal_lm_loss import CAUSAL_LM_LOSS, check_causal_lm_loss
from .causal_mask import CAUSAL_MASK, check_causal_mask
from .gpt import GPT_EXERCISE, check_gpt
from .train_step import TRAIN_STEP, check_train_step

EXERCISES: dict[str, Exercise] = {
    "causal_mask": CAUSAL_MASK,
    "causal_lm_loss": CAUSAL_LM_LOSS,
    "block": BLOCK,
    "gpt": GPT_EXERCISE,
    "train_step": TRAIN_STEP,
}

__all__ = [
    "BLOCK",
    "CAUSAL_LM_LOSS",
    "CAUSAL_MASK",
    "EXERCISES",
    "GPT_EXERCISE",
    "TRAIN_STEP",
    "check_block",
    "check_causal_lm_loss",
    "check_causal_mask",
    "check_gpt",
    "check_train_step",
    "hf_attention_mask",
]
