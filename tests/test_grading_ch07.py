"""Chapter 07's checks in the student's kernel: messages that name the mistake, forbidden routes
caught (peft's LoRA layer, the course's reference), and oracles that agree with Hugging Face's
loss and with the course's own implementations."""
import numpy as np
import pytest
import torch
from torch import nn
from transformers import GPT2Config, GPT2LMHeadModel

from llmcourse import finetune, lora
from llmcourse.grading import GradingError, ch07
from llmcourse.grading.contract import array_of, check, float_of, mistake_answer
from llmcourse.grading.guards import scan_source


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def answer(exercise, code):
    namespace = {}
    exec(code, namespace)
    return namespace[exercise.name]


CHECKS = {"mask_prompt_tokens": ch07.check_mask_prompt_tokens, "sft_loss": ch07.check_sft_loss,
          "lora_linear": ch07.check_lora_linear}
MISTAKES = [(key, m) for key, exercise in ch07.EXERCISES.items() for m in exercise.mistakes]


@pytest.mark.parametrize("key, mistake", MISTAKES, ids=[f"{k}-{m.id}" for k, m in MISTAKES])
def test_visible_feedback_names_the_likely_mistake(key, mistake):
    with pytest.raises(GradingError) as failure:
        CHECKS[key](mistake_answer(ch07.EXERCISES[key], mistake))
    assert f"Likely mistake: {mistake.message}" in str(failure.value)


@pytest.mark.parametrize("key, mistake_id, failed", [
    ("mask_prompt_tokens", "in_place", 1),
    ("mask_prompt_tokens", "padding_not_masked", 1),
    ("sft_loss", "item", 1),
    ("lora_linear", "B_random", 1),
    ("lora_linear", "merge_no_scaling", 1),
    ("lora_linear", "scaling_inverted", 2),
])
def test_partial_credit_follows_the_requirements(key, mistake_id, failed):
    exercise = ch07.EXERCISES[key]
    wrong = mistake_answer(exercise, next(m for m in exercise.mistakes if m.id == mistake_id))
    with pytest.raises(GradingError, match=f"{failed} of {len(exercise.subchecks)} requirements"):
        check(exercise, wrong, hidden=True, quiet=True)


def test_the_oracles_agree_with_hugging_face_and_the_course():
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=9, n_positions=8, n_embd=8, n_layer=1, n_head=2)).eval()
    for case in ch07.SFT_LOSS.cases(True):
        logits, labels = (torch.from_numpy(np.array(a)) for a in case.inputs[:2])
        expected = float_of(case.expected["tuple"][0] if case.subcheck == "scalar" else case.expected)
        assert finetune.sft_loss(logits.double(), labels).item() == pytest.approx(expected, rel=1e-6)
        assert model.loss_function(logits.double(), labels, vocab_size=logits.shape[-1]).item() == pytest.approx(expected, rel=1e-6)
    for case in ch07.MASK_PROMPT_TOKENS.cases(True):
        ids, lengths, mask = (None if a is None else torch.from_numpy(np.array(a)) for a in case.inputs[:3])
        expected = array_of(case.expected["tuple"][0] if case.subcheck == "copy" else case.expected)
        assert np.array_equal(finetune.mask_prompt_tokens(ids, lengths, mask).numpy(), expected)
    for case in ch07.LORA_LINEAR.cases(True):
        if case.subcheck == "forward":
            i = case.inputs
            base = nn.Linear(i["n_in"], i["n_out"], bias=i["b"] is not None)
            with torch.no_grad():
                base.weight.copy_(torch.from_numpy(i["W"]))
                if i["b"] is not None:
                    base.bias.copy_(torch.from_numpy(i["b"]))
                layer = lora.LoRALinear(base, i["r"], i["alpha"])
                layer.A.copy_(torch.from_numpy(i["A"]))
                layer.B.copy_(torch.from_numpy(i["B"]))
                np.testing.assert_allclose(layer(torch.from_numpy(i["x"])).numpy(), array_of(case.expected), atol=1e-5)


PEFT_INSIDE = """import torch
from torch import nn
from peft import LoraConfig
from peft.tuners.lora.layer import Linear as PeftLinear


class LoRALinear(nn.Module):
    def __init__(self, base, r, alpha, dropout=0.0):
        super().__init__()
        self.inner = PeftLinear(base, "default", LoraConfig(r=r, lora_alpha=alpha), r=r, lora_alpha=alpha)
        self.base = base
        self.A = self.inner.lora_A["default"].weight
        self.B = self.inner.lora_B["default"].weight

    def forward(self, x):
        return self.inner(x)

    def merge(self):
        return self.base
"""

REFERENCE = """from llmcourse.lora import LoRALinear as Ref
LoRALinear = Ref
"""


@pytest.mark.parametrize("code, name", [(PEFT_INSIDE, "peft"), (REFERENCE, "llmcourse.lora")])
def test_forbidden_routes_are_caught(code, name):
    assert scan_source(code, ch07.LORA_LINEAR.forbidden.names)
    with pytest.raises(GradingError, match="must be written by you"):
        ch07.check_lora_linear(answer(ch07.LORA_LINEAR, code))


def test_course_reference_of_the_loss_is_forbidden():
    with pytest.raises(GradingError, match="must be written by you"):
        ch07.check_sft_loss(finetune.sft_loss)
    with pytest.raises(GradingError, match="must be written by you"):
        ch07.check_mask_prompt_tokens(finetune.mask_prompt_tokens)
