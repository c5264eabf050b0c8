"""1-D ResNet encoders: layout, shapes, registry, config rebuild, BatchNorm modes."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import torch
from torch import nn

from threekg.models import (
    ENCODERS,
    BasicBlock1d,
    ResNet1d,
    build_encoder,
    build_encoder_from_config,
    register_encoder,
)


def _expected_resnet_params(width: int, layers: tuple[int, ...], c_in: int = 12, k: int = 7, kb: int = 3) -> int:
    """Parameter count of the torchvision layout, computed from the architecture description."""
    total = c_in * width * k + 2 * width  # stem conv (no bias) + BN
    in_ch = width
    for i, n in enumerate(layers):
        out = width * 2**i
        for j in range(n):
            total += in_ch * out * kb + 2 * out + out * out * kb + 2 * out
            if (i > 0 and j == 0) or in_ch != out:
                total += in_ch * out + 2 * out  # 1x1 downsample + BN
            in_ch = out
    return total


@pytest.mark.parametrize(
    ("name", "width", "layers", "embed_dim"),
    [("resnet18", 64, (2, 2, 2, 2), 512), ("resnet18-small", 16, (1, 1, 1, 1), 128), ("resnet34", 64, (3, 4, 6, 3), 512)],
)
def test_presets_layout(name: str, width: int, layers: tuple[int, ...], embed_dim: int) -> None:
    enc = build_encoder(name)
    assert enc.embed_dim == embed_dim
    assert sum(p.numel() for p in enc.parameters()) == _expected_resnet_params(width, layers)
    stem_conv = enc.stem[0]
    assert (stem_conv.kernel_size, stem_conv.stride, stem_conv.padding) == ((7,), (2,), (3,))
    assert isinstance(enc.stem[3], nn.MaxPool1d) and enc.stem[3].kernel_size == 3 and enc.stem[3].stride == 2
    assert [len(s) for s in enc.stages] == list(layers)
    assert [s[0].conv1.stride[0] for s in enc.stages] == [1, 2, 2, 2]
    assert [s[-1].conv2.out_channels for s in enc.stages] == [width, 2 * width, 4 * width, 8 * width]


@pytest.mark.parametrize("samples", [1, 7, 32, 100, 257, 500])
def test_output_shape_for_any_length(samples: int) -> None:
    enc = build_encoder("resnet18-small", width=8).eval()
    out = enc(torch.randn(3, 12, samples))
    assert out.shape == (3, 64)
    assert torch.isfinite(out).all()


def test_resnet18_forward_shape() -> None:
    enc = build_encoder("resnet18")
    assert enc(torch.randn(2, 12, 250)).shape == (2, 512)


def test_total_downsampling_is_32() -> None:
    enc = build_encoder("resnet18-small", width=8)
    h = enc.stages(enc.stem(torch.randn(2, 12, 512)))
    assert h.shape == (2, 64, 512 // 32)


def test_options_change_the_architecture() -> None:
    enc = build_encoder("resnet18", in_channels=8, width=4, layers=(1, 2), kernel_size=15, block_kernel_size=5)
    assert enc.embed_dim == 8
    assert enc.stem[0].kernel_size == (15,) and enc.stages[1][0].conv1.kernel_size == (5,)
    assert enc(torch.randn(2, 8, 100)).shape == (2, 8)
    with pytest.raises(ValueError, match=r"\(batch, 8, samples\)"):
        enc(torch.randn(2, 12, 100))


@pytest.mark.parametrize(
    "options", [{"width": 0}, {"layers": ()}, {"layers": (2, 0)}, {"block_kernel_size": 4}, {"kernel_size": 0}]
)
def test_invalid_options(options: dict) -> None:
    with pytest.raises(ValueError):
        build_encoder("resnet18-small", **options)


def test_config_rebuilds_same_architecture_through_json() -> None:
    enc = build_encoder("resnet18-small", width=8, layers=(1, 2, 1))
    assert enc.config == {"name": "resnet18-small", "width": 8, "layers": [1, 2, 1]}
    rebuilt = build_encoder_from_config(json.loads(json.dumps(enc.config)))
    assert rebuilt.config == enc.config
    shapes = {k: v.shape for k, v in enc.state_dict().items()}
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == shapes


def test_unknown_name_and_option() -> None:
    with pytest.raises(KeyError, match="resnet18-small"):
        build_encoder("no-such-encoder")
    with pytest.raises(TypeError):
        build_encoder("resnet18-small", depth=3)
    with pytest.raises(ValueError, match="JSON"):
        build_encoder("resnet18-small", width=object())
    with pytest.raises(ValueError, match="'name'"):
        build_encoder_from_config({"width": 8})


@pytest.fixture
def scratch_registry() -> Iterator[None]:
    before = dict(ENCODERS)
    yield
    ENCODERS.clear()
    ENCODERS.update(before)


class _Tiny(nn.Module):
    def __init__(self, hidden: int = 4) -> None:
        super().__init__()
        self.conv = nn.Conv1d(12, hidden, 5)
        self.embed_dim = hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x).mean(dim=2)


def test_register_custom_encoder(scratch_registry: None) -> None:
    register_encoder("tiny-test")(_Tiny)
    enc = build_encoder("tiny-test", hidden=6)
    assert enc.embed_dim == 6 and enc.config == {"name": "tiny-test", "hidden": 6}
    assert enc(torch.randn(2, 12, 30)).shape == (2, 6)
    with pytest.raises(ValueError, match="already registered"):
        register_encoder("tiny-test")(lambda: _Tiny())
    register_encoder("no-dim")(lambda: nn.Linear(2, 2))
    with pytest.raises(ValueError, match="embed_dim"):
        build_encoder("no-dim")


def test_batchnorm_eval_mode_is_per_sample_and_frozen() -> None:
    torch.manual_seed(0)
    enc = build_encoder("resnet18-small", width=8)
    x = torch.randn(6, 12, 128)
    enc.train()
    enc(x * 3 + 1)  # move the running statistics away from their initial values
    enc.eval()
    stats = {k: v.clone() for k, v in enc.state_dict().items() if "running" in k}
    full = enc(x)
    torch.testing.assert_close(enc(x[:2]), full[:2], rtol=1e-5, atol=1e-6)  # no batch coupling
    assert all(torch.equal(v, enc.state_dict()[k]) for k, v in stats.items())  # eval leaves stats alone
    enc.train()
    assert not torch.allclose(enc(x[:2]), enc(x)[:2], atol=1e-4)  # train mode: batch statistics


def test_zero_init_residual_makes_blocks_start_as_identity_shortcut() -> None:
    enc = build_encoder("resnet18-small", width=8, zero_init_residual=True)
    blocks = [m for m in enc.modules() if isinstance(m, BasicBlock1d)]
    assert blocks and all(torch.all(b.bn2.weight == 0) for b in blocks)
    block = blocks[0].eval()
    x = torch.randn(2, 8, 20)
    torch.testing.assert_close(block(x), torch.relu(x))
    assert isinstance(enc, ResNet1d)
