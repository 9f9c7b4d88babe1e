"""Chapter 07's checks in the student's kernel: messages that name the mistake, forbidden routes
caught (peft's LoRA layer, the course's reference), and oracles that agree with Hugging Face's
loss and with the course's own implementations."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from transformers import GPT2Config, GPT2LMHeadModel

from llmcourse import finetune, lora, preference
from llmcourse.grading import GradingError, ch07
from llmcourse.grading.contract import array_of, check, float_of, mistake_answer, to_plain
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


CHECKS = {
    "mask_prompt_tokens": ch07.check_mask_prompt_tokens,
    "sft_loss": ch07.check_sft_loss,
    "lora_linear": ch07.check_lora_linear,
    "reward_model_loss": ch07.check_reward_model_loss,
    "dpo_loss": ch07.check_dpo_loss,
}
MISTAKES = [(key, m) for key, exercise in ch07.EXERCISES.items() for m in exercise.mistakes]


@pytest.mark.parametrize("key, mistake", MISTAKES, ids=[f"{k}-{m.id}" for k, m in MISTAKES])
def test_visible_feedback_names_the_likely_mistake(key, mistake):
    with pytest.raises(GradingError) as failure:
        CHECKS[key](mistake_answer(ch07.EXERCISES[key], mistake))
    assert f"Likely mistake: {mistake.message}" in str(failure.value)


@pytest.mark.parametrize(
    "key, mistake_id, failed",
    [
        ("mask_prompt_tokens", "in_place", 1),
        ("mask_prompt_tokens", "padding_not_masked", 1),
        ("sft_loss", "item", 1),
        ("lora_linear", "B_random", 1),
        ("lora_linear", "merge_no_scaling", 1),
        ("lora_linear", "scaling_inverted", 2),
        ("lora_linear", "merge_in_place", 1),
        ("lora_linear", "A_zero", 1),
        ("lora_linear", "dropout_on_output", 1),
        ("reward_model_loss", "log_of_sigmoid", 1),
        ("reward_model_loss", "bce_on_probabilities", 1),
        ("reward_model_loss", "detached", 1),
        ("reward_model_loss", "sign_flipped", 2),
        ("dpo_loss", "log_of_sigmoid", 1),
        ("dpo_loss", "rewards_not_detached", 1),
        ("dpo_loss", "rewards_without_beta", 1),
        ("dpo_loss", "item", 1),
        ("dpo_loss", "sign_flipped", 2),
        ("dpo_loss", "wrong_pairs", 3),
    ],
)
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
        assert model.loss_function(logits.double(), labels, vocab_size=logits.shape[-1]).item() == pytest.approx(
            expected, rel=1e-6
        )
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
                train = i.get("train_seed") is not None
                layer = lora.LoRALinear(base, i["r"], i["alpha"], i["dropout"] if train else 0.0)
                layer.A.copy_(torch.from_numpy(i["A"]))
                layer.B.copy_(torch.from_numpy(i["B"]))
                layer.train(train)
                if train:
                    torch.manual_seed(i["train_seed"])
                np.testing.assert_allclose(layer(torch.from_numpy(i["x"])).numpy(), array_of(case.expected), atol=1e-5)


def test_the_train_mode_case_drops_some_inputs_and_not_others():
    """The train-mode forward case is one where dropout matters: the expected output differs from
    the output without dropout, and from the output of dropout on the branch's output."""
    (case,) = [
        c for c in ch07.LORA_LINEAR.cases(False) if c.subcheck == "forward" and c.inputs.get("train_seed") is not None
    ]
    no_dropout = dict(case.inputs, train_seed=None)
    eval_out = array_of(to_plain(ch07.LORA_LINEAR.run(answer(ch07.LORA_LINEAR, ch07._LORA_SOLUTION), no_dropout)))
    assert not np.allclose(eval_out, array_of(case.expected), atol=1e-3)
    on_output = next(m for m in ch07.LORA_LINEAR.mistakes if m.id == "dropout_on_output")
    wrong = array_of(to_plain(ch07.LORA_LINEAR.run(mistake_answer(ch07.LORA_LINEAR, on_output), case.inputs)))
    assert not np.allclose(wrong, array_of(case.expected), atol=1e-3)


FUNCTIONAL_DROPOUT = ch07._LORA_SOLUTION.replace("self.dropout = nn.Dropout(dropout)", "self.p = dropout").replace(
    "self.dropout(x) @ self.A.T", "nn.functional.dropout(x, self.p, self.training) @ self.A.T"
)


def test_functional_dropout_on_the_input_passes_in_train_mode():
    check(ch07.LORA_LINEAR, answer(ch07.LORA_LINEAR, FUNCTIONAL_DROPOUT), hidden=True, quiet=True)


MERGE_IN_PLACE_CONSISTENT = ch07._LORA_SOLUTION.replace(
    """        merged = nn.Linear(self.base.in_features, self.base.out_features, bias=self.base.bias is not None)
        with torch.no_grad():
            merged.weight.copy_(self.base.weight + self.scaling * self.B @ self.A)
            if self.base.bias is not None:
                merged.bias.copy_(self.base.bias)
        return merged""",
    """        with torch.no_grad():
            self.base.weight += self.scaling * self.B @ self.A
            self.B.zero_()
        return self.base""",
)


def test_a_merge_into_the_base_that_keeps_the_layer_consistent_passes():
    """merge() may fold the update into the base in place (as peft's merge does) when the LoRA layer
    stays what it was: here B is zeroed, so the layer no longer adds the update a second time."""
    assert MERGE_IN_PLACE_CONSISTENT != ch07._LORA_SOLUTION
    check(ch07.LORA_LINEAR, answer(ch07.LORA_LINEAR, MERGE_IN_PLACE_CONSISTENT), hidden=True, quiet=True)


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


def trl_sigmoid_dpo(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta):
    """TRL 1.16's DPOTrainer._compute_loss with loss_type="sigmoid" (f_divergence_type="reverse_kl"),
    copied from trl/trainer/dpo_trainer.py: TRL is not a dependency (its loss is inlined in the
    trainer's forward pass, and it would pull in datasets, pandas and pyarrow)."""
    chosen_logratios = chosen_logps - ref_chosen_logps
    rejected_logratios = rejected_logps - ref_rejected_logps
    delta_score = chosen_logratios - rejected_logratios
    loss = (-F.logsigmoid(beta * delta_score)).mean()
    return loss, beta * chosen_logratios.detach(), beta * rejected_logratios.detach()


def trl_reward_loss(rewards_chosen, rewards_rejected):
    """TRL's RewardTrainer loss without margins: -logsigmoid(rewards_chosen - rewards_rejected).mean()."""
    return -F.logsigmoid(rewards_chosen - rewards_rejected).mean()


def test_the_preference_oracles_agree_with_trls_formulas_and_the_course():
    for case in ch07.DPO_LOSS.cases(True):
        *logps, beta = case.inputs
        logps = [torch.from_numpy(np.array(a)).double() for a in logps]
        out, _, grad_c, grad_r = case.expected["tuple"]
        loss_e, chosen_e, rejected_e = out["tuple"]
        for loss, chosen, rejected in (trl_sigmoid_dpo(*logps, beta), preference.dpo_loss(*logps, beta)):
            assert loss.item() == pytest.approx(float_of(loss_e), rel=1e-9)
            np.testing.assert_allclose(chosen.numpy(), array_of(chosen_e), rtol=1e-6, atol=1e-6)
            np.testing.assert_allclose(rejected.numpy(), array_of(rejected_e), rtol=1e-6, atol=1e-6)
        pc, pr = (t.clone().requires_grad_() for t in logps[:2])
        trl_sigmoid_dpo(pc, pr, *logps[2:], beta)[0].backward()
        np.testing.assert_allclose(pc.grad.numpy(), array_of(grad_c), rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(pr.grad.numpy(), array_of(grad_r), rtol=1e-6, atol=1e-12)
    for case in ch07.REWARD_MODEL_LOSS.cases(True):
        chosen, rejected = (torch.from_numpy(np.array(a)).double().requires_grad_() for a in case.inputs)
        loss_e, grad_c, grad_r = case.expected["tuple"]
        loss = trl_reward_loss(chosen, rejected)
        assert loss.item() == pytest.approx(float_of(loss_e), rel=1e-9)
        assert preference.reward_model_loss(chosen, rejected).item() == pytest.approx(float_of(loss_e), rel=1e-9)
        loss.backward()
        np.testing.assert_allclose(chosen.grad.numpy(), array_of(grad_c), rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(rejected.grad.numpy(), array_of(grad_r), rtol=1e-6, atol=1e-12)


def test_the_stable_cases_are_where_log_of_sigmoid_breaks():
    """The visible "stable" cases are ones where log(sigmoid(x)) gives inf in float32, and the
    float64 hidden ones, where it does in float64 too."""
    for exercise in (ch07.REWARD_MODEL_LOSS, ch07.DPO_LOSS):
        for case in exercise.cases(True):
            if case.subcheck == "stable":
                arrays = [torch.from_numpy(np.array(a)) for a in case.inputs[:4]]
                margin = (
                    arrays[0] - arrays[1]
                    if exercise is ch07.REWARD_MODEL_LOSS
                    else case.inputs[4] * ((arrays[0] - arrays[2]) - (arrays[1] - arrays[3]))
                )
                assert torch.isinf(torch.log(torch.sigmoid(margin))).any(), case.label


def test_course_reference_of_the_preference_losses_is_forbidden():
    with pytest.raises(GradingError, match="must be written by you"):
        ch07.check_reward_model_loss(preference.reward_model_loss)
    with pytest.raises(GradingError, match="must be written by you"):
        ch07.check_dpo_loss(preference.dpo_loss)
