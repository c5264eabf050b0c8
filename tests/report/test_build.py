from __future__ import annotations

import base64
import io
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from report_fixtures import make_metrics, write_metrics

from threekg.cli.main import main
from threekg.report import build_report
from threekg.report.build import FIGURE_FILES, SUMMARY_FILE, files_dir

CELL = re.compile(r"^(\d\.\d{3}) \[(\d\.\d{2}), (\d\.\d{2})\]$")
GAIN = re.compile(r"^([+-]\d+\.\d)% \(vs (.+)\)$")


class _Page(HTMLParser):
    """Collects tag attributes and every table as rows of (text, bold) cells."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.tables: list[tuple[str, list[list[tuple[str, bool]]]]] = []
        self._row: list[tuple[str, bool]] | None = None
        self._cell: list[str] | None = None
        self._bold = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "table":
            self.tables.append((dict(attrs).get("class") or "", []))
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell, self._bold = [], False
        elif tag == "b" and self._cell is not None:
            self._bold = True

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(("".join(self._cell).strip(), self._bold))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1][1].append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _table(page: _Page, css: str) -> list[list[tuple[str, bool]]]:
    return next(rows for cls, rows in page.tables if cls == css)


def _summary(doc: dict[str, Any]) -> dict[tuple[str, float], dict[str, Any]]:
    return {(r["encoder"], r["fraction"]): r for r in doc["summary"]}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    tmp = tmp_path_factory.mktemp("rep")
    doc = make_metrics(encoders=("3kg", "simclr", "cmsc", "random", "supervised"), rng_seed=3)
    out = build_report([write_metrics(tmp / "eval", doc)], tmp / "out" / "report.html")
    return doc, out


def test_page_is_self_contained(built: tuple[dict[str, Any], Path]) -> None:
    _, out = built
    text = out.read_text(encoding="utf-8")
    page = _parse(out)
    imgs = [a for t, a in page.tags if t == "img"]
    assert len(imgs) == 3
    for attrs in imgs:
        src = attrs["src"] or ""
        assert src.startswith("data:image/png;base64,")
        Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).verify()
    assert not [t for t, _ in page.tags if t in ("script", "link", "iframe")]
    for _, attrs in page.tags:
        for key in ("src", "href"):
            assert not (attrs.get(key) or "").startswith(("http:", "https:", "//"))
    assert "url(" not in text and "@import" not in text


def test_headline_table_numbers_come_from_the_input(built: tuple[dict[str, Any], Path]) -> None:
    doc, out = built
    summary = _summary(doc)
    fractions = sorted({f for _, f in summary})
    rows = _table(_parse(out), "headline")
    assert [h for h, _ in rows[0]] == ["Encoder", "1% labels", "10% labels", "100% labels"]
    encoders = [r[0][0] for r in rows[1:] if not r[0][0].endswith("baseline")]
    assert sorted(encoders) == sorted(doc["encoders"]) and encoders[0] == "3kg"
    for row in rows[1:]:
        name = row[0][0]
        if name.endswith("baseline"):
            continue
        for (text, bold), f in zip(row[1:], fractions, strict=True):
            m = CELL.match(text)
            assert m, text
            s = summary[(name, f)]
            assert float(m[1]) == pytest.approx(s["macro_auroc_mean"], abs=5e-4)
            assert float(m[2]) == pytest.approx(s["ci_low"], abs=5e-3)
            assert float(m[3]) == pytest.approx(s["ci_high"], abs=5e-3)
            best = max(summary[(e, f)]["macro_auroc_mean"] for e in doc["encoders"])
            assert bold == (s["macro_auroc_mean"] == best)
    gain_row = next(r for r in rows if r[0][0].startswith("3kg: gain"))
    for (text, _), f in zip(gain_row[1:], fractions, strict=True):
        m = GAIN.match(text)
        assert m, text
        ssl = {e: summary[(e, f)]["macro_auroc_mean"] for e in ("simclr", "cmsc")}
        best_name = max(ssl, key=lambda e: ssl[e])
        expected = 100 * (summary[("3kg", f)]["macro_auroc_mean"] - ssl[best_name]) / ssl[best_name]
        assert m[2] == best_name
        assert float(m[1]) == pytest.approx(expected, abs=0.051)


def test_per_class_table_matches_input(built: tuple[dict[str, Any], Path]) -> None:
    doc, out = built
    summary = _summary(doc)
    rows = _table(_parse(out), "perclass")
    spans, header = rows[0], rows[1]
    encoders = header[2 : 2 + len(doc["encoders"])]
    fractions = sorted({f for _, f in summary})
    assert len(spans) == 1 + len(fractions)
    classes = [r[1][0] for r in rows[2:]]
    assert sorted(classes) == sorted(doc["label_names"])
    # sorted by group: groups in the file's order, classes within a group in label order
    flat = [c for members in doc["groups"].values() for c in doc["label_names"] if c in members]
    assert classes == flat
    for r in rows[2:]:
        cls, cells = r[1][0], r[2:]
        for i, (text, _) in enumerate(cells):
            f, enc = fractions[i // len(encoders)], encoders[i % len(encoders)][0]
            assert float(text) == pytest.approx(summary[(enc, f)]["per_class_auroc_mean"][cls], abs=5e-4)


def test_pngs_and_summary_md(built: tuple[dict[str, Any], Path]) -> None:
    doc, out = built
    fdir = files_dir(out)
    for name in FIGURE_FILES.values():
        with Image.open(fdir / name) as im:
            im.verify()
        with Image.open(fdir / name) as im:
            assert im.format == "PNG" and im.size[0] > 800 and im.size[1] > 400
    md = (fdir / SUMMARY_FILE).read_text()
    table = [line for line in md.splitlines() if line.startswith("|")]
    assert len(table) == 2 + len(doc["encoders"]) + 1
    s = _summary(doc)[("3kg", 0.01)]
    assert f"{s['macro_auroc_mean']:.3f} [{s['ci_low']:.2f}, {s['ci_high']:.2f}]" in md


def test_bare_file_without_optional_fields(tmp_path: Path) -> None:
    doc = make_metrics(optional=False, fractions=(0.05, 1.0), seeds=(0, 1))
    out = build_report([write_metrics(tmp_path / "bare", doc)], tmp_path / "bare.html")
    page = _parse(out)
    assert len([t for t, _ in page.tags if t == "img"]) == 3
    # per-class means come from the runs when the summary has none
    rows = _table(page, "perclass")
    af = next(r for r in rows if r[1][0] == "AF")
    expected = np.mean([r["per_class_auroc"]["AF"] for r in doc["runs"] if r["encoder"] == "3kg"
                        and r["fraction"] == 0.05])
    assert float(af[2][0]) == pytest.approx(expected, abs=5e-4)


def test_merging_two_folders_keeps_provenance(tmp_path: Path) -> None:
    a = write_metrics(tmp_path / "eval_a", make_metrics(encoders=("3kg", "random"), rng_seed=1))
    b = write_metrics(tmp_path / "eval_b", make_metrics(encoders=("3kg", "simclr"), rng_seed=2,
                                                        data_path="/data/other"))
    out = build_report([a, b], tmp_path / "merged.html")
    page = _parse(out)
    rows = _table(page, "headline")
    assert rows[0][:2] == [("Encoder", False), ("Folder", False)]
    by_name = {r[0][0]: r[1][0] for r in rows[1:] if not r[0][0].endswith("baseline")}
    assert by_name == {"3kg [eval_a]": "A", "3kg [eval_b]": "B", "random": "A", "simclr": "B"}
    gains = {r[0][0]: [c for c, _ in r[2:]] for r in rows[1:] if r[0][0].endswith("baseline")}
    # simclr was evaluated on other data than 3kg [eval_a]: no gain across folders with different data
    assert gains["3kg [eval_a]: gain over best self-supervised baseline"] == ["—"] * 3
    assert all(c.endswith("(vs simclr)") for c in gains["3kg [eval_b]: gain over best self-supervised baseline"])
    text = out.read_text()
    assert "differ in data" in text and "/data/other" in text
    assert str(a) in text and str(b) in text


def test_focus_option_and_unknown_focus(tmp_path: Path) -> None:
    d = write_metrics(tmp_path / "e", make_metrics(encoders=("simclr", "cmsc", "random"), fractions=(0.1,)))
    out = build_report([d], tmp_path / "f.html", focus="cmsc")
    rows = _table(_parse(out), "headline")
    assert rows[1][0][0] == "cmsc" and any(r[0][0].startswith("cmsc: gain") for r in rows)
    with pytest.raises(ValueError, match="matches no encoder"):
        build_report([d], tmp_path / "g.html", focus="3kg")


def test_cli_writes_report(tmp_path: Path) -> None:
    d = write_metrics(tmp_path / "e", make_metrics(fractions=(0.01, 1.0), seeds=(0,)))
    assert main(["report", str(d), "--out", str(tmp_path / "x" / "r.html")]) == 0
    assert (tmp_path / "x" / "r.html").is_file() and (tmp_path / "x" / "r_files" / SUMMARY_FILE).is_file()


def test_challenge_metric_names_its_threshold(tmp_path: Path) -> None:
    doc = make_metrics(encoders=("3kg", "random"), fractions=(0.1,))
    doc["options"] = {"threshold": 0.5}
    other = make_metrics(encoders=("simclr",), fractions=(0.1,), data_path="/data/other")  # no options
    out = build_report([write_metrics(tmp_path / "a", doc), write_metrics(tmp_path / "b", other)],
                       tmp_path / "r.html")
    text = out.read_text(encoding="utf-8")
    expected = np.mean([r["challenge_metric"] for r in doc["runs"] if r["encoder"] == "3kg"])
    assert f"challenge {expected:.3f} (p ≥ 0.5)" in text
    assert "(threshold not recorded)" in text and "one global threshold for every class" in text
