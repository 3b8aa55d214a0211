import torch

from gradnotes import metrics as m
from gradnotes.noisy_seg import shape_model_masks
from harness import Arr, Int, Num, Spec

MASK = Arr(ndim=3, int_ok=True, bounds=(0, 1))  # binary masks: any real dtype, values 0 and 1
LABELS = Arr(floating=False, ndim=3, labels=5)


def _masks(n=4, size=16, seed=0): return shape_model_masks(n, size, seed=seed)


def _labels(n=4, seed=0):
    return torch.randint(0, 5, (n, 8, 8), generator=torch.Generator().manual_seed(seed))


SPECS = {
    "dice_score": Spec(lambda: dict(pred=_masks(seed=1), target=_masks()),
                       tensors={"pred": MASK, "target": MASK}, same_length=(("pred", "target"),)),
    "hd95": Spec(lambda: dict(pred=_masks(seed=1), target=_masks(), percentile=95.0),
                 tensors={"pred": MASK, "target": MASK}, numbers={"percentile": Num(0, 100)},
                 same_length=(("pred", "target"),)),
    "mean_iou": Spec(lambda: dict(pred=_labels(), target=_labels(seed=1), n_classes=5),
                     tensors={"pred": LABELS, "target": LABELS}, ints={"n_classes": Int(1, 4096)},
                     same_length=(("pred", "target"),)),
}
OPT_OUT = {}
XFAIL = {}
