"""Chapter 04's evaluation beyond test sets: pairwise ratings, annotator agreement, contamination."""

import math
import random

import numpy as np
import pytest
import torch

from llmcourse import data, evaluation
from llmcourse.metrics import QuizItem

STRENGTHS = {"A": 1150.0, "B": 1080.0, "C": 1050.0, "D": 960.0, "E": 900.0}


def test_win_probability_is_the_elo_curve():
    assert evaluation.win_probability(1000, 1000) == 0.5
    assert evaluation.win_probability(1400, 1000) == pytest.approx(10 / 11)  # 400 points: odds of 10 to 1
    assert evaluation.win_probability(1000, 1200) + evaluation.win_probability(1200, 1000) == pytest.approx(1)


def test_simulated_votes_are_seeded_and_follow_the_strengths():
    votes = evaluation.simulate_votes(STRENGTHS, 4000, seed=1, tie_rate=0.1)
    assert votes == evaluation.simulate_votes(STRENGTHS, 4000, seed=1, tie_rate=0.1)
    assert all(v.a != v.b and v.outcome in (0.0, 0.5, 1.0) for v in votes)
    assert 0.07 < sum(v.outcome == 0.5 for v in votes) / len(votes) < 0.13
    a_vs_e = [
        v.outcome if v.a == "A" else 1 - v.outcome for v in votes if {v.a, v.b} == {"A", "E"} and v.outcome != 0.5
    ]
    assert np.mean(a_vs_e) == pytest.approx(evaluation.win_probability(1150, 900), abs=0.07)


def test_bradley_terry_is_the_maximum_likelihood():
    votes = evaluation.simulate_votes(STRENGTHS, 3000, seed=0, tie_rate=0.1)
    ratings = evaluation.bradley_terry(votes)
    assert np.mean(list(ratings.values())) == pytest.approx(1000)

    def log_likelihood(r):
        total = 0.0
        for a, b, outcome in votes:
            p = evaluation.win_probability(r[a], r[b])
            total += outcome * math.log(p) + (1 - outcome) * math.log(1 - p)
        return total

    best = log_likelihood(ratings)
    for name in ratings:  # a move of any one rating lowers the likelihood
        for delta in (-2.0, 2.0):
            assert log_likelihood({**ratings, name: ratings[name] + delta}) < best
    # the true strengths, centred like the fit, are recovered to a few dozen points
    shift = np.mean(list(STRENGTHS.values())) - 1000
    assert all(abs(ratings[n] - (STRENGTHS[n] - shift)) < 30 for n in STRENGTHS)


def test_bradley_terry_matches_scikit_learns_logistic_regression():
    from sklearn.linear_model import LogisticRegression

    votes = evaluation.simulate_votes(STRENGTHS, 500, seed=3)
    names = sorted(STRENGTHS)
    X = np.zeros((len(votes), len(names)))
    for i, v in enumerate(votes):
        X[i, names.index(v.a)], X[i, names.index(v.b)] = 1, -1
    y = [v.outcome for v in votes]
    coef = LogisticRegression(fit_intercept=False, C=1e8, tol=1e-10, max_iter=1000).fit(X, y).coef_[0]
    expected = 1000 + 400 * (coef - coef.mean()) / math.log(10)
    ratings = evaluation.bradley_terry(votes)
    assert [ratings[n] for n in names] == pytest.approx(list(expected), abs=0.01)


def test_elo_depends_on_the_order_and_bradley_terry_does_not():
    votes = evaluation.simulate_votes(STRENGTHS, 1000, seed=0)
    shuffled = votes[:]
    random.Random(0).shuffle(shuffled)
    assert evaluation.bradley_terry(shuffled) == pytest.approx(evaluation.bradley_terry(votes))
    first, second = evaluation.elo_ratings(votes, k=32), evaluation.elo_ratings(shuffled, k=32)
    assert max(abs(first[n] - second[n]) for n in STRENGTHS) > 5
    assert sum(first.values()) == pytest.approx(5000)  # Elo moves points, it does not create them


def test_one_elo_update_by_hand():
    ratings = evaluation.elo_ratings([evaluation.Vote("x", "y", 1.0)], k=32)
    assert ratings == {"x": pytest.approx(1016), "y": pytest.approx(984)}


def test_bootstrap_intervals_contain_the_fit_and_are_seeded():
    votes = evaluation.simulate_votes(STRENGTHS, 800, seed=0)
    samples = evaluation.bootstrap_ratings(votes, rounds=30, seed=2)
    again = evaluation.bootstrap_ratings(votes, rounds=30, seed=2)
    fit = evaluation.bradley_terry(votes)
    for name, values in samples.items():
        assert values.shape == (30,) and np.array_equal(values, again[name])
        assert np.percentile(values, 2.5) < fit[name] < np.percentile(values, 97.5)


@pytest.mark.parametrize("seed", range(5))
def test_cohen_kappa_matches_scikit_learn(seed):
    from sklearn.metrics import cohen_kappa_score

    rng = random.Random(seed)
    first = [rng.choice("abc") for _ in range(40)]
    second = [x if rng.random() < 0.6 else rng.choice("abc") for x in first]
    assert evaluation.cohen_kappa(first, second) == pytest.approx(cohen_kappa_score(first, second))
    assert evaluation.cohen_kappa(first, first) == 1.0
    with pytest.raises(ValueError):
        evaluation.cohen_kappa(first, second[:-1])


def test_swap_names_changes_every_name_consistently_within_a_gender():
    text = "Lucy: Good morning, Nora!\nNora: Hello, Lucy! Ben is here."
    swapped = evaluation.swap_names(text, seed=0)
    assert swapped != text and swapped == evaluation.swap_names(text, seed=0)
    words = swapped.replace(":", " ").replace(",", " ").replace("!", " ").split()
    girls, boys = {p.name for p in data.GIRLS}, {p.name for p in data.BOYS}
    lucy, nora, ben = words[0], words[3], words[7]
    assert {lucy, nora} <= girls and ben in boys and lucy not in ("Lucy", nora) and nora != "Nora" and ben != "Ben"
    assert swapped.count(lucy) == 2 and swapped.count(nora) == 2
    assert evaluation.swap_names("No names here.") == "No names here."


def test_perturb_sum_changes_the_numbers_and_keeps_the_old_answer():
    item = QuizItem(
        "Here are four questions and answers.\n\nQuestion: What is 3 plus 4?\nAnswer:", ["7", "2", "9", "11"], 0
    )
    avoid = frozenset({(3, 4), (5, 5)})
    for seed in range(20):
        new = evaluation.perturb_sum(item, seed=seed, avoid=avoid)
        x, y = (int(t) for t in new.question.split("What is ")[1].split("?")[0].split(" plus "))
        assert (x, y) not in avoid and x + y != 7
        assert new.options[new.answer] == str(x + y) and "7" in new.options and len(set(new.options)) == 4
        assert new.question.startswith("Here are four questions") and new.question.endswith("\nAnswer:")
    with pytest.raises(ValueError):
        evaluation.perturb_sum(QuizItem("What colour is snow?", ["white"], 0))


class _TinyTokenizer:
    """Characters as tokens, <|endoftext|> as 0: enough for text_nlls and leak."""

    def convert_tokens_to_ids(self, token):
        return 0

    def encode(self, text):
        return [1 + (ord(c) % 60) for c in text]


def _tiny_model():
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    config = GPT2Config(vocab_size=61, n_positions=64, n_embd=32, n_layer=1, n_head=2)
    return GPT2LMHeadModel(config).eval()


def test_text_nlls_match_one_text_at_a_time_and_leak_memorises():
    model, tokenizer = _tiny_model(), _TinyTokenizer()
    texts = ["the cat sat", "a dog", "what is three plus four"]
    batched = evaluation.text_nlls(model, tokenizer, texts, batch_size=3)
    alone = [evaluation.text_nlls(model, tokenizer, [t])[0] for t in texts]
    assert batched == pytest.approx(alone, abs=1e-5)
    before = [p.clone() for p in model.parameters()]
    leaked = evaluation.leak(model, tokenizer, texts[:2], steps=30, lr=1e-2)
    assert all(torch.equal(p, q) for p, q in zip(before, model.parameters()))  # the original is untouched
    after = evaluation.text_nlls(leaked, tokenizer, texts)
    assert after[0] < batched[0] / 2 and after[1] < batched[1] / 2  # the leaked texts became far more likely
    assert after[2] > after[0]
