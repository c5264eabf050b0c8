"""File lists from SHA256SUMS.txt and from the RECORDS walk, with --subset and --limit."""

from __future__ import annotations

import pytest

from threekg.download.datasets import DATASETS
from threekg.download.http import NetworkError
from threekg.download.listing import Listing, build_listing, parse_sha256sums


def _fetcher(files: dict[str, str], calls: list[str] | None = None):  # type: ignore[no-untyped-def]
    def fetch(rel: str) -> str:
        if calls is not None:
            calls.append(rel)
        if rel not in files:
            raise NetworkError(f"http://x/{rel}", "HTTP 404 Not Found", retryable=False, status=404)
        return files[rel]
    return fetch


def test_parse_sha256sums_text_and_binary_mode_and_bad_lines() -> None:
    h = "ab" * 32
    listing = Listing()
    files = parse_sha256sums(f"{h}  a/b.hea\n{h.upper()} *a/c.mat\n\nnot a line\n{h}  ../x\n", listing)
    assert [(f.path, f.sha256) for f in files] == [("a/b.hea", h), ("a/c.mat", h)]
    assert [n for n, _ in listing.rejected] == ["not a line", "../x"]
    assert "line 4" in listing.rejected[0][1] and "line 5" in listing.rejected[1][1]


def test_sha256sums_listing_keeps_dataset_root_and_subset() -> None:
    h = "0" * 64
    sums = "\n".join(f"{h}  {p}" for p in ["README", "training/georgia/g1/E1.hea", "training/georgia/g1/E1.mat",
                                          "training/cpsc_2018/g1/A1.hea", "training/georgiaX/g1/Z.hea"])
    fetch = _fetcher({"SHA256SUMS.txt": sums})
    all_ = build_listing(DATASETS["cinc2021"], fetch)
    assert all_.source == "SHA256SUMS.txt" and "README" not in [f.path for f in all_.files]
    sub = build_listing(DATASETS["cinc2021"], fetch, subset="georgia")  # means training/georgia
    assert [f.path for f in sub.files] == ["training/georgia/g1/E1.hea", "training/georgia/g1/E1.mat"]


def test_records_walk_descends_only_into_relevant_folders_and_stops_at_limit() -> None:
    files = {"RECORDS": "training/a/g1/\ntraining/b/g1/\n",
             "training/a/g1/RECORDS": "A1\nA2\nA3\n", "training/b/g1/RECORDS": "B1\n"}
    calls: list[str] = []
    listing = build_listing(DATASETS["cinc2020"], _fetcher(files, calls), subset="training/b")
    assert listing.source == "RECORDS"
    assert [f.path for f in listing.files] == ["training/b/g1/B1.hea", "training/b/g1/B1.mat", "training/b/g1/RECORDS"]
    assert "training/a/g1/RECORDS" not in calls
    calls.clear()
    limited = build_listing(DATASETS["cinc2020"], _fetcher(files, calls), limit=2)
    assert sorted(f.path for f in limited.files if f.path.endswith(".hea")) == ["training/a/g1/A1.hea",
                                                                                "training/a/g1/A2.hea"]
    assert "training/b/g1/RECORDS" not in calls  # the walk stopped once it had 2 records


def test_missing_sub_records_is_a_failure_not_a_silent_gap() -> None:
    files = {"RECORDS": "training/a/\ntraining/b/\n", "training/a/RECORDS": "A1\n"}
    listing = build_listing(DATASETS["cinc2020"], _fetcher(files))
    assert [p for p, _ in listing.failed] == ["training/b/RECORDS"]


def test_non_404_error_on_sha256sums_propagates() -> None:
    def fetch(rel: str) -> str:
        raise NetworkError("http://x/SHA256SUMS.txt", "HTTP 503", retryable=True, status=503)
    with pytest.raises(NetworkError):
        build_listing(DATASETS["ptbxl"], fetch)
