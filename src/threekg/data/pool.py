"""Run chunk tasks on a process pool, results in task order, with a bounded number in flight."""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def run_chunks(fn: Callable[[Any], Any], tasks: Sequence[Any], workers: int | None) -> Iterator[Any]:
    """Yield ``fn(task)`` for each task, in order.

    ``workers=1`` runs in this process. Otherwise a process pool (``fork`` when torch is not loaded, else ``spawn``) runs them with at most
    ``2 * workers`` results in flight, so memory stays flat however many tasks there are.
    """
    n = default_workers() if workers is None else max(1, int(workers))
    if n == 1 or len(tasks) <= 1:
        for task in tasks:
            yield fn(task)
        return
    # fork is cheap (no re-import of scipy/pandas) but unsafe once torch's thread pools exist.
    method = "fork" if "fork" in mp.get_all_start_methods() and "torch" not in sys.modules else "spawn"
    ctx = mp.get_context(method)
    pool = ctx.Pool(min(n, len(tasks)))
    try:
        pending: deque[Any] = deque()
        it = iter(tasks)
        for task in it:
            pending.append(pool.apply_async(fn, (task,)))
            if len(pending) >= 2 * n:
                break
        while pending:
            result = pending.popleft().get()
            nxt = next(it, None)
            if nxt is not None:
                pending.append(pool.apply_async(fn, (nxt,)))
            yield result
        pool.close()
    finally:
        pool.terminate()
        pool.join()
