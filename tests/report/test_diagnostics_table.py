"""The report's representation-diagnostics table: values from metrics.json, readings against random."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from report_fixtures import make_metrics, write_metrics

from threekg.report import build_report
from threekg.report.build import SUMMARY_FILE, files_dir
from threekg.report.diagnostics import diagnostics_table
from threekg.report.model import merge
from threekg.report.schema import MetricsFormatError, load_metrics


def _diag(knn: float, erank: float, shortcut: float | None, time_shift: float, **extra: Any) -> dict[str, Any]:
    return {"embed_dim": 128, "max_rank": 128, "effective_rank": erank, "dims_99": 70,
            "knn": [{"fraction": 0.1, "macro_auroc_mean": knn - 0.05, "per_seed": {}},
                    {"fraction": 1.0, "macro_auroc_mean": knn, "per_seed": {}}],
            "alignment": 0.03, "uniformity": -0.5,
            "invariance": {"rotation_scaling": 0.9, "time_mask": 0.8, "time_shift": time_shift},
            "shortcut_r2": shortcut, "peak_train_r2": None if shortcut is None else shortcut / 2,
            "shortcut": {"n_crops": 1800, "n_records": 500, "lead": "II"},
            "views": {"n_records": 500, "n_crops": 2000, "crop_samples": 500, "records": "all", "seed": 0}, **extra}


def _doc() -> dict[str, Any]:
    doc = make_metrics(encoders=("3kg", "simclr", "random"), fractions=(0.1, 1.0))
    doc["diagnostics"] = {
        "3kg": _diag(0.64, 62.6, 0.43, 0.22),
        "simclr": _diag(0.70, 12.0, 0.18, 0.50),
        "random": _diag(0.69, 52.6, 0.17, 0.25),
    }
    return doc


def _rows(doc: dict[str, Any], tmp_path: Path) -> dict[str, list[str]]:
    path = write_metrics(tmp_path / "eval", doc) / "metrics.json"
    table = diagnostics_table(merge([(path, load_metrics(path))]))
    assert table is not None
    assert table.header == ["Diagnostic", "3kg", "simclr", "random", "Reading"]
    return {row[0].text: [c.text for c in row[1:]] for row in table.rows}


def test_values_and_readings_against_random(tmp_path: Path) -> None:
    rows = _rows(_doc(), tmp_path)
    assert rows["kNN macro AUROC (100% labels)"][:3] == ["0.640", "0.700", "0.690"]
    assert rows["kNN macro AUROC (10% labels)"][:3] == ["0.590", "0.650", "0.640"]
    knn = rows["kNN macro AUROC (100% labels)"][3]
    assert "3kg 0.64 vs random 0.69: neighbourhoods carry less label information" in knn
    assert "simclr 0.7 vs random 0.69: about the same as random" in knn
    erank = rows["Effective rank"]
    assert erank[:3] == ["62.6 of 128", "12.0 of 128", "52.6 of 128"]
    assert "3kg 62.6 vs random 52.6: uses more dimensions" in erank[3]
    assert "simclr 12 vs random 52.6: uses fewer dimensions" in erank[3]
    shortcut = rows["Timing shortcut: R² of the cycle phase at the crop edges"]
    assert shortcut[:3] == ["0.430", "0.180", "0.170"]
    assert "3kg 0.43 vs random 0.17: encodes more of where the beats fall than random (the timing shortcut)" in shortcut[3]
    assert "simclr 0.18 vs random 0.17: about the same" in shortcut[3]
    shift = rows["Invariance to a time shift (≤ 0.5 s)"][3]
    assert "simclr 0.5 vs random 0.25: is more invariant to moving the window" in shift
    assert "3kg 0.22 vs random 0.25: about the same" in shift


def test_skipped_shortcut_shows_a_dash_and_the_reason(tmp_path: Path) -> None:
    doc = _doc()
    for d in doc["diagnostics"].values():
        d.update(shortcut_r2=None, peak_train_r2=None, shortcut={"n_crops": 0, "skipped": "NeuroKit2 is not installed"})
    path = write_metrics(tmp_path / "eval", doc) / "metrics.json"
    table = diagnostics_table(merge([(path, load_metrics(path))]))
    assert table is not None
    assert not any("R²" in row[0].text for row in table.rows)  # a row no encoder has is left out
    assert any("timing-shortcut test skipped: NeuroKit2 is not installed" in n for n in table.notes)


def test_no_random_encoder_and_no_diagnostics(tmp_path: Path) -> None:
    doc = _doc()
    del doc["diagnostics"]["random"]
    rows = _rows_without_random(doc, tmp_path)
    assert all("no random encoder to compare with" in r[-1] for r in rows)
    bare = make_metrics(encoders=("3kg", "random"))
    path = write_metrics(tmp_path / "bare", bare) / "metrics.json"
    assert diagnostics_table(merge([(path, load_metrics(path))])) is None


def _rows_without_random(doc: dict[str, Any], tmp_path: Path) -> list[list[str]]:
    path = write_metrics(tmp_path / "norandom", doc) / "metrics.json"
    table = diagnostics_table(merge([(path, load_metrics(path))]))
    assert table is not None and table.header == ["Diagnostic", "3kg", "simclr", "Reading"]
    return [[c.text for c in row] for row in table.rows]


def test_page_and_summary_show_the_diagnostics(tmp_path: Path) -> None:
    out = build_report([write_metrics(tmp_path / "eval", _doc())], tmp_path / "report.html")
    page = out.read_text()
    assert "<h2>Representation diagnostics</h2>" in page and 'class="diag"' in page
    assert "encodes more of where the beats fall than random" in page
    assert "effective_rank" not in page.split("Other fields of metrics.json")[1]  # not dumped again as JSON
    summary = (files_dir(out) / SUMMARY_FILE).read_text()
    assert "## Representation diagnostics" in summary and "| Effective rank | 62.6 of 128 |" in summary


def test_schema_rejects_diagnostics_of_an_unknown_encoder(tmp_path: Path) -> None:
    doc = _doc()
    doc["diagnostics"]["ghost"] = _diag(0.5, 1.0, 0.0, 0.0)
    with pytest.raises(MetricsFormatError, match=r"diagnostics\.ghost"):
        load_metrics(write_metrics(tmp_path / "eval", doc))
    doc = _doc()
    doc["diagnostics"]["3kg"]["effective_rank"] = "many"
    with pytest.raises(MetricsFormatError, match=r"diagnostics\.3kg\.effective_rank"):
        load_metrics(write_metrics(tmp_path / "eval2", doc))
