"""The augment picture: the plot API and the command on a real record."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.image import imread

from realdata_paths import shared_subdir
from threekg.augment.plot import plot_ecg, plot_views
from threekg.cli.main import main
from threekg.vcg import derive_limb_leads


def test_plot_views_and_plot_ecg_write_pngs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    ecg = derive_limb_leads(rng.normal(size=(12, 300)))
    out = plot_views(ecg, 100.0, [ecg * 0.5, ecg[:, :200]], tmp_path / "a" / "v.png", "title")
    image = imread(out)
    assert image.shape[0] > 500 and image.shape[1] > 500 and image.std() > 0.01
    assert plot_ecg(ecg, 100.0, tmp_path / "e.png").stat().st_size > 10_000
    with pytest.raises(ValueError, match=r"\(12, T\)"):
        plot_views(ecg[:8], 100.0, [], tmp_path / "x.png")


@pytest.mark.realdata
def test_augment_command_on_a_real_record(tmp_path) -> None:  # type: ignore[no-untyped-def]
    record = shared_subdir("cinc2021-sample") / "E07500.hea"
    out = tmp_path / "views.png"
    assert main(["augment", str(record), "--out", str(out), "--seed", "1", "--matrix", "kors"]) == 0
    assert imread(out).shape[1] > 800
