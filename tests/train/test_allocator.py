"""The allocator tunables: applied on glibc, left alone when the user opts out or set them himself."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt tunables are glibc's")

# A 4 MB block: above glibc's default mmap threshold (128 KB, raised dynamically), below the tuned 32 MB.
# mallinfo2().hblks counts the blocks currently served by mmap.
PROBE = """
import ctypes, importlib.util, sys
spec = importlib.util.spec_from_file_location("allocator", sys.argv[1])  # the module alone: no torch import
allocator = importlib.util.module_from_spec(spec)
spec.loader.exec_module(allocator)
keep_freed_memory = allocator.keep_freed_memory
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
applied = keep_freed_memory()
before = libc.mallinfo2().hblks
block = libc.malloc(4 * 1024 * 1024)
mapped = libc.mallinfo2().hblks - before
libc.free(block)
print(applied, mapped)
"""


def _probe(**env: str) -> tuple[str, int]:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("THREEKG_KEEP_FREED_MEMORY", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")}
    import threekg.train.allocator as allocator

    out = subprocess.run([sys.executable, "-c", PROBE, allocator.__file__], env={**clean, **env}, capture_output=True, text=True,
                         check=True).stdout.split()
    return out[0], int(out[1])


def test_a_4mb_block_comes_from_the_heap_once_applied() -> None:
    try:
        applied, mapped = _probe()
    except subprocess.CalledProcessError as err:
        if "mallinfo2" in err.stderr:
            pytest.skip("glibc < 2.33 has no mallinfo2")
        raise
    assert (applied, mapped) == ("True", 0)


def test_opt_out_and_user_settings_leave_glibc_alone() -> None:
    assert _probe(THREEKG_KEEP_FREED_MEMORY="0") == ("False", 1)  # glibc's default: mmap for 4 MB
    assert _probe(MALLOC_TRIM_THRESHOLD_="1000000")[0] == "False"
