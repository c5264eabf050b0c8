"""`threekg pretrain` on the command line, a 2-process DDP run and a real SIGKILL + --resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from threekg.cli.main import main
from threekg.models import load_encoder

SETS = ["--set", "data.crop_seconds=1.0", "--set", "trainer.log_every_n_steps=1", "--set", "trainer.progress_bar=false",
        "--set", "encoder.options={width: 8}", "--set", "trainer.checkpoint_every_n_steps=2"]


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "threekg.cli.main", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_help_lists_methods_and_presets(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["pretrain", "--help"])
    text = capsys.readouterr().out
    for word in ("3kg-residual", "cmsc", "pclr", "cpu-small", "paper", "--resume", "patient_positives"):
        assert word in text


def test_cli_run_flags_reach_the_config_and_errors_exit_2(tiny_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    code = main(["pretrain", str(tiny_data), "--method", "3kg-spatial", "--out", str(out), "--max-steps", "2",
                 "--batch-size", "8", "--lr", "0.001", "--seed", "3", "--set", "optim.lr=0.5", *SETS])
    assert code == 0 and (out / "DONE").is_file()
    import yaml

    config = yaml.safe_load((out / "config.yaml").read_text())
    # explicit flags win over --set
    assert config["optim"]["lr"] == 0.001 and config["seed"] == 3 and config["trainer"]["max_steps"] == 2
    assert main(["pretrain", str(tiny_data), "--method", "3kg", "--out", str(tmp_path / "x"),
                 "--set", "optim.nope=1"]) == 2  # a user error (threekg.cli.main's contract)


@pytest.mark.ddp
@pytest.mark.slow
def test_two_process_cpu_ddp_run_completes_with_loadable_encoder(tiny_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    result = _cli("pretrain", str(tiny_data), "--method", "3kg", "--out", str(out), "--max-steps", "3",
                  "--batch-size", "4", "--devices", "2", "--strategy", "ddp", "--accelerator", "cpu", *SETS)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "gathered from all 2 processes" in result.stderr
    done = json.loads((out / "DONE").read_text())
    assert done["global_step"] == 3
    encoder = load_encoder(out)
    assert encoder(torch.randn(2, 12, 100)).shape == (2, encoder.embed_dim)
    ckpt = torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["global_step"] == 3 and any(k.startswith("encoder.") for k in ckpt["state_dict"])


@pytest.mark.slow
def test_sigkilled_run_resumed_equals_uninterrupted_run(tiny_data: Path, tmp_path: Path) -> None:
    steps = ["--max-steps", "12", "--batch-size", "8"]
    killed = tmp_path / "killed"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "threekg.cli.main", "pretrain", str(tiny_data), "--method", "3kg",
                             "--out", str(killed), *steps, *SETS], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while not (killed / "checkpoints" / "step-6.ckpt").is_file() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (killed / "DONE").exists()
    refused = _cli("pretrain", str(tiny_data), "--method", "3kg", "--out", str(killed), *steps, *SETS)
    assert refused.returncode == 2 and "--resume" in refused.stderr
    resumed = _cli("pretrain", str(tiny_data), "--method", "3kg", "--out", str(killed), *steps, *SETS, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    # the reference run in a subprocess too: same thread count, so the same floating-point reductions
    full = tmp_path / "full"
    assert _cli("pretrain", str(tiny_data), "--method", "3kg", "--out", str(full), *steps, *SETS).returncode == 0
    a, b = load_encoder(killed).state_dict(), load_encoder(full).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
