"""huggingface_hub's standard loading for threekg encoders (optional extra ``threekg[hub]``).

```python
from threekg.models.hub_mixin import ThreeKGEncoder
model = ThreeKGEncoder.from_pretrained("exported/3kg")    # a local folder from `threekg export --hub`
z = model(x)                                              # (B, 12, T) mV -> (B, embed_dim)
model.save_pretrained("copy")                             # the same config.json + model.safetensors
```

The folder layout is :mod:`threekg.models.hub`'s; ``threekg.models.load_encoder(DIR)`` reads the
same folder without huggingface_hub. Loading is strict (a weight file that does not fit the
architecture raises instead of leaving layers at random), unlike the mixin's own default.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

try:
    from huggingface_hub import PyTorchModelHubMixin
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise ImportError("threekg.models.hub_mixin needs huggingface_hub: pip install 'threekg[hub]'") from err

from threekg.models.registry import build_encoder_from_config


class ThreeKGEncoder(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="threekg",
    tags=["ecg", "self-supervised", "contrastive", "3kg"],
    pipeline_tag="feature-extraction",
    paper_url="https://arxiv.org/abs/2106.04452",
):
    """A threekg encoder as a hub model: ``(batch, 12, samples)`` mV -> ``(batch, embed_dim)``.

    Args (the keys of ``config.json``):
        encoder: the encoder's config, ``{"name": ..., **options}`` (``threekg.models.build_encoder``).
        input: what it expects: ``fs`` (Hz), ``crop_samples``, ``leads``, ``units``, ``normalize``.
        metadata: provenance (method, steps, threekg version, source file sha256).
    """

    def __init__(self, encoder: dict[str, Any], input: dict[str, Any] | None = None,
                 metadata: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.encoder = build_encoder_from_config(encoder)
        self.embed_dim: int = int(self.encoder.embed_dim)  # type: ignore[arg-type]
        self.input_spec: dict[str, Any] = dict(input or {})
        self.metadata: dict[str, Any] = dict(metadata or {})

    def forward(self, x: Tensor) -> Tensor:
        """``(batch, 12, samples)`` float mV -> ``(batch, embed_dim)``."""
        out: Tensor = self.encoder(x)
        return out

    @classmethod
    def _from_pretrained(cls, *, strict: bool = True, **kwargs: Any) -> ThreeKGEncoder:
        model: ThreeKGEncoder = super()._from_pretrained(strict=strict, **kwargs)
        return model
