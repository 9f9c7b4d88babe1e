"""How a chapter declares its graded exercises, and how one exercise is checked.

A chapter's module (``llmcourse/grading/chNN.py``) builds ``EXERCISES: dict[str, Exercise]``.
Everything the grading engine needs is in that structure; nothing else is looked up.

A check has three parts, so that the student's code can run in a process of its own:

1. ``Exercise.cases(hidden)`` (grader side): the inputs of every case and the expected result,
   computed by an independent oracle (PyTorch, Hugging Face, ...). Only the *inputs* are ever
   handed to the student's process.
2. ``Exercise.run(answer, inputs)`` (student side): calls the student's function or class on the
   inputs. Its return value is turned into plain data by :func:`to_plain` (numbers, strings,
   arrays as bytes) before it leaves the student's process.
3. ``Exercise.compare(case, got, expected)`` (grader side): raises :class:`GradingError` with a
   message for the student when ``got`` (plain data) is wrong.

In the student's own kernel, :func:`check` runs all three parts in one process (visible feedback);
the engine (:mod:`llmcourse.grading.engine`) runs part 2 in a sandboxed child process.
"""

from __future__ import annotations

import base64
import copy
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np


class GradingError(AssertionError):
    """A graded check failed; the message is written for the student."""

    def _render_traceback_(self) -> list[str]:
        """What IPython shows under a failing test cell: the message alone, since the frames
        of the checks tell a student nothing about their code."""
        return [f"\x1b[0;31m{type(self).__name__}\x1b[0m: {self}"]


# ---------------------------------------------------------------- the declaration


@dataclass(frozen=True)
class SubCheck:
    """One requirement the exercise text states, worth part of the exercise's points."""

    id: str
    points: float
    requirement: str  # the requirement as the exercise text states it


@dataclass(frozen=True)
class Mistake:
    """A realistic wrong answer: ``code`` defines the graded name with the bug in it.

    The engine runs ``code`` on a failing case (grader side, it is the course's own code) and,
    when the student's result equals the mistake's, tells the student ``message``. The mutation
    suite (``make mutants``) grades ``code`` as a submission and requires it to lose points.
    """

    id: str
    message: str
    code: str


@dataclass(frozen=True)
class Forbidden:
    """What an answer may not call, caught in layers (see :mod:`llmcourse.grading.guards`).

    ``torch``: dotted names of torch functions (caught at the torch-function level when the
    student's own code calls them). ``aten``: substrings of aten operator names (caught at
    PyTorch's dispatcher, which also sees ``torch.ops`` and calls made inside
    ``DisableTorchFunction``). Both count whoever calls them, unless one of ``allowed_callers``
    (library entry points such as a Hugging Face model's ``forward``, for an exercise whose answer
    runs a model) is running further up the stack. ``python``: dotted names of Python functions or
    classes (the course's reference, Hugging Face helpers), caught whenever their code runs, a
    second copy of it too. ``names``: attribute and import names that must not appear in the
    answer's source (read grader side).
    """

    torch: tuple[str, ...] = ()
    aten: tuple[str, ...] = ()
    python: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    allowed_callers: tuple[str, ...] = ()  # "module:qualname" of library code that may reach forbidden torch/aten


@dataclass(frozen=True)
class Case:
    """One input of a check. ``expected`` never leaves the grader's process."""

    subcheck: str
    inputs: Any
    expected: Any  # plain data (see to_plain)
    label: str  # describes the inputs in messages, e.g. "q (2, 5, 8), k (2, 7, 8), float32"
    visible: bool = True


@dataclass(frozen=True)
class Exercise:
    """A graded exercise: the object it grades, its points and how they are earned."""

    name: str  # the notebook's name for the answer, e.g. "scaled_dot_product_attention"
    cell: str  # nbgrader grade_id of the solution cell
    test_cell: str  # nbgrader grade_id of the test cell that carries the points
    points: float
    subchecks: tuple[SubCheck, ...]
    cases: Callable[[bool], list[Case]]  # hidden=False: visible cases only
    run: Callable[[Any, Any], Any]
    compare: Callable[[Case, Any, Any], None]
    depends: Mapping[str, str] = field(default_factory=dict)  # notebook name -> "module:qualname" stand-in
    forbidden: Forbidden = Forbidden()
    mistakes: tuple[Mistake, ...] = ()
    alternatives: tuple[
        str, ...
    ] = ()  # unused: kept only because earlier releases' checks (found in git) pass it; see grading/alternatives.py

    def __post_init__(self) -> None:
        total = sum(s.points for s in self.subchecks)
        if not math.isclose(total, self.points):
            raise ValueError(f"{self.name}: sub-check points add up to {total}, not {self.points}")

    def subcheck(self, id: str) -> SubCheck:
        return next(s for s in self.subchecks if s.id == id)


# ---------------------------------------------------------------- plain data


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
    if not (isinstance(plain, dict) and "tensor" in plain):
        return None
    t = plain["tensor"]
    if t["dtype"] not in _NUMERIC and not t["dtype"].startswith(("float", "int", "uint", "bool")):
        raise GradingError(f"unsupported dtype {t['dtype']}")
    wide = np.float64 if t["dtype"].startswith(("float", "bfloat")) else bool if t["dtype"] == "bool" else np.int64
    shape = tuple(int(n) for n in t["shape"])
    data = base64.b64decode(t["data"])
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
    if isinstance(plain, dict) and "tensor" in plain and plain["tensor"]["shape"] == []:
        return float(values_of(plain))
    return None


def items_of(plain: Any, what: str, n: int) -> list:
    """The ``n`` items of a returned tuple (or list), or a GradingError saying what came back."""
    if isinstance(plain, dict) and ("tuple" in plain or "list" in plain):
        items: list = plain["tuple"] if "tuple" in plain else plain["list"]
        if len(items) == n:
            return items
    raise GradingError(f"{what} must return a tuple of {n} items, got {kind_of(plain)}")


# ---------------------------------------------------------------- comparisons


def _preview(a: np.ndarray, n: int = 4) -> str:
    flat = a.reshape(-1)[:n].astype(np.float64)
    return "[" + ", ".join(f"{x:.4g}" for x in flat) + (", ..." if a.size > n else "") + "]"


def expect_tensor(
    got: Any,
    expected: Any,
    *,
    what: str,
    context: str = "",
    atol: float = 1e-5,
    rtol: float = 1e-4,
    dtype: str | None = None,
) -> None:
    """Fail unless ``got`` is a plain tensor of ``expected``'s shape and values (and ``dtype``).

    Both are plain data. The message gives shapes, dtype, the first differing index and values.
    """
    where = f" for {context}" if context else ""
    e = values_of(expected)
    if not (isinstance(got, dict) and "tensor" in got):
        raise GradingError(f"{what}{where}: expected a torch.Tensor, got {kind_of(got)}")
    if got["tensor"]["kind"] != "torch.Tensor":
        raise GradingError(f"{what}{where}: expected a plain torch.Tensor, got a {got['tensor']['kind']}")
    a = values_of(got)
    if a.shape != e.shape:
        raise GradingError(f"{what}{where}: expected shape {e.shape}, got {a.shape}")
    if dtype is not None and got["tensor"]["dtype"] != dtype:
        raise GradingError(f"{what}{where}: expected dtype torch.{dtype}, got torch.{got['tensor']['dtype']}")
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
    for k in range(2, 4097):
        for value, text in (
            (k, f"{k}"),
            (1 / k, f"1/{k}"),
            (math.sqrt(k), f"sqrt({k})"),
            (1 / math.sqrt(k), f"1/sqrt({k})"),
        ):
            if math.isclose(c, value, rel_tol=1e-4) and (k <= 64 or text.startswith(("sqrt", "1/sqrt"))):
                return f"{c:.4g} = {text}"
    return f"{c:.4g}"


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


# ---------------------------------------------------------------- running one exercise in-process


@dataclass
class Outcome:
    """What happened to one exercise: the points of each sub-check and a message for each failure."""

    points: dict[str, float]
    failures: dict[str, str]  # sub-check id -> first failure message
    forbidden: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def score(self) -> float:
        return 0.0 if self.forbidden else sum(self.points.values())


def judge(exercise: Exercise, cases: Sequence[Case], results: Sequence[Any], forbidden: Sequence[str] = ()) -> Outcome:
    """Grader side: compare each case's result (plain data, or ``{"error": msg}``) and score.

    A sub-check earns its points when every one of its cases passed.
    """
    failures: dict[str, str] = {}
    failing: list[tuple[Case, Any]] = []  # the first failing case of each sub-check, with its result
    for case, got in zip(cases, results, strict=True):
        if case.subcheck in failures:
            continue
        message = failure_of(exercise, case, got)
        if message is not None:
            failures[case.subcheck] = message
            failing.append((case, got))
    every = list(zip(cases, results))
    for case, got in failing:
        hint = likely_mistake(exercise, case, got, every)
        if hint:
            failures[case.subcheck] += f"\n  Likely mistake: {hint}"
    points = {s.id: (0.0 if s.id in failures else s.points) for s in exercise.subchecks}
    return Outcome(points, failures, sorted(set(forbidden)))


def failure_of(exercise: Exercise, case: Case, got: Any, expected: Any = None) -> str | None:
    """The failure message of one case, or None when it passed."""
    if isinstance(got, dict) and "error" in got:
        return f"{exercise.name} raised {got['error']} (inputs: {case.label})"
    try:
        exercise.compare(case, got, case.expected if expected is None else expected)
    except GradingError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - malformed data from the student's process is a failure, not a crash
        return f"{exercise.name} returned something the grader could not read ({type(exc).__name__}) for {case.label}"
    return None


_mistake_answers: dict[tuple[str, str], Any] = {}


def mistake_answer(exercise: Exercise, mistake: Mistake) -> Any:
    """The answer a catalogued mistake's code defines (compiled once), with the exercise's stand-ins."""
    key = (exercise.name, mistake.id)
    if key not in _mistake_answers:
        namespace: dict[str, Any] = {"__name__": f"mistake_{mistake.id}"}
        namespace.update({name: load_qualname(target) for name, target in exercise.depends.items()})
        exec(compile(mistake.code, f"<mistake {exercise.name}:{mistake.id}>", "exec"), namespace)  # noqa: S102 - course code
        _mistake_answers[key] = namespace[exercise.name]
    return _mistake_answers[key]


_mistake_results: dict[tuple[str, str, int], tuple[Case, Any]] = {}


def _mistake_result(exercise: Exercise, mistake: Mistake, case: Case) -> Any:
    """A catalogued mistake's plain result on a case, computed once (decoders run models)."""
    key = (exercise.name, mistake.id, id(case))
    if key not in _mistake_results or _mistake_results[key][0] is not case:
        value = to_plain(exercise.run(mistake_answer(exercise, mistake), copy.deepcopy(case.inputs)))
        _mistake_results[key] = (case, value)  # keeps the case alive, so its id is not reused
    return _mistake_results[key][1]


def likely_mistake(exercise: Exercise, case: Case, got: Any, results: Sequence[tuple[Case, Any]] = ()) -> str | None:
    """The message of the catalogued mistake whose result on ``case`` equals ``got`` (or which
    raises on it the very error ``got`` holds, ``{"error": "TypeName: message"}``). When several
    do, the one that agrees with the answer on most of the other cases (``results``: each case
    with the answer's result)."""
    matching = [m for m in exercise.mistakes if _agrees(exercise, m, case, got)]
    if len(matching) > 1:
        others = [(c, g) for c, g in results if c is not case]
        matching.sort(key=lambda m: -sum(_agrees(exercise, m, c, g) for c, g in others))
    return matching[0].message if matching else None


def _agrees(exercise: Exercise, mistake: Mistake, case: Case, got: Any) -> bool:
    """Whether ``mistake`` gives ``got`` on ``case`` (its result, or the very error)."""
    error = got.get("error") if isinstance(got, dict) and set(got) == {"error"} else None
    try:
        theirs = _mistake_result(exercise, mistake, case)
    except Exception as exc:  # noqa: BLE001 - the mistake's own error, compared as run_cases words it
        return error is not None and error == f"{type(exc).__name__}: {str(exc)[:500]}"
    try:
        return error is None and failure_of(exercise, case, got, expected=theirs) is None
    except Exception:  # noqa: BLE001 - a result that cannot be compared tells nothing
        return False


def load_checks(ref: str) -> Any:
    """A chapter's checks module: a module name (``llmcourse.grading.ch02``) or, for the checks
    of an earlier release, ``file:<path>`` of the snapshot ``make release`` kept."""
    import importlib
    import importlib.util
    import sys

    if not ref.startswith("file:"):
        return importlib.import_module(ref)
    path = ref.removeprefix("file:")
    name = "llmcourse_release_" + "".join(ch if ch.isalnum() else "_" for ch in path)
    if name not in sys.modules:
        spec = cast("importlib.machinery.ModuleSpec", importlib.util.spec_from_file_location(name, path))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        cast("importlib.abc.Loader", spec.loader).exec_module(module)
    return sys.modules[name]


def load_qualname(target: str) -> Any:
    """``"package.module:Name.attr"`` -> the object."""
    import importlib

    module, _, qualname = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def run_cases(
    run: Callable[[Any, Any], Any], answer: Any, inputs: Sequence[Any], guard: Callable[[], Any]
) -> list[Any]:
    """Student side: run the answer on every case's inputs with ``run`` (an exercise's runner)
    under ``guard()``; plain results.

    An exception becomes ``{"error": "TypeName: message"}``; a forbidden call propagates.
    """
    from llmcourse.grading.guards import ForbiddenCall

    results: list[Any] = []
    for case_inputs in inputs:
        if results and isinstance(results[-1], dict) and str(results[-1].get("error", "")).startswith("MemoryError"):
            results.append(results[-1])  # out of memory once: the remaining cases would be too
            continue
        try:
            try:
                fresh = copy.deepcopy(case_inputs)  # an answer that changes its inputs in place spoils no later check
            except Exception:  # noqa: BLE001 - inputs that cannot be copied are used as they are
                fresh = case_inputs
            with guard():
                value = run(answer, fresh)
            results.append(to_plain(value))
        except ForbiddenCall:
            raise
        except MemoryError:
            results.append({"error": "MemoryError: ran out of memory"})
        except NotImplementedError:
            results.append({"error": "NotImplementedError: not implemented yet"})
        except GradingError as exc:
            results.append({"error": f"an unusable result: {exc}"})
        except BaseException as exc:  # noqa: BLE001 - anything the student's code raises is its result
            if isinstance(exc, KeyboardInterrupt):
                raise
            results.append({"error": f"{type(exc).__name__}: {str(exc)[:500]}"})
    return results


_case_cache: dict[tuple[int, bool], list[Case]] = {}


def cases_of(exercise: Exercise, hidden: bool) -> list[Case]:
    """The exercise's cases, built once per process (oracles can be slow: models, sacrebleu)."""
    key = (id(exercise), hidden)
    if key not in _case_cache:
        _case_cache[key] = exercise.cases(hidden)
    return _case_cache[key]


def check(exercise: Exercise, answer: Any, hidden: bool = False, quiet: bool = False) -> Outcome:
    """Check an answer in the student's own kernel (what a notebook's test cell does).

    Runs the visible cases (all cases with ``hidden=True``) with the forbidden functions guarded
    and the exercise's dependencies replaced by trusted stand-ins; prints one line per sub-check
    and raises :class:`GradingError` naming every failed requirement.
    """
    from llmcourse.grading.guards import ForbiddenCall, Guard, swapped_globals

    start = time.perf_counter()
    cases = cases_of(exercise, hidden)
    forbidden: list[str] = []
    stand_ins = {name: load_qualname(target) for name, target in exercise.depends.items()}
    try:
        with swapped_globals(answer, stand_ins):
            results = run_cases(exercise.run, answer, [c.inputs for c in cases], lambda: Guard(exercise.forbidden))
    except ForbiddenCall as exc:
        forbidden.append(exc.name)
        results = [{"error": "a forbidden call"}] * len(cases)
    outcome = judge(exercise, cases, results, forbidden)
    outcome.seconds = time.perf_counter() - start
    kind = "all" if hidden else "visible"
    if outcome.forbidden:
        raise GradingError(forbidden_message(exercise, outcome.forbidden))
    if not quiet:
        for sub in exercise.subchecks:
            mark = "passed" if sub.id not in outcome.failures else "FAILED"
            print(f"  [{mark}] {sub.requirement} ({sub.points:g} pt)")
    if outcome.failures:
        details = "\n".join(f"- {exercise.subcheck(s).requirement}:\n  {m}" for s, m in outcome.failures.items())
        raise GradingError(
            f"{exercise.name}: {len(outcome.failures)} of {len(exercise.subchecks)} requirements not met ({kind} "
            f"checks)\n{details}"
        )
    if not quiet:
        print(f"{exercise.name}: {kind} checks passed")
        _warn_names_outside_cells(exercise)
    return outcome


def _warn_names_outside_cells(exercise: Exercise) -> None:
    """Grading runs only the set-up cells and the answer cells: say so when this answer uses a
    name that only another cell defines (it would be missing when graded)."""
    from llmcourse.grading.submission import names_outside_cells

    outside = names_outside_cells(exercise, set())
    if outside:
        print(
            f"WARNING: {exercise.name} uses {', '.join(outside)}, defined in another cell. Grading runs only the "
            "set-up cells and the answer cells: move it into this answer's cell, or it will be missing."
        )


def forbidden_message(exercise: Exercise, names: Sequence[str]) -> str:
    return (
        f"{exercise.name} must be written by you, but your code used {', '.join(sorted(set(names)))}. "
        "Write it yourself from basic operations instead."
    )
