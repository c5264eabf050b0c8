"""The error contract of every command (RELIABILITY.md, "Exit codes and error messages"; issue 17).

Every case runs the installed ``threekg`` entry point in a subprocess and checks the exit code
(2: a mistake the user can fix, 1: a bug, 130: interrupted), that stderr is the one line
``threekg COMMAND: error: ...`` naming the problem, with no traceback, and that nothing that was
already on disk (inputs, and outputs of earlier good runs) was changed, deleted or added to.
One test per row of the issue's table, one per command, and the mechanics (``--debug``,
``THREEKG_DEBUG``, the bug and interrupt paths).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from threekg.cli.main import COMMANDS, main

ENTRY = Path(sys.executable).with_name("threekg")
PROGRESS = re.compile(r"\d+%\|.*\||^\w[\w ]*: [\d,.]+(/[\d,.]+)? \w+( \(\d+%\))?(,| in )")
"""A progress line: a tqdm bar frame, or threekg.progress's plain line off a terminal
(``prepare: 5/5 rec in 0s, 2.81e+03 rec/s``, ``prepare: 32/40 rec (80%), ...``)."""


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def lines(self) -> list[str]:
        """stderr's non-empty lines, progress lines left out."""
        return [ln for ln in re.split(r"[\r\n]", self.stderr) if ln.strip() and not PROGRESS.search(ln)]


def threekg(*argv: str | Path, env: dict[str, str] | None = None) -> Result:
    """``threekg ARGV`` in a subprocess (the console script pip installed)."""
    environ = {k: v for k, v in os.environ.items() if k != "THREEKG_DEBUG"}
    environ.update({"OMP_NUM_THREADS": "1", **(env or {})})
    done = subprocess.run([str(ENTRY), *map(str, argv)], capture_output=True, text=True, timeout=600, env=environ)
    return Result(done.returncode, done.stdout, done.stderr)


def snapshot(root: Path) -> dict[str, str]:
    """sha256 of every file below ``root`` (relative path -> digest): what 'nothing changed' compares."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def assert_user_error(result: Result, command: str, *named: str) -> None:
    """Exit 2, one line ``threekg COMMAND: error: ...`` that contains every string in ``named``."""
    lines = result.lines()
    assert result.code == 2, f"exit {result.code}, stderr:\n{result.stderr[-3000:]}"
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n" + "\n".join(lines)
    assert lines[0].startswith(f"threekg {command}: error: "), lines[0]
    for text in named:
        assert text in lines[0], f"{text!r} not named in: {lines[0]}"


@pytest.fixture
def before(world: Path) -> dict[str, str]:
    """The world's digests before the case; the case asserts them unchanged afterwards."""
    return snapshot(world)


# -- the table, row by row ---------------------------------------------------------------

def test_evaluate_random_without_a_checkpoint_asks_for_arch(world: Path, before: dict[str, str]) -> None:
    result = threekg("evaluate", "--data", world / "data", "--encoders", "random", "--out", world / "eval")
    assert_user_error(result, "evaluate", "'random'", "no checkpoint", "--arch")
    assert snapshot(world) == before  # not even the output folder was made


def test_evaluate_missing_run_is_named(world: Path, before: dict[str, str]) -> None:
    result = threekg("evaluate", "--data", world / "data", "--encoders", "/no/such/run", "--out", world / "eval")
    assert_user_error(result, "evaluate", "/no/such/run", "does not exist")
    assert snapshot(world) == before


@pytest.mark.parametrize(("data", "named"), [("data-none", "no labels"), ("data-nopos", "none of its 2 classes")])
def test_evaluate_refuses_a_dataset_without_labels_before_embedding(world: Path, before: dict[str, str],
                                                                    data: str, named: str) -> None:
    result = threekg("evaluate", "--data", world / data, "--encoders", world / "encoder.safetensors",
                     "--out", world / "eval", "--fractions", "1", "--seeds", "0", "--bootstrap", "0")
    assert_user_error(result, "evaluate", str(world / data), named, "--label-set")
    assert snapshot(world) == before  # no embedding cache, no split.csv


def test_evaluate_fraction_zero(world: Path, before: dict[str, str]) -> None:
    result = threekg("evaluate", "--data", world / "data", "--encoders", world / "encoder.safetensors",
                     "--out", world / "eval", "--fractions", "0")
    assert_user_error(result, "evaluate", "--fractions 0", "(0, 1]")
    assert snapshot(world) == before


def test_pretrain_crop_longer_than_the_recordings_keeps_the_run_it_would_overwrite(
        world: Path, before: dict[str, str]) -> None:
    result = threekg("pretrain", world / "data", "--method", "3kg", "--out", world / "run", "--max-steps", "1",
                     "--set", "data.crop_seconds=50", "--overwrite")
    assert_user_error(result, "pretrain", "data.crop_seconds=50", "10 s at 100 Hz")
    assert snapshot(world) == before  # --overwrite deletes only once the configuration fits the data


def test_synth_zero_records(world: Path, before: dict[str, str]) -> None:
    result = threekg("synth", world / "synth", "--n", "0")
    assert_user_error(result, "synth", "n must be in 1..999999, got 0")
    assert snapshot(world) == before and not (world / "synth").exists()


def test_prepare_accepting_no_record_exits_2_and_keeps_the_reasons(world: Path, tmp_path: Path,
                                                                   before: dict[str, str]) -> None:
    out = tmp_path / "prepared"
    result = threekg("prepare", world / "raw-missing-signals", "--out", out, "--fs", "100", "--workers", "1")
    lines = result.lines()
    assert result.code == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith("threekg prepare: error: no record accepted: all 5"), lines
    assert str(out / "rejected.csv") in lines[0]
    rejected = pd.read_csv(out / "rejected.csv")
    assert len(rejected) == 5 and rejected["reason"].str.contains("A0000.mat|signal file|No such", regex=True).all()
    assert sorted(p.name for p in out.iterdir()) == ["rejected.csv"]  # no manifest: no dataset of 0 records
    assert snapshot(world) == before


def test_prepare_accepting_no_record_puts_an_overwritten_dataset_back(world: Path, tmp_path: Path) -> None:
    out = tmp_path / "prepared"
    shutil.copytree(world / "data", out)
    good = snapshot(out)
    result = threekg("prepare", world / "raw-missing-signals", "--out", out, "--fs", "100", "--workers", "1",
                     "--overwrite")
    assert result.code == 2 and "previous dataset" in result.lines()[0], result.stderr[-3000:]
    assert snapshot(out) == good
    assert len(pd.read_csv(tmp_path / "prepared.rejected.csv")) == 5
    assert not (tmp_path / "prepared.replaced").exists()


def test_prepare_missing_source_says_the_source_is_missing(world: Path, before: dict[str, str]) -> None:
    result = threekg("prepare", "/no/such/dir", "--out", world / "data")  # --out holds a good dataset
    assert_user_error(result, "prepare", "/no/such/dir", "no such folder")
    assert "writing" not in result.stderr
    assert snapshot(world) == before


# -- every other command -------------------------------------------------------------------------

def test_augment_index_out_of_range(world: Path, before: dict[str, str]) -> None:
    result = threekg("augment", world / "data", "--index", "9999", "--out", world / "views.png")
    assert_user_error(result, "augment", "index 9999", "40 records")
    assert snapshot(world) == before


def test_report_folder_without_metrics(world: Path, before: dict[str, str]) -> None:
    result = threekg("report", world / "not-an-evaluation", "--out", world / "report.html")
    assert_user_error(result, "report", "metrics.json", "not found")
    assert snapshot(world) == before


def test_download_bad_option(world: Path, before: dict[str, str]) -> None:
    result = threekg("download", "ptbxl", "--dest", world / "dl", "--workers", "0")
    assert_user_error(result, "download", "--workers")
    assert snapshot(world) == before and not (world / "dl").exists()


def test_experiment_missing_study_file(world: Path, before: dict[str, str]) -> None:
    result = threekg("experiment", world / "no-such-study.yaml")
    assert_user_error(result, "experiment", "no-such-study.yaml")
    assert snapshot(world) == before


def test_demo_bad_option(world: Path, before: dict[str, str]) -> None:
    result = threekg("demo", "--out", world / "demo", "--workers", "0")
    assert_user_error(result, "demo", "--workers")
    assert snapshot(world) == before


def _parse_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> Result:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    return Result(int(exit_.value.code or 0), "", capsys.readouterr().err)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_refuses_bad_arguments_in_one_line(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """In-process (``main``, what the entry point calls): argparse's errors of every command, cheaply."""
    result = _parse_error([command, "--no-such-option"], capsys)  # a missing argument, or this unknown one
    assert_user_error(result, command, f"(see `threekg {command} --help`)")


def test_an_unknown_option_is_named_with_its_command(capsys: pytest.CaptureFixture[str]) -> None:
    result = _parse_error(["synth", "out", "--n", "1", "--no-such-option"], capsys)
    assert_user_error(result, "synth", "unrecognized arguments: --no-such-option")


def test_no_command_or_an_unknown_one() -> None:
    assert threekg().code == 2
    result = threekg("nosuch")
    assert result.code == 2 and result.lines() == [result.lines()[0]] and "invalid choice" in result.stderr


# -- the mechanics: --debug, the bug path, the interrupt path ------------------------------------

@pytest.mark.parametrize("how", ["--debug", "THREEKG_DEBUG"])
def test_debug_shows_the_traceback_of_a_user_error(tmp_path: Path, how: str) -> None:
    argv = ["synth", str(tmp_path / "s"), "--n", "0"]
    result = threekg(*argv, "--debug") if how == "--debug" else threekg(*argv, env={"THREEKG_DEBUG": "1"})
    assert result.code == 2
    assert result.stderr.startswith("Traceback") and "UsageError" in result.stderr
    assert result.lines()[-1] == "threekg synth: error: n must be in 1..999999, got 0"


def _python(code: str) -> Result:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    return Result(done.returncode, done.stdout, done.stderr)


def test_a_bug_prints_its_traceback_and_asks_for_a_report(tmp_path: Path) -> None:
    """Any exception that is not a user error: traceback, a line asking to report it, exit 1."""
    result = _python(
        "import sys, threekg.synth.challenge as c\n"
        "def broken(*a, **k):\n    return {}['no such key']\n"
        "c.write_challenge_tree = broken\n"
        "from threekg.cli.main import main\n"
        f"sys.exit(main(['synth', {str(tmp_path / 's')!r}, '--n', '2']))\n")
    assert result.code == 1
    assert "Traceback" in result.stderr and "KeyError: 'no such key'" in result.stderr
    last = result.lines()[-1]
    assert last.startswith("threekg synth: internal error: this is a bug in threekg") and "report" in last


def test_an_interrupted_pretrain_says_how_to_resume(world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """In-process with a stand-in for the training; the real SIGINT path is tested on prepare and download
    (tests/data/test_prepare_interrupt.py, tests/download/test_cli_download.py)."""
    import threekg.train

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(threekg.train, "pretrain", interrupted)
    assert main(["pretrain", str(world / "data"), "--method", "3kg", "--out", str(tmp_path / "r")]) == 130
    err = capsys.readouterr().err
    assert err.splitlines() == [f"threekg pretrain: interrupted; re-run the same command with --resume to continue "
                                f"from the last checkpoint (work done so far is kept in {tmp_path / 'r'})"]


BROAD = {"Exception", "BaseException", "ValueError", "ImportError", "OSError", "RuntimeError", "KeyError",
         "TypeError"}


def test_command_modules_leave_errors_to_main() -> None:
    """A command that catches broad errors itself makes its own format and exit code, and hides bugs
    as user errors: ``threekg/cli/<command>.py`` raises, ``threekg.cli.main`` decides (docs/architecture.md)."""
    import ast

    import threekg.cli

    offenders = []
    for path in sorted(Path(threekg.cli.__file__).parent.glob("*.py")):
        if path.name in ("main.py", "types.py", "__init__.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ExceptHandler):
                caught = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
                names = {getattr(c, "id", getattr(c, "attr", "")) for c in caught if c is not None}
                if node.type is None or names & BROAD:
                    offenders.append(f"{path.name}:{node.lineno} catches {sorted(names) or 'everything'}")
    assert not offenders, "raise a threekg.errors.UserError instead of catching here:\n" + "\n".join(offenders)
