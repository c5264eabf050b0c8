"""Run a threekg entry point in a separate process and SIGKILL it (with its workers) at a chosen moment.

Processes come from a ``forkserver`` that has imported torch, Lightning and threekg once, so each
run starts in a fraction of a second instead of re-importing for ~10 s: the kill tests can afford
several kill points per command. Each child is a real, separate process in its own process group;
``SIGKILL`` goes to the whole group (the child and any pool workers it started), exactly what an
out-of-memory killer or a cluster pre-emption does: no handler, no ``finally``, no flush.
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_PRELOAD = ["numpy", "pandas", "torch", "lightning", "matplotlib.pyplot", "threekg.cli.main", "threekg.data",
            "threekg.train", "threekg.models", "threekg.synth", "threekg.evaluate", "threekg.report",
            "threekg.experiment", "threekg.download"]
_CONTEXT: Any = None


def _context() -> Any:
    global _CONTEXT
    if _CONTEXT is None:
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(_PRELOAD)
        _CONTEXT = ctx
    return _CONTEXT


def _child(target: str, args: tuple[Any, ...], kwargs: dict[str, Any], log: str, cwd: str | None,
           ready: Any) -> None:
    """Runs in the child: own process group, output to ``log``, one torch thread, then ``target``."""
    os.setpgrp()
    ready.set()
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    if cwd:
        os.chdir(cwd)
    import torch

    torch.set_num_threads(1)
    module, _, name = target.partition(":")
    result = getattr(importlib.import_module(module), name)(*args, **kwargs)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(result if isinstance(result, int) else 0)


def _kill_group(pid: int) -> bool:
    """SIGKILL the process group led by ``pid``; False when it had already gone."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True


@dataclass
class Outcome:
    """What happened to one started process."""

    killed: bool  # SIGKILL was sent while it was running
    exitcode: int | None  # -9 when killed
    seconds: float  # from the start signal (``started()`` true) to the kill or the exit
    log: Path


def run(target: str, *args: Any, log: Path, cwd: Path | None = None, timeout: float = 300.0,
        **kwargs: Any) -> Outcome:
    """Run ``module:function(*args, **kwargs)`` in a child to completion (no kill)."""
    return run_and_kill(target, *args, log=log, cwd=cwd, started=lambda: True, delay=None, timeout=timeout,
                        **kwargs)


def run_and_kill(target: str, *args: Any, log: Path, started: Callable[[], bool], delay: float | None,
                 cwd: Path | None = None, timeout: float = 300.0, **kwargs: Any) -> Outcome:
    """Start ``target`` in a child; once ``started()`` is true wait ``delay`` seconds and SIGKILL its
    process group (``delay=None``: let it finish). Returns whether the kill hit a running process."""
    ready = _context().Event()
    proc = _context().Process(target=_child, args=(target, args, kwargs, str(log), str(cwd) if cwd else None, ready))
    proc.start()
    deadline = time.monotonic() + timeout
    while not (ready.is_set() and started()):
        if not proc.is_alive() or time.monotonic() > deadline:
            break
        time.sleep(0.005)
    t0 = time.monotonic()
    if delay is not None:
        end = t0 + delay
        while proc.is_alive() and time.monotonic() < end:
            time.sleep(0.002)
        if proc.is_alive() and _kill_group(proc.pid):
            proc.join()
            return Outcome(proc.exitcode == -signal.SIGKILL, proc.exitcode, time.monotonic() - t0, log)
    proc.join(max(0.0, deadline - time.monotonic()))
    if proc.is_alive():
        _kill_group(proc.pid)
        proc.join()
        raise TimeoutError(f"{target} did not finish within {timeout} s; log: {log}")
    return Outcome(False, proc.exitcode, time.monotonic() - t0, log)
