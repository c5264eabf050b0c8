from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from report_fixtures import make_metrics, write_metrics

from threekg.cli.main import main
from threekg.report import MetricsFormatError, load_metrics
from threekg.report.schema import validate_metrics


def test_valid_file_loads_with_extra_and_without_optional_fields(tmp_path: Path) -> None:
    full = load_metrics(write_metrics(tmp_path / "full", make_metrics()))
    assert full["extra_field_from_a_newer_evaluate"] == {"kept": True}
    bare = load_metrics(write_metrics(tmp_path / "bare", make_metrics(optional=False)))
    assert "paired" not in bare and "groups" not in bare
    # the file path itself is accepted as well as its folder
    assert load_metrics(tmp_path / "full" / "metrics.json")["label_names"] == full["label_names"]


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.pop("summary"), "summary"),
        (lambda d: d["data"].pop("fs"), "data.fs"),
        (lambda d: d["runs"][3].pop("macro_auroc"), "runs[3].macro_auroc"),
        (lambda d: d["runs"][1].update(macro_auroc="0.8"), "runs[1].macro_auroc"),
        (lambda d: d["runs"][0].update(fraction=0.0), "runs[0].fraction"),
        (lambda d: d["summary"][2].update(encoder="nobody"), "summary[2].encoder"),
        (lambda d: d["summary"][0].update(ci_low=0.9, ci_high=0.1), "summary[0].ci_low"),
        (lambda d: d["summary"][1].update(macro_auroc_mean=1.7), "summary[1].macro_auroc_mean"),
        (lambda d: d["paired"][0].pop("diff_mean"), "paired[0].diff_mean"),
        (lambda d: d["runs"][2]["per_class_auroc"].update(AF="x"), "runs[2].per_class_auroc.AF"),
    ],
)
def test_malformed_file_names_file_and_field(tmp_path: Path, mutate: Any, field: str) -> None:
    doc = make_metrics()
    mutate(doc)
    folder = write_metrics(tmp_path / "bad", doc)
    with pytest.raises(MetricsFormatError) as exc:
        load_metrics(folder)
    assert exc.value.field == field
    assert str(folder / "metrics.json") in str(exc.value)
    assert field in str(exc.value)


def test_nan_confidence_interval_is_accepted(tmp_path: Path) -> None:
    doc = make_metrics()
    doc["summary"][0]["ci_low"] = float("nan")
    doc["paired"][0]["ci_high"] = None
    loaded = load_metrics(write_metrics(tmp_path / "nan", doc))
    assert math.isnan(loaded["summary"][0]["ci_low"])


def test_invalid_json_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "metrics.json").write_text("{not json")
    with pytest.raises(MetricsFormatError, match="not valid JSON"):
        load_metrics(tmp_path / "broken")
    with pytest.raises(MetricsFormatError, match="not found"):
        load_metrics(tmp_path / "absent")


def test_cli_reports_malformed_file_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = make_metrics(fractions=(0.1,), seeds=(0,))
    del doc["runs"][0]["per_class_auroc"]
    folder = write_metrics(tmp_path / "bad", doc)
    (folder / "metrics.json").write_text(json.dumps(doc))
    assert main(["report", str(folder), "--out", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert "metrics.json" in err and "runs[0].per_class_auroc" in err
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize("version", [2, 0, "1", True, None])
def test_unknown_schema_version_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], version: Any
) -> None:
    doc = make_metrics(fractions=(0.1,), seeds=(0,))
    doc["schema_version"] = version
    folder = write_metrics(tmp_path / "future", doc)
    assert main(["report", str(folder), "--out", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"threekg report: error: {folder / 'metrics.json'}: schema_version: version {version!r} is unknown")
    assert "reads version 1" in err and not (tmp_path / "r.html").exists()


def test_files_written_before_schema_versions() -> None:
    """Without the field: read as version 1 when it has `runs`, refused when it has the older `results`."""
    doc = make_metrics(fractions=(0.1,), seeds=(0,))
    del doc["schema_version"]
    assert validate_metrics(json.loads(json.dumps(doc)), Path("old/metrics.json"))["runs"] == doc["runs"]
    doc["results"] = doc.pop("runs")
    with pytest.raises(MetricsFormatError, match=r"schema_version: missing, and the file has `results`"):
        validate_metrics(doc, Path("older/metrics.json"))


def test_the_writer_writes_a_version_the_report_reads() -> None:
    from threekg.evaluate.outputs import METRICS_SCHEMA_VERSION
    from threekg.report.schema import READABLE_VERSIONS

    assert METRICS_SCHEMA_VERSION in READABLE_VERSIONS
