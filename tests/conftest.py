"""Shared test fixtures. Real recordings are read from ../shared/data and skipped when absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("THREEKG_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))

# Two cores on CI: keep torch from oversubscribing when pytest runs.
torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of ../shared/data; skips the test when that folder is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real recordings not available: {SHARED_DATA} is absent")
    return SHARED_DATA


def shared_subdir(name: str) -> Path:
    """A folder under ../shared/data, or a skip with the reason."""
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"real recordings not available: {path} is absent")
    return path
