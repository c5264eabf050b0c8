"""The pretraining LightningModule: views on the device, encoder, projection head, NT-Xent.

Randomness: the augmentations of global batch ``k`` on process ``rank`` draw from a
``torch.Generator`` seeded with ``SeedSequence([seed, k, rank])``; weights are initialised from
``seed``; the data order and crops depend only on ``(seed, k)`` (see
:mod:`threekg.train.data`). Nothing else is random, so a run resumed from a checkpoint continues
exactly as an uninterrupted one and no RNG state needs to be stored in checkpoints (which hold
only tensors, dicts and numbers, loadable with ``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import Tensor

from threekg.errors import UserError
from threekg.ssl.losses import NTXentLoss
from threekg.ssl.methods import Method

log = logging.getLogger(__name__)


class NonFiniteLossError(UserError, RuntimeError):
    """The loss became NaN or infinite; the message names the step and the last good checkpoint.

    A :class:`~threekg.errors.UserError`: the usual causes are a learning rate too high for the
    batch, or a damaged dataset (:class:`NonFiniteInputError`); the CLI prints it as one line.
    """


class DivergedLossError(UserError, RuntimeError):
    """The loss stayed finite but far above its running median (``threekg.train.callbacks.DivergenceGuard``).

    ``step``: the (1-based) optimizer step at which the run stopped; ``onset``: the first step of the
    climb (the weights of every checkpoint from step ``onset - 1`` on produced a diverged loss).
    """

    def __init__(self, message: str, step: int, onset: int) -> None:
        super().__init__(message)
        self.step, self.onset = step, onset


class NonFiniteInputError(NonFiniteLossError):
    """A batch held NaN or inf samples; ``rows`` are the dataset rows of the damaged recordings."""

    def __init__(self, message: str, rows: list[int]) -> None:
        super().__init__(message)
        self.rows = rows


def nonfinite_rows(batch: dict[str, Tensor]) -> list[int]:
    """Dataset rows (``batch["index"]``) whose crops (``x``, and ``x2`` when paired) hold NaN or inf."""
    bad = torch.zeros(batch["x"].shape[0], dtype=torch.bool, device=batch["x"].device)
    for key in ("x", "x2"):
        if key in batch:
            bad |= ~torch.isfinite(batch[key]).flatten(1).all(dim=1)
    if not bool(bad.any()):
        return []
    return [int(r) for r in batch["index"][bad.to(batch["index"].device)].tolist()]


def augmentation_seed(seed: int, batch: int, rank: int) -> int:
    """The 63-bit generator seed of global batch ``batch`` on process ``rank``."""
    state = np.random.SeedSequence([seed, batch, rank, 0x3C6]).generate_state(2, dtype=np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


FUSED_ADAM_DEVICES = ("cpu", "cuda")
"""Devices on which ``optim.implementation: auto`` takes torch's fused Adam kernel."""


def build_adam(params: list[torch.nn.Parameter], optim: dict[str, Any]) -> torch.optim.Adam:
    """The pretraining optimizer: Adam with ``optim``'s lr, betas, weight decay and implementation.

    ``implementation``: ``fused`` (one compiled kernel for all parameters), ``foreach`` (one op per
    step kind over all parameters), ``loop`` (torch's per-tensor Python loop, its CPU default), or
    ``auto``: fused when every parameter is a float tensor on the CPU or CUDA, else torch's choice.
    The three compute the same update; they differ by the rounding of the last bit. On the CPU the
    loop is Python around ~10 small ops per tensor: 4.1 ms a step for the 36 tensors of
    resnet18-small, against 0.8 ms fused (benchmarks/pretrain.py).
    """
    kind = str(optim.get("implementation", "auto"))
    if kind == "auto":
        fits = bool(params) and all(p.device.type in FUSED_ADAM_DEVICES and p.is_floating_point() for p in params)
        kind = "fused" if fits else "default"
    flags: dict[str, bool] = {"fused": {"fused": True}, "foreach": {"foreach": True},
                              "loop": {"foreach": False}}.get(kind, {})
    return torch.optim.Adam(params, lr=float(optim["lr"]), betas=tuple(optim["betas"]),
                            weight_decay=float(optim["weight_decay"]), **flags)


class PretrainModule(L.LightningModule):
    """Encoder + projection head trained with the multi-positive NT-Xent loss.

    Args:
        encoder: ``(B, 12, T)`` mV -> ``(B, embed_dim)`` (from ``threekg.models.build_encoder``).
        head: ``(B, embed_dim)`` -> ``(B, out_dim)`` (``build_head``; identity for ``kind: none``).
        method: builds the views and the positive ``indexes`` from a batch.
        config: the resolved run configuration (``optim``, ``loss``, ``seed``, ``debug`` are read).
        max_steps: optimizer steps of the whole run (for the cosine schedule).
    """

    def __init__(
        self, encoder: torch.nn.Module, head: torch.nn.Module, method: Method, config: dict[str, Any], max_steps: int
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head
        self._method = [method]  # not a submodule: augmentation buffers stay out of the checkpoint
        self.config = config
        self.max_steps = max_steps
        self.seed = int(config["seed"])
        self.nan_at_step = config["debug"]["nan_at_step"]
        self.log_every = max(1, int(config["trainer"]["log_every_n_steps"]))  # the Trainer's log_every_n_steps
        self.loss_fn = NTXentLoss(float(config["loss"]["temperature"]), gather_distributed=False)

    @property
    def method(self) -> Method:
        return self._method[0]

    def setup(self, stage: str) -> None:
        world = self.trainer.world_size if self._trainer is not None else 1
        self.loss_fn.gather_distributed = world > 1
        if world > 1 and self.global_rank == 0:
            log.info("NT-Xent: embeddings gathered from all %d processes (with gradients) for the negatives", world)

    def on_fit_start(self) -> None:
        self.method.to(self.device)

    def on_train_start(self) -> None:
        """The configured learning rate wins over the one restored from a checkpoint.

        Resuming restores the optimizer's and the scheduler's state, learning rate included, so
        ``--resume --lr X`` (after a divergence, say) would silently go on at the old rate. When the
        configured rate differs, it becomes the schedule's base rate from the resumed step on.
        """
        lr = float(self.config["optim"]["lr"])
        for config in self.trainer.lr_scheduler_configs:
            scheduler = config.scheduler
            if not isinstance(scheduler, torch.optim.lr_scheduler.LambdaLR) or all(b == lr for b in scheduler.base_lrs):
                continue
            log.info("learning rate %g from step %d on (the checkpoint's was %g)", lr, self.global_step,
                     scheduler.base_lrs[0])
            scheduler.base_lrs = [lr] * len(scheduler.base_lrs)
            for group, factor in zip(scheduler.optimizer.param_groups, scheduler.lr_lambdas, strict=True):
                group["initial_lr"] = lr
                group["lr"] = lr * factor(scheduler.last_epoch)

    def forward(self, x: Tensor) -> Tensor:
        """Projected embeddings (B, out_dim) of a batch (B, 12, T)."""
        return self.head(self.encoder(x))

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        k = int(batch["batch"][0])
        # Checked on the batch itself, not left to the loss: the 3KG map does not read the derived
        # leads (III, aVR, aVL, aVF), so a NaN there would otherwise pass unnoticed. One sum per view
        # (NaN/inf make it non-finite); the rows are looked for only when it is.
        input_total = sum((batch[key].sum() for key in ("x", "x2") if key in batch), torch.zeros((), device=self.device))
        generator = torch.Generator(device=self.device)
        generator.manual_seed(augmentation_seed(self.seed, k, self.global_rank))
        with torch.autocast(device_type=self.device.type, enabled=False):
            views, indexes = self.method.make_views(batch, generator)
        step = self.global_step + 1  # the optimizer step this batch contributes to (1-based)
        if self.nan_at_step is not None and step == int(self.nan_at_step):
            views = views * float("nan")
        z = self(views.float())
        loss = self.loss_fn(z.float(), indexes)
        finite = bool((torch.isfinite(loss.detach()) & torch.isfinite(input_total.detach())).item())
        if self.trainer.strategy.reduce_boolean_decision(not finite, all=False):  # one collective per step
            bad_rows = nonfinite_rows(batch)
            if bad_rows:
                raise NonFiniteInputError(
                    f"non-finite (NaN/inf) input at step {step} (batch {k}, rank {self.global_rank}) in "
                    f"dataset rows {bad_rows[:10]}", bad_rows)
            if finite:
                raise NonFiniteLossError(f"another process met a non-finite loss or input at step {step}")
            raise NonFiniteLossError(
                f"non-finite loss ({loss.item()} on rank {self.global_rank}) at step {step} (batch {k})"
            )
        # Only on the steps the loggers write (Lightning's rule: every log_every_n_steps optimizer steps):
        # each self.log call moves its bookkeeping to the device, about 1 ms a step on this CPU. The
        # progress bar shows the last logged loss; the divergence guard reads every step's loss itself.
        if (self.global_step + 1) % self.log_every == 0:
            self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=False, batch_size=views.shape[0])
        return loss

    def configure_optimizers(self) -> Any:
        optim = self.config["optim"]
        optimizer = build_adam([p for p in self.parameters() if p.requires_grad], optim)
        warmup, total = int(optim["warmup_steps"]), max(1, self.max_steps)
        cosine, floor = optim["schedule"] == "cosine", float(optim["min_lr_ratio"])

        def factor(step: int) -> float:
            if warmup and step < warmup:
                return (step + 1) / warmup
            if not cosine:
                return 1.0
            progress = min(1.0, (step - warmup) / max(1, total - warmup))
            return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
