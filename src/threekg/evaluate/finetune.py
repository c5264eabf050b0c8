"""End-to-end training of an encoder plus a linear head (supervised baseline and ``--finetune``).

A small torch loop of our own (evaluation never imports the trainer): BCE-with-logits on the
labelled subset, Adam, one random crop of ``crop_samples`` per record per epoch, early stopping
on the validation macro AUROC (patience epochs), and the best epoch's weights restored. The
supervised baseline starts from a freshly initialised encoder of the same architecture
(seeded); fine-tuning starts from the pretrained weights.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from threekg.evaluate.embeddings import embed
from threekg.evaluate.metrics import auroc, evaluable_classes, macro
from threekg.progress import track


@dataclass
class FinetuneOptions:
    """Defaults sized for CPU: a few epochs, early stopping after 3 without improvement."""

    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.0
    patience: int = 3


class _WithHead(nn.Module):
    def __init__(self, encoder: nn.Module, n_classes: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(int(encoder.embed_dim), n_classes)  # type: ignore[arg-type]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


def _predict(model: _WithHead, signals: np.ndarray, crop_samples: int | None, device: str | torch.device,
             progress: bool) -> np.ndarray:
    z = embed(model.encoder, signals, crop_samples, device=device, progress=progress, desc="predict")
    with torch.no_grad():
        return model.head(torch.from_numpy(z).to(device)).float().cpu().numpy()


def train_end_to_end(encoder: nn.Module, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray,
                     y_val: np.ndarray, crop_samples: int | None, seed: int,
                     options: FinetuneOptions | None = None, device: str | torch.device = "cpu",
                     progress: bool = True) -> tuple[nn.Module, nn.Linear, dict[str, float]]:
    """Train ``encoder`` (modified in place) + a linear head; returns (encoder, head, info).

    ``x_*``: (n, 12, T) mV; ``y_*``: (n, C). ``info``: best epoch and validation macro AUROC.
    """
    opt_ = options or FinetuneOptions()
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = _WithHead(encoder, y_train.shape[1]).to(device)
    optim = torch.optim.Adam(model.parameters(), lr=opt_.lr, weight_decay=opt_.weight_decay)
    yt = torch.from_numpy(np.asarray(y_train, dtype=np.float32))
    keep, _ = evaluable_classes(y_val, [str(i) for i in range(y_val.shape[1])])
    best, best_state, best_epoch, stale = -np.inf, copy.deepcopy(model.state_dict()), 0, 0
    n, t = x_train.shape[0], x_train.shape[-1]
    length = t if crop_samples is None or crop_samples >= t else crop_samples
    for epoch in track(range(opt_.epochs), "train", unit="epoch", disable=not progress, leave=False):
        model.train()
        order = torch.randperm(n, generator=gen).numpy()
        for i in range(0, n, opt_.batch_size):
            idx = np.sort(order[i : i + opt_.batch_size])
            x = torch.from_numpy(np.array(x_train[idx], dtype=np.float32))
            start = torch.randint(0, t - length + 1, (1,), generator=gen).item()
            x = x[..., start : start + length].to(device)
            if x.shape[0] < 2 and any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
                continue  # batch norm cannot train on a single record
            loss = nn.functional.binary_cross_entropy_with_logits(model(x), yt[idx].to(device))
            optim.zero_grad()
            loss.backward()
            optim.step()
        score = macro(np.asarray(auroc(y_val, _predict(model, x_val, crop_samples, device, False))), keep)
        if np.isfinite(score) and score > best:
            best, best_state, best_epoch, stale = score, copy.deepcopy(model.state_dict()), epoch, 0
        else:
            stale += 1
            if stale >= opt_.patience:
                break
    model.load_state_dict(best_state)
    model.eval()
    return model.encoder, model.head, {"best_epoch": float(best_epoch), "val_macro_auroc": float(best)}


def predict_logits(encoder: nn.Module, head: nn.Linear, signals: np.ndarray, crop_samples: int | None,
                   device: str | torch.device = "cpu", progress: bool = True) -> np.ndarray:
    """(N, C) logits of a trained encoder + head on ``signals`` (N, 12, T), mean over crops of embeddings."""
    z = embed(encoder, signals, crop_samples, device=device, progress=progress, desc="predict")
    with torch.no_grad():
        return head(torch.from_numpy(z).to(device)).float().cpu().numpy()
