"""Hypothesis over the options of every command: a user's mistake never ends in a traceback.

Each example runs ``threekg.cli.main.main`` (what the ``threekg`` entry point calls) in-process on
generated inputs, with option values drawn from pools that mix good values with the mistakes people
make (0, negatives, NaN, inf, huge numbers, text for numbers, missing or wrong paths, malformed
JSON/CSV/arrays). Accepted outcomes: exit 0 (the values happened to be fine; the inputs are tiny so
the run is short) or exit 2 with ``threekg COMMAND: error: ...`` as the last line of stderr. Exit 1
(the bug path) or a traceback fails the test with the command line that produced it.

Bounded and reproducible: ``derandomize=True`` and a fixed number of examples per command. The
light commands run in the default suite; evaluate and pretrain (torch work in valid examples) are slow.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import shutil
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from threekg.cli.main import main

REPO = Path(__file__).resolve().parents[2]

INTS = st.sampled_from(["-1", "0", "1", "1", "2", "2", "99999999999", "x"])
FLOATS = st.sampled_from(["-1", "0", "nan", "inf", "1e-9", "0.5", "1", "2.5", "10", "50", "100", "100", "500",
                          "1e9", "x"])


def _settings(n: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


Value = str | list[str] | None


def _options(pools: dict[str, st.SearchStrategy[Value]], most: int = 3) -> st.SearchStrategy[list[str]]:
    """Up to ``most`` of the options, each with a value from its pool (None: a flag; a list: several
    words). Few options per example, so that many examples get past the first refusal."""
    def argv(chosen: dict[str, Value]) -> list[str]:
        out: list[str] = []
        for flag, value in chosen.items():
            out += [flag, *([] if value is None else [value] if isinstance(value, str) else value)]
        return out
    keys = st.lists(st.sampled_from(sorted(pools)), max_size=most, unique=True)
    return keys.flatmap(lambda ks: st.fixed_dictionaries({k: pools[k] for k in ks})).map(argv)


def check(argv: list[str]) -> None:
    """Run ``threekg ARGV`` in-process; fail on exit 1, on any other code than 0/2, or on a traceback."""
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse
            code = exc.code if isinstance(exc.code, int) else 2
    text = err.getvalue()
    shown = "threekg " + " ".join(argv)
    assert code in (0, 2), f"{shown}\n-> exit {code}\n{text[-4000:]}"
    assert "Traceback" not in text, f"{shown}\n-> a traceback:\n{text[-4000:]}"
    if code == 2:
        lines = [ln for ln in text.splitlines() if ln.strip()]
        assert lines and lines[-1].startswith("threekg"), f"{shown}\n-> no error line:\n{text[-2000:]}"


@pytest.fixture
def scratch() -> Callable[[], Path]:
    """A fresh output folder per example (hypothesis reuses the test's fixtures across examples)."""
    made: list[Path] = []

    def new() -> Path:
        made.append(Path(tempfile.mkdtemp(prefix="threekg-fuzz-")))
        return made[-1] / "out"

    yield new
    for path in made:
        shutil.rmtree(path, ignore_errors=True)


def _paths(world: Path, *names: str) -> st.SearchStrategy[str]:
    return st.sampled_from([str(world / n) for n in names] + ["/no/such/path"])


@pytest.fixture(scope="module")
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_synth(world: Path, scratch: Callable[[], Path]) -> None:
    pools = {"--seed": INTS, "--fs": FLOATS, "--seconds": FLOATS, "--recordings-per-patient": INTS,
             "--workers": st.sampled_from(["1", "1", "0"])}

    @_settings(80)
    @given(n=st.sampled_from(["1", "2", "2", "0", "-1", "x"]), options=_options(pools))
    def run(n: str, options: list[str]) -> None:
        check(["synth", str(scratch()), "--n", n, "--no-progress", *options])
    run()


def test_prepare(world: Path, scratch: Callable[[], Path]) -> None:
    src = _paths(world, "raw-good", "raw-good", "raw-good", "arrays.npy", "arrays.npy", "raw-missing-signals",
                 "not-an-array.npy", "empty", "labels.csv")
    pools = {"--format": st.sampled_from(["auto", "cinc", "ptbxl", "wfdb", "arrays"]), "--fs": FLOATS,
             "--seconds": FLOATS, "--short": st.sampled_from(["pad", "reject"]),
             "--label-set": st.sampled_from(["cinc2020", "cinc2020-all", "ptbxl-superclass", "csv", "none"]),
             "--labels": _paths(world, "labels.csv", "labels-bad.csv", "arrays.npy"), "--input-fs": FLOATS,
             "--ptbxl-min-likelihood": FLOATS, "--dtype": st.sampled_from(["float32", "float16"]),
             "--workers": st.sampled_from(["1", "0", "-2"]), "--limit": INTS, "--overwrite": st.none()}

    @_settings(60)
    @given(src=src, options=_options(pools))
    def run(src: str, options: list[str]) -> None:
        workers = [] if "--workers" in options else ["--workers", "1"]
        check(["prepare", src, "--out", str(scratch()), *workers, *options])
    run()


@pytest.mark.slow
def test_augment(world: Path, scratch: Callable[[], Path]) -> None:
    record = next(world.glob("raw-good/*/*.hea"))
    src = st.sampled_from([str(world / "data"), str(record), str(world / "empty"), "/no/such/path",
                           str(world / "arrays.npy")])
    pools = {"--index": INTS, "--seed": INTS, "--angle": FLOATS, "--scale": FLOATS, "--scale-low": FLOATS,
             "--mask-ratio": FLOATS, "--residual": st.none(), "--matrix": st.sampled_from(["inverse_dower", "kors"])}

    @_settings(25)
    @given(src=src, options=_options(pools))
    def run(src: str, options: list[str]) -> None:
        check(["augment", src, "--out", str(scratch().with_suffix(".png")), *options])
    run()


def test_report(world: Path, scratch: Callable[[], Path]) -> None:
    spec = importlib.util.spec_from_file_location("report_fixtures", REPO / "tests" / "report" / "report_fixtures.py")
    assert spec is not None and spec.loader is not None
    fixtures = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fixtures)
    fixtures.write_metrics(world / "evaluation", fixtures.make_metrics(fractions=(0.1, 1.0), seeds=(0,)))
    (world / "bad-evaluation").mkdir(exist_ok=True)
    (world / "bad-evaluation" / "metrics.json").write_text('{"runs": [')
    dirs = st.lists(_paths(world, "evaluation", "evaluation", "evaluation", "not-an-evaluation", "bad-evaluation",
                           "data", "labels.csv"), min_size=1, max_size=2)

    @_settings(8)
    @given(dirs=dirs, focus=st.sampled_from([[], ["--focus", "3kg"], ["--focus", "nope"], ["--focus", ""]]))
    def run(dirs: list[str], focus: list[str]) -> None:
        check(["report", *dirs, "--out", str(scratch() / "report.html"), *focus])
    run()


def test_download(scratch: Callable[[], Path], closed_port: int) -> None:
    pools = {"--subset": st.sampled_from(["records100", "../up", "/abs", "training/georgia", ""]),
             "--limit": INTS, "--workers": INTS, "--retries": st.sampled_from(["-1", "0", "1", "x"]),
             "--timeout": FLOATS, "--backoff": st.sampled_from(["-1", "0", "0.001", "nan", "inf"]),
             "--no-verify": st.none()}

    @_settings(30)
    @given(dataset=st.sampled_from(["ptbxl", "cinc2020", "cinc2021"]), options=_options(pools))
    def run(dataset: str, options: list[str]) -> None:
        check(["download", dataset, "--dest", str(scratch()), "--base-url", f"http://127.0.0.1:{closed_port}/",
               "--no-progress", "--backoff", "0.001", *options])
    run()


@pytest.mark.slow
def test_evaluate(world: Path, scratch: Callable[[], Path]) -> None:
    encoders = st.lists(st.sampled_from([str(world / "encoder.safetensors"), str(world / "encoder.safetensors"),
                                         str(world / "run"), "random", "supervised", "/no/such/run",
                                         str(world / "data"), "a=random"]), min_size=1, max_size=3)
    pools = {"--fractions": st.lists(FLOATS, min_size=1, max_size=2), "--seeds": st.lists(INTS, min_size=1, max_size=2),
             "--bootstrap": st.sampled_from(["-1", "0", "5", "x"]), "--crop-seconds": FLOATS,
             "--finetune": st.none(), "--epochs": st.sampled_from(["-1", "0", "1"]), "--lr": FLOATS,
             "--arch": st.sampled_from(['{"name": "resnet18-small"}', '{"name": "nope"}', "[1]", "{", '{"x": 1}',
                                        '{"name": "resnet18-small", "width": -3}']),
             "--device": st.sampled_from(["cpu", "cuda", "nope", "cpu:0"]), "--threads": INTS}

    @_settings(30)
    @given(data=_paths(world, "data", "data", "data", "data", "data-none", "data-nopos", "raw-good"), encoders=encoders,
           options=_options(pools))
    def run(data: str, encoders: list[str], options: list[str]) -> None:
        check(["evaluate", "--data", data, "--encoders", *encoders, "--out", str(scratch()), *options])
    run()


@pytest.mark.slow
def test_pretrain(world: Path, scratch: Callable[[], Path]) -> None:
    sets = st.sampled_from(["data.crop_seconds=50", "data.crop_seconds=0.001", "optim.lr=-1", "encoder.name=nope",
                            "method.options.nope=1", "head.kind=nope", "trainer.max_steps=0", "data.fs=500",
                            "data.normalize=nope", "optim.schedule=nope", "seed=-1", "data.crop_seconds=1",
                            "nope", "trainer.progress_bar=false"])
    pools = {"--preset": st.sampled_from(["cpu-small", "paper"]), "--max-steps": INTS, "--epochs": INTS,
             "--batch-size": st.sampled_from(["-1", "0", "4", "1000"]), "--lr": FLOATS,
             "--devices": st.sampled_from(["0", "-1", "1", "auto", "x"]), "--num-nodes": INTS,
             "--accelerator": st.sampled_from(["cpu", "gpu", "nope"]),
             "--precision": st.sampled_from(["32", "16-mixed"]), "--accumulate": INTS, "--seed": INTS,
             "--resume": st.none(), "--overwrite": st.none()}

    @_settings(30)
    @given(data=_paths(world, "data", "data", "data", "data", "data-none", "raw-good"),
           method=st.sampled_from(["3kg", "cmsc", "pclr"]),
           extra=st.lists(sets, max_size=2), options=_options(pools))
    def run(data: str, method: str, extra: list[str], options: list[str]) -> None:
        steps = [] if "--max-steps" in options or "--epochs" in options else ["--max-steps", "1"]
        sets_argv = [w for s in extra for w in ("--set", s)]
        check(["pretrain", data, "--method", method, "--out", str(scratch()), "--batch-size", "8", *steps,
               *sets_argv, *options, "--set", "trainer.progress_bar=false"])
    run()


@pytest.mark.slow
def test_embed(world: Path, scratch: Callable[[], Path]) -> None:
    pools = {"--crop-seconds": FLOATS, "--batch-size": INTS, "--device": st.sampled_from(["cpu", "cuda", "nope"]),
             "--threads": INTS, "--overwrite": st.none()}

    @_settings(25)
    @given(data=_paths(world, "data", "data", "data-none", "raw-good"),
           encoder=_paths(world, "encoder.safetensors", "encoder.safetensors", "run", "data", "labels.csv"),
           options=_options(pools))
    def run(data: str, encoder: str, options: list[str]) -> None:
        check(["embed", data, "--encoder", encoder, "--out", str(scratch()), "--no-progress", *options])
    run()


@pytest.mark.slow
def test_export(world: Path, scratch: Callable[[], Path]) -> None:
    pools = {"--samples": INTS, "--opset": st.sampled_from(["-1", "0", "18", "x"]),
             "--metrics": _paths(world, "labels.csv", "not-an-evaluation"),
             "--pretrain-data": _paths(world, "data", "empty"), "--data-licence": st.just("CC-BY-4.0"),
             "--overwrite": st.none()}

    @_settings(20)
    @given(run_dir=_paths(world, "run", "run", "encoder.safetensors", "data", "labels.csv"),
           targets=st.sampled_from([[], ["--hub"], ["--onnx"], ["--hub", "--onnx"]]), options=_options(pools))
    def run(run_dir: str, targets: list[str], options: list[str]) -> None:
        out = scratch()
        where = [w for t in targets for w in (t, str(out / ("model.onnx" if t == "--onnx" else "hub")))]
        check(["export", run_dir, *where, *options])
    run()
