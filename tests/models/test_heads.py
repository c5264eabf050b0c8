"""Projection heads."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from threekg.models import IdentityHead, ProjectionHead, build_head


def test_simclr_mlp_layout() -> None:
    head = ProjectionHead(512)
    kinds = [type(m) for m in head.net]
    assert kinds == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear]
    assert head.net[0].in_features == 512 and head.net[0].out_features == 512  # hidden = in_dim
    assert head.net[3].out_features == 128 and head.out_dim == 128
    assert head(torch.randn(4, 512)).shape == (4, 128)


def test_deeper_and_narrower_mlp() -> None:
    head = build_head("mlp", in_dim=64, hidden_dim=32, out_dim=16, num_layers=3)
    assert sum(isinstance(m, nn.Linear) for m in head.modules()) == 3
    assert head(torch.randn(5, 64)).shape == (5, 16)


def test_linear_and_none() -> None:
    lin = build_head("linear", in_dim=10, out_dim=3)
    assert [type(m) for m in lin.net] == [nn.Linear] and lin.out_dim == 3
    ident = build_head("none", in_dim=10)
    assert isinstance(ident, IdentityHead) and ident.out_dim == 10
    x = torch.randn(2, 10)
    assert torch.equal(ident(x), x)


@pytest.mark.parametrize(
    ("kind", "kwargs"), [("mlp", {"num_layers": 1}), ("conv", {}), ("mlp", {"out_dim": 0}), ("mlp", {"hidden_dim": 0})]
)
def test_invalid(kind: str, kwargs: dict) -> None:
    with pytest.raises(ValueError):
        build_head(kind, in_dim=8, **kwargs)
