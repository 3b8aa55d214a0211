"""gradnotes.metrics: Dice and HD95 against MONAI, mean IoU against torchmetrics, empty masks, bad input."""
import math

import pytest
import torch

from gradnotes.metrics import dice_score, hd95, mean_iou
from gradnotes.noisy_seg import corrupt_masks, shape_model_masks

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors


def _pairs(n=12, size=40, seed=0):
    "True ellipse masks and corrupted versions of them (every kind of corruption)."
    t = shape_model_masks(n, size, seed=seed)
    return corrupt_masks(t, rate=1.0, seed=seed + 1), t


def test_dice_matches_monai():
    metrics = pytest.importorskip("monai.metrics")
    p, t = _pairs()
    ref = metrics.DiceMetric(include_background=True, reduction="none")(p[:, None], t[:, None])
    torch.testing.assert_close(dice_score(p, t), ref[:, 0].double(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("percentile", [95.0, 100.0, 50.0])
def test_hd95_matches_monai(percentile):
    metrics = pytest.importorskip("monai.metrics")
    p, t = _pairs(seed=3)
    p[0] = torch.roll(t[0], (5, -3), (0, 1))  # a plain shift
    p[1] = t[1]  # identical: 0
    ref = metrics.HausdorffDistanceMetric(include_background=True, percentile=percentile,
                                          reduction="none")(p[:, None], t[:, None])
    torch.testing.assert_close(hd95(p, t, percentile), ref[:, 0].double(), rtol=1e-5, atol=1e-4)


def test_hd95_touching_the_border_matches_monai():
    metrics = pytest.importorskip("monai.metrics")
    t = torch.zeros(2, 20, 20); t[:, :8, :12] = 1  # objects on the image border
    p = torch.zeros(2, 20, 20); p[0, 2:10, 0:9] = 1; p[1, :, :3] = 1
    ref = metrics.HausdorffDistanceMetric(include_background=True, percentile=95,
                                          reduction="none")(p[:, None], t[:, None])
    torch.testing.assert_close(hd95(p, t), ref[:, 0].double(), rtol=1e-5, atol=1e-4)


def test_mean_iou_matches_torchmetrics():
    tm = pytest.importorskip("torchmetrics.classification")
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 5, (6, 16, 16), generator=g)
    p = torch.where(torch.rand(6, 16, 16, generator=g) < 0.7, y,
                    torch.randint(0, 5, (6, 16, 16), generator=g))
    peer = tm.MulticlassJaccardIndex(num_classes=5, average="macro")(p, y)
    assert abs(mean_iou(p, y, 5) - float(peer)) < 1e-6


def test_metrics_on_empty_masks():
    z, t = torch.zeros(1, 8, 8), torch.zeros(1, 8, 8)
    t[0, 2:5, 2:5] = 1
    assert dice_score(z, z).item() == 1.0 and dice_score(z, t).item() == 0.0
    assert hd95(z, z).item() == 0.0 and math.isinf(hd95(z, t).item()) and math.isinf(hd95(t, z).item())


def test_old_import_paths_are_the_same_functions():
    from gradnotes import fst, noisy_seg
    assert noisy_seg.dice_score is dice_score and noisy_seg.hd95 is hd95 and fst.mean_iou is mean_iou


def test_bad_input():
    m = shape_model_masks(3, 16)
    with pytest.raises(ValueError, match="pred must hold binary"):
        dice_score(m * 0.5, m)
    with pytest.raises(ValueError, match="target must have shape"):
        dice_score(m, m[:, :8])
    with pytest.raises(ValueError, match="target must have shape"):
        hd95(m, m[:2])
    with pytest.raises(ValueError, match="percentile must be <= 100"):
        hd95(m, m, percentile=101)
    with pytest.raises(ValueError, match="pred contains NaN"):
        hd95(torch.full_like(m, float("nan")), m)
    with pytest.raises(TypeError, match="pred must be real"):
        dice_score(m.to(torch.complex64), m)
    y = m.long()
    with pytest.raises(ValueError, match="pred and target must have the same shape"):
        mean_iou(y[:2], y, 2)
    with pytest.raises(ValueError, match=r"target must hold labels in \[0, 2\)"):
        mean_iou(y, y + 2, 2)
    with pytest.raises(TypeError, match="pred"):
        mean_iou(m, y, 2)
