"""Exercise 9, ``generate_until(model, tokenizer, prompt, stop, max_new_tokens, next_token)``,
against the text of the tokens Hugging Face's ``generate`` produces with ``course-gpt``, the
stop strings searched in it one token at a time."""

from __future__ import annotations

import functools
from typing import Any

import torch

from llmcourse.grading.contract import Case, Exercise, GradingError, SubCheck, check, kind_of
from llmcourse.grading.kit import catalogue
from llmcourse.grading.runners import one_thread
from llmcourse.grading.runners.ch05 import RUNNERS, course_model

from .common import FORBIDDEN, hf_generate, robust

ANNA = "Anna: Hi, Ben!\nBen:"
HANA = "Hana: I have to go now. Goodbye, Hugo!\nHugo: Goodbye,"
QUESTION = "Question: What is 3 plus 4?\nAnswer:"
DIARY = "Dear diary,\nOn Friday, I gently walked next to the library.\nYour"
TOM = "Tom: What did you do today?\nMia:"


def streamed_until(tokenizer, new_tokens: list[int], stops: list[str]) -> str:
    """What generate_until must return, given the tokens the model produces one by one."""
    for n in range(1, len(new_tokens) + 1):
        if new_tokens[n - 1] == tokenizer.eos_token_id:
            return tokenizer.decode(new_tokens[: n - 1])
        text = tokenizer.decode(new_tokens[:n])
        found = [text.find(s) for s in stops if s in text]
        if found:
            return text[: min(found)]
    return tokenizer.decode(new_tokens)


def _until_case(sub: str, prompt: str, stop, n: int, sampler: tuple | None, visible: bool) -> Case:
    model, tok = course_model()
    ids = tok(prompt, return_tensors="pt").input_ids
    kwargs = {"max_new_tokens": n, "eos_token_id": tok.eos_token_id, "pad_token_id": tok.eos_token_id}
    if sampler is None:
        out = hf_generate(model, ids, do_sample=False, **kwargs)
    else:
        seed, temperature = sampler
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            out = hf_generate(model, ids, do_sample=True, temperature=temperature, top_k=None, top_p=None, **kwargs)
    stops = [stop] if isinstance(stop, str) else list(stop)
    expected = streamed_until(tok, out[0, ids.shape[1] :].tolist(), stops)
    label = f"prompt {prompt!r}, stop {stop!r}, max_new_tokens={n}"
    if sampler is not None:
        label += f", next_token=a sampler (seed {sampler[0]}, temperature {sampler[1]})"
    inputs = {"prompt": prompt, "stop": stop, "max_new_tokens": n, "sampler": sampler}
    return Case(sub, inputs, expected, label, visible)


@functools.lru_cache(maxsize=2)
@one_thread()
def _until_cases(hidden: bool) -> list[Case]:
    cases = [
        _until_case("stop", ANNA, "\nAnna:", 40, None, True),  # three tokens: "\n", "Anna", ":"
        _until_case("stop", ANNA, "Ben:", 40, None, True),  # in the prompt too: only the generated text counts
        _until_case("mid_token", ANNA, "nna:", 40, None, True),  # starts inside the token "Anna"
        _until_case("mid_token", ANNA, "Anna! H", 40, None, True),  # ends inside the token " How"
        _until_case(
            "several", ANNA, ["nn", "Anna"], 40, None, True
        ),  # both complete with one token: cut at the earlier
        _until_case("several", ANNA, ["nna", "An"], 40, None, True),
        _until_case("several", ANNA, ["zebra", "\nAnna:"], 40, None, True),  # one of them never occurs
        _until_case("limits", ANNA, "zebra", 12, None, True),  # never found: max_new_tokens
        _until_case("limits", HANA, "zebra", 30, None, True),  # the end-of-text token comes first
        _until_case("next_token", ANNA, ["\nAnna:", "\nBen:"], 40, (5, 1.5), True),
    ]
    if hidden:
        cases += [
            _until_case("stop", QUESTION, "\n\nQuestion:", 40, None, False),
            _until_case("stop", TOM, "\nMia:", 40, None, False),  # in the prompt too
            _until_case("mid_token", ANNA, "ow are", 40, None, False),
            _until_case("mid_token", HANA, "a! S", 30, None, False),
            _until_case("several", ANNA, ["yesterday", "\nAnna:"], 40, None, False),
            _until_case("several", ANNA, ["thank", "fine"], 40, None, False),
            _until_case("limits", QUESTION, "zebra", 5, None, False),
            _until_case("limits", DIARY, "zebra", 30, None, False),  # the end-of-text token comes first
            # next_token: as the visible case, a list of stop strings, and the sampled text reaches
            # max_new_tokens before any of them or the end-of-text token (greedy decoding would stop early)
            _until_case("next_token", ANNA, ["\nAnna:", "\nBen:"], 30, (1, 0.8), False),
            _until_case("next_token", TOM, ["\nTom:"], 30, (3, 1.2), False),
        ]
    return cases


@robust
def _until_compare(case: Case, got: Any, expected: Any) -> None:
    if not isinstance(got, str):
        raise GradingError(f"generate_until for {case.label}: expected a str, got {kind_of(got)}")
    if got != expected:
        raise GradingError(f"generate_until for {case.label}:\n  expected {expected!r}\n  got      {got!r}")


# The catalogue, in the order a match is named: each id is a file in mistakes/generate_until/.
MISTAKES = (
    "returns_stop_string",
    "endswith_only",
    "token_level_match",
    "searches_prompt",
    "returns_prompt",
    "string_as_characters",
    "first_listed_not_earliest",
    "ignores_end_of_text",
    "ignores_next_token",
    "one_token_short",
    "max_new_tokens_as_total_length",
    "strips_text",
    "missing_stop_string_cuts",
    "hook_arguments_swapped",
    "decodes_end_of_text",
)

UNTIL = Exercise(
    name="generate_until",
    cell="generate_until",
    test_cell="generate_until_tests",
    points=3,
    subchecks=(
        SubCheck(
            "stop",
            1.0,
            "returns the generated text before the first stop string, found across tokens and only in the generated "
            "text (not the prompt)",
        ),
        SubCheck("mid_token", 0.5, "a stop string that starts or ends inside a token"),
        SubCheck("several", 0.5, "a list of stop strings: cut at the earliest position where any of them occurs"),
        SubCheck(
            "limits",
            0.5,
            "no stop string: the text of max_new_tokens tokens, or of the tokens before the end-of-text token",
        ),
        SubCheck("next_token", 0.5, "picks each token with next_token(logits, ids) when one is given"),
    ),
    cases=_until_cases,
    run=RUNNERS["generate_until"],
    compare=_until_compare,
    forbidden=FORBIDDEN,
    mistakes=catalogue(__file__, MISTAKES),
)


def check_generate_until(fn, hidden: bool = False) -> None:
    """Exercise 9, against the text of the tokens Hugging Face's generate produces with course-gpt."""
    check(UNTIL, fn, hidden)
