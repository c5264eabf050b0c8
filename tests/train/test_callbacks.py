"""The engine's callbacks: the divergence guard, progress lines off a terminal."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from threekg.train import DivergedLossError, pretrain
from threekg.train.callbacks import DivergenceGuard, LineProgressBar, progress_callback

TINY = ["data.batch_size=8", "data.crop_seconds=1.0", "encoder.options={width: 8}"]


def test_pretrain_prints_lines_with_step_and_loss_off_a_terminal(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert isinstance(progress_callback(io.StringIO()), LineProgressBar)
    pretrain(tiny_data, "3kg", tmp_path / "run", overrides=[*TINY, "trainer.max_steps=4", "trainer.progress_bar=true",
                                                        "trainer.log_every_n_steps=1"])
    captured = capsys.readouterr()
    assert "\r" not in captured.err + captured.out
    assert re.search(r"^pretrain: 4/4 step in \d+s, [\d.]+ (step/s|s/step), loss \d", captured.err, re.M), captured.err


class FakeTrainer:
    """What DivergenceGuard reads of a Lightning trainer."""

    def __init__(self) -> None:
        self.global_step, self.accumulate_grad_batches, self.world_size = 0, 1, 1


def _feed(guard: DivergenceGuard, trainer: FakeTrainer, losses: list[float]) -> None:
    for loss in losses:
        guard.on_train_batch_start(trainer, None, None, 0)  # type: ignore[arg-type]
        guard.on_train_batch_end(trainer, None, {"loss": torch.tensor(loss)}, None, 0)  # type: ignore[arg-type]
        trainer.global_step += 1


def test_divergence_guard_stops_after_patience_high_losses_and_names_the_climb() -> None:
    rng = np.random.default_rng(0)
    guard, trainer = DivergenceGuard(factor=2.0, margin=0.5, patience=5, window=20), FakeTrainer()
    steady = list(1.0 + 0.2 * rng.standard_normal(40))
    _feed(guard, trainer, steady)
    _feed(guard, trainer, [3.0, 3.1, 0.9])  # a passing spike: no stop, the streak starts again
    with pytest.raises(DivergedLossError) as err:
        _feed(guard, trainer, [3.5, 3.6, 3.4, 3.7, 3.8, 3.9])
    median = float(np.median([*steady, 3.0, 3.1, 0.9][-20:]))
    assert (err.value.onset, err.value.step) == (44, 48)
    assert str(err.value) == (f"the loss diverged: 3.8 at step 48, above 2x its running median {median:.4g} for 5 "
                              "steps since step 44 (losses 3.5 ... 3.8; still finite)")


def test_divergence_guard_ignores_noise_near_zero_and_a_run_at_chance() -> None:
    guard, trainer = DivergenceGuard(factor=2.0, margin=0.5, patience=5, window=20), FakeTrainer()
    _feed(guard, trainer, [0.05] * 30 + [0.3] * 30)  # 6x the median but only 0.25 nats above it
    guard, trainer = DivergenceGuard(factor=2.0, margin=0.5, patience=5, window=20), FakeTrainer()
    _feed(guard, trainer, [4.14] * 100)  # never learned: not a climb


def test_divergence_guard_state_survives_a_checkpoint() -> None:
    guard, trainer = DivergenceGuard(factor=2.0, margin=0.5, patience=3, window=10), FakeTrainer()
    _feed(guard, trainer, [1.0] * 12 + [3.0, 3.0])
    state = torch.load(_saved(guard.state_dict()), weights_only=True)
    resumed = DivergenceGuard(factor=2.0, margin=0.5, patience=3, window=10)
    resumed.load_state_dict(state)
    with pytest.raises(DivergedLossError, match="since step 13"):
        _feed(resumed, trainer, [3.0])


def _saved(obj: object) -> io.BytesIO:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    return buffer
