"""`threekg download`: help text, exit codes, and a killed / interrupted process resumed by a re-run."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from threekg.cli.main import main

from .conftest import BIG, ServerConfig, serve, tree_files

pytestmark = pytest.mark.timeout(90)


def test_help_lists_datasets_versions_and_licence(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["download", "--help"])
    out = capsys.readouterr().out
    for text in ("challenge-2020/1.0.2", "challenge-2021/1.0.3", "ptb-xl/1.0.3", "CC BY 4.0",
                 "agreeing to terms", "--subset", "--limit", "--workers", "--retries", "--timeout", "--no-verify"):
        assert text in out, text


def test_cli_success_then_failure_exit_codes(challenge_tree: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    cfg = ServerConfig(challenge_tree)
    with serve(cfg) as url:
        args = ["download", "cinc2020", "--dest", str(tmp_path / "d"), "--base-url", url,
                "--no-progress", "--backoff", "0.01"]
        assert main(args) == 0
        out = capsys.readouterr().out
        n = len(tree_files(challenge_tree / "challenge-2020/1.0.2", "training"))
        assert f"{n} files; {n} downloaded" in out and "0 failed" in out
        cfg.corrupt.add(f"challenge-2020/1.0.2/{BIG}")
        (tmp_path / "d" / BIG).unlink()
        assert main([*args, "--retries", "0"]) == 2
        captured = capsys.readouterr()
        assert "FAILED " + BIG in captured.out and "checksum mismatch" in captured.out
        assert "Traceback" not in captured.err
        assert captured.err.strip().startswith("threekg download: error: 1 file(s) not in place")


def test_cli_unreachable_server_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = main(["download", "ptbxl", "--dest", str(tmp_path / "d"), "--base-url", f"http://127.0.0.1:{port}/",
                 "--retries", "0", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "connection refused" in err and "Traceback" not in err
    assert err.strip().count("\n") == 0


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_run_is_finished_by_rerun(challenge_tree: Path, tmp_path: Path, sig: signal.Signals) -> None:
    rel = f"challenge-2020/1.0.2/{BIG}"
    cfg = ServerConfig(challenge_tree, throttle={rel: 0.05})
    dest = tmp_path / "d"
    part = dest / (BIG + ".part")
    with serve(cfg) as url:
        args = ["download", "cinc2020", "--dest", str(dest), "--base-url", url, "--no-progress",
                "--subset", "training/cpsc_2018", "--workers", "1"]
        # SIGINT back to its default in the child: a suite started in the background by a
        # non-interactive shell (`cmd &`) inherits SIGINT ignored, and Python keeps it ignored.
        proc = subprocess.Popen([sys.executable, "-m", "threekg.cli.main", *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        try:
            deadline = time.monotonic() + 30
            while not (part.exists() and part.stat().st_size >= 32_768) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert part.exists(), "the transfer never started"
            proc.send_signal(sig)
            _, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
        if sig == signal.SIGINT:
            assert proc.returncode == 130 and "re-run the same command to resume" in err
            assert "Traceback" not in err
        else:
            assert proc.returncode == -signal.SIGKILL
        assert not (dest / BIG).exists()
        kept = part.stat().st_size
        assert 0 < kept < 300_000
        done_before = {f"challenge-2020/1.0.2/{k}" for k in tree_files(dest, "training") if not k.endswith(".part")}
        assert done_before  # workers=1, path order: A0001.* finished before A0002.mat
        cfg.throttle.clear()
        cfg.log.clear()
        assert main(args) == 0
    ranges = cfg.gets(rel)
    assert ranges == [f"bytes={kept}-"]  # continued, not restarted
    fetched = {p for m, p, _ in cfg.log if m == "GET"}
    assert rel in fetched and not fetched & done_before  # files finished before the kill: no GET
    assert tree_files(dest, "training") == tree_files(challenge_tree / "challenge-2020/1.0.2", "training/cpsc_2018")
