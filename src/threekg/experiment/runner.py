"""Run a study: every step whose output is missing or whose inputs changed, then the report."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from threekg.experiment.config import StudyConfig, load_config
from threekg.experiment.plan import build_plan
from threekg.experiment.progress import StudyProgress
from threekg.experiment.steps import Step

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepOutcome:
    name: str
    output: Path
    ran: bool
    seconds: float


def step_is_done(step: Step, state_dir: Path, keep_runs: bool = False) -> tuple[bool, str, bool]:
    """(done, fingerprint, resume): done when complete with the same fingerprint; resume when the
    same fingerprint was started but not finished (so partial work may be continued).

    With ``keep_runs`` a finished pretraining run counts as done even when its fingerprint changed
    (threekg was upgraded, a default was added): it is used as it is, with a warning naming it."""
    fp = step.fingerprint()
    state = step.load_state(state_dir)
    same = state is not None and state.get("fingerprint") == fp
    finished = state is not None and state.get("status") == "done" and step.is_complete()
    if same and finished:
        return True, fp, False
    if keep_runs and finished and step.kind == "pretrain":
        log.warning("%s: kept as it is (--keep-runs) although its options or threekg changed since it "
                    "ran at %s", step.name, state.get("finished_at", "?") if state else "?")
        return True, fp, False
    return False, fp, same


def run_study(
    cfg: StudyConfig,
    *,
    workers: int | None = None,
    device: str | None = None,
    dry_run: bool = False,
    keep_runs: bool = False,
) -> list[StepOutcome]:
    """Run the study described by ``cfg`` and return what each step did.

    A step is skipped when its output is complete and its fingerprint (options plus the digests of
    its upstream results) matches the one recorded when it finished. A step interrupted earlier with
    the same fingerprint is resumed (the step APIs keep their own partial state); with a changed
    fingerprint its output is rebuilt, unless ``keep_runs`` keeps finished pretraining runs.
    """
    steps = build_plan(cfg, workers=workers, device=device)
    return run_steps(steps, cfg.out / ".threekg" / "steps", dry_run=dry_run, keep_runs=keep_runs)


def run_steps(steps: list[Step], state_dir: Path, dry_run: bool = False,
              keep_runs: bool = False) -> list[StepOutcome]:
    """Run ``steps`` in order, skipping the ones already done (see :func:`step_is_done`)."""
    progress = StudyProgress([s.estimate_s for s in steps])
    outcomes: list[StepOutcome] = []
    for i, step in enumerate(steps):
        done, fp, resume = step_is_done(step, state_dir, keep_runs)
        if done:
            progress.step_finished(i, step.name, 0.0, skipped=True)
            outcomes.append(StepOutcome(step.name, step.output, ran=False, seconds=0.0))
            continue
        if dry_run:
            print(f"would run: {step.name} -> {step.output}" + (" (resume)" if resume else ""))
            outcomes.append(StepOutcome(step.name, step.output, ran=False, seconds=0.0))
            continue
        progress.step_started(i, step.name, "resuming" if resume else "")
        step.save_state(state_dir, fp, 0.0, status="running")
        t0 = time.monotonic()
        step.run(resume)
        seconds = time.monotonic() - t0
        if not step.is_complete():
            raise RuntimeError(f"step {step.name} finished without producing its output {step.output}")
        step._recorded = None  # its result changed: downstream fingerprints must see the new digest
        step.save_state(state_dir, fp, seconds, status="done")
        progress.step_finished(i, step.name, seconds, skipped=False)
        outcomes.append(StepOutcome(step.name, step.output, ran=True, seconds=seconds))
    return outcomes


def run_experiment(config_path: str | Path, out: str | Path | None = None, **kwargs: object) -> list[StepOutcome]:
    """Load a study YAML and run it (see :func:`run_study`)."""
    return run_study(load_config(config_path, out=out), **kwargs)  # type: ignore[arg-type]
