"""Tiny generated inputs shared by the kill, numerical-fault and disk-fault tests."""

from __future__ import annotations

from pathlib import Path

from threekg.data.prepare import prepare

from .corrupt_tree import make_tree

PREPARE = {"fs": 100.0, "seconds": 2.5, "label_set": "cinc2020", "workers": 1, "progress": False}
"""prepare options: 100 Hz, 2.5 s (the 2 s records are zero-padded), one process."""

PRETRAIN = ["data.batch_size=16", "trainer.progress_bar=false", "trainer.log_every_n_steps=1"]
"""pretrain overrides on top of the cpu-small preset (resnet18-small, 100 Hz, 2.5 s crops)."""


DX = ("426783006", "164889003", "426783006,164889003")  # NSR, AF, both: every class has positives and negatives


def tree(root: Path, n: int = 60, seed: int = 0) -> Path:
    """A challenge-format tree of ``n`` records, every tenth broken (see ``corrupt_tree``); the good
    ones labelled NSR, AF or both in rotation."""
    made = make_tree(root, n=n, bad_every=10, seed=seed)
    for i, name in enumerate(made.good):
        hea = next(root.glob(f"*/{name}.hea"))
        hea.write_text(hea.read_text().replace("#Dx: 426783006,164889003", f"#Dx: {DX[i % 3]}"))
    return root


def dataset(root: Path, n: int = 60) -> Path:
    """``root/data``: a prepared dataset made from :func:`tree` (n - n // 10 records)."""
    prepare(tree(root / "raw", n), root / "data", **PREPARE)
    return root / "data"
