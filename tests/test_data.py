"""The generated corpus in llmcourse.data: determinism, sizes, exact log-probabilities, injectivity."""

import math
import random
import re
import sys
import types
from collections import Counter

import pytest

from llmcourse import data
from llmcourse.data import EOT, Chooser, Derivation, Document, Sampler


class _NewChoice(Exception):
    def __init__(self, n_options: int) -> None:
        super().__init__()
        self.n_options = n_options


class _Enumerator(Chooser):
    """Follows a given prefix of choices and raises _NewChoice at the first choice after it."""

    def __init__(self, forced: list[int]) -> None:
        super().__init__()
        self.forced = forced
        self.parts: list[str] = []

    def _choose(self, options, weights, render) -> int:
        if len(self.choices) < len(self.forced):
            return self.forced[len(self.choices)]
        raise _NewChoice(len(options))

    def say(self, text: str) -> None:
        self.parts.append(text)


def enumerate_outcomes(grammar) -> dict[str, float]:
    """Every text ``grammar`` can write, with its probability; fails if two choice sequences write one text."""
    outcomes: dict[str, float] = {}
    prefixes: list[list[int]] = [[]]
    while prefixes:
        enumerator = _Enumerator(prefixes.pop())
        try:
            grammar(enumerator)
        except _NewChoice as new:
            prefixes.extend(enumerator.choices + [i] for i in range(new.n_options))
            continue
        text = "".join(enumerator.parts)
        assert text not in outcomes, f"{grammar}: two different choice sequences write {text!r}"
        outcomes[text] = math.exp(enumerator.log_prob)
    return outcomes


def sample(grammar, rng: random.Random) -> Sampler:
    sampler = Sampler(rng)
    grammar(sampler)
    return sampler


def kind_of(text: str) -> str:
    if text.startswith("Here are"):
        return "questions"
    if text.startswith("Dear diary,"):
        return "diary"
    if re.match(r"[A-Z][a-z]+: ", text):
        return "dialogue"
    return "story"


ALICE, BOB = data.PEOPLE[0], data.PEOPLE[-1]
# Sub-grammars small enough to enumerate completely (the others are checked by parsing samples).
SMALL_GRAMMARS = (
    {f.__name__: f for f in data.QUESTIONS if f is not data._past_tense}
    | {ex.__name__: (lambda c, ex=ex: ex(c, ALICE, BOB)) for ex in data.EXCHANGES if ex is not data._day_talk}
    | {"animal noun phrase": lambda c: data._noun_phrase(c, data.ANIMAL_NOUNS)}
)


# --- determinism, sizes, splits ---------------------------------------------------------


def test_generation_is_deterministic_for_a_seed():
    first = data.generate_documents(30, seed=7)
    again = data.generate_documents(30, seed=7)
    other = data.generate_documents(30, seed=8)
    assert first == again, "the same seed must give the same documents"
    assert first != other, "different seeds should give different documents"
    rng = random.Random(7)
    assert [data.generate_document(rng) for _ in range(30)] == first


@pytest.mark.timeout(120)  # generating the three splits takes a few seconds
def test_splits_sizes_speed_and_independence():
    splits = {name: data.load_corpus(name) for name in ("train", "validation", "test")}
    words = {name: sum(len(d.text.split()) for d in docs) for name, docs in splits.items()}
    assert words["train"] >= 1_000_000, f"train has only {words['train']} words"
    for name in ("validation", "test"):
        assert 40_000 <= words[name] <= 80_000, f"{name} has {words[name]} words, expected about 50k"
    train_texts = {d.text for d in splits["train"]}
    for name in ("validation", "test"):
        shared = sum(d.text in train_texts for d in splits[name])
        assert shared == 0, f"{shared} {name} documents also appear in train: the splits should be independent"
    assert not {d.text for d in splits["validation"]} & {d.text for d in splits["test"]}


def test_load_corpus_is_cached_but_returns_a_fresh_list():
    docs = data.load_corpus("validation")
    docs.clear()
    assert len(data.load_corpus("validation")) == data.SPLITS["validation"][1]


def test_documents_are_well_formed():
    docs = data.load_corpus("validation")
    kinds = Counter(kind_of(d.text) for d in docs)
    assert set(kinds) == {"story", "dialogue", "questions", "diary"}, f"kinds seen: {kinds}"
    for doc in docs:
        text = doc.text
        assert EOT not in text and "<|" not in text, f"end-of-text marker inside a document: {text!r}"
        assert text.isascii() and text == text.strip(), f"non-ASCII or untrimmed text: {text!r}"
        assert "  " not in text and " ." not in text and " ," not in text, f"bad spacing in {text!r}"
        assert text[0].isupper(), f"document does not start with a capital: {text!r}"
        assert 25 <= len(text.split()) <= 250, f"{len(text.split())} words: {text!r}"
        assert math.isfinite(doc.log_prob) and doc.log_prob < 0, f"log_prob {doc.log_prob} for {text!r}"


def test_corpus_text_puts_eot_after_every_document():
    docs = data.load_corpus("test")
    text = data.corpus_text("test")
    assert text.count(EOT) == len(docs)
    assert text.endswith(EOT)
    assert text.split(EOT)[:-1] == [d.text for d in docs]


# --- structure a model can learn --------------------------------------------------------


def test_story_hero_name_is_reused():
    for doc in data.load_corpus("validation"):
        if kind_of(doc.text) == "story":
            hero = re.search(r"named (\w+)\.", doc.text).group(1)
            assert doc.text.count(hero) >= 2, f"hero {hero} is never mentioned again: {doc.text!r}"


def test_dialogue_lines_alternate_between_two_speakers():
    for doc in data.load_corpus("validation"):
        if kind_of(doc.text) == "dialogue":
            speakers = [line.split(": ", 1)[0] for line in doc.text.split("\n")]
            assert len(set(speakers)) == 2, f"expected two speakers: {doc.text!r}"
            assert speakers[0] != speakers[1], f"the greeting should be answered by the other one: {doc.text!r}"


def test_free_sentence_words_start_with_a_consonant():
    """_noun_phrase writes "a" before them, never "an"."""
    for kind in (data.ANIMAL_NOUNS, data.THING_NOUNS):
        for word in kind.adjectives + kind.colours + kind.nouns:
            assert word[0] not in "aeiou", f"{word!r} starts with a vowel: 'a {word}' would be wrong"


def test_arithmetic_answers_are_correct():
    checked = 0
    for doc in data.load_corpus("validation"):
        for x, op, y, answer in re.findall(r"What is (\d+) (plus|minus) (\d+)\?\nAnswer: (\d+)\.", doc.text):
            expected = int(x) + int(y) if op == "plus" else int(x) - int(y)
            assert int(answer) == expected, f"{x} {op} {y} answered {answer}"
            checked += 1
    assert checked > 20, f"only {checked} arithmetic questions in validation"


# --- exact probabilities and injectivity ------------------------------------------------


def test_parse_recovers_the_choices_and_log_prob_of_generated_documents():
    rng = random.Random(2024)
    kinds = Counter()
    for _ in range(80):
        sampler = sample(data.document, rng)
        kinds[kind_of(sampler.text)] += 1
        derivations = data.parse(sampler.text)
        assert derivations == [Derivation(tuple(sampler.choices), sampler.log_prob)], (
            f"expected exactly the sampled derivation, found {len(derivations)} for {sampler.text!r}"
        )
        assert data.log_prob(sampler.text) == sampler.log_prob
    assert len(kinds) == 4, f"the sample should cover every kind of document: {kinds}"


def test_log_prob_of_text_the_grammar_cannot_write_is_minus_infinity():
    text = data.load_corpus("validation")[0].text
    for other in ("Hello world.", "", text + " ", text[:-1], text + EOT):
        assert data.log_prob(other) == -math.inf, f"log_prob({other[-30:]!r}) should be -inf"


def test_log_prob_sums_over_all_derivations_of_an_ambiguous_grammar(monkeypatch):
    def ambiguous(c):  # "ab" can be written as "a" + "b" or as "ab" + ""
        c.say_pick(["a", "ab"])
        c.say_pick(["b", ""], weights=[3, 1])

    monkeypatch.setattr(data, "document", ambiguous)
    assert len(data.parse("ab")) == 2
    assert data.log_prob("ab") == pytest.approx(math.log(0.5 * 0.75 + 0.5 * 0.25))
    assert data.log_prob("a") == pytest.approx(math.log(0.5 * 0.25))


def test_equal_texts_come_from_equal_choices():
    """Injectivity on samples: many draws of small sub-grammars repeat texts, never with other choices."""
    rng = random.Random(0)
    grammars = dict(SMALL_GRAMMARS) | {
        "past tense question": data._past_tense,
        "day talk": lambda c: data._day_talk(c, ALICE, BOB),
        "document": data.document,
    }
    for name, grammar in grammars.items():
        seen: dict[str, list[int]] = {}
        for _ in range(300):
            sampler = sample(grammar, rng)
            recorded = seen.setdefault(sampler.text, sampler.choices)
            assert recorded == sampler.choices, f"{name}: two choice sequences write {sampler.text!r}"


@pytest.mark.parametrize("name", SMALL_GRAMMARS)
def test_small_sub_grammars_are_injective_and_normalised(name):
    outcomes = enumerate_outcomes(SMALL_GRAMMARS[name])  # fails on any text written twice
    assert math.fsum(outcomes.values()) == pytest.approx(1.0, abs=1e-12), f"{name}: probabilities do not sum to 1"


def test_uniform_choice_among_k_contributes_log_k():
    sampler = sample(lambda c: c.say_pick(data.PEOPLE, render=lambda p: p.name), random.Random(1))
    assert sampler.log_prob == pytest.approx(-math.log(len(data.PEOPLE)))
    weighted = sample(lambda c: c.pick(data.KINDS, data.KIND_WEIGHTS), random.Random(1))
    index = weighted.choices[0]
    assert weighted.log_prob == pytest.approx(math.log(data.KIND_WEIGHTS[index] / sum(data.KIND_WEIGHTS)))
    outcomes = enumerate_outcomes(data._addition)  # "What is x plus y?", x and y uniform in 0..9
    assert all(p == pytest.approx(1 / 100) for p in outcomes.values())


def test_monte_carlo_entropy_matches_an_independent_computation():
    """Subtraction: x uniform in 0..20, then y uniform in 0..x, so H = log 21 + mean over x of log(x + 1)."""
    exact = math.log(21) + sum(math.log(x + 1) for x in range(21)) / 21
    outcomes = enumerate_outcomes(data._subtraction)
    assert len(outcomes) == sum(x + 1 for x in range(21))
    assert -math.fsum(p * math.log(p) for p in outcomes.values()) == pytest.approx(exact, rel=1e-12)

    rng = random.Random(3)
    samples = [sample(data._subtraction, rng) for _ in range(20_000)]
    nlls = [-s.log_prob for s in samples]
    mean = sum(nlls) / len(nlls)
    stderr = math.sqrt(sum((v - mean) ** 2 for v in nlls) / (len(nlls) - 1) / len(nlls))
    assert abs(mean - exact) < 4 * stderr, f"Monte Carlo {mean:.4f} vs exact {exact:.4f} (stderr {stderr:.4f})"
    counts = Counter(s.text for s in samples)
    plug_in = -sum(n / len(samples) * math.log(n / len(samples)) for n in counts.values())
    assert plug_in == pytest.approx(exact, abs=0.03), f"entropy of the text frequencies {plug_in:.4f} vs {exact:.4f}"
    assert data.source_entropy_per_document([Document(s.text, s.log_prob) for s in samples]) == pytest.approx(mean)


# --- entropy floor ---------------------------------------------------------------------


def test_entropy_floor_counts_one_end_of_text_token_per_document():
    docs = [Document("two words", -3.0), Document("one", -1.0)]
    assert data.entropy_floor(docs, lambda t: len(t.split())) == pytest.approx(4.0 / 5)
    assert data.entropy_floor(docs, len) == pytest.approx(4.0 / (10 + 4))
    assert data.source_entropy_per_document(docs) == pytest.approx(2.0)


def test_entropy_floor_of_the_corpus_is_moderate():
    docs = data.load_corpus("validation")
    nats_per_word = data.entropy_floor(docs, lambda t: len(t.split()))
    assert 0.5 < nats_per_word < 2.5, f"floor {nats_per_word:.3f} nats per word"


# --- errors ----------------------------------------------------------------------------


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="unknown split 'dev'.*train"):
        data.load_corpus("dev")
    with pytest.raises(ValueError, match="n must be >= 0"):
        data.generate_documents(-1, seed=0)
    with pytest.raises(ValueError, match="at least one document"):
        data.entropy_floor([], len)
    with pytest.raises(ValueError, match="at least one document"):
        data.source_entropy_per_document([])
    with pytest.raises(ValueError, match="max_documents"):
        data.load_hub_dataset(max_documents=-1)


def test_load_hub_dataset_without_the_datasets_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # makes `import datasets` raise ImportError
    with pytest.raises(RuntimeError, match=r"datasets.*load_corpus"):
        data.load_hub_dataset()


def test_load_hub_dataset_when_the_hub_is_unreachable(monkeypatch):
    def load_dataset(*args, **kwargs):
        raise ConnectionError("no network")

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    with pytest.raises(RuntimeError, match=r"roneneldan/TinyStories.*no network.*load_corpus") as info:
        data.load_hub_dataset()
    assert isinstance(info.value.__cause__, ConnectionError)


def test_load_hub_dataset_reads_the_text_field(monkeypatch):
    calls = []

    def load_dataset(name, split, streaming):
        calls.append((name, split, streaming))
        return iter([{"text": "One."}, {"text": "Two."}, {"text": "Three."}])

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    assert data.load_hub_dataset("some/set", split="validation", max_documents=2) == ["One.", "Two."]
    assert calls == [("some/set", "validation", True)]


# --- Deduplication ---------------------------------------------------------------------------


def test_shingles_and_jaccard():
    assert data.shingles("The cat sat on the mat", n=5) == {"the cat sat on the", "cat sat on the mat"}
    assert data.shingles("too short", n=5) == {"too short"}
    assert data.jaccard({1, 2, 3}, {2, 3, 4}) == 0.5
    assert data.jaccard(set(), set()) == 1.0


def test_minhash_estimates_jaccard_and_finds_near_duplicates():
    import numpy as np

    docs = [d.text for d in data.generate_documents(60, seed=5)]
    near = docs[7].replace(".", "!", 1)  # one changed character: a near duplicate of document 7
    signatures = data.minhash_signatures(docs, num_hashes=256)
    assert signatures.shape == (60, 256)
    assert np.array_equal(signatures, data.minhash_signatures(docs, num_hashes=256)), "deterministic"
    for i, j in [(0, 1), (2, 3), (7, 7)]:
        true = data.jaccard(data.shingles(docs[i]), data.shingles(docs[j]))
        estimate = (signatures[i] == signatures[j]).mean()
        assert abs(estimate - true) < 0.12, (i, j, estimate, true)
    best, where = data.max_estimated_jaccard(data.minhash_signatures([near, docs[8]], num_hashes=256), signatures)
    assert where.tolist()[0] == 7 and best[0] > 0.7
    assert where.tolist()[1] == 8 and best[1] == 1.0
