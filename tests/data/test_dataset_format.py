"""The prepared-dataset format: write_dataset / open_dataset round trip and refusal of incomplete folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from threekg.data import DatasetError, open_dataset, write_dataset
from threekg.leads import LEADS


def _small(tmp_path: Path, n: int = 5, t: int = 200) -> tuple[Path, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    signals = rng.normal(size=(n, 12, t)).astype(np.float32)
    labels = rng.integers(0, 2, size=(n, 3)).astype(np.uint8)
    out = tmp_path / "ds"
    records = pd.DataFrame({"record": [f"r{i}" for i in range(n)], "patient_id": ["p0", "", "p1", "", "p1"]})
    write_dataset(out, signals, labels, ["A", "B", "C"], records, fs=100.0, label_set="test",
                  source="unit", options={"seconds": 2})
    return out, signals, labels


def test_round_trip(tmp_path: Path) -> None:
    out, signals, labels = _small(tmp_path)
    ds = open_dataset(out)
    assert len(ds) == 5 and ds.n_samples == 200 and ds.fs == 100.0
    np.testing.assert_array_equal(ds.signals, signals)
    np.testing.assert_array_equal(ds.labels, labels)
    assert isinstance(ds.signals, np.memmap) and not ds.signals.flags.writeable
    assert ds.label_names == ["A", "B", "C"]
    assert ds.records["patient_id"].tolist() == ["p0", "r1", "p1", "r3", "p1"]
    assert list(ds.records.columns[:8]) == ["record", "source_file", "patient_id", "age", "sex",
                                            "fs_original", "n_samples_original", "codes"]
    m = ds.manifest
    assert m["leads"] == list(LEADS) and m["n_records"] == 5 and m["n_rejected"] == 0
    assert m["options"] == {"seconds": 2} and m["label_set"] == "test" and "threekg_version" in m
    assert len(ds.rejected) == 0 and list(ds.rejected.columns) == ["record", "reason"]
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # temp folder cleaned up


def test_incomplete_dataset_is_refused(tmp_path: Path) -> None:
    out, _, _ = _small(tmp_path)
    (out / "manifest.json").unlink()
    with pytest.raises(DatasetError, match=r"no manifest\.json"):
        open_dataset(out)


def test_inconsistent_manifest_is_refused(tmp_path: Path) -> None:
    out, _, _ = _small(tmp_path)
    m = json.loads((out / "manifest.json").read_text())
    m["n_records"] = 6
    (out / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(DatasetError, match=r"signals\.npy has shape"):
        open_dataset(out)


def test_existing_output_needs_overwrite(tmp_path: Path) -> None:
    out, signals, labels = _small(tmp_path)
    with pytest.raises(FileExistsError):
        write_dataset(out, signals, labels, ["A", "B", "C"], pd.DataFrame({"record": list("abcde")}),
                      fs=100, label_set="x", source="unit")
    ds = write_dataset(out, signals[:2], labels[:2], ["A", "B", "C"], pd.DataFrame({"record": ["a", "b"]}),
                       fs=100, label_set="x", source="unit", overwrite=True)
    assert len(ds) == 2


def test_shape_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\(N, 12, T\)"):
        write_dataset(tmp_path / "x", np.zeros((2, 8, 10)), np.zeros((2, 0)), [], pd.DataFrame({"record": ["a", "b"]}),
                      fs=100, label_set="x", source="unit")
