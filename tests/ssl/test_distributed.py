"""Two CPU processes (gloo) under DDP give the loss and gradients of one process on the whole batch.

Each scenario builds the same small encoder + projection head in float64 (so that a mismatch
cannot hide in rounding), splits a fixed batch of view pairs between two ranks, and compares
with one process on the concatenated batch:

* ``eval``: BatchNorm in eval mode, so a forward on half the batch equals the whole-batch forward
  row by row; equal local batches (4 + 4 samples).
* ``train``: BatchNorm in train mode. BN statistics are per process under DDP (SyncBatchNorm
  is GPU-only in torch), so the single-process reference runs the encoder on each rank's
  chunk separately and computes the loss on the concatenated embeddings.
* ``unequal``: 3 + 5 samples, and ids shared across ranks (patient-style positives that live on
  different processes).
* ``nogather``: negatives only local; must NOT match (the test has teeth).
* ``torchgather``: ``torch.distributed.nn.functional.all_gather`` instead of our gather (equal
  sizes only): it matches too, so either is correct; ours also handles unequal local batches.

Logged loss = mean over ranks of the returned local loss (Lightning's ``sync_dist=True`` mean).

The hang seen once in about 20 full-suite runs (a spawned worker that never exited) was a deadlock
in PyTorch's teardown, found on 2026-12-03 (2 hangs in about 90 runs of this file pinned to one
core; `py-spy dump --native` of the hung worker):

* main thread, holding the GIL: ``_wrap`` -> pybind11 ``dealloc`` of the DDP ``Reducer`` (the
  worker function's frame died, taking ``model`` with it) -> ``~Reducer`` -> ``~ProcessGroupGloo``,
  which waits for its work queue and joins its worker threads;
* gloo worker thread: ``runLoop`` -> ``~AsyncAllreduceWork`` -> ``~ThreadLocalState`` ->
  ``SafePyObject`` decref -> ``gil_scoped_acquire``: waits for the GIL the main thread holds.

``destroy_process_group()`` had already unregistered the group, so the Reducer held its last
reference and destroyed it with the GIL held (pytorch/pytorch#56297: ``~ProcessGroupGloo`` blocks;
the group's own Python object releases the GIL when it is destroyed, pytorch#154976, but a Reducer
dropping the last C++ reference does not). Whether it hangs depends on a worker thread still
finishing a work at that moment: hence about 1 run in 50. The fix, in ``_worker``: drop the DDP
model (and collect) while the group is registered, then destroy the group, so the group dies
through its own GIL-releasing destructor. Lightning's DDP strategy, which threekg's training uses,
unwraps the model in its teardown while the group is alive.

The deadline stays as a safety net: a hang fails the test with the workers' state instead of
blocking pytest, and no worker outlives the fixture.
"""

from __future__ import annotations

import gc
import time
from datetime import timedelta
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_nn
import torch.multiprocessing as mp
from torch import nn

from threekg.models import build_encoder, build_head
from threekg.ssl.losses import NTXentLoss, nt_xent

WORLD = 2
N_SAMPLES, T = 8, 64
SPLITS = {"eval": [4, 4], "train": [4, 4], "unequal": [3, 5], "nogather": [4, 4], "torchgather": [4, 4]}


def _model() -> nn.Module:
    torch.manual_seed(0)
    encoder = build_encoder("resnet18-small", width=8)
    head = build_head("mlp", in_dim=encoder.embed_dim, hidden_dim=32, out_dim=16)
    return nn.Sequential(encoder, head).double()


def _batch(scenario: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(N_SAMPLES, 2 views, 12, T) signals and (N_SAMPLES,) global ids."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(N_SAMPLES, 2, 12, T, generator=g, dtype=torch.float64)
    ids = torch.arange(N_SAMPLES) + 100
    if scenario == "unequal":
        ids[4] = ids[0]  # sample 4 (rank 1) is the same patient as sample 0 (rank 0)
        ids[7] = ids[1]
    return x, ids


def _rank_inputs(scenario: str, r: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rank r's views (2 n_r, 12, T) and their ids: both views of each of its samples."""
    x, ids = _batch(scenario)
    start = sum(SPLITS[scenario][:r])
    sl = slice(start, start + SPLITS[scenario][r])
    return torch.cat([x[sl, 0], x[sl, 1]]), torch.cat([ids[sl], ids[sl]])


def _worker(r: int, rendezvous: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"file://{rendezvous}", rank=r, world_size=WORLD, timeout=timedelta(seconds=120)
    )
    try:
        for scenario in SPLITS:
            model = nn.parallel.DistributedDataParallel(_model())
            model.train(scenario == "train")
            loss_fn = NTXentLoss(temperature=0.1, gather_distributed=scenario != "nogather")
            inputs, idx = _rank_inputs(scenario, r)
            if scenario == "torchgather":
                z = model(inputs)
                z_all = torch.cat(dist_nn.all_gather(z))
                idx_all = torch.cat(dist_nn.all_gather(idx))
                loss = nt_xent(z, idx, 0.1, z_all=z_all, indexes_all=idx_all, anchor_offset=r * len(idx))
            else:
                loss = loss_fn(model(inputs), idx)
            loss.backward()
            logged = loss.detach().clone()
            dist.all_reduce(logged)
            grads = {k: p.grad.detach().clone() for k, p in model.module.named_parameters()}
            torch.save({"loss": logged / WORLD, "grads": grads}, Path(out_dir) / f"{scenario}_{r}.pt")
    finally:
        # The cause of the hang (see the module docstring): DDP's Reducer must not be the last owner
        # of the process group. Drop it while the group is still registered, then destroy the group.
        model = None
        gc.collect()
        dist.destroy_process_group()


def _reference(scenario: str) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """One process, whole batch (per-rank chunks through the encoder only for train-mode BN)."""
    model = _model()
    model.train(scenario == "train")
    chunks = [_rank_inputs(scenario, r) for r in range(WORLD)]
    if scenario == "train":
        z = torch.cat([model(x) for x, _ in chunks])
    else:
        z = model(torch.cat([x for x, _ in chunks]))
    loss = nt_xent(z, torch.cat([i for _, i in chunks]), 0.1)
    loss.backward()
    return loss.detach(), {k: p.grad.detach().clone() for k, p in model.named_parameters()}


@pytest.fixture(scope="module")
def ddp_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    out = tmp_path_factory.mktemp("ddp")
    ctx = mp.spawn(_worker, args=(str(out / "rendezvous"), str(out)), nprocs=WORLD, join=False)
    deadline = time.monotonic() + 240
    try:
        while not ctx.join(timeout=1):
            if time.monotonic() > deadline:
                pytest.fail("the 2-process gloo workers did not finish within 240 s (hung collective?)")
    finally:  # never leave a hung worker behind: pytest would wait for it at exit, forever
        for proc in ctx.processes:
            if proc.is_alive():
                proc.kill()
    return {
        s: [torch.load(out / f"{s}_{r}.pt", weights_only=True) for r in range(WORLD)] for s in SPLITS
    }


@pytest.mark.ddp
@pytest.mark.timeout(300)
@pytest.mark.parametrize("scenario", ["eval", "train", "unequal", "torchgather"])
def test_ddp_gather_equals_single_process(ddp_results: dict[str, list[dict]], scenario: str) -> None:
    ref_loss, ref_grads = _reference(scenario)
    ranks = ddp_results[scenario]
    for res in ranks:
        torch.testing.assert_close(res["loss"], ref_loss, rtol=1e-5, atol=1e-5)
        assert res["grads"].keys() == ref_grads.keys()
        for name, grad in ref_grads.items():
            assert grad.abs().max() > 0, f"reference gradient of {name} is zero: test would be vacuous"
            torch.testing.assert_close(res["grads"][name], grad, rtol=1e-5, atol=1e-5, msg=name)


@pytest.mark.ddp
@pytest.mark.timeout(300)
def test_ddp_without_gather_differs(ddp_results: dict[str, list[dict]]) -> None:
    ref_loss, ref_grads = _reference("nogather")
    res = ddp_results["nogather"][0]
    assert not torch.allclose(res["loss"], ref_loss, rtol=1e-3, atol=1e-3)
    differing = [
        k for k, g in ref_grads.items() if not torch.allclose(res["grads"][k], g, rtol=1e-3, atol=1e-5)
    ]
    assert len(differing) > len(ref_grads) // 2, "local-only negatives should change most gradients"
