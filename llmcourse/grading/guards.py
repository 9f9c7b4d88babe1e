"""Catching forbidden shortcuts, in layers, so a way around one layer is caught by another.

1. Source (grader side, cannot be tampered with): :func:`scan_source` reads the submitted cells
   for forbidden names (``F.scaled_dot_product_attention``, the course's reference modules) and
   for ways to switch the other layers off (``setprofile``, ``DisableTorchFunction``,
   ``torch.ops``, ``exec``, threads, ...).
2. Torch functions: a ``TorchFunctionMode`` sees every torch function by identity, whatever
   name it was imported under.
3. PyTorch's dispatcher: a ``TorchDispatchMode`` sees aten operators, including those reached
   through ``torch.ops.aten`` or inside ``DisableTorchFunction``, which layer 2 does not see.
4. Python calls: the code of each forbidden Python function (the course's reference, every
   method of ``nn.MultiheadAttention``) is swapped for a tripwire while the student's code runs,
   so it is caught under any name, through a subclass, or called by another object. In the
   grader's sandbox, :func:`arm` swaps it for good before the first student cell (no cell can
   keep an original to call later) and installs an audit hook (PEP 578, which no Python code
   can remove) that catches a second copy of that code: a module run again from its file, or
   its source compiled under another name.

Layers 2 and 3 count whoever calls a forbidden function or operator, unless the exercise names
library entry points allowed to reach it (``Forbidden.allowed_callers``: a model's forward, whose
layers may dispatch fused kernels) and one of them is running further up the stack.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import CodeType, FrameType, FunctionType
from typing import Any, Literal

from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

from llmcourse.grading.declarations import Forbidden
from llmcourse.grading.loading import load_qualname


class ForbiddenCall(BaseException):
    """Raised when an answer calls what its exercise forbids (a BaseException, so that a
    student's ``except Exception`` does not swallow it)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


# ---------------------------------------------------------------- allowed entry points


def _allowed_codes(entry_points: Iterable[str]) -> frozenset[CodeType]:
    """The code objects of the library functions an exercise lets reach forbidden operators
    (``"module:qualname"``; a model's ``forward``, say)."""
    codes = set()
    for target in entry_points:
        obj = _loaded_or_none(target)
        obj = getattr(obj, "__func__", obj)
        if isinstance(obj, FunctionType):
            codes.add(obj.__code__)
    return frozenset(codes)


def reached_through(codes: frozenset[CodeType], skip: int = 2) -> bool:
    """True when one of ``codes`` is running further up the stack."""
    if not codes:
        return False
    frame: FrameType | None = sys._getframe(skip)
    while frame is not None:
        if frame.f_code in codes:
            return True
        frame = frame.f_back
    return False


# ---------------------------------------------------------------- runtime layers


class _FunctionLayer(TorchFunctionMode):
    def __init__(self, forbidden: Mapping[Any, str], allowed: frozenset[CodeType], hit: Callable[[str], None]) -> None:
        super().__init__()
        self.forbidden, self.allowed, self.hit = forbidden, allowed, hit

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = self.forbidden.get(func)
        if name is not None and not reached_through(self.allowed):
            self.hit(name)
        return func(*args, **(kwargs or {}))


class _DispatchLayer(TorchDispatchMode):
    def __init__(self, substrings: tuple[str, ...], allowed: frozenset[CodeType], hit: Callable[[str], None]) -> None:
        super().__init__()
        self.substrings, self.allowed, self.hit = substrings, allowed, hit

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        op = func.name()
        if any(s in op for s in self.substrings) and not reached_through(self.allowed):
            self.hit(op)
        return func(*args, **(kwargs or {}))


_active: list[Guard] = []  # the guards now running (innermost last)


def _tripwire(*args, **kwargs):
    """Stands in for the code of a forbidden Python function while a guard runs."""
    import sys as _sys

    from llmcourse.grading import guards as _guards

    _guards._hit_python(_sys._getframe().f_code.co_qualname)


_tripwires: dict[tuple[str, ...], CodeType | None] = {}


def _tripwire_code(freevars: tuple[str, ...]) -> CodeType | None:
    """The tripwire's code with the same free variables as a closure it replaces (a function's
    code can only be swapped for code with the same ones)."""
    if freevars not in _tripwires:
        if not freevars:
            _tripwires[freevars] = _tripwire.__code__
        else:
            names = ", ".join(freevars)
            source = (
                "def outer():\n"
                + "".join(f"    {v} = None\n" for v in freevars)
                + "    def tripwire(*args, **kwargs):\n"
                + f"        ({names},)\n"
                + "        import sys as _sys\n        from llmcourse.grading import guards as _guards\n"
                + "        _guards._hit_python(_sys._getframe().f_code.co_qualname)\n"
                + "    return tripwire\n"
            )
            namespace: dict = {}
            exec(compile(source, "<tripwire>", "exec"), namespace)  # noqa: S102 - fixed source, names from code objects
            code = namespace["outer"]().__code__
            _tripwires[freevars] = code if code.co_freevars == freevars else None
    return _tripwires[freevars]


# The sandbox's reporter, whether a quiet cell runs, and the cell source and code the sandbox
# itself compiles and runs next (a student's own cell is not a copy of anything).
_armed: dict[str, Any] = {"report": None, "quiet": False, "own": ()}


def _hit_python(name: str) -> None:
    if _active:
        _active[-1].hit(name)
    elif _armed["report"] is not None and not _armed["quiet"]:
        _armed["report"](name)
    raise ForbiddenCall(name)


def _members(obj: Any) -> Iterator[tuple[FunctionType, str]]:
    """Every function a forbidden object runs (a class: each method; decorated: the wrapped
    ones too), with the name a report gives it."""
    members = vars(obj).values() if isinstance(obj, type) else (obj,)
    for member in members:
        function = getattr(member, "__func__", member)
        while function is not None:
            if isinstance(function, FunctionType):
                yield function, f"{getattr(obj, '__module__', '')}.{function.__qualname__}".lstrip(".")
            function = getattr(function, "__wrapped__", None)


_installed: set[CodeType] = set()  # the tripwires now standing in for forbidden code


def _tripwired(function: FunctionType, owner: str) -> CodeType | None:
    """The tripwire to put in place of ``function``'s code (None: already one, or it has free
    variables no tripwire can copy)."""
    if function.__code__ in _installed:
        return None
    tripwire = _tripwire_code(function.__code__.co_freevars)
    if tripwire is None:
        return None
    code = tripwire.replace(co_name=function.__name__, co_qualname=owner)
    _installed.add(code)
    return code


def _squash(source: str) -> str:
    return re.sub(r"\s+", "", source)


def source_fingerprints(forbidden: Forbidden) -> dict[str, str]:
    """The source of every forbidden Python function, whitespace removed (a few lines at least:
    no false alarms), with the name a report gives it. Computed by the grader, once per exercise."""
    sources: dict[str, str] = {}
    for obj in filter(None, map(_loaded_or_none, forbidden.python)):
        for function, owner in _members(obj):
            with contextlib.suppress(OSError, TypeError):
                text = _squash(inspect.getsource(function))
                if len(text) >= 80:
                    sources[text] = owner
    return sources


def arm(forbidden: Forbidden, report: Callable[[str], None], sources: Mapping[str, str] | None = None) -> None:
    """The grader's sandbox, before the first student cell: swap the code of every forbidden
    Python function for a tripwire for the rest of the process, and install an audit hook that
    catches a second copy of that code (a module executed again, or the function's source
    compiled under any name: ``sources``, from :func:`source_fingerprints`) and refuses ``gc``'s
    walks over every object. A call caught outside
    an answer's run is reported with ``report``, unless in a :func:`quiet` cell."""
    sources = source_fingerprints(forbidden) if sources is None else dict(sources)
    fingerprints: dict[tuple[str, bytes], str] = {}
    for obj in filter(None, map(_loaded_or_none, forbidden.python)):
        for function, owner in _members(obj):
            code = function.__code__
            if code in _installed:
                continue  # armed already
            fingerprints[(code.co_qualname, code.co_code)] = owner
            replacement = _tripwired(function, owner)
            if replacement is not None:
                function.__code__ = replacement
    _armed["report"] = report

    def copies_in(code: CodeType) -> str | None:
        stack = [code]
        while stack:
            current = stack.pop()
            owner = fingerprints.get((current.co_qualname, current.co_code))
            if owner is not None:
                return owner
            stack.extend(c for c in current.co_consts if isinstance(c, CodeType))
        return None

    def hook(event: str, args: tuple) -> None:
        if args and any(args[0] is own for own in _armed["own"]):
            return
        if event == "exec" and args and isinstance(args[0], CodeType) and fingerprints:
            owner = copies_in(args[0])
        elif event == "compile" and args and isinstance(args[0], (str, bytes)) and sources:
            text = _squash(args[0].decode("utf-8", "replace") if isinstance(args[0], bytes) else args[0])
            owner = next((o for s, o in sources.items() if s in text), None)
        elif event in ("gc.get_objects", "gc.get_referrers", "gc.get_referents"):
            raise PermissionError(f"{event} is not available while grading")
        else:
            return
        if owner is not None:
            _hit_python(f"{owner} (a second copy)")

    sys.addaudithook(hook)


def run_cell(source: str, filename: str, namespace: dict) -> None:
    """Compile and run a cell's source (the sandbox's, not a copy the student's code makes)."""
    _armed["own"] = (source,)
    code = compile(source, filename, "exec")
    _armed["own"] = (code,)
    try:
        exec(code, namespace)  # noqa: S102 - the student's code, in the student's process
    finally:
        _armed["own"] = ()


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """While a cell runs whose forbidden calls are not this exercise's (the course's own set-up,
    another exercise's answer): they are stopped, not reported."""
    _armed["quiet"] = True
    try:
        yield
    finally:
        _armed["quiet"] = False


def _loaded_or_none(qualname: str) -> Any:
    """A forbidden Python object, or None where it cannot be loaded: in the grader's sandbox a
    forbidden reference's file is not readable, so no code can call it."""
    try:
        return load_qualname(qualname)
    except (ImportError, OSError, AttributeError):
        return None


class Guard:
    """Context manager: run student code with every runtime layer watching.

    ``report`` is called with the forbidden name as soon as a call is seen (the engine sends
    it out of the student's process at once); then :class:`ForbiddenCall` is raised, and raised
    again on exit should the student's code have swallowed it. The Python layer swaps the code
    of each forbidden function (and of every method of a forbidden class) for a tripwire while
    the guard runs, so the function is caught under any name, through a subclass, or when
    called by an object the student built.
    """

    def __init__(self, forbidden: Forbidden, report: Callable[[str], None] | None = None) -> None:
        self.report = report
        self.seen: list[str] = []
        self.functions = {
            load_qualname(name.replace(".", ":", 1) if ":" not in name else name): name for name in forbidden.torch
        }
        self.aten = tuple(forbidden.aten)
        self.allowed = _allowed_codes(forbidden.allowed_callers)
        self.python = [obj for obj in map(_loaded_or_none, forbidden.python) if obj is not None]
        self._stack = contextlib.ExitStack()

    def hit(self, name: str) -> None:
        if name not in self.seen:
            self.seen.append(name)
            if self.report is not None:
                self.report(name)
        raise ForbiddenCall(name)

    def _swap_code(self) -> None:
        for obj in self.python:
            for function, owner in _members(obj):
                original = function.__code__
                replacement = _tripwired(function, owner)
                if replacement is not None:
                    function.__code__ = replacement
                    self._stack.callback(setattr, function, "__code__", original)

    def __enter__(self) -> Guard:
        _active.append(self)
        self._stack.callback(_active.remove, self)
        self._swap_code()
        if self.functions:
            self._stack.enter_context(_FunctionLayer(self.functions, self.allowed, self.hit))
        if self.aten:
            self._stack.enter_context(_DispatchLayer(self.aten, self.allowed, self.hit))
        return self

    def __exit__(self, *exc) -> Literal[False]:
        self._stack.close()
        if self.seen and (exc[0] is None or not issubclass(exc[0], ForbiddenCall)):
            raise ForbiddenCall(self.seen[0])
        return False


@contextlib.contextmanager
def swapped_globals(answer: Any, values: Mapping[str, Any]) -> Iterator[None]:
    """Temporarily bind ``values`` in the module namespace the answer's code reads its globals
    from (a notebook's), e.g. a trusted attention in place of the student's own."""
    if not values:
        yield
        return
    namespace = _globals_of(answer)
    if namespace is None:
        yield
        return
    missing = object()
    saved = {name: namespace.get(name, missing) for name in values}
    namespace.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is missing:
                namespace.pop(name, None)
            else:
                namespace[name] = old


def _globals_of(answer: Any) -> dict | None:
    candidates = vars(answer).values() if isinstance(answer, type) else (answer,)
    for member in candidates:
        member = getattr(member, "__func__", member)
        if isinstance(member, FunctionType):
            return member.__globals__
    return None


# ---------------------------------------------------------------- the source layer

# Ways to switch the runtime layers off or to hide what runs; none is needed by any exercise.
TAMPERING = {
    "DisableTorchFunction": "torch._C.DisableTorchFunction (hides calls from the grader)",
    "DisableTorchFunctionSubclass": "torch._C.DisableTorchFunctionSubclass",
    "_DisableTorchDispatch": "torch._C._DisableTorchDispatch (hides calls from the grader)",
    "_C": "torch._C (PyTorch internals)",
    "ops": "torch.ops (calls operators around the checks)",
    "input_transformers_cleanup": "IPython input transformers",
    "input_transformers_post": "IPython input transformers",
    "get_ipython": "get_ipython (changes how later cells run)",
    "ctypes": "ctypes",
    "gc": "the gc module",
    "threading": "threads",
    "Thread": "threads",
    "multiprocessing": "other processes",
    "subprocess": "other processes",
    "fork": "other processes",
    "__builtins__": "__builtins__",
    "builtins": "the builtins module",
}
# Words that are only suspicious as attributes (``torch.ops``), not as a student's variable name.
ATTRIBUTE_ONLY = {"_C", "ops", "fork", "f_back", "f_globals", "Thread", "f_locals", "co_code", "__code__"}
DYNAMIC_BUILTINS = {"exec", "eval", "compile", "__import__", "globals"}

# Constructs that may hide a forbidden call but are also written by honest students: they cost
# nothing by themselves (a forbidden call that runs is caught at run time); the class report
# lists them under "needs review".
REVIEW = {
    "setprofile": "sys.setprofile",
    "settrace": "sys.settrace",
    "_getframe": "frames (sys._getframe)",
    "currentframe": "frames (inspect.currentframe)",
    "f_back": "frames (f_back)",
    "f_globals": "frames (f_globals)",
    "f_locals": "frames (f_locals)",
    "__code__": "code objects (__code__)",
    "co_code": "code objects (co_code)",
    "CodeType": "code objects (CodeType)",
    "importlib": "importlib (loads modules by name)",
    "runpy": "runpy (runs a module)",
    "pickle": "pickle",
    "marshal": "marshal",
    "setattr": "setattr()",
    "delattr": "delattr()",
}


def _parsed(source: str, forbidden_names: Iterable[str], cell: str):
    """The source's syntax tree (empty when unparseable: it fails when it runs), the forbidden
    names, the findings so far and how to add one ("what in cell 'c' (line n)")."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        tree = ast.Module(body=[], type_ignores=[])
    where = f" in cell '{cell}'" if cell else ""
    found: list[str] = []

    def add(what: str, node: ast.AST) -> None:
        line = f"{what}{where} (line {getattr(node, 'lineno', '?')})"
        if line not in found:
            found.append(line)

    return tree, set(forbidden_names), found, add


def scan_source(source: str, forbidden_names: Iterable[str] = (), cell: str = "") -> list[str]:
    """What the source uses that it may not: forbidden names and ways around the runtime layers
    (torch internals, threads, other processes), one line each. These cost the exercise; what
    may also be honest is :func:`review_source`'s.

    ``forbidden_names`` are attribute or import names (``scaled_dot_product_attention``,
    ``MultiheadAttention``) and module names (``llmcourse.attention``). Unparseable source gives
    nothing here: it fails when it runs.
    """
    tree, names, found, add = _parsed(source, forbidden_names, cell)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            if node.attr in names:
                add(f"forbidden {node.attr}", node)
            elif node.attr in TAMPERING:
                add(f"{TAMPERING[node.attr]}", node)
        elif isinstance(node, ast.Name):
            if node.id in TAMPERING and node.id not in ATTRIBUTE_ONLY:
                add(TAMPERING[node.id], node)
            elif node.id in DYNAMIC_BUILTINS:
                add(f"{node.id}() (code the grader cannot read)", node)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            module = getattr(node, "module", None) or ""
            for alias in node.names:
                full = f"{module}.{alias.name}" if module else alias.name
                roots = {module, alias.name, full, module.split(".")[0], alias.name.split(".")[0]}
                modules = {module, full, alias.name} - {""}
                if alias.name in names or any(m == n or m.startswith(n + ".") for m in modules for n in names):
                    add(f"forbidden import {full}", node)
                elif roots & set(TAMPERING):
                    add(f"import of {full} ({TAMPERING[next(iter(roots & set(TAMPERING)))]})", node)
    return found


def review_source(source: str, forbidden_names: Iterable[str] = (), cell: str = "") -> list[str]:
    """Constructs of the source that may hide a forbidden call but may be honest (frames, code
    objects, module runners, pickle, ``setattr``, computed attribute names, strings naming a
    forbidden function): one line each, for the instructor to review. They cost no points."""
    tree, names, found, add = _parsed(source, forbidden_names, cell)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in REVIEW:
            add(REVIEW[node.attr], node)
        elif isinstance(node, ast.Name) and node.id in REVIEW and node.id not in ATTRIBUTE_ONLY:
            add(REVIEW[node.id], node)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            module = getattr(node, "module", None) or ""
            roots = {module.split(".")[0]} | {a.name.split(".")[0] for a in node.names} | {a.name for a in node.names}
            for root in sorted(roots & set(REVIEW)):
                add(f"import of {REVIEW[root]}", node)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and len(node.args) >= 2
            and not isinstance(node.args[1], ast.Constant)
        ):
            add("getattr() with a computed name", node)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            hidden = [
                n
                for n in names | {"setprofile", "settrace", "DisableTorchFunction", "scaled_dot_product"}
                if n in node.value
            ]
            if hidden:
                add(f"the name {hidden[0]!r} in a string", node)
    return found
