"""Remote-name validation: every unsafe form is rejected with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from threekg.download.paths import UnsafePathError, safe_target, validate_relpath


@pytest.mark.parametrize(("name", "reason"), [
    ("", "empty"),
    ("../evil", "'..'"),
    ("a/../../b", "'..'"),
    ("training/..", "'..'"),
    ("/etc/x", "absolute"),
    ("C:\\x", "backslash"),
    ("C:x", "drive letter"),
    ("a\\b", "backslash"),
    ("a/\x00b", "control character"),
    ("a/b\n", "control character"),
    ("a//b", "empty or '.'"),
    ("./a", "empty or '.'"),
    ("a/", "empty or '.'"),
    ("a/b.mat.part", ".part"),
    ("sub/.threekg-download.json", "reserved"),
])
def test_unsafe_names_are_rejected_with_reason(name: str, reason: str) -> None:
    with pytest.raises(UnsafePathError) as exc:
        validate_relpath(name)
    assert reason in exc.value.reason
    assert "\n" not in str(exc.value)  # one line, even for names holding a newline


@pytest.mark.parametrize("name", ["RECORDS", "training/georgia/g1/E00001.hea", "records100/00000/00001_lr.dat",
                                  "a..b/c", "..hidden", "ptbxl_database.csv"])
def test_ordinary_names_pass(name: str) -> None:
    assert validate_relpath(name) == name


def test_safe_target_stays_inside_and_follows_symlinks(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    (dest / "ok").mkdir(parents=True)
    assert safe_target(dest, "ok/a.hea") == dest.resolve() / "ok" / "a.hea"
    (tmp_path / "out").mkdir()
    (dest / "link").symlink_to(tmp_path / "out")
    with pytest.raises(UnsafePathError, match="outside the destination"):
        safe_target(dest, "link/a.hea")
    (dest / "ok" / "b.hea.part").symlink_to(tmp_path / "out" / "x")  # a planted .part symlink
    with pytest.raises(UnsafePathError, match="outside the destination"):
        safe_target(dest, "ok/b.hea")
