"""1-D ResNet encoders for 12-lead ECGs, in the torchvision ResNet layout.

Stem: Conv1d(in_channels, width, kernel 7, stride 2, padding 3) - BN - ReLU - MaxPool(3, 2, 1);
four stages of BasicBlocks with width x (1, 2, 4, 8) channels and strides (1, 2, 2, 2), a 1x1
convolution + BN as downsample when the shape changes; global average pool over time.
Total temporal downsampling is 32; any length works (global pool), but below ~32 samples the
last stages see a single time step.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from threekg.models.registry import register_encoder


class BasicBlock1d(nn.Module):
    """Two ``kernel_size`` convolutions with BN, ReLU and an identity (or 1x1 conv) shortcut.

    ``(batch, in_ch, samples)`` -> ``(batch, out_ch, ceil(samples / stride))``.
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1, kernel_size: int = 3) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.conv1 = nn.Conv1d(in_ch, out_ch, kernel_size, stride=stride, padding=pad, bias=False)
        self.bn1 = nn.BatchNorm1d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv1d(out_ch, out_ch, kernel_size, stride=1, padding=pad, bias=False)
        self.bn2 = nn.BatchNorm1d(out_ch)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_ch != out_ch:
            self.downsample = nn.Sequential(
                nn.Conv1d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm1d(out_ch)
            )

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet1d(nn.Module):
    """1-D ResNet: ``(batch, in_channels, samples)`` float (mV) -> ``(batch, embed_dim)``.

    Args:
        in_channels: input leads (12 for the standard lead order of ``threekg.leads.LEADS``).
        width: channels of the stem and the first stage; stages use width x (1, 2, 4, 8).
        layers: BasicBlocks per stage, e.g. (2, 2, 2, 2) for ResNet-18.
        kernel_size: stem convolution kernel (stride 2, padding kernel_size // 2).
        block_kernel_size: kernel of the convolutions inside the blocks (odd).
        zero_init_residual: start every block's last BN at gamma = 0, so each block begins as
            the identity (Goyal et al. 2017); off by default as in torchvision.
    """

    def __init__(
        self,
        in_channels: int = 12,
        width: int = 64,
        layers: Sequence[int] = (2, 2, 2, 2),
        kernel_size: int = 7,
        block_kernel_size: int = 3,
        zero_init_residual: bool = False,
    ) -> None:
        super().__init__()
        layers = tuple(int(n) for n in layers)
        if in_channels < 1 or width < 1:
            raise ValueError(f"in_channels and width must be >= 1, got {in_channels}, {width}")
        if not layers or any(n < 1 for n in layers):
            raise ValueError(f"layers must be a non-empty sequence of positive ints, got {layers}")
        if kernel_size < 1 or block_kernel_size < 1 or block_kernel_size % 2 == 0:
            raise ValueError(
                f"kernel_size must be >= 1 and block_kernel_size odd, got {kernel_size}, {block_kernel_size}"
            )
        self.in_channels = in_channels
        self.stem = nn.Sequential(
            nn.Conv1d(in_channels, width, kernel_size, stride=2, padding=kernel_size // 2, bias=False),
            nn.BatchNorm1d(width),
            nn.ReLU(inplace=True),
            nn.MaxPool1d(kernel_size=3, stride=2, padding=1),
        )
        stages: list[nn.Module] = []
        in_ch = width
        for i, n_blocks in enumerate(layers):
            out_ch = width * 2**i
            blocks = []
            for j in range(n_blocks):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(BasicBlock1d(in_ch, out_ch, stride=stride, kernel_size=block_kernel_size))
                in_ch = out_ch
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool1d(1)
        self.embed_dim: int = in_ch
        for m in self.modules():
            if isinstance(m, nn.Conv1d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm1d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, BasicBlock1d):
                    nn.init.zeros_(m.bn2.weight)

    def forward(self, x: Tensor) -> Tensor:
        """``(batch, in_channels, samples)`` -> ``(batch, embed_dim)``."""
        if x.ndim != 3 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"expected input of shape (batch, {self.in_channels}, samples), got {tuple(x.shape)}"
            )
        if x.shape[2] < 1:
            raise ValueError("input has no samples (samples = 0)")
        h = self.stages(self.stem(x))
        return torch.flatten(self.pool(h), 1)


PRESETS: dict[str, dict[str, Any]] = {
    "resnet18": {"width": 64, "layers": (2, 2, 2, 2)},  # 1-D ResNet-18 (torchvision layout), 512-d
    "resnet18-small": {"width": 16, "layers": (1, 1, 1, 1)},  # CPU preset: one block per stage, 128-d
    "resnet34": {"width": 64, "layers": (3, 4, 6, 3)},  # 1-D ResNet-34 layout, 512-d
}
"""Registered encoder name -> its default options of :class:`ResNet1d` (any option can still be passed)."""

for _name, _defaults in PRESETS.items():
    register_encoder(_name)(functools.partial(ResNet1d, **_defaults))
