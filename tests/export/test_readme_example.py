"""The README's worked example (ONNX model scoring new records) runs as written, on small stand-ins."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from encoder_fixtures import make_run
from threekg.data import write_dataset
from threekg.embed import embed_dataset
from threekg.export import export_onnx

README = Path(__file__).resolve().parents[2] / "README.md"


def _labelled(path: Path, n: int, seed: int) -> Path:
    """Records where AF adds an irregular 7 Hz component, so the probe has something to find."""
    rng = np.random.default_rng(seed)
    t = np.arange(400) / 100.0
    y = (rng.random((n, 2)) < 0.4).astype(np.uint8)
    x = rng.normal(0, 0.3, (n, 12, t.size)) + y[:, 0, None, None] * np.sin(2 * np.pi * 7 * t)
    write_dataset(path, x.astype(np.float32), y, ["AF", "X"], pd.DataFrame({"record": [f"R{i}" for i in range(n)]}),
                  100.0, label_set="csv", source="test")
    return path


@pytest.mark.slow  # one ONNX export (~10-30 s here)
def test_worked_example_python_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("onnxruntime", reason="the optional extra threekg[onnx] is not installed")
    pytest.importorskip("onnxscript", reason="the optional extra threekg[onnx] is not installed")
    text = README.read_text(encoding="utf-8")
    section = text[text.index("**Worked example: from `threekg synth`"):]
    code = re.findall(r"```python\n(.*?)```", section, flags=re.S)[0]
    run = make_run(tmp_path / "runs" / "3kg", crop_samples=100)
    for name, n, seed in (("train", 120, 0), ("new", 60, 1)):
        _labelled(tmp_path / "data" / name, n, seed)
        embed_dataset(tmp_path / "data" / name, run, tmp_path / "emb" / name, progress=False)
    export_onnx(run, tmp_path / "3kg.onnx")
    monkeypatch.chdir(tmp_path)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, str(README), "exec"), {})  # the README's own code
    diff = float(re.search(r"max \|ONNX - threekg embed\|: (\S+)", printed.getvalue()).group(1))  # type: ignore[union-attr]
    auroc = float(re.search(r"AF AUROC on the new records: (\S+)", printed.getvalue()).group(1))  # type: ignore[union-attr]
    assert diff < 1e-5 and 0.0 <= auroc <= 1.0
