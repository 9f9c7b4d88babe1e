"""Exercise 6, ``greedy_decode(model, input_ids, max_new_tokens, eos_token_id, pad_token_id)``,
against Hugging Face's ``generate(do_sample=False)`` on small seeded random GPT-2 models."""

from __future__ import annotations

import functools

import torch

from llmcourse.grading.contract import Case, Exercise, SubCheck, check, to_plain
from llmcourse.grading.kit import catalogue
from llmcourse.grading.runners import one_thread
from llmcourse.grading.runners.ch05 import RUNNERS, tiny_model

from .common import FORBIDDEN, OTHER, PEAKED, hf_generate, ids_compare, model_label, prompts


def _greedy_case(
    sub: str, spec: tuple, ids: torch.Tensor, n: int, eos: int | None, pad: int, visible: bool, course_gpt: bool = False
) -> Case:
    """``course_gpt``: the answer gets the same weights as the course's GPT (whose forward returns
    a tuple), the oracle runs the Hugging Face model."""
    kwargs = {"eos_token_id": eos, "pad_token_id": pad} if eos is not None else {"eos_token_id": None}
    expected = hf_generate(tiny_model(*spec), ids, do_sample=False, max_new_tokens=n, **kwargs)
    label = f"prompts {tuple(ids.shape)}, max_new_tokens={n}, " + (
        f"eos_token_id={eos}, pad_token_id={pad}" if eos is not None else "no end token"
    )
    label += f", {model_label(spec)}" + (" as the course's GPT (llmcourse.gpt.GPT)" if course_gpt else "")
    inputs = {"model": spec, "ids": ids, "max_new_tokens": n, "eos": eos, "pad": pad, "course_gpt": course_gpt}
    return Case(sub, inputs, to_plain(expected), label, visible)


def _free_run(spec: tuple, ids: torch.Tensor, n: int) -> torch.Tensor:
    return hf_generate(tiny_model(*spec), ids, do_sample=False, max_new_tokens=n, eos_token_id=None)[:, ids.shape[1] :]


@functools.lru_cache(maxsize=2)
@one_thread()
def _greedy_cases(hidden: bool) -> list[Case]:
    P = prompts(4, 5, 50, 1)
    free = _free_run(PEAKED, P, 20)  # (4, 20): what greedy decoding produces without an end token
    first = int(free[0, 0])  # row 0 ends at its first token; rows 1 and 2 later
    cases = [
        _greedy_case("no_eos", PEAKED, P[:1], 15, None, 0, True),
        _greedy_case("no_eos", PEAKED, P[:3], 15, None, 0, True),
        _greedy_case("no_eos", PEAKED, P[:2], 10, None, 0, True, course_gpt=True),
        _greedy_case("eos_pad", PEAKED, P[:3], 10, first, 47, True),
        _greedy_case("stops", PEAKED, P[:1], 15, first, 0, True),
        _greedy_case("stops", PEAKED, P, 20, 37, 0, True),
    ]
    if hidden:
        Q = prompts(3, 7, 64, 2)
        free_q = _free_run(OTHER, Q, 20)
        cases += [
            _greedy_case("no_eos", OTHER, Q, 20, None, 0, False),
            _greedy_case("no_eos", PEAKED, P[:, :1], 12, None, 0, False),
            _greedy_case("no_eos", OTHER, Q, 15, None, 0, False, course_gpt=True),
            _greedy_case("eos_pad", PEAKED, P[:3], 10, first, 0, False),
            _greedy_case("eos_pad", OTHER, Q, 12, int(free_q[1, 3]), 5, False),
            # stops: as its visible cases, every sequence ends before max_new_tokens, padded with 0
            # (the padding token given is the eos_pad requirement's)
            _greedy_case("stops", PEAKED, P[:3], 15, first, 0, False),
            _greedy_case("stops", OTHER, Q, 20, int(free_q[2, 0]), 0, False),
        ]
    return cases


# The catalogue, in the order a match is named: each id is a file in mistakes/greedy/.
MISTAKES = (
    "no_padding_after_eos",
    "stops_at_first_eos",
    "pads_with_eos",
    "never_stops_early",
    "drops_prompt",
    "eos_not_appended",
    "one_token_short",
    "max_new_tokens_as_total_length",
    "first_position_logits",
    "end_token_replaced",
    "pads_with_zero",
    "hugging_face_only",
)

GREEDY = Exercise(
    name="greedy_decode",
    cell="greedy",
    test_cell="greedy_tests",
    points=3,
    subchecks=(
        SubCheck(
            "no_eos",
            1.0,
            "without an end token: the prompt followed by max_new_tokens most likely tokens, (B, T + "
            "max_new_tokens), as generate(do_sample=False), for a Hugging Face model and the course's GPT",
        ),
        SubCheck(
            "eos_pad",
            1.0,
            "a sequence that has produced eos_token_id gets pad_token_id from then on, while the others go on",
        ),
        SubCheck("stops", 1.0, "decoding stops as soon as every sequence has produced the end token (which is kept)"),
    ),
    cases=_greedy_cases,
    run=RUNNERS["greedy"],
    compare=ids_compare("greedy_decode"),
    forbidden=FORBIDDEN,
    mistakes=catalogue(__file__, MISTAKES),
)


def check_greedy_decode(fn, hidden: bool = False) -> None:
    """Exercise 6, against Hugging Face's generate(do_sample=False) on small random GPT-2 models."""
    check(GREEDY, fn, hidden)
