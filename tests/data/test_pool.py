"""threekg.data.pool / worker: the worker module stays light, the start method follows the thread count."""

from __future__ import annotations

import subprocess
import sys

from threekg.data.pool import run_chunks, start_method, thread_count


def _in_fresh_python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip()


def test_worker_module_imports_neither_pandas_nor_torch() -> None:
    out = _in_fresh_python("import sys, threekg.data.worker; "
                           "print(sorted(m for m in ('pandas', 'torch') if m in sys.modules))")
    assert out == "[]"


def test_start_method_is_fork_only_when_single_threaded() -> None:
    code = ("import threading, time\nfrom threekg.data.pool import start_method, thread_count\n"
            "a = (thread_count(), start_method())\n"
            "threading.Thread(target=time.sleep, args=(5,), daemon=True).start()\n"
            "print(a, (thread_count(), start_method()))")
    assert _in_fresh_python(code) == "(1, 'fork') (2, 'forkserver')"
    if thread_count() > 1:  # pytest here has imported torch (tests/conftest.py), which starts a thread
        assert start_method() == "forkserver"


def test_run_chunks_keeps_order_with_a_pool() -> None:
    tasks = list(range(23))
    assert list(run_chunks(abs, [-t for t in tasks], 2)) == tasks
    assert list(run_chunks(abs, [-t for t in tasks], 1)) == tasks
