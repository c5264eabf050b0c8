"""Shared test fixtures. Real recordings are read from ../shared/data and skipped when absent."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from realdata_paths import REPO_ROOT, SHARED_DATA, shared_subdir

__all__ = ["REPO_ROOT", "SHARED_DATA", "shared_subdir"]

# Two cores on CI: keep torch from oversubscribing when pytest runs.
torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of ../shared/data; skips the test when that folder is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real recordings not available: {SHARED_DATA} is absent")
    return SHARED_DATA


