"""The engine's callbacks: progress lines off a terminal."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from threekg.train import pretrain
from threekg.train.callbacks import LineProgressBar, progress_callback

TINY = ["data.batch_size=8", "data.crop_seconds=1.0", "encoder.options={width: 8}"]


def test_pretrain_prints_lines_with_step_and_loss_off_a_terminal(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert isinstance(progress_callback(io.StringIO()), LineProgressBar)
    pretrain(tiny_data, "3kg", tmp_path / "run", overrides=[*TINY, "trainer.max_steps=4", "trainer.progress_bar=true"])
    captured = capsys.readouterr()
    assert "\r" not in captured.err + captured.out
    assert re.search(r"^pretrain: 4/4 step in \d+s, [\d.]+ (step/s|s/step), loss \d", captured.err, re.M), captured.err
