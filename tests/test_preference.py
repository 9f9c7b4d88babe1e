"""llmcourse.preference: the Bradley-Terry and DPO losses against TRL's formulas, the preference
pairs from the corpus grammar, the log-probabilities of responses, and a short DPO run."""

import math

import pytest
import torch
import torch.nn.functional as F
from transformers import GPT2Config, GPT2LMHeadModel

from llmcourse import finetune as ft
from llmcourse import preference as pref
from llmcourse.gpt import GPT, GPTConfig


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def trl_sigmoid_dpo(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, beta):
    """TRL 1.16's DPOTrainer._compute_loss with loss_type="sigmoid", f_divergence_type="reverse_kl",
    copied from trl/trainer/dpo_trainer.py (TRL is not a dependency of the course)."""
    chosen_logratios = chosen_logps - ref_chosen_logps
    rejected_logratios = rejected_logps - ref_rejected_logps
    chosen_scores, rejected_scores = chosen_logratios, rejected_logratios
    delta_score = chosen_scores - rejected_scores
    per_sequence_loss = -F.logsigmoid(beta * delta_score)
    loss = per_sequence_loss.mean()
    chosen_rewards = beta * chosen_logratios.detach()
    rejected_rewards = beta * rejected_logratios.detach()
    return loss, chosen_rewards, rejected_rewards


def test_reward_model_loss_is_bradley_terry_and_stable():
    chosen, rejected = torch.tensor([2.0, 0.0, -1.0]), torch.tensor([1.0, 0.0, 3.0])
    expected = sum(math.log1p(math.exp(-(c - r))) for c, r in zip(chosen.tolist(), rejected.tolist())) / 3
    assert pref.reward_model_loss(chosen, rejected).item() == pytest.approx(expected, rel=1e-6)
    big = pref.reward_model_loss(torch.tensor([-500.0, 500.0]), torch.tensor([500.0, -500.0]))
    assert big.item() == pytest.approx(500.0)  # (1000 + 0) / 2; log(sigmoid(-1000)) would be -inf
    chosen.requires_grad_()
    pref.reward_model_loss(chosen, rejected).backward()
    assert chosen.grad is not None and (chosen.grad < 0).all()  # a higher chosen reward lowers the loss


def test_dpo_loss_is_trls_sigmoid_loss():
    g = torch.Generator().manual_seed(0)
    for beta in (0.1, 0.5):
        logps = [-torch.rand(8, generator=g, dtype=torch.float64) * 50 for _ in range(4)]
        ours = pref.dpo_loss(*logps, beta)
        theirs = trl_sigmoid_dpo(*logps, beta)
        for a, b in zip(ours, theirs):
            torch.testing.assert_close(a, b)
    # equal policy and reference: every reward is 0 and the loss is log 2
    logps = -torch.rand(5, generator=g) * 20
    loss, chosen, rejected = pref.dpo_loss(logps, logps + 1, logps, logps + 1, 0.1)
    assert loss.item() == pytest.approx(math.log(2)) and not chosen.any() and not rejected.any()


def test_dpo_loss_rewards_are_detached_and_the_gradient_reaches_the_policy():
    pc, pr = torch.tensor([-10.0, -20.0], requires_grad=True), torch.tensor([-12.0, -15.0], requires_grad=True)
    rc, rr = torch.tensor([-11.0, -19.0]), torch.tensor([-12.0, -16.0])
    loss, chosen, rejected = pref.dpo_loss(pc, pr, rc, rr, 0.1)
    assert loss.dim() == 0 and not chosen.requires_grad and not rejected.requires_grad
    torch.testing.assert_close(chosen, torch.tensor([0.1, -0.1]))
    loss.backward()
    assert (pc.grad < 0).all() and (pr.grad > 0).all()  # raise the chosen, lower the rejected
    big = pref.dpo_loss(
        torch.tensor([-3000.0]), torch.tensor([-10.0]), torch.tensor([-10.0]), torch.tensor([-10.0]), 0.5
    )[0]
    assert big.item() == pytest.approx(1495.0)


def test_preference_pairs_are_corrupted_answers_with_held_out_questions():
    train, test = pref.preference_pairs(300, 40, seed=1)
    assert len(train) == 300 and len(test) == 40
    assert not {p.question for p in test} & {p.question for p in train}
    assert all(p.chosen != p.rejected for p in train + test)
    assert {p.corruption for p in train} == {"word order", "wrong answer"}
    for p in train:
        if p.corruption == "word order":
            assert sorted(p.chosen.split(" ")) == sorted(p.rejected.split(" "))
        if " plus " in p.question and p.question.startswith("What is "):
            x, y = p.question.removeprefix("What is ").removesuffix("?").split(" plus ")
            assert p.chosen == f"{int(x) + int(y)}." and p.rejected != p.chosen
    assert train[0].prompt == ft.Example(train[0].question, train[0].chosen).prompt
    assert pref.preference_pairs(300, 40, seed=1) == (train, test)  # seeded


class CharTokenizer:
    eos_token_id = 0

    def encode(self, text):
        return [1 + (ord(c) % 60) for c in text]

    def decode(self, ids):
        return "".join(chr(ord(" ") + i % 60) for i in ids)


def test_sequence_logps_are_hugging_faces_summed_response_log_probabilities():
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=64, n_positions=256, n_embd=16, n_layer=1, n_head=2)).eval()
    tok = CharTokenizer()
    examples = [ft.Example("What is 1 plus 2?", "3."), ft.Example("Spell the word cat.", "c-a-t.")]
    with torch.no_grad():
        ours = pref.sequence_logps(model, tok, examples)
        for ex, got in zip(examples, ours):
            prompt = tok.encode(ex.prompt)
            ids = torch.tensor([prompt + tok.encode(ex.response) + [0]])
            labels = ids.clone()
            labels[0, : len(prompt)] = -100
            n = ids.shape[1] - len(prompt)
            assert got.item() == pytest.approx(-model(ids, labels=labels).loss.item() * n, rel=1e-5)


def test_a_short_dpo_run_separates_the_pairs_it_trains_on():
    tok = CharTokenizer()
    train, test = pref.preference_pairs(32, 8, seed=3)
    torch.manual_seed(0)
    reference = GPT(GPTConfig(vocab_size=64, block_size=256, n_layer=1, n_head=2, n_embd=16))
    policy = GPT(GPTConfig(vocab_size=64, block_size=256, n_layer=1, n_head=2, n_embd=16))
    policy.load_state_dict(reference.state_dict())
    before = pref.evaluate(policy, reference, tok, train)["all"]
    assert before["reward_margin"] == 0 and before["reward_accuracy"] == 0  # policy = reference
    history = pref.dpo_train(policy, reference, tok, train, steps=12, batch_size=8, lr=3e-3, beta=0.5, progress=False)
    assert len(history["loss"]) == 12 and history["loss"][0] == pytest.approx(math.log(2), abs=1e-4)
    after = pref.evaluate(policy, reference, tok, train, beta=0.5)["all"]
    assert after["reward_margin"] > 0 and after["reward_accuracy"] > 0.5
    assert after["logp_margin"] > before["logp_margin"]
    held_out = pref.evaluate(policy, reference, tok, test)
    assert set(held_out) == {"all"} | {p.corruption for p in test}
    assert set(held_out["all"]) == {"accuracy", "logp_margin", "reward_margin", "reward_accuracy"}
    n = {kind: sum(p.corruption == kind for p in test) for kind in set(held_out) - {"all"}}
    assert held_out["all"]["logp_margin"] == pytest.approx(
        sum(held_out[k]["logp_margin"] * n[k] for k in n) / len(test), rel=1e-5
    )
    assert all(not p.requires_grad or p.grad is None for p in reference.parameters())  # the reference is never trained
