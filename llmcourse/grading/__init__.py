"""Tools the chapters' graded tests share.

The notebooks' test cells call small ``check_*`` functions from the chapter modules
(``llmcourse.grading.ch02``, ...). They all follow three rules:

1. Expected values are computed by an independent oracle (PyTorch, Hugging Face, ...)
   *before* the student's code runs, and compared with functions captured when this module
   was imported, so a student who monkeypatches ``torch.allclose`` changes nothing.
2. The student's code runs inside :func:`forbid`, so calling the very library function the
   exercise asks to re-implement (or the course's own reference) fails the test.
3. A failure raises :class:`GradingError` (an ``AssertionError``) whose message says what was
   expected and what was received, with shapes and a small example.
"""
from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterable, Iterator
from types import CodeType, FunctionType

import torch
from torch.overrides import TorchFunctionMode

# Captured at import, before any student cell runs.
_isfinite = torch.isfinite
_float64 = torch.float64


class GradingError(AssertionError):
    """A graded test failed; the message is written for the student."""


def _preview(t: torch.Tensor, n: int = 4) -> str:
    flat = t.detach().reshape(-1)[:n].double().tolist()
    more = ", ..." if t.numel() > n else ""
    return "[" + ", ".join(f"{x:.4g}" for x in flat) + more + "]"


def assert_close(
    actual: object,
    expected: torch.Tensor,
    *,
    what: str,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    dtype: torch.dtype | None = None,
    context: str = "",
) -> None:
    """Fail with a helpful message unless ``actual`` is a tensor close to ``expected``.

    ``context`` describes the inputs (e.g. ``"q (2, 5, 8), k (2, 7, 8)"``) and is repeated in
    every message. ``dtype``, when given, is the dtype the result must have.
    """
    where = f" for {context}" if context else ""
    if not isinstance(actual, torch.Tensor):
        raise GradingError(f"{what}{where}: expected a torch.Tensor, got {type(actual).__name__}")
    if tuple(actual.shape) != tuple(expected.shape):
        raise GradingError(
            f"{what}{where}: expected shape {tuple(expected.shape)}, got {tuple(actual.shape)}"
        )
    if dtype is not None and actual.dtype != dtype:
        raise GradingError(f"{what}{where}: expected dtype {dtype}, got {actual.dtype}")
    if actual.numel() == 0:
        return
    a = actual.detach().to("cpu", _float64)
    e = expected.detach().to("cpu", _float64)
    finite = _isfinite(a)
    if not bool(finite.all()):
        index = tuple(int(i) for i in (~finite).nonzero()[0])
        raise GradingError(f"{what}{where}: contains NaN or inf, first at index {index} (expected {e[index].item():.6g})")
    diff = (a - e).abs()
    bad = diff > atol + rtol * e.abs()
    if bool(bad.any()):
        index = tuple(int(i) for i in bad.nonzero()[0])
        raise GradingError(
            f"{what}{where}: values differ (max abs diff {diff.max().item():.3g}).\n"
            f"  at index {index}: expected {e[index].item():.6g}, got {a[index].item():.6g}\n"
            f"  expected starts {_preview(e)}\n"
            f"  got      starts {_preview(a)}"
        )


def code_objects(*objects: object) -> set[CodeType]:
    """The code objects of functions, and of every method defined on classes, among ``objects``."""
    codes: set[CodeType] = set()
    for obj in objects:
        if isinstance(obj, type):
            members: Iterable[object] = vars(obj).values()
        else:
            members = (obj,)
        for member in members:
            member = getattr(member, "__func__", member)
            if isinstance(member, FunctionType):
                codes.add(member.__code__)
    return codes


class _RecordTorchCalls(TorchFunctionMode):
    def __init__(self, forbidden: set[Callable]) -> None:
        super().__init__()
        self.forbidden = forbidden
        self.seen: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in self.forbidden:
            self.seen.append(getattr(func, "__qualname__", repr(func)))
        return func(*args, **(kwargs or {}))


@contextlib.contextmanager
def forbid(
    torch_functions: Iterable[Callable] = (),
    python_code: Iterable[object] = (),
    exercise: str = "this exercise",
) -> Iterator[None]:
    """Run the body, then fail if it called any of the forbidden functions.

    ``torch_functions`` are caught at PyTorch's dispatch level (whatever name the student
    imported them under); ``python_code`` are Python functions or classes (e.g. the course's
    reference) caught through their code objects.
    """
    torch_mode = _RecordTorchCalls(set(torch_functions))
    codes = code_objects(*python_code)
    seen_python: list[str] = []

    def profile(frame, event, arg):
        if event == "call" and frame.f_code in codes:
            seen_python.append(frame.f_code.co_qualname)

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        with torch_mode:
            yield
    finally:
        sys.setprofile(previous)
    called = sorted(set(torch_mode.seen + seen_python))
    if called:
        raise GradingError(
            f"{exercise} must be written by you, but your code called {', '.join(called)}. "
            "Re-implement it with basic tensor operations instead."
        )


def run_student(fn: Callable, *args, what: str, **kwargs):
    """Call student code, turning its exceptions into a readable grading failure."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        raise GradingError(f"{what} is not implemented yet (it raised NotImplementedError)") from None
    except GradingError:
        raise
    except Exception as exc:  # noqa: BLE001 - any student error becomes a message
        raise GradingError(f"{what} raised {type(exc).__name__}: {exc}") from exc


def as_pair(result: object, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Check that ``result`` is a ``(tensor, tensor)`` pair, as the attention exercises return."""
    if not (isinstance(result, tuple) and len(result) == 2):
        raise GradingError(f"{what} must return a tuple (output, weights), got {type(result).__name__}")
    return result


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)
