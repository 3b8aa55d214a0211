import torch

from gradnotes import pskd as m
from harness import Arr, Int, PROB, Spec

NOLOOP = Int(1, huge=False)  # a table size or a bin count: a huge one is a huge allocation, not a bug
PROBS = Arr(ndim=2, bounds=(0, 1))


def _probs(n=8, c=3): return torch.randn(n, c, generator=torch.Generator().manual_seed(0)).softmax(1)


def _labels(n=8, c=3): return torch.arange(n) % c


CAL = dict(tensors={"probs": PROBS, "y": Arr(floating=False, ndim=1, labels=3)}, same_length=(("probs", "y"),))


def _memory(a):
    mem = m.PredictionMemory(a["n_samples"], a["n_classes"], dtype=a["dtype"])
    mem.store(a["idx"], a["probs"])
    return mem.past(a["idx"], a["y"])


def _loss(a):
    crit = m.PSKDLoss(a["n_samples"], a["n_classes"], a["epochs"], alpha_T=a["alpha_T"])
    first = crit(a["logits"], a["y"], a["idx"], 0)
    return first.detach(), crit(a["logits"], a["y"], a["idx"], a["epoch"]).detach()


SPECS = {
    "pskd_alpha": Spec(lambda: dict(epoch=1, epochs=3, alpha_T=0.8),
                       ints={"epoch": Int(0, 2), "epochs": Int(1)}, numbers={"alpha_T": PROB}),
    "soft_targets": Spec(lambda: dict(y=_labels(4), past=_probs(4), alpha=0.3),
                         tensors={"y": Arr(floating=False, ndim=1, labels=3), "past": PROBS},
                         numbers={"alpha": PROB}, same_length=(("past", "y"),)),
    "soft_cross_entropy": Spec(lambda: dict(logits=torch.randn(4, 3), targets=_probs(4)),
                               tensors={"logits": Arr(ndim=2), "targets": PROBS},
                               same_length=(("logits", "targets"),)),
    "PredictionMemory": Spec(lambda: dict(n_samples=6, n_classes=3, dtype=torch.float32,
                                          idx=torch.tensor([0, 2, 4]), probs=_probs(3), y=_labels(3)),
                             call=_memory, ints={"n_samples": NOLOOP, "n_classes": Int(2, huge=False)},
                             tensors={"idx": Arr(floating=False, ndim=1, labels=6), "probs": PROBS,
                                      "y": Arr(floating=False, ndim=1, labels=3)},
                             same_length=(("idx", "probs"), ("idx", "y")),
                             extra={"dtype:int": lambda a: dict(a, dtype=torch.int64),
                                    "idx:repeated": lambda a: dict(a, idx=torch.tensor([0, 0, 4]))}),
    "PSKDLoss": Spec(lambda: dict(n_samples=6, n_classes=3, epochs=2, alpha_T=0.8, epoch=1,
                                  logits=torch.randn(3, 3), y=_labels(3), idx=torch.tensor([0, 2, 4])),
                     call=_loss, ints={"n_samples": NOLOOP, "n_classes": Int(2, huge=False), "epochs": Int(1),
                                       "epoch": Int(0, 1)},
                     numbers={"alpha_T": PROB},
                     tensors={"logits": Arr(ndim=2), "y": Arr(floating=False, ndim=1, labels=3),
                              "idx": Arr(floating=False, ndim=1, labels=6)},
                     same_length=(("logits", "y"), ("logits", "idx"))),
    "WithIndex": Spec(lambda: dict(dataset=torch.utils.data.TensorDataset(torch.randn(4, 2), _labels(4))),
                      call=lambda a: [m.WithIndex(a["dataset"])[i] for i in range(4)],
                      extra={"dataset:not_a_dataset": lambda a: dict(a, dataset=5)}),
    "reliability_bins": Spec(lambda: dict(probs=_probs(), y=_labels(), n_bins=4), ints={"n_bins": NOLOOP}, **CAL),
    "expected_calibration_error": Spec(lambda: dict(probs=_probs(), y=_labels(), n_bins=4),
                                       ints={"n_bins": NOLOOP}, **CAL),
    "negative_log_likelihood": Spec(lambda: dict(probs=_probs(), y=_labels()), **CAL),
    "aurc": Spec(lambda: dict(probs=_probs(), y=_labels()), **CAL),
    "calibration_report": Spec(lambda: dict(probs=_probs(), y=_labels(), n_bins=4), ints={"n_bins": NOLOOP}, **CAL),
}
OPT_OUT = {}
# Cases that fail today (findings, fixed at their owner); strict: a fix makes its case XPASS and fail
# until its line goes. Regenerate with `python tests/contracts/report.py --write-xfail`.
XFAIL = {}
