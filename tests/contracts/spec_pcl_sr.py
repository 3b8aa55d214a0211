import torch

from gradnotes import pcl_sr as m
from harness import Arr, Int, NONNEG, NONNEG_INT, Num, POS, POS_INT, Spec

SMALL = Int(1, huge=False)  # a width, a count of steps: a huge one is a long run


def _gen(seed=0): return torch.Generator().manual_seed(seed)


def _img(n=2, s=16): return torch.rand(n, 3, s, s, generator=_gen())


def _samples(n=2, s=16):
    hr = _img(n, s)
    return m.contrastive_samples(hr, m.bicubic_down(hr), n_aug=1, generator=_gen(1))


def _D(): torch.manual_seed(0); return m.PatchDiscriminator(width=4, depth=5)


def _pairs(): return m.sr_pairs(["camera"], crop=32)


def _net(): torch.manual_seed(0); return m.EDSR(n_resblocks=1, n_feats=4)


def _up(a):
    return m.bicubic_up(a["x"], a["size"])


SPECS = {
    "haar_dwt": Spec(lambda: dict(x=_img()), tensors={"x": Arr(ndim=4)}),
    "haar_idwt": Spec(lambda: dict(LL=_img(), LH=_img(), HL=_img(), HH=_img()),
                      tensors={k: Arr(ndim=4) for k in ("LL", "LH", "HL", "HH")}),
    "haar_high": Spec(lambda: dict(x=_img()), tensors={"x": Arr(ndim=4)}),
    "bicubic_down": Spec(lambda: dict(x=_img(), scale=2), tensors={"x": Arr(ndim=4)},
                         ints={"scale": Int(2, 2)}),
    "bicubic_up": Spec(lambda: dict(x=_img(), size=(32, 32)), call=_up,
                       tensors={"x": Arr(ndim=4)}),
    "sharpen": Spec(lambda: dict(x=_img(), factor=2.0), tensors={"x": Arr(ndim=4)},
                    numbers={"factor": Num(0)}),
    "gaussian_blur": Spec(lambda: dict(x=_img(), sigma=torch.ones(2, 2), ksize=(3, 3)),
                          tensors={"x": Arr(ndim=4),
                                   "sigma": Arr(ndim=2, bounds=(0, None, True))},
                          same_length=(("x", "sigma"),)),
    "ContrastiveSamples": Spec(dict, call=lambda a: len(_samples().positives)),
    "contrastive_samples": Spec(lambda: dict(hr=_img(), lr=m.bicubic_down(_img()), n_aug=1),
                                tensors={"hr": Arr(ndim=4), "lr": Arr(ndim=4)},
                                ints={"n_aug": Int(0, 64)}, same_length=(("hr", "lr"),)),
    "EDSR": Spec(lambda: dict(n_resblocks=1, n_feats=4, scale=2, res_scale=1.0,
                              x=_img(1, 8)),
                 call=lambda a: m.EDSR(a["n_resblocks"], a["n_feats"], a["scale"],
                                       a["res_scale"])(a["x"]),
                 ints={"n_resblocks": Int(0, 256, huge=False), "n_feats": Int(1, 1024),
                       "scale": Int(2, 2)},
                 numbers={"res_scale": POS}),
    "PatchDiscriminator": Spec(lambda: dict(width=4, depth=5, x=_img()),
                               call=lambda a: m.PatchDiscriminator(
                                   width=a["width"], depth=a["depth"])(a["x"]),
                               ints={"width": Int(1, 1024), "depth": Int(1, 16)},
                               tensors={"x": Arr(ndim=4)}),
    "dual_contrastive_loss": Spec(lambda: dict(real=torch.randn(6, generator=_gen()),
                                               fake=torch.randn(5, generator=_gen(1))),
                                  tensors={"real": Arr(ndim=None), "fake": Arr(ndim=None)}),
    "pcl_infonce": Spec(lambda: dict(D=_D(), sr=_img(), samples=_samples(), layer=2,
                                     temperature=1.0),
                        tensors={"sr": Arr(ndim=4)}, ints={"layer": Int(0, 4)},
                        numbers={"temperature": POS}),
    "rgb_to_y": Spec(lambda: dict(x=_img()), tensors={"x": Arr(ndim=4)}),
    "psnr_y": Spec(lambda: dict(sr=_img(1, 32), hr=_img(1, 32), scale=2),
                   tensors={"sr": Arr(ndim=4), "hr": Arr(ndim=4)}, ints={"scale": Int(2, 2)},
                   same_length=(("sr", "hr"),)),
    "ssim_y": Spec(lambda: dict(sr=_img(1, 32), hr=_img(1, 32), scale=2),
                   tensors={"sr": Arr(ndim=4), "hr": Arr(ndim=4)}, ints={"scale": Int(2, 2)},
                   same_length=(("sr", "hr"),)),
    "sr_image": Spec(lambda: dict(name="camera"), choices=("name",)),
    "SRPair": Spec(dict, call=lambda a: _pairs()[0].lr.shape),
    "sr_pairs": Spec(lambda: dict(names=["camera"], crop=32, scale=2),
                     ints={"crop": Int(8, 512, huge=False), "scale": Int(2, 2)}),
    "random_patches": Spec(lambda: dict(pairs=_pairs(), n=2, patch_size=16),
                           ints={"n": Int(1, 4096), "patch_size": Int(4, 32, huge=False)}),
    "SRHistory": Spec(dict, call=lambda a: m.SRHistory().l1),
    "train_sr": Spec(lambda: dict(model=_net(), pairs=_pairs(), steps=1, loss="pcl", lr=1e-4,
                                  batch_size=2, patch_size=16, lam=5.0, temperature=1.0,
                                  layer=2, d_width=4, seed=0),
                     call=lambda a: m.train_sr(**a).l1,
                     ints={"steps": Int(0, huge=False), "batch_size": Int(1, huge=False),
                           "seed": NONNEG_INT},
                     numbers={"lr": Num(0, 1, low_open=True), "lam": NONNEG,
                              "temperature": POS},
                     choices=("loss",)),
    "evaluate_sr": Spec(lambda: dict(model=_net(), pairs=_pairs()),
                        call=lambda a: m.evaluate_sr(**a)[0]),
}
OPT_OUT = {"RGB_MEAN": "a tuple of numbers, not a callable",
           "SR_TRAIN": "a tuple of names, not a callable",
           "SR_TEST": "a tuple of names, not a callable",
           "LOSSES": "a tuple of names, not a callable"}
XFAIL = {}
