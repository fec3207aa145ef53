"""Timing helpers shared by the benchmarks."""

from __future__ import annotations

import statistics
import time
from typing import Callable


def paired_ms(f: Callable[[], object], g: Callable[[], object], n: int) -> tuple[float, float]:
    """Median milliseconds of f and of g, timed alternately so both see the same machine."""
    f(), g()  # warm
    tf, tg = [], []
    for _ in range(n):
        for fn, out in ((f, tf), (g, tg)):
            t0 = time.perf_counter()
            fn()
            out.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(tf), statistics.median(tg)
