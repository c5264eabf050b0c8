"""Run chunk tasks on a process pool, results in task order, with a bounded number in flight.

Start method (``THREEKG_PREPARE_START=fork|forkserver|spawn`` overrides it, for benchmarks):

* ``fork`` unless torch is loaded: workers inherit the already imported readers for free. (A
  "single OS thread" test was tried and dropped: NumPy's OpenBLAS starts idle threads at import,
  so no process that has imported NumPy would ever fork.)
* ``forkserver`` once ``torch`` is imported (its thread pools make ``fork`` unsafe). The server
  preloads ``__main__`` and :mod:`threekg.data.worker` once and forks each worker from itself, so
  the ~4 s import of ``scipy.signal`` is paid once per pool, not once per worker as with ``spawn``.

Ctrl-C: the workers ignore SIGINT (the terminal sends it to the whole process group); the parent
stops, cancels the queued tasks and waits for the running ones (a chunk takes well under a second),
then returns. ``multiprocessing.Pool.terminate`` was used before and could deadlock: a worker blocked
writing a large result into the pipe holds the result queue's lock after the pool's result thread
has stopped reading, and ``terminate`` waits for that lock (seen in 2 of 8 runs of the Ctrl-C test).
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

WORKER_MODULE = "threekg.data.worker"


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def start_method() -> str:
    """The start method :func:`run_chunks` uses now (see the module docstring)."""
    forced = os.environ.get("THREEKG_PREPARE_START")
    available = mp.get_all_start_methods()
    if forced:
        if forced not in available:
            raise ValueError(f"THREEKG_PREPARE_START={forced!r}: not one of {available}")
        return forced
    if "fork" in available and "torch" not in sys.modules:
        return "fork"
    return "forkserver" if "forkserver" in available else "spawn"


def run_chunks(fn: Callable[[Any], Any], tasks: Sequence[Any], workers: int | None) -> Iterator[Any]:
    """Return an iterator of ``fn(task)`` for each task, in order.

    ``workers=1`` runs in this process. Otherwise the pool is started *now* (before the caller
    starts threads, such as a progress bar's monitor) and runs at most ``2 * workers`` tasks in
    flight, so memory stays flat however many tasks there are. ``fn`` must live in an importable
    module (:mod:`threekg.data.worker`).
    """
    n = default_workers() if workers is None else max(1, int(workers))
    if n == 1 or len(tasks) <= 1:
        return (fn(task) for task in tasks)
    method = start_method()
    ctx = mp.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(["__main__", WORKER_MODULE])
    executor = ProcessPoolExecutor(min(n, len(tasks)), mp_context=ctx, initializer=_ignore_sigint)
    it = iter(tasks)
    try:  # submitting starts the worker processes now, before the caller starts threads
        pending: deque[Future[Any]] = deque(executor.submit(fn, task) for task in itertools.islice(it, 2 * n))
    except BaseException:
        executor.shutdown(wait=True, cancel_futures=True)
        raise
    return _ordered(executor, fn, it, pending)


def _ignore_sigint() -> None:
    """Pool initializer: Ctrl-C is the parent's to handle (see the module docstring)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _ordered(executor: ProcessPoolExecutor, fn: Callable[[Any], Any], it: Iterator[Any],
             pending: deque[Future[Any]]) -> Iterator[Any]:
    try:
        while pending:
            result = pending.popleft().result()
            nxt = next(it, None)
            if nxt is not None:
                pending.append(executor.submit(fn, nxt))
            yield result
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
