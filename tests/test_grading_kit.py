"""The checks' shared kit (llmcourse/grading/kit.py) and the runners' tiny GPT-2."""

import pytest
import torch

from llmcourse.grading.declarations import Case
from llmcourse.grading.kit import cases_once, seeded, variant
from llmcourse.grading.runners import tiny_gpt2

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


def test_cases_are_built_once_per_value_of_hidden_and_each_caller_gets_its_own_list():
    built = []

    @cases_once
    def cases(hidden: bool) -> list[Case]:
        built.append(hidden)
        return [Case("values", (hidden,), None, "x", visible=not hidden)]

    first, again = cases(False), cases(0)
    assert first == again and first is not again and first[0] is again[0]
    first.append(first[0])  # a caller's list is its own
    assert len(cases(False)) == 1 and len(cases(True)) == 1
    assert built == [False, True]


def test_tiny_gpt2_is_seeded_without_touching_the_global_random_state():
    torch.manual_seed(0)
    before = torch.random.get_rng_state()
    a, b = tiny_gpt2(3), tiny_gpt2(3, initializer_range=0.3)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert not a.training and a.config.n_layer == 2 and a.config.vocab_size == 50 and a.config.resid_pdrop == 0.0
    again = tiny_gpt2(3).state_dict().values()
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), again, strict=True))
    assert not torch.equal(a.transformer.wte.weight, b.transformer.wte.weight)
