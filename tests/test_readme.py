"""The README's Python example runs as written (against a small dataset and encoder made here)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from threekg.data import write_dataset
    from threekg.models import build_encoder, save_encoder

    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    assert blocks, "README has no python example"
    rng = np.random.default_rng(0)
    write_dataset(tmp_path / "data" / "cinc", rng.normal(size=(70, 12, 500)).astype(np.float32),
                  np.zeros((70, 1), np.uint8), ["A"], pd.DataFrame({"record": [f"r{i}" for i in range(70)]}),
                  fs=100, label_set="csv", source="test", options={})
    (tmp_path / "runs" / "3kg").mkdir(parents=True)
    save_encoder(build_encoder("resnet18-small"), tmp_path / "runs" / "3kg" / "encoder.safetensors")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(blocks[0], str(README), "exec"), namespace)  # the README's own example
    assert tuple(namespace["v1"].shape) == (64, 12, 500)  # type: ignore[attr-defined]
    assert os.path.exists("data/cinc/manifest.json")
