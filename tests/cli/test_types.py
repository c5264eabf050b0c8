"""Argument types of the CLI."""

from __future__ import annotations

import argparse

import pytest

from threekg.cli.types import encoder_arch


def test_arch_is_a_registered_name_or_a_json_object() -> None:
    assert encoder_arch("resnet18-small") == {"name": "resnet18-small"}
    assert encoder_arch('{"name": "resnet18-small", "width": 8}') == {"name": "resnet18-small", "width": 8}
    with pytest.raises(argparse.ArgumentTypeError, match="unknown encoder 'resnet99'"):
        encoder_arch("resnet99")
    with pytest.raises(argparse.ArgumentTypeError, match="not valid JSON"):
        encoder_arch("{")
