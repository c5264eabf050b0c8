"""Where the real recordings are (../shared/data, or $THREEKG_SHARED_DATA), and a skip when absent.

A module of its own, not conftest: test files import it by name, and ``conftest`` can resolve to a
sub-folder's conftest when pytest is given several folders.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("THREEKG_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def shared_subdir(name: str) -> Path:
    """A folder under ../shared/data, or a skip with the reason."""
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"real recordings not available: {path} is absent")
    return path
