"""Graded checks of chapter 07 (pretraining and fine-tuning), declared for the grading engine.

Test cells call ``check_mask_prompt_tokens(fn)``, ``check_sft_loss(fn)``,
``check_lora_linear(cls)``, ``check_reward_model_loss(fn)`` and ``check_dpo_loss(fn)`` (visible
cases); the hidden part adds ``hidden=True``. Expected values never come from the course's own
code (``llmcourse.finetune``, ``llmcourse.lora``, ``llmcourse.preference``):

- the labels: written out position by position, in numpy;
- the loss: ``F.cross_entropy`` in float64 on ``logits[:, :-1]`` and ``labels[:, 1:]`` with
  ``ignore_index=-100``, which is what ``GPT2LMHeadModel(input_ids, labels=labels)`` computes
  (``tests/test_grading_ch07.py`` checks the oracle against the model's own loss);
- the LoRA layer: peft's own LoRA layer (``get_peft_model`` with a ``LoraConfig`` on a one-layer
  module), its ``lora_A`` / ``lora_B`` set to the case's A and B, in float64;
- the preference losses: written out in float64 numpy (``-log sigmoid(x) = logaddexp(0, -x)``), DPO's
  as TRL's ``DPOTrainer`` computes it with ``loss_type="sigmoid"`` (see the comment in ``common.py``).

One module per exercise (``mask_prompt_tokens.py``, ``sft_loss.py``, ``lora_linear.py``,
``reward_model_loss.py``, ``dpo_loss.py``: cases, comparison, forbidden calls, declaration and
``check_*``), what they share in ``common.py``, and each catalogued mistake as an answer file in
``mistakes/<exercise>/<id>.py`` (its docstring is the student's message). The valid alternatives
are on the instructor's side, ``autograde/alternatives/ch07/``. The mutation suite
(``make mutants``) grades every mistake and alternative.
"""

from __future__ import annotations

from llmcourse.grading.contract import Exercise

from .dpo_loss import DPO_LOSS, check_dpo_loss
from .lora_linear import _LORA_SOLUTION, LORA_LINEAR, check_lora_linear
from .mask_prompt_tokens import MASK_PROMPT_TOKENS, check_mask_prompt_tokens
from .reward_model_loss import REWARD_MODEL_LOSS, check_reward_model_loss
from .sft_loss import SFT_LOSS, check_sft_loss

EXERCISES: dict[str, Exercise] = {
    "mask_prompt_tokens": MASK_PROMPT_TOKENS,
    "sft_loss": SFT_LOSS,
    "lora_linear": LORA_LINEAR,
    "reward_model_loss": REWARD_MODEL_LOSS,
    "dpo_loss": DPO_LOSS,
}

__all__ = [
    "DPO_LOSS",
    "EXERCISES",
    "LORA_LINEAR",
    "MASK_PROMPT_TOKENS",
    "REWARD_MODEL_LOSS",
    "SFT_LOSS",
    "_LORA_SOLUTION",  # tests/test_grading_ch07.py builds answers from it
    "check_dpo_loss",
    "check_lora_linear",
    "check_mask_prompt_tokens",
    "check_reward_model_loss",
    "check_sft_loss",
]
