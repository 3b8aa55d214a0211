import torch

from gradnotes import diffle as m
from gradnotes.diffusion import make_schedule
from harness import Arr, Int, NONNEG, Num, POS, Spec

F64 = torch.float64
NOLOOP = Int(1, huge=False)
IMG = Arr(ndim=4, bounds=(0, 1))


def _img(b=2, s=16):
    return torch.rand(b, 3, s, s, generator=torch.Generator().manual_seed(0), dtype=F64)


def _prior():
    return m.fit_patch_prior(_img(4))


def _net():
    torch.manual_seed(0)
    return m.CurveNet(width=4, depth=1, n_iter=2)


def _tprior():
    return m.train_patch_prior(_img(2).float(), steps=2, hidden=8, depth=1, batch=4)


SPECS = {
    "darken": Spec(lambda: dict(x=_img(), scale=0.12, gamma=1.3, photons=400.0, read=0.01),
                   tensors={"x": IMG},
                   numbers={"scale": Num(0, 1, low_open=True), "gamma": POS, "photons": POS,
                            "read": NONNEG}),
    "image_crops": Spec(lambda: dict(names=("astronaut",), n=2, size=8, res=32, seed=0),
                        ints={"n": NOLOOP, "size": NOLOOP, "res": NOLOOP}),
    "CurveNet": Spec(lambda: dict(width=4, depth=1, n_iter=2, x=_img().float()),
                     call=lambda a: m.CurveNet(a["width"], a["depth"], a["n_iter"])(a["x"]),
                     ints={"width": NOLOOP, "depth": NOLOOP, "n_iter": NOLOOP},
                     tensors={"x": IMG}),
    "spatial_consistency_loss": Spec(lambda: dict(enhanced=_img(), low=0.3 * _img(), region=4),
                                     tensors={"enhanced": Arr(ndim=4), "low": Arr(ndim=4)},
                                     ints={"region": NOLOOP}),
    "exposure_loss": Spec(lambda: dict(enhanced=_img(), level=0.6, region=8),
                          tensors={"enhanced": Arr(ndim=4)}, numbers={"level": Num(0, 1)},
                          ints={"region": NOLOOP}),
    "color_constancy_loss": Spec(lambda: dict(enhanced=_img()),
                                 tensors={"enhanced": Arr(ndim=4)}),
    "illumination_smoothness_loss": Spec(lambda: dict(curves=_img()),
                                         tensors={"curves": Arr(ndim=4)}),
    "zero_dce_loss": Spec(lambda: dict(enhanced=_img(), low=0.3 * _img(), curves=_img(),
                                       w_col=0.5, w_tv=20.0, level=0.6),
                          tensors={"enhanced": Arr(ndim=4), "low": Arr(ndim=4),
                                   "curves": Arr(ndim=4)},
                          numbers={"w_col": NONNEG, "w_tv": NONNEG, "level": Num(0, 1)}),
    "train_enhancer": Spec(lambda: dict(images=_img(2, 16).float(), steps=2, batch=2, lr=1e-3,
                                        seed=0, width=4, depth=1, n_iter=2),
                           call=lambda a: m.train_enhancer(**a)(a["images"]),
                           tensors={"images": IMG},
                           ints={"steps": NOLOOP, "batch": NOLOOP},
                           numbers={"lr": Num(0, 1, low_open=True)}),
    "to_patches": Spec(lambda: dict(x=_img(), patch=8), tensors={"x": Arr(ndim=4)},
                       ints={"patch": NOLOOP}),
    "from_patches": Spec(lambda: dict(p=torch.zeros(8, 192, dtype=F64), shape=(2, 3, 16, 16),
                                      patch=8)),
    "GaussianPatchPrior": Spec(lambda: dict(mean=_prior().mean, cov=_prior().cov, patch=8,
                                            x=torch.zeros(3, 192, dtype=F64)),
                               call=lambda a: m.GaussianPatchPrior(
                                   a["mean"], a["cov"], a["patch"]).eps(a["x"], 0.5),
                               tensors={"mean": Arr(ndim=1), "cov": Arr(ndim=2),
                                        "x": Arr(ndim=2)},
                               ints={"patch": NOLOOP}),
    "fit_patch_prior": Spec(lambda: dict(images=_img(4), patch=8, stride=4, ridge=1e-4),
                            tensors={"images": IMG},
                            ints={"patch": NOLOOP, "stride": NOLOOP},
                            numbers={"ridge": NONNEG}),
    "calibrate": Spec(lambda: dict(x=_img(), prior=_prior(), t0=50, steps=3, guidance=1.0,
                                   pool=4),
                      tensors={"x": IMG}, ints={"t0": Int(0, 1000), "steps": NOLOOP,
                                                "pool": NOLOOP},
                      numbers={"guidance": Num(0, 1)}),
    "image_patches": Spec(lambda: dict(images=_img(), patch=8, stride=4),
                          tensors={"images": IMG}, ints={"patch": NOLOOP, "stride": NOLOOP}),
    "pseudo_references": Spec(lambda: dict(net=_net(), low=_img().float(), prior=_prior(),
                                           t0=20, guidance=1.0, chunk=1),
                              tensors={"low": IMG}, ints={"t0": Int(0, 1000),
                                                          "chunk": NOLOOP},
                              numbers={"guidance": Num(0, 1)}),
    "distillation_loss": Spec(lambda: dict(enhanced=_img(), target=_img(), low=0.3 * _img(),
                                           curves=_img(), w_nr=0.1),
                              tensors={"enhanced": Arr(ndim=4), "target": Arr(ndim=4)},
                              numbers={"w_nr": Num(0, 1e4)}),
    "distill_enhancer": Spec(lambda: dict(net=_net(), low=_img().float(),
                                          targets=_img().float(), steps=2, batch=2, lr=1e-3,
                                          w_nr=0.1, seed=0),
                             call=lambda a: m.distill_enhancer(**a)(a["low"]),
                             tensors={"low": IMG, "targets": IMG},
                             ints={"steps": NOLOOP, "batch": NOLOOP},
                             numbers={"lr": Num(0, 1, low_open=True), "w_nr": Num(0, 1e4)}),
    "TrainedPatchPrior": Spec(lambda: dict(model=_tprior().model, patch=8,
                                           x=torch.zeros(3, 192)),
                              call=lambda a: m.TrainedPatchPrior(
                                  a["model"], make_schedule(), a["patch"]).eps(
                                      a["x"], make_schedule().alpha_bar(10).item()),
                              tensors={"x": Arr(ndim=2)}, ints={"patch": NOLOOP}),
    "train_patch_prior": Spec(lambda: dict(images=_img(2).float(), steps=2, hidden=8,
                                           depth=1, batch=4, lr=1e-3, seed=0),
                              call=lambda a: m.train_patch_prior(**a).eps(
                                  torch.zeros(2, 192), make_schedule().alpha_bar(5).item()),
                              tensors={"images": IMG},
                              ints={"steps": NOLOOP, "hidden": NOLOOP, "depth": NOLOOP,
                                    "batch": NOLOOP},
                              numbers={"lr": Num(0, 1, low_open=True)}),
}
OPT_OUT = {}
XFAIL = {}
