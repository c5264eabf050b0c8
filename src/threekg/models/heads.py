"""Projection heads applied to encoder embeddings before the contrastive loss (discarded after)."""

from __future__ import annotations

from torch import Tensor, nn


class ProjectionHead(nn.Module):
    """SimCLR projection MLP: ``(batch, in_dim)`` -> ``(batch, out_dim)``.

    ``num_layers`` linear layers; every one but the last is followed by BatchNorm1d and ReLU
    (Linear-BN-ReLU-Linear for the default 2, as in SimCLR v2). The linear layers before a BN
    have no bias (the BN shift makes it redundant).

    Args:
        in_dim: embedding size of the encoder.
        hidden_dim: width of the hidden layers; None means ``in_dim`` (SimCLR).
        out_dim: projection size, 128 as in SimCLR.
        num_layers: number of linear layers (>= 1; 1 is a plain linear projection).
    """

    def __init__(self, in_dim: int, hidden_dim: int | None = None, out_dim: int = 128, num_layers: int = 2):
        super().__init__()
        if in_dim < 1 or out_dim < 1 or num_layers < 1:
            raise ValueError(
                f"in_dim, out_dim and num_layers must be >= 1, got {in_dim}, {out_dim}, {num_layers}"
            )
        hidden = in_dim if hidden_dim is None else hidden_dim
        if hidden < 1:
            raise ValueError(f"hidden_dim must be >= 1, got {hidden_dim}")
        layers: list[nn.Module] = []
        dim = in_dim
        for _ in range(num_layers - 1):
            layers += [nn.Linear(dim, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True)]
            dim = hidden
        layers.append(nn.Linear(dim, out_dim))
        self.net = nn.Sequential(*layers)
        self.in_dim = in_dim
        self.out_dim = out_dim

    def forward(self, x: Tensor) -> Tensor:
        """``(batch, in_dim)`` -> ``(batch, out_dim)``."""
        return self.net(x)


class IdentityHead(nn.Identity):
    """No projection (the public 3KG/fairseq-signals variant): the loss sees the embedding itself."""

    def __init__(self, in_dim: int) -> None:
        super().__init__()
        self.in_dim = in_dim
        self.out_dim = in_dim


HEAD_KINDS = ("mlp", "linear", "none")


def build_head(
    kind: str = "mlp",
    in_dim: int = 512,
    hidden_dim: int | None = None,
    out_dim: int = 128,
    num_layers: int = 2,
) -> nn.Module:
    """A projection head with attributes ``in_dim`` and ``out_dim``.

    ``"mlp"``: :class:`ProjectionHead` (``num_layers`` >= 2); ``"linear"``: one Linear
    ``in_dim -> out_dim``; ``"none"``: identity (``out_dim = in_dim``, other options ignored).
    """
    if kind == "mlp":
        if num_layers < 2:
            raise ValueError(f"an 'mlp' head needs num_layers >= 2, got {num_layers} (use kind='linear')")
        return ProjectionHead(in_dim, hidden_dim, out_dim, num_layers)
    if kind == "linear":
        return ProjectionHead(in_dim, None, out_dim, num_layers=1)
    if kind == "none":
        return IdentityHead(in_dim)
    raise ValueError(f"unknown head kind {kind!r}; expected one of {HEAD_KINDS}")
