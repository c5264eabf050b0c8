"""The pretraining Adam (``optim.implementation``): which kernel each setting takes, and that they agree."""

from __future__ import annotations

import pytest
import torch

from threekg.train import resolve_config
from threekg.train.config import ConfigError
from threekg.train.module import build_adam

OPTIM = {"lr": 1e-2, "betas": [0.9, 0.999], "weight_decay": 1e-4}


def _params(device: str = "cpu") -> list[torch.nn.Parameter]:
    g = torch.Generator().manual_seed(0)
    return [torch.nn.Parameter(torch.randn(*shape, generator=g).to(device)) for shape in ((5, 3), (3,), (2, 2, 2))]


@pytest.mark.parametrize(("implementation", "fused", "foreach"), [
    ("auto", True, None), ("fused", True, None), ("foreach", None, True), ("loop", None, False),
])
def test_each_setting_takes_its_kernel(implementation: str, fused: bool | None, foreach: bool | None) -> None:
    group = build_adam(_params(), {**OPTIM, "implementation": implementation}).param_groups[0]
    assert group["fused"] == fused and group["foreach"] == foreach
    assert group["lr"] == 1e-2 and group["betas"] == (0.9, 0.999) and group["weight_decay"] == 1e-4


def test_auto_leaves_devices_without_a_fused_kernel_to_torch() -> None:
    group = build_adam(_params("meta"), {**OPTIM, "implementation": "auto"}).param_groups[0]
    assert not group["fused"] and group["foreach"] is None


def test_the_kernels_compute_the_same_updates() -> None:
    """30 steps on the same gradients: fused and foreach end where torch's per-tensor loop does."""
    finals = {}
    for implementation in ("loop", "foreach", "fused"):
        params = _params()
        optimizer = build_adam(params, {**OPTIM, "implementation": implementation})
        g = torch.Generator().manual_seed(1)
        for _ in range(30):
            for p in params:
                p.grad = torch.randn(p.shape, generator=g)
            optimizer.step()
        finals[implementation] = torch.cat([p.detach().flatten() for p in params])
    moved = (finals["loop"] - torch.cat([p.flatten() for p in _params()])).abs().min()
    assert moved > 1e-3  # the steps did something
    for implementation in ("foreach", "fused"):
        torch.testing.assert_close(finals[implementation], finals["loop"], rtol=1e-6, atol=1e-6)


def test_the_option_is_checked_and_defaults_to_auto() -> None:
    assert resolve_config("cpu-small")["optim"]["implementation"] == "auto"
    with pytest.raises(ConfigError, match=r"optim\.implementation"):
        resolve_config("cpu-small", overrides=["optim.implementation=fast"])
