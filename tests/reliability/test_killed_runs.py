"""Killed runs: ``prepare``, ``pretrain`` and ``experiment`` SIGKILLed at seeded random points and
re-run end equal to an uninterrupted run, and nothing partial is ever taken for complete.

Kill points: ``n`` points drawn uniformly (fixed seed) over the uninterrupted run's work time, counted
from when the command shows it has started work (its partial output appears). Every kill goes to
the whole process group (the command and its workers). Kills accumulate: each re-run resumes what
the previous killed one left, and the last run is allowed to finish.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import pytest
import torch

from threekg.data import open_dataset
from threekg.data.dataset import DatasetError
from threekg.models import load_encoder
from threekg.train import find_checkpoint

from . import killing, tiny

PREPARE_FILES = ("signals.npy", "labels.npy", "records.csv", "rejected.csv", "manifest.json")


def kill_points(seed: int, window: float, n: int) -> list[float]:
    """Delays of ``n`` kills spread over one run's work: ``n`` seeded points drawn uniformly in
    [0, window) seconds and sorted; each kill comes the gap since the previous point after the
    resumed run starts (a resumed run also repeats a little setup, so kills land a little early)."""
    points = np.sort(np.random.default_rng(seed).uniform(0.0, window, n))
    return [float(d) for d in np.diff(points, prepend=0.0)]


def kill_and_resume(target: str, kwargs: dict[str, Any], started: Callable[[], bool], delays: list[float],
                    check_partial: Callable[[], None], logs: Path) -> list[killing.Outcome]:
    """Kill ``target`` once per delay (checking the partial state each time), then run it to the end."""
    outcomes = []
    for i, delay in enumerate(delays):
        outcome = killing.run_and_kill(target, log=logs / f"kill{i}.log", started=started, delay=delay, **kwargs)
        outcomes.append(outcome)
        if outcome.killed:
            check_partial()
    final = killing.run(target, log=logs / "final.log", **kwargs)
    print(target, "kills:", [(round(d, 3), o.killed) for d, o in zip(delays, outcomes, strict=True)])
    assert final.exitcode == 0, (logs / "final.log").read_text()[-3000:]
    return outcomes


# -- prepare ---------------------------------------------------------------------------------------

def _prepare_kwargs(src: Path, out: Path) -> dict[str, Any]:
    return {"src": src, "out": out, "chunk_size": 4, **tiny.PREPARE}


def _check_prepare_partial(out: Path, reference: Path) -> Callable[[], None]:
    def check() -> None:
        if (out / "manifest.json").exists():  # the kill came after the manifest: it must be complete
            for name in PREPARE_FILES:
                assert (out / name).read_bytes() == (reference / name).read_bytes(), name
        else:
            with pytest.raises(DatasetError, match="not a complete prepared dataset"):
                open_dataset(out)
    return check


def _prepare_kill_test(tmp_path: Path, n_records: int, n_kills: int, seed: int) -> None:
    src = tiny.tree(tmp_path / "raw", n=n_records)
    ref, out, logs = tmp_path / "ref", tmp_path / "out", tmp_path / "logs"
    logs.mkdir()
    ref_work = _work_time(lambda: killing.run_and_kill(
        "threekg.data.prepare:prepare", log=logs / "ref.log", delay=None,
        started=lambda: (ref / ".partial").exists(), **_prepare_kwargs(src, ref)))

    def started() -> bool:
        return (out / ".partial" / "journal.jsonl").exists() or (out / "manifest.json").exists()

    outcomes = kill_and_resume("threekg.data.prepare:prepare", _prepare_kwargs(src, out), started,
                               kill_points(seed, ref_work, n_kills), _check_prepare_partial(out, ref), logs)
    assert any(o.killed for o in outcomes), f"every run finished before its kill point ({outcomes})"
    for name in PREPARE_FILES:
        assert (out / name).read_bytes() == (ref / name).read_bytes(), f"{name} differs from the uninterrupted run"
    assert not (out / ".partial").exists()
    assert len(open_dataset(out)) == n_records - n_records // 10


def _work_time(run: Callable[[], killing.Outcome]) -> float:
    outcome = run()
    assert outcome.exitcode == 0, outcome.log.read_text()[-3000:]
    return max(outcome.seconds, 0.05)


def test_prepare_killed_three_times_equals_uninterrupted(tmp_path: Path) -> None:
    _prepare_kill_test(tmp_path, n_records=200, n_kills=3, seed=8)


@pytest.mark.slow
def test_prepare_killed_many_times_equals_uninterrupted(tmp_path: Path) -> None:
    _prepare_kill_test(tmp_path, n_records=600, n_kills=12, seed=80)


# -- pretrain --------------------------------------------------------------------------------------

def _pretrain_kwargs(data: Path, run: Path, steps: int) -> dict[str, Any]:
    overrides = [*tiny.PRETRAIN, f"trainer.max_steps={steps}", "trainer.checkpoint_every_n_steps=3"]
    return {"data_dir": data, "method": "3kg", "out": run, "preset": "cpu-small", "overrides": overrides,
            "resume": True}


def _check_run_partial(run: Path, reference: Path) -> Callable[[], None]:
    def check() -> None:
        if (run / "DONE").exists():  # killed after DONE: the run is complete and must equal the reference
            _assert_same_run(run, reference)
            return
        from threekg.evaluate.encoders import parse_encoders

        if (run / "encoder.safetensors").exists():  # a run without DONE must not be usable as an encoder
            with pytest.raises((ValueError, FileNotFoundError), match=r"DONE|incomplete|not complete"):
                parse_encoders([str(run)])
    return check


def _global_step(run: Path) -> int:
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    return int(ckpt["global_step"])


def _assert_same_run(run: Path, reference: Path) -> None:
    a, b = load_encoder(run).state_dict(), load_encoder(reference).state_dict()
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"encoder tensors differ from the uninterrupted run: {different[:5]}"
    assert _global_step(run) == _global_step(reference)
    assert json.loads((run / "DONE").read_text())["global_step"] == json.loads((reference / "DONE").read_text())["global_step"]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny.dataset(tmp_path_factory.mktemp("killdata"), n=60)


def _pretrain_kill_test(data: Path, tmp_path: Path, steps: int, n_kills: int, seed: int) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    ref = tmp_path / "ref"
    ref_work = _work_time(lambda: killing.run_and_kill(
        "threekg.train:pretrain", log=logs / "ref.log", delay=None,
        started=lambda: (ref / "checkpoints").is_dir(), **_pretrain_kwargs(data, ref, steps)))
    assert (ref / "DONE").exists() and _global_step(ref) == steps
    run = tmp_path / "run"
    outcomes = kill_and_resume("threekg.train:pretrain", _pretrain_kwargs(data, run, steps),
                               lambda: (run / "checkpoints").is_dir(), kill_points(seed, ref_work, n_kills),
                               _check_run_partial(run, ref), logs)
    assert any(o.killed for o in outcomes), f"every run finished before its kill point ({outcomes})"
    _assert_same_run(run, ref)


def test_pretrain_killed_three_times_equals_uninterrupted(data: Path, tmp_path: Path) -> None:
    _pretrain_kill_test(data, tmp_path, steps=9, n_kills=3, seed=3)


@pytest.mark.slow
def test_pretrain_killed_many_times_equals_uninterrupted(data: Path, tmp_path: Path) -> None:
    _pretrain_kill_test(data, tmp_path, steps=30, n_kills=10, seed=30)


def _extension_killed(data: Path, tmp_path: Path) -> Path:
    """A completed 3-step run whose extension to 9 steps (``--resume`` with more steps) is killed as soon
    as it has started training: DONE is gone, but the 3-step ``encoder.safetensors`` is still there."""
    run, logs = tmp_path / "run", tmp_path / "logs"
    logs.mkdir()
    assert killing.run("threekg.train:pretrain", log=logs / "first.log", **_pretrain_kwargs(data, run, 3)).exitcode == 0
    assert (run / "DONE").exists()
    outcome = killing.run_and_kill("threekg.train:pretrain", log=logs / "ext.log", delay=0.0,
                                   started=lambda: not (run / "DONE").exists(), **_pretrain_kwargs(data, run, 9))
    assert outcome.killed and not (run / "DONE").exists()
    return run


def test_evaluate_refuses_a_run_whose_extension_did_not_finish(data: Path, tmp_path: Path) -> None:
    """The same state as a killed extension, reached in-process (cheaper): a 2-step run extended to 4
    steps stops at step 3 (NaN hook), so DONE is gone and the 2-step encoder file remains.
    Regression: evaluate used to score that stale encoder (fixed in ae77978)."""
    from threekg.evaluate import EvalOptions, evaluate
    from threekg.train import NonFiniteLossError, pretrain

    run = tmp_path / "run"
    pretrain(data, "3kg", run, overrides=[*tiny.PRETRAIN, "trainer.max_steps=2"])
    with pytest.raises(NonFiniteLossError):
        pretrain(data, "3kg", run, overrides=["trainer.max_steps=4", "debug.nan_at_step=3"], resume=True)
    assert not (run / "DONE").exists() and (run / "encoder.safetensors").exists()
    options = EvalOptions(fractions=(1.0,), seeds=(0,), n_boot=0, crop_seconds=None, progress=False)
    with pytest.raises((ValueError, FileNotFoundError), match=r"DONE|incomplete|not complete"):
        evaluate(data, [str(run)], tmp_path / "eval", options)
    assert not (tmp_path / "eval" / "metrics.json").exists()


@pytest.mark.slow
def test_killed_extension_resumes_to_the_longer_run(data: Path, tmp_path: Path) -> None:
    run = _extension_killed(data, tmp_path)
    ref = tmp_path / "ref"
    assert killing.run("threekg.train:pretrain", log=tmp_path / "ref.log", **_pretrain_kwargs(data, ref, 9)).exitcode == 0
    assert killing.run("threekg.train:pretrain", log=tmp_path / "resume.log", **_pretrain_kwargs(data, run, 9)).exitcode == 0
    _assert_same_run(run, ref)


# -- experiment ------------------------------------------------------------------------------------

STUDY = """\
name: tiny
out: out
data:
  synth: {n: 60, seed: 0, fs: 100, seconds: 2.5, recordings_per_patient: 2}
  prepare: {fs: 100, seconds: 2.5, label_set: cinc2020}
pretrain:
  preset: cpu-small
  set: {trainer.max_steps: 6, data.batch_size: 16, trainer.checkpoint_every_n_steps: 2, trainer.progress_bar: false}
  methods: [3kg]
evaluate:
  encoders: [3kg, random]
  fractions: [1.0]
  seeds: [0]
  options: {n_boot: 0, crop_seconds: null, l2_grid: [1.0]}
report: {focus: 3kg}
"""


def _study(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "study.yaml").write_text(STUDY)
    return folder


def _numbers(metrics_json: Path) -> dict[str, Any]:
    """The results of a metrics.json (paths to the study folder left out)."""
    m = json.loads(metrics_json.read_text())
    return {k: m[k] for k in ("label_names", "runs", "summary", "paired") if k in m}


def _check_study_partial(out: Path) -> Callable[[], None]:
    def check() -> None:
        if (out / "data").exists() and not (out / "data" / "manifest.json").exists():
            with pytest.raises(DatasetError):
                open_dataset(out / "data")
        run = out / "runs" / "3kg"
        if run.exists() and not (run / "DONE").exists():
            assert not (out / "eval" / "metrics.json").exists(), "evaluation ran on an unfinished run"
        if (out / "eval" / "metrics.json").exists():
            json.loads((out / "eval" / "metrics.json").read_text())  # never half written
    return check


def _experiment_kill_test(tmp_path: Path, n_kills: int, seed: int) -> None:
    ref_dir, dir_, logs = _study(tmp_path / "ref"), _study(tmp_path / "killed"), tmp_path / "logs"
    logs.mkdir()
    argv = ["experiment", "study.yaml", "--workers", "1"]
    ref_work = _work_time(lambda: killing.run_and_kill(
        "threekg.cli.main:main", argv, log=logs / "ref.log", cwd=ref_dir, delay=None,
        started=lambda: (ref_dir / "out" / ".threekg").exists()))
    out = dir_ / "out"
    outcomes = []
    for i, delay in enumerate(kill_points(seed, ref_work, n_kills)):
        outcome = killing.run_and_kill("threekg.cli.main:main", argv, log=logs / f"kill{i}.log", cwd=dir_,
                                       delay=delay, started=lambda: (out / ".threekg").exists())
        outcomes.append(outcome)
        if outcome.killed:
            _check_study_partial(out)()
    print("experiment kills:", [(round(d, 3), o.killed) for d, o in
                                zip(kill_points(seed, ref_work, n_kills), outcomes, strict=True)])
    final = killing.run("threekg.cli.main:main", argv, log=logs / "final.log", cwd=dir_)
    assert final.exitcode == 0, (logs / "final.log").read_text()[-3000:]
    assert any(o.killed for o in outcomes), f"every run finished before its kill point ({outcomes})"
    assert _numbers(out / "eval" / "metrics.json") == _numbers(ref_dir / "out" / "eval" / "metrics.json")
    for name in PREPARE_FILES[:-1]:
        assert (out / "data" / name).read_bytes() == (ref_dir / "out" / "data" / name).read_bytes(), name
    _assert_same_run(out / "runs" / "3kg", ref_dir / "out" / "runs" / "3kg")
    assert (out / "report.html").read_text().rstrip().endswith("</html>")


def test_study_pretrain_step_killed_before_its_first_checkpoint_starts_again(tmp_path: Path) -> None:
    """Regression (found by the 3-kill test): a pretrain step killed after its run folder was made but
    before the first checkpoint was re-run with resume=False and overwrite=False, and refused the
    folder ("holds an incomplete run")."""
    from threekg.experiment import load_config
    from threekg.experiment.plan import build_plan
    from threekg.train import find_checkpoint, pretrain

    class KillAtStart(L.Callback):  # stands for a SIGKILL before the first checkpoint
        def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
            raise RuntimeError("simulated kill")

    cfg = load_config(_study(tmp_path / "s") / "study.yaml")
    synth, prep, train_step = build_plan(cfg, workers=1)[:3]
    synth.run(False)
    prep.run(False)
    with pytest.raises(RuntimeError, match="simulated kill"):
        pretrain(prep.output, "3kg", train_step.output, preset=cfg.pretrain.preset,
                 overrides=list(cfg.pretrain.set.items()), callbacks=[KillAtStart()])
    assert (train_step.output / "config.yaml").exists() and find_checkpoint(train_step.output) is None
    train_step.run(True)  # what the runner does for a step recorded as running
    assert train_step.is_complete()


def test_experiment_prepare_step_after_importing_the_prepare_module(tmp_path: Path) -> None:
    """Regression: ``from threekg.data import prepare`` once returned the module after the submodule had
    been imported (lazy package attributes), so the study's prepare step failed ('module' object is not
    callable); fixed in the data package (fafc5e7)."""
    import threekg.data.prepare  # noqa: F401  (what `from threekg.data.prepare import prepare` does, too)
    from threekg.experiment import load_config
    from threekg.experiment.plan import build_plan

    cfg = load_config(_study(tmp_path / "s") / "study.yaml")
    synth, prep = build_plan(cfg, workers=1)[:2]
    synth.run(False)
    prep.run(False)
    assert prep.is_complete()


def test_experiment_killed_once_equals_uninterrupted(tmp_path: Path) -> None:
    _experiment_kill_test(tmp_path, n_kills=1, seed=1)


@pytest.mark.slow
def test_experiment_killed_three_times_equals_uninterrupted(tmp_path: Path) -> None:
    _experiment_kill_test(tmp_path, n_kills=3, seed=33)


# -- a kill in the middle of a checkpoint write -------------------------------------------------------

@pytest.fixture(scope="module")
def reference9(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted 9-step run (checkpoints at 3, 6, 9)."""
    ref = tmp_path_factory.mktemp("ref9") / "run"
    killing.run("threekg.train:pretrain", log=ref.parent / "ref.log", **_pretrain_kwargs(data, ref, 9))
    return ref


@pytest.mark.parametrize(("stage", "name"), [
    ("writing", "last.ckpt"), ("after-move", "step-6.ckpt"),
    pytest.param("before-move", "step-6.ckpt", marks=pytest.mark.slow),
    pytest.param("writing", "step-6.ckpt", marks=pytest.mark.slow),
    pytest.param("before-move", "last.ckpt", marks=pytest.mark.slow),
    pytest.param("after-move", "last.ckpt", marks=pytest.mark.slow),
])
def test_kill_during_a_checkpoint_write_resumes_to_the_uninterrupted_run(
    data: Path, reference9: Path, tmp_path: Path, stage: str, name: str
) -> None:
    """SIGKILL while step 6's checkpoint is half written, written but not moved, or moved but not the
    rest: the checkpoint under its final name is complete or the previous one, a re-run removes the
    partial file and ends equal to an uninterrupted run."""
    logs = tmp_path / "logs"
    logs.mkdir()
    ref, run, marker = reference9, tmp_path / "run", tmp_path / "stalled"
    outcome = killing.run_and_kill(
        "reliability.stall:pretrain_stalling_at", stage, name, str(marker), log=logs / "killed.log", delay=0.0,
        started=marker.exists, **_pretrain_kwargs(data, run, 9))
    assert outcome.killed, f"the process was not running at the stall ({outcome})"
    ckpts = run / "checkpoints"
    partial = sorted(p.name for p in ckpts.glob(".*.tmp-*"))
    assert partial == ([] if stage == "after-move" else [f".{name}.tmp-{_pid_of(ckpts, name)}"]), partial
    for path in ckpts.glob("*.ckpt"):  # whatever carries a final name loads
        torch.load(path, map_location="cpu", weights_only=True)
    found = find_checkpoint(run)  # last.ckpt of step 3 (or 6 once step-6 is whole and last.ckpt was written)
    assert found is not None and int(torch.load(found, weights_only=True)["global_step"]) in (3, 6)
    finished = killing.run("threekg.train:pretrain", log=logs / "resumed.log", **_pretrain_kwargs(data, run, 9))
    assert finished.exitcode == 0, (logs / "resumed.log").read_text()[-2000:]
    assert not list(ckpts.glob(".*.tmp-*")), "the re-run must remove the partial file"
    _assert_same_run(run, ref)


def _pid_of(ckpts: Path, name: str) -> str:
    return next(ckpts.glob(f".{name}.tmp-*")).name.rsplit("-", 1)[1]
