"""The realism table and feature two-sample tests of a finished ``threekg realism`` run, per PTB-XL fold.

The beat shape model (:mod:`threekg.synth.shape_model`) is fitted on PTB-XL NORM records of strat_fold
1-7; measured against all NORM records, the synthetic records are compared in part with the records
the model has seen. This reads ``features_synth.csv`` and ``features_real.csv`` of a realism run
against a PTB-XL folder and repeats the comparison against the training folds and the held-out folds
separately (no record is measured again):

    python -m threekg.synth.realism.folds OUT ../shared/data/ptbxl-500 --held-out 8,9,10
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from threekg.synth.realism.compare import discriminate, realism_table
from threekg.synth.realism.features import DWT_LEADS, GLOBAL_FEATURES, lead_features
from threekg.synth.shape_model import fold_list


def compare_by_folds(out: Path, ptbxl: Path, held_out: tuple[int, ...], seed: int = 0) -> pd.DataFrame:
    """One row per real subset (all, training folds, held-out folds): records, features inside the real
    IQR, logistic and boosted-trees AUROC (s.d.) of synth against that subset."""
    synth = pd.read_csv(out / "features_synth.csv", index_col=0)
    real = pd.read_csv(out / "features_real.csv", index_col=0)
    folds = pd.read_csv(ptbxl / "ptbxl_database.csv", index_col="ecg_id")["strat_fold"]
    fold = folds.reindex(real.index.astype(int)).to_numpy()
    features = GLOBAL_FEATURES + lead_features(DWT_LEADS)
    rows = []
    out_fold = pd.Series(fold).isin(held_out).to_numpy()
    for name, keep in (("all", np.ones(len(real), dtype=bool)), ("training folds", ~out_fold),
                       ("held-out folds", out_fold)):
        sub = real[keep]
        table = realism_table(synth, sub, features)
        row: dict[str, object] = {"real": name, "n_real": len(sub), "n_synth": len(synth),
                                  "inside": f"{int(table['inside'].sum())} of {len(table)}"}
        for model in ("logistic", "boosting"):
            d = discriminate(synth, sub, features, model, seed=seed)
            row[model] = f"{d.auroc:.3f} ({d.sd:.3f})"
        row["outside"] = ", ".join(table.index[~table["inside"]])
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="output folder of a threekg realism run against PTB-XL")
    parser.add_argument("ptbxl", type=Path, help="the PTB-XL folder (ptbxl_database.csv)")
    parser.add_argument("--held-out", default="8,9,10", help="held-out strat_folds (default 8,9,10)")
    parser.add_argument("--seed", type=int, default=0, help="cross-validation seed")
    args = parser.parse_args(argv)
    held_out = fold_list(args.held_out, "--held-out")
    table = compare_by_folds(args.out, args.ptbxl, held_out, args.seed)
    print("| " + " | ".join(table.columns) + " |")
    print("|" + "---|" * len(table.columns))
    for row in table.itertuples(index=False):
        print("| " + " | ".join(str(v) for v in row) + " |")
    return 0


if __name__ == "__main__":
    from threekg.errors import run_tool

    raise SystemExit(run_tool(main))
