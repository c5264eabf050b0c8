"""threekg.data.pool / worker: the worker module stays light, the start method follows the thread count."""

from __future__ import annotations

import subprocess
import sys

from threekg.data.pool import run_chunks, start_method


def _in_fresh_python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip()


def test_worker_module_does_not_import_torch() -> None:
    out = _in_fresh_python("import sys, threekg.data.worker; print('torch' in sys.modules)")
    assert out == "False"


def test_package_prepare_is_the_function_after_the_module_is_imported() -> None:
    out = _in_fresh_python("import threekg.data.prepare\nfrom threekg.data import prepare\nprint(callable(prepare))")
    assert out == "True"


def test_start_method_is_fork_until_torch_is_loaded() -> None:
    code = ("from threekg.data.pool import start_method\na = start_method()\n"
            "import sys; sys.modules['torch'] = sys  # stands in for a loaded torch\nprint(a, start_method())")
    assert _in_fresh_python(code) == "fork forkserver"
    assert start_method() == "forkserver"  # pytest here has imported torch (tests/conftest.py)


def test_run_chunks_keeps_order_with_a_pool() -> None:
    tasks = list(range(23))
    assert list(run_chunks(abs, [-t for t in tasks], 2)) == tasks
    assert list(run_chunks(abs, [-t for t in tasks], 1)) == tasks
