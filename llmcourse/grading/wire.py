"""The wire format between the student's process and the grader, and the comparisons on it.

A runner's result leaves the student's process as plain data (:func:`to_plain`: numbers, strings,
lists, dicts, and arrays as ``{"tensor": {dtype, shape, data}}``); the grader reads it back with
:func:`array_of`, :func:`float_of` and :func:`items_of`, looks at a tensor's kind, dtype and shape
with :func:`tensor_meta` and at a tuple's items with :func:`tuple_items` (comparisons never index
the format by hand), and compares it with :func:`expect_tensor` and :func:`expect_float`, whose
messages give shapes, dtype, the first differing index and values.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from llmcourse.grading.declarations import GradingError

_NUMERIC = {"float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"}


def to_plain(value: Any, depth: int = 0) -> Any:
    """Turn a result into plain data: None, bool, int, float, str, lists, str-keyed dicts and
    tensors/arrays as ``{"tensor": {...}}`` with their dtype, shape and values as bytes.

    Runs on the student's side; what it returns is all the grader ever sees of a result.
    """
    import torch

    if depth > 20:
        raise TypeError("result nested too deeply")
    if value is None or type(value) in (bool, int, str):
        return value
    if type(value) is float:
        return {"float": repr(value)}  # keeps nan and inf through JSON
    if isinstance(value, torch.Tensor):
        kind = (
            "torch.Tensor" if type(value) in (torch.Tensor, torch.nn.Parameter) else f"subclass {type(value).__name__}"
        )
        with torch._C.DisableTorchFunction():  # a subclass's own __torch_function__ does not run here
            t = torch.Tensor.detach(value).cpu()
            dtype = str(t.dtype).removeprefix("torch.")
            wide = t.to(torch.float64) if t.is_floating_point() else t.to(torch.int64) if dtype != "bool" else t
            array = wide.contiguous().numpy()
        return {
            "tensor": {
                "kind": kind,
                "dtype": dtype,
                "shape": list(t.shape),
                "data": base64.b64encode(array.tobytes()).decode(),
            }
        }
    if isinstance(value, np.ndarray):
        widened = (
            value.astype(np.float64)
            if value.dtype.kind == "f"
            else value.astype(np.int64)
            if value.dtype.kind in "iu"
            else value.astype(bool)
        )
        return {
            "tensor": {
                "kind": "numpy.ndarray",
                "dtype": str(value.dtype),
                "shape": list(value.shape),
                "data": base64.b64encode(np.ascontiguousarray(widened).tobytes()).decode(),
            }
        }
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return to_plain(value.item(), depth + 1)
    if isinstance(value, (float, int, str)):  # subclasses of the builtins: keep the value only
        return to_plain(type(value).__mro__[-2](value), depth + 1)
    if isinstance(value, (tuple, list)):
        return {"tuple" if isinstance(value, tuple) else "list": [to_plain(v, depth + 1) for v in value]}
    if isinstance(value, dict):
        return {"dict": {str(k): to_plain(v, depth + 1) for k, v in value.items()}}
    return {"object": type(value).__name__}


@dataclass(frozen=True)
class TensorMeta:
    """What a plain tensor says of itself (see :func:`tensor_meta`): its ``kind`` ("torch.Tensor",
    "numpy.ndarray" or "subclass Name"), ``dtype`` ("float32", "int64", ...) and ``shape``.

    Each is read from the wire when asked for, nothing is checked up front: a malformed header
    (forged in the student's process) fails where a comparison reads it."""

    header: Any  # the wire's {"kind", "dtype", "shape", "data"}

    @property
    def kind(self) -> str:
        return self.header["kind"]

    @property
    def dtype(self) -> str:
        return self.header["dtype"]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.header["shape"])

    def has_shape(self, shape: Sequence[int]) -> bool:
        """Whether the tensor's shape is ``shape`` (the wire holds it as a list; ``()``: 0-dim)."""
        return self.header["shape"] == list(shape)


def tensor_meta(plain: Any) -> TensorMeta | None:
    """The kind, dtype and shape of a plain tensor or array, or None if ``plain`` is not one."""
    return TensorMeta(plain["tensor"]) if isinstance(plain, dict) and "tensor" in plain else None


def known_tensor_meta(plain: Any) -> TensorMeta:
    """:func:`tensor_meta` of a value known to be a plain tensor (an oracle's result), typed without
    the None: a KeyError or TypeError when it is not one (a catalogued mistake's result of another
    kind, which then matches nothing)."""
    return TensorMeta(plain["tensor"])


def is_scalar_tensor(plain: Any) -> bool:
    """Whether ``plain`` is a 0-dim tensor or array."""
    meta = tensor_meta(plain)
    return meta is not None and meta.has_shape(())


def is_tuple(plain: Any) -> bool:
    """Whether ``plain`` is a returned tuple (not a list)."""
    return isinstance(plain, dict) and "tuple" in plain


def tuple_items(plain: Any) -> list:
    """The items of a plain tuple; check :func:`is_tuple` first unless it is known to be one (an
    oracle's result: a catalogued mistake's result of another kind then raises a KeyError or
    TypeError, and matches nothing)."""
    return plain["tuple"]


def is_sequence(plain: Any) -> bool:
    """Whether ``plain`` is a returned tuple or list."""
    return isinstance(plain, dict) and ("tuple" in plain or "list" in plain)


def sequence_items(plain: Any) -> list:
    """The items of a plain tuple or list (the tuple's if a forged result holds both); check
    :func:`is_sequence` first."""
    return plain["tuple"] if "tuple" in plain else plain["list"]


def kind_of(plain: Any) -> str:
    """A short description of a plain value, for messages."""
    if plain is None:
        return "None"
    if isinstance(plain, bool):
        return "bool"
    if isinstance(plain, int):
        return "int"
    if isinstance(plain, str):
        return "str"
    ((key, inner),) = plain.items()
    if key == "tensor":
        return f"{inner['kind']} of shape {tuple(inner['shape'])}, dtype {inner['dtype']}"
    if key in ("tuple", "list"):
        return f"a {key} of {len(inner)}"
    return {"float": "float", "dict": "dict", "object": inner}.get(key, key)


def array_of(plain: Any) -> np.ndarray | None:
    """The values of a plain tensor (float64, int64 or bool), or None if ``plain`` is not one."""
    meta = tensor_meta(plain)
    if meta is None:
        return None
    if meta.dtype not in _NUMERIC and not meta.dtype.startswith(("float", "int", "uint", "bool")):
        raise GradingError(f"unsupported dtype {meta.dtype}")
    wide = np.float64 if meta.dtype.startswith(("float", "bfloat")) else bool if meta.dtype == "bool" else np.int64
    shape = tuple(int(n) for n in meta.shape)
    data = base64.b64decode(meta.header["data"])
    if len(data) != math.prod(shape) * np.dtype(wide).itemsize:
        raise GradingError("a returned tensor was corrupted on its way to the grader")
    return np.frombuffer(data, dtype=wide).reshape(shape)


def values_of(plain: Any) -> np.ndarray:
    """:func:`array_of` of a value already known to be a plain tensor (an oracle's result, or an
    answer's once checked): the same array, typed without the None."""
    return cast(np.ndarray, array_of(plain))


def float_of(plain: Any) -> float | None:
    """A plain number as a float (bools excluded), or None."""
    if isinstance(plain, bool):
        return None
    if isinstance(plain, int):
        return float(plain)
    if isinstance(plain, dict) and "float" in plain:
        return float(plain["float"])
    if is_scalar_tensor(plain):
        return float(values_of(plain))
    return None


def items_of(plain: Any, what: str, n: int) -> list:
    """The ``n`` items of a returned tuple (or list), or a GradingError saying what came back."""
    if is_sequence(plain):
        items = sequence_items(plain)
        if len(items) == n:
            return items
    raise GradingError(f"{what} must return a tuple of {n} items, got {kind_of(plain)}")


# ---------------------------------------------------------------- comparisons


def _preview(a: np.ndarray, n: int = 4) -> str:
    flat = a.reshape(-1)[:n].astype(np.float64)
    return "[" + ", ".join(f"{x:.4g}" for x in flat) + (", ..." if a.size > n else "") + "]"


# (atol, rtol) for a result computed in a low-precision dtype, against an oracle's float32 or
# float64 values; any other dtype gets DEFAULT_TOLERANCE, float32's precision.
LOW_PRECISION_TOLERANCE = {"bfloat16": (2e-2, 2e-2)}
DEFAULT_TOLERANCE = (1e-5, 1e-4)


def tolerance(dtype: str | None) -> tuple[float, float]:
    """(atol, rtol) for values computed in ``dtype`` (a torch dtype's name, e.g. ``"bfloat16"``)."""
    return LOW_PRECISION_TOLERANCE.get(dtype or "", DEFAULT_TOLERANCE)


def expect_tensor(
    got: Any,
    expected: Any,
    *,
    what: str,
    context: str = "",
    atol: float = DEFAULT_TOLERANCE[0],
    rtol: float = DEFAULT_TOLERANCE[1],
    dtype: str | None = None,
) -> None:
    """Fail unless ``got`` is a plain tensor of ``expected``'s shape and values (and ``dtype``).

    Both are plain data. The message gives shapes, dtype, the first differing index and values.
    """
    where = f" for {context}" if context else ""
    e = values_of(expected)
    meta = tensor_meta(got)
    if meta is None:
        raise GradingError(f"{what}{where}: expected a torch.Tensor, got {kind_of(got)}")
    if meta.kind != "torch.Tensor":
        raise GradingError(f"{what}{where}: expected a plain torch.Tensor, got a {meta.kind}")
    a = values_of(got)
    if a.shape != e.shape:
        raise GradingError(f"{what}{where}: expected shape {e.shape}, got {a.shape}")
    if dtype is not None and meta.dtype != dtype:
        raise GradingError(f"{what}{where}: expected dtype torch.{dtype}, got torch.{meta.dtype}")
    if a.size == 0:
        return
    a, e = a.astype(np.float64), e.astype(np.float64)
    both_nan = np.isnan(a) & np.isnan(e)  # only when comparing with a catalogued mistake's result
    finite = np.isfinite(a) | (a == e) | both_nan  # -inf where -inf is expected is fine
    if not finite.all():
        index = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise GradingError(
            f"{what}{where}: contains NaN or inf, first at index {index} (expected {e[index]:.6g}, got {a[index]})"
        )
    with np.errstate(invalid="ignore"):
        diff = np.where((a == e) | both_nan, 0.0, np.abs(a - e))
    bad = ~(diff <= atol + rtol * np.abs(np.where(np.isfinite(e), e, 0.0)))
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        hint = how_values_differ(a, e, bad, atol, rtol)
        raise GradingError(
            f"{what}{where}: values differ (max abs diff {np.nanmax(np.where(np.isfinite(diff), diff, np.inf)):.3g}).\n"
            f"  at index {index}: expected {e[index]:.6g}, got {a[index]:.6g}\n"
            f"  expected starts {_preview(e)}\n"
            f"  got      starts {_preview(a)}" + (f"\n  {hint}" if hint else "")
        )


def _close(a: np.ndarray, e: np.ndarray, atol: float, rtol: float) -> bool:
    return a.shape == e.shape and bool(
        np.all((a == e) | (np.abs(a - e) <= atol + rtol * np.abs(np.where(np.isfinite(e), e, 0.0))))
    )


def _factor(c: float) -> str:
    """A ratio in words when it is a recognisable one: -1, k, 1/k, sqrt(k), 1/sqrt(k)."""
    if not 1e-3 < c < 1e3:  # every value named lies in [1/64, 64] (nan fails this too)
        return f"{c:.4g}"
    forms = (  # (the value named by k, its words, where a matching k lies, the largest k named)
        (lambda k: k, "{}", c, 64),
        (lambda k: 1 / k, "1/{}", 1 / c, 64),
        (math.sqrt, "sqrt({})", c * c, 4096),
        (lambda k: 1 / math.sqrt(k), "1/sqrt({})", 1 / (c * c), 4096),
    )
    found = [
        (k, order, text.format(k))
        for order, (value, text, near, largest) in enumerate(forms)
        for k in range(max(2, round(near) - 2), min(largest, round(near) + 2) + 1)
        if math.isclose(c, value(k), rel_tol=1e-4)
    ]
    return f"{c:.4g} = {min(found)[2]}" if found else f"{c:.4g}"


def how_values_differ(a: np.ndarray, e: np.ndarray, bad: np.ndarray, atol: float = 1e-5, rtol: float = 1e-4) -> str:
    """One line saying how an answer's values differ from the expected ones, when a simple
    relation explains it (a constant factor, a sign, a shift of every value, a transposition, a
    shift by one position, a flip, a per-row factor), else which rows differ; "" when none does.
    ``a`` and ``e`` are float64 arrays of one shape, ``bad`` marks the entries that differ."""
    finite = np.isfinite(a) & np.isfinite(e)
    nonzero = finite & (np.abs(e) > 1e-12)
    if nonzero.sum() >= 2:
        ratio = a[nonzero] / e[nonzero]
        c = float(np.median(ratio))
        if not math.isclose(c, 1.0, rel_tol=1e-3) and _close(a, e * c, atol, rtol * 10):
            return (
                "hint: every value has the opposite sign: a sign error"
                if math.isclose(c, -1.0, rel_tol=1e-4)
                else f"hint: every value is {_factor(c)} times the expected one: a missing or extra factor?"
            )
    if finite.all() and a.size >= 2:
        shift = float(np.median(a - e))
        if abs(shift) > atol and _close(a, e + shift, atol, rtol * 10):
            sign = "+" if shift > 0 else "-"
            return f"hint: every value is the expected one {sign} {abs(shift):.4g}: an offset added or missing?"
    for i in range(a.ndim):
        for j in range(i + 1, a.ndim):
            if a.shape[i] == a.shape[j] > 1 and _close(a, np.swapaxes(e, i, j), atol, rtol):
                return (
                    f"hint: your result is the expected one with dimensions {i - a.ndim} and {j - a.ndim} swapped: "
                    "a transpose?"
                )
    for axis in range(a.ndim):
        if a.shape[axis] < 2:
            continue
        if _close(a, np.flip(e, axis), atol, rtol):
            return f"hint: your result is the expected one reversed along dimension {axis - a.ndim}"
        for step in (1, -1):
            rolled = np.roll(e, step, axis)
            keep = [slice(None)] * a.ndim
            keep[axis] = slice(1, None) if step == 1 else slice(None, -1)
            if _close(a[tuple(keep)], rolled[tuple(keep)], atol, rtol):
                return (
                    f"hint: your result is the expected one shifted by {step} position along dimension "
                    f"{axis - a.ndim}: an off-by-one?"
                )
    if a.ndim >= 2 and finite.all():
        rows_a, rows_e = a.reshape(-1, a.shape[-1]), e.reshape(-1, e.shape[-1])
        rows = np.argwhere(bad.reshape(-1, a.shape[-1]).any(-1)).reshape(-1)
        if len(rows) < len(rows_a):
            listed = ", ".join(str(int(r)) for r in rows[:8]) + (", ..." if len(rows) > 8 else "")
            return (
                f"hint: {len(rows)} of {len(rows_a)} rows (flattened over every dimension but the last) differ: "
                f"{listed}; the others are right"
            )
        scale = np.array(
            [float(np.dot(x, y) / np.dot(y, y)) if np.dot(y, y) > 0 else 1.0 for x, y in zip(rows_a, rows_e)]
        )
        if not np.allclose(scale, scale[0], rtol=1e-3) and _close(rows_a, rows_e * scale[:, None], atol, rtol * 10):
            return (
                "hint: each row is a multiple of the expected row, by a different factor per row: "
                "a normalisation missing or over the wrong dimension?"
            )
    return ""


def expect_float(
    got: Any, expected: float, *, what: str, context: str = "", atol: float = 1e-6, rtol: float = 1e-5
) -> None:
    """Fail unless ``got`` (plain) is a Python number (or 0-d tensor) close to ``expected``."""
    where = f" for {context}" if context else ""
    value = float_of(got)
    if value is None:
        raise GradingError(f"{what}{where}: expected a number, got {kind_of(got)}")
    if not (abs(value - expected) <= atol + rtol * abs(expected) or value == expected):
        ratio = (
            f" ({_factor(value / expected)} times the expected value)"
            if expected and value and abs(value / expected - 1) > 1e-3
            else ""
        )
        raise GradingError(f"{what}{where}: expected {expected:.6g}, got {value:.6g}{ratio}")
