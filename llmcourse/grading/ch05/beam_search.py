"""Exercise 8, ``beam_search(model, input_ids, num_beams, max_new_tokens)``, against Hugging
Face's ``generate(num_beams=N, early_stopping=False, eos_token_id=None)``."""

from __future__ import annotations

import functools

import torch

from llmcourse.grading.contract import Case, Exercise, SubCheck, check, to_plain
from llmcourse.grading.kit import catalogue
from llmcourse.grading.runners import one_thread
from llmcourse.grading.runners.ch05 import RUNNERS, tiny_model

from .common import FORBIDDEN, OTHER, PEAKED, hf_generate, ids_compare, model_label, prompts

FLAT = (4, 64, 0.1)  # flat distributions: 45 tokens have a joint probability below float32's smallest number
FLAT_2 = (2, 50, 0.06)


def _beam_case(sub: str, spec: tuple, ids: torch.Tensor, N: int, n: int, visible: bool) -> Case:
    expected = hf_generate(
        tiny_model(*spec), ids, num_beams=N, do_sample=False, early_stopping=False, max_new_tokens=n, eos_token_id=None
    )
    label = f"prompts {tuple(ids.shape)}, num_beams={N}, max_new_tokens={n}, {model_label(spec)}"
    return Case(
        sub, {"model": spec, "ids": ids, "num_beams": N, "max_new_tokens": n}, to_plain(expected), label, visible
    )


@functools.lru_cache(maxsize=2)
@one_thread()
def _beam_cases(hidden: bool) -> list[Case]:
    P, Q = prompts(4, 5, 50, 1), prompts(3, 7, 64, 2)
    cases = [
        _beam_case("best", PEAKED, P[2:3], 4, 10, True),
        _beam_case("best", OTHER, Q[:1], 3, 10, True),
        _beam_case("long", FLAT, prompts(1, 4, 64, 4), 2, 45, True),
        _beam_case("long", FLAT_2, prompts(1, 4, 50, 2), 2, 40, True),
        _beam_case("batch", PEAKED, P[:3], 3, 6, True),
        _beam_case("batch", OTHER, Q, 3, 8, True),
    ]
    if hidden:
        cases += [
            _beam_case("best", PEAKED, P[:1], 2, 8, False),
            _beam_case("best", PEAKED, P[1:2], 3, 6, False),
            _beam_case("best", PEAKED, P[3:4], 2, 12, False),
            _beam_case("best", OTHER, Q[1:2], 1, 8, False),
            _beam_case(
                "long", FLAT, prompts(2, 4, 64, 4)[1:], 2, 45, False
            ),  # one prompt: batches are the batch requirement's
            _beam_case("batch", PEAKED, P, 2, 10, False),
            _beam_case("batch", OTHER, Q[:2], 2, 12, False),
        ]
    return cases


# The catalogue, in the order a match is named: each id is a file in mistakes/beam_search/.
MISTAKES = (
    "multiplies_probabilities",
    "sums_probabilities",
    "raw_logits",
    "not_accumulated",
    "all_beams_start_alive",
    "own_best_token",
    "drops_prompt",
    "batch_as_beams",
    "returns_last_beam",
    "beam_and_token_swapped",
    "log_softmax_over_beams",
    "returns_all_beams",
    "ignores_parent_beam",
)

BEAM = Exercise(
    name="beam_search",
    cell="beam_search",
    test_cell="beam_search_tests",
    points=3,
    subchecks=(
        SubCheck(
            "best",
            1.5,
            "returns the prompt and the beam with the highest sum of log-probabilities after max_new_tokens steps, "
            "as generate(num_beams=N, do_sample=False)",
        ),
        SubCheck(
            "long",
            0.5,
            "long outputs (40 or more tokens of a flat distribution, whose joint probability underflows float32): "
            "the best beam, scored by sums of log-probabilities",
        ),
        SubCheck(
            "batch",
            1.0,
            "a batch of prompts: each prompt searched on its own for its best beam, (B, T + max_new_tokens)",
        ),
    ),
    cases=_beam_cases,
    run=RUNNERS["beam_search"],
    compare=ids_compare("beam_search"),
    forbidden=FORBIDDEN,
    mistakes=catalogue(__file__, MISTAKES),
)


def check_beam_search(fn, hidden: bool = False) -> None:
    """Exercise 8, against Hugging Face's generate(num_beams=N, early_stopping=False, eos_token_id=None)."""
    check(BEAM, fn, hidden)
