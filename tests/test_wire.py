"""The wire format's accessors (llmcourse/grading/wire.py): what comparisons read of a plain result
instead of indexing the format by hand."""

import numpy as np
import pytest
import torch

from llmcourse.grading.declarations import GradingError
from llmcourse.grading.wire import (
    TensorMeta,
    _factor,
    expect_tensor,
    is_scalar_tensor,
    is_sequence,
    is_tuple,
    items_of,
    known_tensor_meta,
    sequence_items,
    tensor_meta,
    to_plain,
    tolerance,
    tuple_items,
)


def test_tensor_meta_gives_kind_dtype_and_shape_of_tensors_and_arrays_only():
    meta = tensor_meta(to_plain(torch.zeros(2, 3, dtype=torch.bfloat16)))
    assert isinstance(meta, TensorMeta)
    assert (meta.kind, meta.dtype, meta.shape) == ("torch.Tensor", "bfloat16", (2, 3))
    array = tensor_meta(to_plain(np.zeros((4,), dtype=np.int32)))
    assert array is not None and (array.kind, array.dtype, array.shape) == ("numpy.ndarray", "int32", (4,))
    assert known_tensor_meta(to_plain(torch.ones(1))).shape == (1,)
    for plain in (to_plain(1.5), to_plain(3), to_plain((torch.zeros(1),)), to_plain([1]), None, "tensor"):
        assert tensor_meta(plain) is None, plain


def test_has_shape_compares_with_the_wire_list_whatever_sequence_it_is_given():
    meta = known_tensor_meta(to_plain(torch.zeros(2, 3)))
    assert meta.has_shape((2, 3)) and meta.has_shape([2, 3]) and meta.has_shape(torch.Size([2, 3]))
    assert not meta.has_shape((3, 2)) and not meta.has_shape(())
    assert known_tensor_meta(to_plain(torch.tensor(1.0))).has_shape(())


def test_a_scalar_tensor_is_a_0_dim_tensor_or_array_and_nothing_else():
    assert is_scalar_tensor(to_plain(torch.tensor(2.0))) and is_scalar_tensor(to_plain(np.array(2)))
    for plain in (to_plain(torch.zeros(1)), to_plain(2.0), to_plain(2), to_plain((torch.tensor(1.0),)), None):
        assert not is_scalar_tensor(plain), plain


def test_a_malformed_header_fails_where_it_is_read():
    """A header forged in the student's process: nothing is read before a comparison asks for it."""
    meta = tensor_meta({"tensor": {"dtype": "float32"}})
    assert meta is not None and meta.dtype == "float32"
    with pytest.raises(KeyError):
        _ = meta.kind
    with pytest.raises(TypeError):
        _ = known_tensor_meta({"tensor": None}).shape
    with pytest.raises(KeyError):
        known_tensor_meta({"float": "1.0"})


def test_tuples_and_sequences():
    pair, listed = to_plain((1, "a")), to_plain([1, "a"])
    assert is_tuple(pair) and not is_tuple(listed) and not is_tuple(to_plain(torch.zeros(1))) and not is_tuple(None)
    assert tuple_items(pair) == [1, "a"]
    with pytest.raises(KeyError):  # an oracle's tuple compared with a mistake's list: no match
        tuple_items(listed)
    assert is_sequence(pair) and is_sequence(listed) and not is_sequence(to_plain({"a": 1})) and not is_sequence(3)
    assert sequence_items(pair) == sequence_items(listed) == [1, "a"]
    assert items_of(listed, "f", 2) == [1, "a"]


def test_one_tolerance_table_by_dtype():
    assert tolerance("bfloat16") == (2e-2, 2e-2)
    assert tolerance("float32") == tolerance("float64") == tolerance(None) == (1e-5, 1e-4)
    exact = to_plain(torch.tensor([1.0, 2.0], dtype=torch.float64))
    rounded = to_plain(torch.tensor([1.0, 2.0], dtype=torch.float64).to(torch.bfloat16).float() + 0.004)
    atol, rtol = tolerance("bfloat16")
    expect_tensor(rounded, exact, what="x", atol=atol, rtol=rtol)
    with pytest.raises(GradingError, match="values differ"):
        expect_tensor(rounded, exact, what="x")  # float32's precision by default


def test_factor_names_recognisable_ratios_only():
    assert _factor(8.0) == "8 = 8"
    assert _factor(1 / 8) == "0.125 = 1/8"
    assert _factor(1 / 64**0.5) == "0.125 = 1/8"  # the first name found, k before sqrt(k)
    assert _factor(1 / 512**0.5) == "0.04419 = 1/sqrt(512)"
    assert _factor(4096**0.5 * 1.00005) == "64 = 64"
    assert _factor(100.0) == "100"  # k above 64 is named only under a root
    assert _factor(0.123456) == "0.1235"
    assert [_factor(c) for c in (-2.0, 0.0, 1e-300, float("inf"), float("nan"))] == ["-2", "0", "1e-300", "inf", "nan"]
