"""The checks' shared kit (llmcourse/grading/kit.py)."""

import pytest
import torch

from llmcourse.grading.declarations import Mistake
from llmcourse.grading.kit import mistakes, seeded, variant

REFERENCE = "def f(x):\n    return x / 2\n"


def test_a_variant_is_the_reference_with_one_change():
    assert variant(REFERENCE, ("x / 2", "x // 2")) == "def f(x):\n    return x // 2\n"
    assert variant(REFERENCE, ("x / 2", "x"), ("def f", "def g")) == "def g(x):\n    return x\n"


@pytest.mark.parametrize("old", ["x / 3", "x"])
def test_a_variant_refuses_a_change_that_is_not_there_exactly_once(old):
    """'x / 3' occurs nowhere and 'x' three times: either way the mistake would silently be
    something else than what its message says."""
    with pytest.raises(ValueError, match="occurs"):
        variant(REFERENCE, (old, "y"))


def test_seeded_streams_are_reproducible_and_independent():
    assert torch.equal(torch.randn(4, generator=seeded(3)), torch.randn(4, generator=seeded(3)))
    assert not torch.equal(torch.randn(4, generator=seeded(3)), torch.randn(4, generator=seeded(4)))


def test_mistakes_are_built_from_rows():
    assert mistakes([("halved", "divides by 2", REFERENCE)]) == (Mistake("halved", "divides by 2", REFERENCE),)
