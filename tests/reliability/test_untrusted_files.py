"""Untrusted files: checkpoints, encoders, caches and datasets are read as data, never unpickled;
configuration is parsed, never evaluated."""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

SRC = Path(__file__).resolve().parents[2] / "src" / "threekg"


class Booby:
    """Unpickling this creates a marker file: proof that untrusted code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.touch, (self.marker,))


def _sources() -> list[tuple[Path, ast.AST]]:
    return [(p, ast.parse(p.read_text(encoding="utf-8"), filename=str(p))) for p in sorted(SRC.rglob("*.py"))]


def _call_name(node: ast.Call) -> str:
    f = node.func
    parts = []
    while isinstance(f, ast.Attribute):
        parts.append(f.attr)
        f = f.value
    if isinstance(f, ast.Name):
        parts.append(f.id)
    return ".".join(reversed(parts))


def _kw(node: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in node.keywords if k.arg == name), None)


def test_no_unsafe_deserialisation_or_evaluation_in_the_package() -> None:
    problems: list[str] = []
    for path, tree in _sources():
        rel = path.relative_to(SRC.parent)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
                bad = [n for n in names if n.split(".")[0] in {"pickle", "dill", "marshal", "shelve", "cloudpickle"}]
                if bad:
                    problems.append(f"{rel}:{node.lineno} imports {bad}")
            if not isinstance(node, ast.Call):
                continue
            name = _call_name(node)
            if isinstance(node.func, ast.Name) and node.func.id in {"eval", "exec"}:
                problems.append(f"{rel}:{node.lineno} calls {name}()")
            if name.endswith("torch.load"):
                wo = _kw(node, "weights_only")
                if not (isinstance(wo, ast.Constant) and wo.value is True):
                    problems.append(f"{rel}:{node.lineno} torch.load without weights_only=True")
            if name in {"np.load", "numpy.load"}:
                ap = _kw(node, "allow_pickle")
                if ap is not None and not (isinstance(ap, ast.Constant) and ap.value is False):
                    problems.append(f"{rel}:{node.lineno} np.load with allow_pickle")
            if name == "yaml.load" or name == "yaml.unsafe_load" or name == "yaml.full_load":
                problems.append(f"{rel}:{node.lineno} {name} (use yaml.safe_load)")
    assert not problems, "\n".join(problems)


def test_the_scan_catches_what_it_claims_to(tmp_path: Path) -> None:
    bad = "import pickle\nimport torch\nx = torch.load('f')\ny = eval('1')\nimport yaml\nyaml.load('a')\n"
    tree = ast.parse(bad)
    calls = {_call_name(n) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    assert {"torch.load", "eval", "yaml.load"} <= calls
    method = next(n for n in ast.walk(ast.parse("m.to(d).eval()")) if isinstance(n, ast.Call))
    assert not (isinstance(method.func, ast.Name) and method.func.id == "eval")  # a method, not the builtin


def test_encoder_file_that_is_a_pickle_is_refused(tmp_path: Path) -> None:
    from threekg.models import load_encoder

    marker = tmp_path / "pwned"
    path = tmp_path / "encoder.safetensors"
    path.write_bytes(pickle.dumps(Booby(marker)))
    with pytest.raises((ValueError, OSError, RuntimeError)):
        load_encoder(path)
    assert not marker.exists()


def test_torch_checkpoint_with_code_is_refused(tmp_path: Path) -> None:
    from threekg.train.run import find_checkpoint

    marker = tmp_path / "pwned"
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    torch.save({"state_dict": {}, "evil": Booby(marker)}, run / "checkpoints" / "last.ckpt")
    assert find_checkpoint(run) is None  # not loadable with weights_only=True: never used
    assert not marker.exists()


def test_dataset_with_pickled_arrays_is_refused(tmp_path: Path) -> None:
    import pandas as pd

    from threekg.data import DatasetError, open_dataset, write_dataset

    signals = np.random.default_rng(0).normal(size=(3, 12, 50)).astype(np.float32)
    out = tmp_path / "ds"
    write_dataset(out, signals, np.zeros((3, 1), np.uint8), ["A"], pd.DataFrame({"record": ["a", "b", "c"]}),
                  fs=100, label_set="csv", source="test", options={})
    marker = tmp_path / "pwned"
    np.save(out / "labels.npy", np.array([Booby(marker)] * 3, dtype=object), allow_pickle=True)
    with pytest.raises(DatasetError):
        open_dataset(out)
    assert not marker.exists()
