from __future__ import annotations

import pytest

from threekg.cli.main import COMMANDS, build_parser, main


def test_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    with pytest.raises(SystemExit) as exc:
        parser.parse_args([name, "--help"])
    assert exc.value.code == 0
    assert len(capsys.readouterr().out) > 200, f"`threekg {name} --help` explains too little"


def test_light_commands_do_not_import_torch() -> None:
    """`threekg --version` and `threekg prepare --help` must not pay torch's import (seconds, ~400 MB):
    prepare's worker processes can then fork instead of spawning."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from threekg.cli.main import main\n"
        "for argv in (['--version'], ['prepare', '--help'], ['synth', '--help'], ['--help']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.strip().splitlines()[-1] == "NO-TORCH"
