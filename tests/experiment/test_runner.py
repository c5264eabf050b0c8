"""Step reuse: only missing or changed work runs; interrupted work resumes; changes flow downstream."""

from __future__ import annotations

from pathlib import Path

import pytest

from threekg.experiment import steps as steps_module
from threekg.experiment.runner import run_steps
from threekg.experiment.steps import Step, file_digest, fingerprint


class Pipeline:
    """Two file-producing steps a -> b whose runs are counted."""

    def __init__(self, root: Path, option: int = 1, fail_b: bool = False) -> None:
        self.root = root
        self.calls: list[tuple[str, bool]] = []
        a_out, b_out = root / "a.txt", root / "b.txt"

        def run_a(resume: bool) -> None:
            self.calls.append(("a", resume))
            a_out.write_text(f"a{option}")

        def run_b(resume: bool) -> None:
            self.calls.append(("b", resume))
            if fail_b:
                raise KeyboardInterrupt  # stands for a kill in the middle of the step
            b_out.write_text(a_out.read_text() + "b")

        self.a = Step("a", "synth", a_out, {"option": option}, run_a, a_out.exists,
                      lambda: file_digest(a_out))
        self.b = Step("b", "prepare", b_out, {}, run_b, b_out.exists,
                      lambda: file_digest(b_out), upstream=[self.a])
        self.steps = [self.a, self.b]


def test_second_run_reuses_everything(tmp_path: Path) -> None:
    state = tmp_path / "state"
    p1 = Pipeline(tmp_path)
    assert [o.ran for o in run_steps(p1.steps, state)] == [True, True]
    p2 = Pipeline(tmp_path)
    assert [o.ran for o in run_steps(p2.steps, state)] == [False, False]
    assert p2.calls == []


def test_changed_option_reruns_that_step_and_downstream(tmp_path: Path) -> None:
    state = tmp_path / "state"
    run_steps(Pipeline(tmp_path, option=1).steps, state)
    p = Pipeline(tmp_path, option=2)
    run_steps(p.steps, state)
    assert p.calls == [("a", False), ("b", False)]
    assert (tmp_path / "b.txt").read_text() == "a2b"


def test_deleted_output_is_rebuilt(tmp_path: Path) -> None:
    state = tmp_path / "state"
    run_steps(Pipeline(tmp_path).steps, state)
    (tmp_path / "b.txt").unlink()
    p = Pipeline(tmp_path)
    run_steps(p.steps, state)
    assert p.calls == [("b", True)]  # same fingerprint: resumed, not started over


def test_interrupted_step_resumes_and_is_never_marked_done(tmp_path: Path) -> None:
    state = tmp_path / "state"
    p1 = Pipeline(tmp_path, fail_b=True)
    with pytest.raises(KeyboardInterrupt):
        run_steps(p1.steps, state)
    assert p1.b.load_state(state)["status"] == "running"  # type: ignore[index]
    p2 = Pipeline(tmp_path)
    run_steps(p2.steps, state)
    assert p2.calls == [("b", True)]
    assert (tmp_path / "b.txt").read_text() == "a1b"


def test_step_that_produces_nothing_is_an_error(tmp_path: Path) -> None:
    out = tmp_path / "never"
    step = Step("x", "report", out, {}, lambda resume: None, out.exists, lambda: "")
    with pytest.raises(RuntimeError, match="without producing its output"):
        run_steps([step], tmp_path / "state")


def test_fingerprint_is_order_independent() -> None:
    assert fingerprint({"a": 1, "b": [1, 2]}) == fingerprint({"b": [1, 2], "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})


def test_a_new_result_revision_reruns_that_kind_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A change of threekg that changes what a step computes (e.g. the probe solver) re-runs it."""
    state = tmp_path / "state"
    run_steps(Pipeline(tmp_path).steps, state)
    monkeypatch.setitem(steps_module.RESULT_REVISIONS, "prepare", 7)
    p = Pipeline(tmp_path)
    run_steps(p.steps, state)
    assert p.calls == [("b", False)]  # a (synth) reused, b (prepare) recomputed
    assert steps_module.RESULT_REVISIONS["evaluate"] >= 2


def test_keep_runs_keeps_a_finished_pretraining_run_whose_options_changed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """--keep-runs: a finished pretraining run is used as it is; everything else still follows its
    fingerprint, and without the flag the run is trained again."""

    def pipeline(option: int) -> tuple[list[Step], list[str]]:
        calls: list[str] = []
        run_out, ev_out = tmp_path / "run.txt", tmp_path / "eval.txt"

        def run_pre(resume: bool) -> None:
            calls.append("pretrain")
            run_out.write_text(f"weights{option}")

        def run_eval(resume: bool) -> None:
            calls.append("evaluate")
            ev_out.write_text(run_out.read_text() + f"+eval{option}")

        pre = Step("pretrain/x", "pretrain", run_out, {"lr": option}, run_pre, run_out.exists,
                   lambda: file_digest(run_out))
        ev = Step("evaluate", "evaluate", ev_out, {"n": option}, run_eval, ev_out.exists,
                  lambda: file_digest(ev_out), upstream=[pre])
        return [pre, ev], calls

    state = tmp_path / "state"
    steps, _ = pipeline(1)
    run_steps(steps, state)
    steps, calls = pipeline(2)
    with caplog.at_level("WARNING"):
        run_steps(steps, state, keep_runs=True)
    assert calls == ["evaluate"]
    assert (tmp_path / "eval.txt").read_text() == "weights1+eval2"
    assert "pretrain/x: kept as it is" in caplog.text
    steps, calls = pipeline(2)
    run_steps(steps, state)  # without the flag the changed run is trained again
    assert calls == ["pretrain", "evaluate"]
