"""End-to-end downloads from a local PhysioNet-layout server (127.0.0.1 only)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from threekg.download import DownloadError, download
from threekg.download.paths import STATE_FILE

from .conftest import BIG, ServerConfig, build_challenge_tree, build_ptbxl_tree, serve, tree_files

pytestmark = pytest.mark.timeout(60)
FAST = {"backoff": 0.01, "timeout": 5.0, "progress": False, "workers": 3}


def _local_files(dest: Path) -> dict[str, bytes]:
    return {p.relative_to(dest).as_posix(): p.read_bytes() for p in dest.rglob("*")
            if p.is_file() and p.name not in (STATE_FILE, "SHA256SUMS.txt")}


def test_full_download_equals_tree_byte_for_byte(challenge_tree: Path, tmp_path: Path) -> None:
    vroot = challenge_tree / "challenge-2020" / "1.0.2"
    cfg = ServerConfig(challenge_tree)
    dest = tmp_path / "dest"
    with serve(cfg) as url:
        s = download("cinc2020", dest, base_url=url, **FAST)
    expected = tree_files(vroot, "training")
    assert s.ok and s.source == "SHA256SUMS.txt"
    assert s.downloaded == len(expected) == s.n_files and s.skipped == 0
    assert s.bytes_downloaded == sum(len(b) for b in expected.values())
    assert _local_files(dest) == expected  # training/ only: the root CSV is not part of cinc2020
    assert not list(dest.rglob("*.part"))
    state = json.loads((dest / STATE_FILE).read_text())
    assert set(state["files"]) == set(expected) and state["dataset"] == "cinc2020"


def test_rerun_skips_finished_files_without_get(challenge_tree: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    cfg = ServerConfig(challenge_tree)
    with serve(cfg) as url:
        download("cinc2020", dest, base_url=url, **FAST)
        cfg.log.clear()
        s = download("cinc2020", dest, base_url=url, **FAST)
        assert s.ok and s.downloaded == 0 and s.skipped == s.n_files > 0
        assert [p for m, p, _ in cfg.log] == ["challenge-2020/1.0.2/SHA256SUMS.txt"]
        # Without the state file the files are re-hashed locally, still no GET of any data file.
        (dest / STATE_FILE).unlink()
        cfg.log.clear()
        s = download("cinc2020", dest, base_url=url, **FAST)
        assert s.skipped == s.n_files and [p for m, p, _ in cfg.log] == ["challenge-2020/1.0.2/SHA256SUMS.txt"]


def test_changed_local_file_is_downloaded_again(challenge_tree: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    cfg = ServerConfig(challenge_tree)
    with serve(cfg) as url:
        download("cinc2020", dest, base_url=url, **FAST)
        (dest / BIG).write_bytes(b"tampered")
        cfg.log.clear()
        s = download("cinc2020", dest, base_url=url, **FAST)
    assert s.ok and s.downloaded == 1
    assert (dest / BIG).read_bytes() == (challenge_tree / "challenge-2020/1.0.2" / BIG).read_bytes()


def test_dropped_connection_is_resumed_with_range(challenge_tree: Path, tmp_path: Path) -> None:
    rel = f"challenge-2020/1.0.2/{BIG}"
    cfg = ServerConfig(challenge_tree, drop_after={rel: 100_000})
    dest = tmp_path / "dest"
    with serve(cfg) as url:
        s = download("cinc2020", dest, base_url=url, retries=2, **FAST)
    assert s.ok, s.format()
    assert cfg.gets(rel) == [None, "bytes=100000-"]
    assert (dest / BIG).read_bytes() == (challenge_tree / rel).read_bytes()


def test_part_file_from_killed_run_is_continued(challenge_tree: Path, tmp_path: Path) -> None:
    rel = f"challenge-2020/1.0.2/{BIG}"
    data = (challenge_tree / rel).read_bytes()
    dest = tmp_path / "dest"
    (dest / BIG).parent.mkdir(parents=True)
    (dest / (BIG + ".part")).write_bytes(data[:123_456])
    cfg = ServerConfig(challenge_tree)
    with serve(cfg) as url:
        s = download("cinc2020", dest, base_url=url, subset="training/cpsc_2018", **FAST)
    assert s.ok and cfg.gets(rel) == ["bytes=123456-"]
    assert s.bytes_downloaded == sum(len(b) for b in tree_files(challenge_tree / "challenge-2020/1.0.2",
                                                                 "training/cpsc_2018").values()) - 123_456
    assert (dest / BIG).read_bytes() == data and not (dest / (BIG + ".part")).exists()


def test_server_ignoring_range_restarts_the_file(challenge_tree: Path, tmp_path: Path) -> None:
    rel = f"challenge-2020/1.0.2/{BIG}"
    dest = tmp_path / "dest"
    (dest / BIG).parent.mkdir(parents=True)
    (dest / (BIG + ".part")).write_bytes(b"\x00" * 5_000)  # wrong bytes: must not be kept
    cfg = ServerConfig(challenge_tree, support_range=False)
    with serve(cfg) as url:
        s = download("cinc2020", dest, base_url=url, subset="training/cpsc_2018", **FAST)
    assert s.ok and cfg.gets(rel) == ["bytes=5000-"]  # asked, got a 200, restarted
    assert (dest / BIG).read_bytes() == (challenge_tree / rel).read_bytes()


def test_checksum_mismatch_fails_and_is_not_renamed(challenge_tree: Path, tmp_path: Path) -> None:
    rel = "challenge-2020/1.0.2/training/georgia/g1/E00001.mat"
    cfg = ServerConfig(challenge_tree, corrupt={rel})
    dest = tmp_path / "dest"
    with serve(cfg) as url:
        s = download("cinc2020", dest, base_url=url, retries=2, **FAST)
    assert not s.ok and [p for p, _ in s.failed] == ["training/georgia/g1/E00001.mat"]
    assert "checksum mismatch" in s.failed[0][1] and url in s.failed[0][1]
    assert len(cfg.gets(rel)) == 3  # first try + 2 retries, then it gives up
    assert not (dest / "training/georgia/g1/E00001.mat").exists()
    assert not (dest / "training/georgia/g1/E00001.mat.part").exists()
    assert s.downloaded == s.n_files - 1
    assert "FAILED training/georgia/g1/E00001.mat" in s.format()


def test_no_verify_accepts_corrupted_bytes(challenge_tree: Path, tmp_path: Path) -> None:
    cfg = ServerConfig(challenge_tree, corrupt={"challenge-2020/1.0.2/training/georgia/g1/E00001.mat"})
    with serve(cfg) as url:
        s = download("cinc2020", tmp_path / "d", base_url=url, verify=False, **FAST)
    assert s.ok  # documented: --no-verify trusts the server


def test_path_traversal_names_are_rejected_and_nothing_escapes(tmp_path: Path) -> None:
    server = tmp_path / "server"
    vroot = build_challenge_tree(server, sums=False)
    (server / "evil").write_bytes(b"evil")  # would be reachable as ../evil from the project folder
    bad = ["../evil", "/etc/x", "training/a/../../b", "C:\\x", "training\\x", "training/\x01ctl", "training//x"]
    from .conftest import write_sums

    write_sums(vroot, extra_lines=tuple(f"{'0' * 64}  {name}" for name in bad))
    before = {p for p in tmp_path.rglob("*")}
    cfg = ServerConfig(server)
    dest = tmp_path / "dest"
    with serve(cfg) as url:
        s = download("cinc2020", dest, base_url=url, **FAST)
    rejected = dict(s.rejected)
    assert set(rejected) == set(bad) and not s.ok and s.downloaded == s.n_files
    assert "'..'" in rejected["../evil"] and "absolute" in rejected["/etc/x"]
    assert "backslash" in rejected["training\\x"] and "control" in rejected["training/\x01ctl"]
    created = {p for p in tmp_path.rglob("*")} - before
    assert all(p == dest or p.is_relative_to(dest) for p in created)
    assert not any("evil" in p for m, p, _ in cfg.log)


def test_traversal_in_records_files_is_rejected(tmp_path: Path) -> None:
    server = tmp_path / "server"
    vroot = build_challenge_tree(server, sums=False)
    with (vroot / "training/georgia/g1/RECORDS").open("a") as f:
        f.write("../../../../outside\n/abs/rec\nC:\\rec\n")
    with (vroot / "RECORDS").open("a") as f:
        f.write("training/../../up/\n")
    dest = tmp_path / "dest"
    with serve(ServerConfig(server)) as url:
        s = download("cinc2020", dest, base_url=url, **FAST)
    assert s.source == "RECORDS"
    assert {n for n, _ in s.rejected} == {"../../../../outside", "/abs/rec", "C:\\rec", "training/../../up/"}
    assert not (tmp_path / "outside.hea").exists() and s.downloaded == s.n_files and s.failed == []


def test_symlink_inside_dest_pointing_outside_is_rejected(challenge_tree: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    outside = tmp_path / "outside"
    (dest / "training").mkdir(parents=True)
    outside.mkdir()
    (dest / "training" / "georgia").symlink_to(outside, target_is_directory=True)
    with serve(ServerConfig(challenge_tree)) as url:
        s = download("cinc2020", dest, base_url=url, **FAST)
    assert {p for p, _ in s.rejected} == {p for p in tree_files(challenge_tree / "challenge-2020/1.0.2",
                                                                "training/georgia")}
    assert all("outside the destination" in r for _, r in s.rejected)
    assert list(outside.iterdir()) == []


def test_records_walk_without_sha256sums(tmp_path: Path) -> None:
    server = tmp_path / "server"
    vroot = build_ptbxl_tree(server, sums=False)
    dest = tmp_path / "dest"
    cfg = ServerConfig(server)
    with serve(cfg) as url:
        s = download("ptbxl", dest, base_url=url, subset="records100", **FAST)
        assert s.ok and s.source == "RECORDS"
        got = _local_files(dest)
        want = {k: v for k, v in tree_files(vroot).items() if k.startswith("records100/")}
        assert got == want  # .hea + .dat of each 100 Hz record; CSVs are not under records100
        cfg.log.clear()
        s = download("ptbxl", dest, base_url=url, subset="records100", **FAST)
        assert s.skipped == s.n_files and not [p for m, p, _ in cfg.log if m == "GET" and p.endswith(".dat")]
        (dest / STATE_FILE).unlink()  # no state, no checksum: sizes from HEAD decide
        cfg.log.clear()
        s = download("ptbxl", dest, base_url=url, subset="records100", **FAST)
        assert s.skipped == s.n_files and {m for m, p, _ in cfg.log if p.endswith(".dat")} == {"HEAD"}


def test_ptbxl_limit_keeps_csvs_and_n_records(tmp_path: Path) -> None:
    server = tmp_path / "server"
    build_ptbxl_tree(server, sums=True)
    dest = tmp_path / "dest"
    with serve(ServerConfig(server)) as url:
        s = download("ptbxl", dest, base_url=url, limit=2, **FAST)
    assert s.ok and s.source == "SHA256SUMS.txt"
    got = set(_local_files(dest))
    assert {"ptbxl_database.csv", "scp_statements.csv", "RECORDS"} <= got
    assert sum(p.endswith(".hea") for p in got) == 2 and sum(p.endswith(".dat") for p in got) == 2


def test_http_404_names_url_and_status(challenge_tree: Path, tmp_path: Path) -> None:
    (challenge_tree / "challenge-2020/1.0.2/training/georgia/g1/E00002.hea").unlink()
    cfg = ServerConfig(challenge_tree)
    with serve(cfg) as url:
        s = download("cinc2020", tmp_path / "d", base_url=url, retries=3, **FAST)
    assert [p for p, _ in s.failed] == ["training/georgia/g1/E00002.hea"]
    reason = s.failed[0][1]
    assert "HTTP 404" in reason and f"{url}challenge-2020/1.0.2/training/georgia/g1/E00002.hea" in reason
    assert len(cfg.gets("challenge-2020/1.0.2/training/georgia/g1/E00002.hea")) == 1  # 404 is not retried


def test_connection_refused_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(DownloadError, match=r"127\.0\.0\.1:\d+/challenge-2020/1\.0\.2/SHA256SUMS\.txt: "
                                            r"connection refused"):
        download("cinc2020", tmp_path / "d", base_url=f"http://127.0.0.1:{port}/", retries=1, **FAST)


def test_timeout_is_reported_and_retried(challenge_tree: Path, tmp_path: Path) -> None:
    rel = "challenge-2020/1.0.2/training/georgia/g1/E00001.hea"
    cfg = ServerConfig(challenge_tree, delay={rel: 1.5})
    with serve(cfg) as url:
        s = download("cinc2020", tmp_path / "d", base_url=url, retries=1,
                     **{**FAST, "timeout": 0.3})
    assert [p for p, _ in s.failed] == ["training/georgia/g1/E00001.hea"]
    assert "timed out after 0.3 s" in s.failed[0][1] and len(cfg.gets(rel)) == 2


def test_other_dataset_in_dest_is_refused(challenge_tree: Path, tmp_path: Path) -> None:
    dest = tmp_path / "d"
    with serve(ServerConfig(challenge_tree)) as url:
        download("cinc2020", dest, base_url=url, **FAST)
        with pytest.raises(DownloadError, match="already holds a download of cinc2020"):
            download("ptbxl", dest, base_url=url, **FAST)
