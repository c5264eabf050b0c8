"""Fixtures for the evaluation tests (helpers in evaluate_fixtures.py)."""

from __future__ import annotations

import pytest
from evaluate_fixtures import make_planted


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory):
    return make_planted(tmp_path_factory.mktemp("planted") / "ds")
