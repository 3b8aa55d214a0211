import torch

from gradnotes import noisy_seg as m
from harness import Arr, Int, Num, POS, POS_INT, Spec

NOLOOP = Int(1, huge=False)  # a count, a width or an epoch number: a huge one is a long run, not a bug
MASK = Arr(ndim=3, int_ok=True, bounds=(0, 1))  # binary masks: any real dtype, values 0 and 1
UNIT = Arr(ndim=3, bounds=(0, 1))


def _masks(n=4, size=16, seed=0): return m.shape_model_masks(n, size, seed=seed)


def _prob(): return torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(0))


def _vae(a):
    return m.MaskVAE(a["size"], a["width"], a["latent"], a["kl"])


def _cyclegan(a=None):
    a = a or dict(disc="vae", calibrate=True, size=16, width=2, depth=1, latent=3, kl=1.0)
    torch.manual_seed(0)
    return m.MaskCycleGAN(a["disc"], a["calibrate"], a["size"], a["width"], a["depth"],
                          a["latent"], a["kl"]).eval()


def _net():
    torch.manual_seed(0)
    return m.UNet(1, 2, 2, 1).eval()


SPECS = {
    "Scans": Spec(dict, call=lambda a: m.Scans(torch.zeros(1, 1, 4, 4), torch.zeros(1, 4, 4))),
    "make_scans": Spec(lambda: dict(n=2, size=16, seed=0),
                       ints={"n": NOLOOP, "size": Int(16, 4096, huge=False), "seed": Int(0)}),
    "shape_model_masks": Spec(lambda: dict(n=2, size=16, seed=0),
                              ints={"n": NOLOOP, "size": Int(16, 4096, huge=False), "seed": Int(0)}),
    "corrupt_masks": Spec(lambda: dict(masks=_masks(), rate=0.5, seed=0), tensors={"masks": MASK},
                          numbers={"rate": Num(0, 1)}, ints={"seed": Int(0)}),
    "soft_dice_loss": Spec(lambda: dict(prob=_prob(), target=_masks(3), eps=1e-5, reduction="mean"),
                           tensors={"prob": UNIT, "target": UNIT}, numbers={"eps": POS},
                           choices=("reduction",), same_length=(("prob", "target"),)),
    "nr_dice_loss": Spec(lambda: dict(prob=_prob(), target=_masks(3), gamma=1.5, eps=1e-5,
                                      reduction="mean"),
                         tensors={"prob": UNIT, "target": UNIT}, numbers={"gamma": Num(1, 2), "eps": POS},
                         choices=("reduction",), same_length=(("prob", "target"),)),
    "noise_weighted_dice_loss": Spec(lambda: dict(prob=_prob(), target=_masks(3), weight=_prob(), eps=1e-5,
                                                  reduction="mean"),
                                     tensors={"prob": UNIT, "target": UNIT, "weight": Arr(ndim=3, bounds=(0, None))},
                                     numbers={"eps": POS}, choices=("reduction",),
                                     same_length=(("prob", "target", "weight"),)),
    "reliability_weights": Spec(lambda: dict(prob=_prob(), target=_masks(3), beta=2.0),
                                tensors={"prob": UNIT, "target": UNIT}, numbers={"beta": Num(0, 100)},
                                same_length=(("prob", "target"),)),
    "predict_masks": Spec(lambda: dict(net=_net(), images=torch.randn(3, 1, 8, 8), batch_size=2),
                          tensors={"images": Arr(ndim=4)}, ints={"batch_size": POS_INT}),
    "fit_segmenter": Spec(lambda: dict(images=m.make_scans(4, 16).images, labels=m.make_scans(4, 16).masks,
                                       loss="nw_dice", epochs=1, rounds=2, batch_size=2, lr=1e-3, width=2,
                                       depth=1, gamma=1.5, beta=2.0, warmup=0, seed=0),
                          tensors={"images": Arr(ndim=4), "labels": MASK},
                          numbers={"lr": POS, "gamma": Num(1, 2), "beta": Num(0, 100)},
                          ints={"epochs": NOLOOP, "rounds": NOLOOP, "batch_size": POS_INT,
                                "warmup": Int(0, huge=False), "width": NOLOOP, "depth": Int(0, 8, huge=False),
                                "seed": Int(0)},
                          choices=("loss",), same_length=(("images", "labels"),), timeout=60.0),
    "evaluate_segmenter": Spec(lambda: dict(net=_net(), images=m.make_scans(3, 16).images,
                                            masks=m.make_scans(3, 16).masks),
                               tensors={"images": Arr(ndim=4), "masks": MASK},
                               same_length=(("images", "masks"),)),
    "MaskVAE": Spec(lambda: dict(size=16, width=2, latent=3, kl=1.0, m=_masks(3)[:, None]),
                    call=lambda a: _vae(a).energy(a["m"], sample=False),
                    tensors={"m": Arr(ndim=4, bounds=(0, 1))},
                    ints={"size": Int(8, 4096, huge=False), "width": Int(1, 1024, huge=False),
                          "latent": Int(1, 4096, huge=False)},
                    numbers={"kl": Num(0, 1e3)}),
    "patch_discriminator": Spec(lambda: dict(width=2, x=torch.rand(2, 1, 8, 8)),
                                call=lambda a: m.patch_discriminator(a["width"])(a["x"]),
                                ints={"width": Int(1, 1024, huge=False)}),
    "MaskCycleGAN": Spec(lambda: dict(disc="vae", calibrate=True, size=16, width=2, depth=1,
                                      latent=3, kl=1.0, images=m.make_scans(2, 16).images),
                         call=lambda a: _cyclegan(a).segment(a["images"]),
                         tensors={"images": Arr(ndim=4)},
                         ints={"size": Int(8, 4096, huge=False), "width": Int(1, 1024, huge=False),
                               "depth": Int(0, 8, huge=False), "latent": Int(1, 4096, huge=False)},
                         numbers={"kl": Num(0, 1e3)}, choices=("disc",)),
    "translate_masks": Spec(lambda: dict(net=_cyclegan(), images=m.make_scans(3, 16).images,
                                         batch_size=2),
                            tensors={"images": Arr(ndim=4)}, ints={"batch_size": POS_INT}),
    "fit_mask_cyclegan": Spec(lambda: dict(images=m.make_scans(4, 16).images, masks=_masks(3),
                                           disc="vae", calibrate=True, steps=1, batch_size=2,
                                           lr=1e-3, width=2, depth=1, cycle=10.0, margin=0.5,
                                           seed=0),
                              tensors={"images": Arr(ndim=4), "masks": MASK},
                              numbers={"lr": POS, "cycle": Num(0, 1e6), "margin": Num(0, 1e6)},
                              ints={"steps": NOLOOP, "batch_size": POS_INT, "width": NOLOOP,
                                    "depth": Int(0, 8, huge=False), "seed": Int(0)},
                              choices=("disc",), timeout=60.0),
}
OPT_OUT = {"LOSSES": "a tuple of loss names, not a callable",
           "DISCRIMINATORS": "a tuple of discriminator names, not a callable"}
XFAIL = {}
