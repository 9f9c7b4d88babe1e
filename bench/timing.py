"""Timing shared by the benchmarks: one call, or the best of several, with CUDA synchronised."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch


def seconds(fn: Callable[[], object]) -> float:
    """Wall-clock seconds of one call of ``fn`` (waiting for queued CUDA work before and after)."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start


def best_seconds(fn: Callable[[], object], repeats: int, warm_up: bool = True) -> float:
    """The fastest of ``repeats`` calls: the one least disturbed by the rest of the machine."""
    if warm_up:
        fn()
    return min(seconds(fn) for _ in range(repeats))
