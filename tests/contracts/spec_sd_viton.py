import torch

from gradnotes import sd_viton as m
from harness import Arr, Int, Num, POS, Spec

NOLOOP = Int(1, huge=False)  # a step or sample count: a huge one is a long run, not a bug
SIZE = Int(16, 4096, huge=False)
MASK = Arr(ndim=4, bounds=(0, 1))


def _x(c=1): return torch.rand(2, c, 8, 6, generator=torch.Generator().manual_seed(0))


def _flow(c=2): return 0.05 * torch.randn(2, c, 8, 6, generator=torch.Generator().manual_seed(1))


def _mask():
    k = torch.zeros(2, 1, 8, 6)
    k[..., 2:6, 1:5] = 1
    return k


def _small(): return m.make_garments(n=1, h=16, w=12, seed=0)


SPECS = {
    "identity_grid": Spec(lambda: dict(h=4, w=3), ints={"h": Int(2, huge=False),
                                                       "w": Int(2, huge=False)}),
    "warp": Spec(lambda: dict(x=_x(), flow=_flow(), padding="zeros"),
                 tensors={"x": Arr(ndim=4), "flow": Arr(ndim=4)}, choices=("padding",)),
    "compose_flows": Spec(lambda: dict(first=_flow(), second=_flow()),
                          tensors={"first": Arr(ndim=4), "second": Arr(ndim=4)}),
    "affine_flow": Spec(lambda: dict(theta=torch.tensor([[1., 0, 0], [0, 1, 0]]), h=4, w=3),
                        tensors={"theta": Arr(ndim=2)},
                        ints={"h": Int(2, huge=False), "w": Int(2, huge=False)}),
    "jacobian_det": Spec(lambda: dict(flow=_flow()), tensors={"flow": Arr(ndim=4)}),
    "fold_fraction": Spec(lambda: dict(flow=_flow(), mask=_mask()),
                          tensors={"flow": Arr(ndim=4), "mask": MASK}),
    "tv_loss": Spec(lambda: dict(flow=_flow()), tensors={"flow": Arr(ndim=4)}),
    "mask_iou": Spec(lambda: dict(pred=_x(), target=_mask(), threshold=0.5),
                     tensors={"pred": Arr(ndim=4), "target": MASK},
                     numbers={"threshold": Num(0, 1, low_open=True, high_open=True)}),
    "z_erase_warp": Spec(lambda: dict(x=_x(), flow3=_flow(3)),
                         tensors={"x": Arr(ndim=4), "flow3": Arr(ndim=4)}),
    "z_distance_loss": Spec(lambda: dict(z=_flow(1), roi=_mask()),
                            tensors={"z": Arr(ndim=4), "roi": MASK}),
    "Garment": Spec(dict, call=lambda a: _small()),
    "make_garments": Spec(lambda: dict(n=1, h=16, w=12, texture="stripes", seed=0),
                          ints={"n": NOLOOP, "h": SIZE, "w": Int(12, 4096, huge=False),
                                "seed": Int(0)}, choices=("texture",)),
    "TryOnFit": Spec(dict, call=lambda a: m.fit_flows(_small(), steps=1, n_levels=2)),
    "fit_flows": Spec(lambda: dict(g=_small(), method="sd", steps=2, lr=0.01, n_levels=2,
                                   tv=20.0, lam_mask=10.0),
                      numbers={"lr": Num(0, 1, low_open=True), "tv": Num(0, 1e6),
                               "lam_mask": Num(0, 1e6)},
                      ints={"steps": NOLOOP, "n_levels": Int(1, 6, huge=False)},
                      choices=("method",)),
    "stripe_period": Spec(lambda: dict(img=_x()[0, 0], mask=torch.ones(8, 6), pad=16,
                                       longest=6.0),
                          tensors={"img": Arr(ndim=2), "mask": Arr(ndim=2)},
                          ints={"pad": Int(8, huge=False)},
                          numbers={"longest": Num(2, 16, low_open=True)}),
}
OPT_OUT = {}
XFAIL = {}


def _cond(): return torch.ones(1, 2, 16, 12)


SPECS.update({
    "FlowNet": Spec(lambda: dict(n_levels=2, width=2, cond_channels=2, taco=True,
                                 cloth=_small().cloth, cloth_mask=_small().cloth_mask,
                                 cond=_cond()),
                    call=lambda a: m.FlowNet(a["n_levels"], a["width"], a["cond_channels"],
                                             a["taco"])(a["cloth"], a["cloth_mask"],
                                                        a["cond"]),
                    ints={"n_levels": Int(1, 6, huge=False), "width": Int(1, 1024, huge=False),
                          "cond_channels": Int(0, 64, huge=False)},
                    tensors={"cloth": Arr(ndim=4), "cloth_mask": MASK, "cond": Arr(ndim=4)}),
    "person_condition": Spec(lambda: dict(g=_small())),
    "train_flow_net": Spec(lambda: dict(g=_small(), method="sd", steps=1, batch=1, lr=1e-3,
                                        n_levels=2, width=2, tv=20.0, lam_mask=10.0, seed=0),
                           numbers={"lr": Num(0, 1, low_open=True), "tv": Num(0, 1e6),
                                    "lam_mask": Num(0, 1e6)},
                           ints={"steps": NOLOOP, "batch": NOLOOP,
                                 "n_levels": Int(1, 6, huge=False),
                                 "width": Int(1, 1024, huge=False), "seed": Int(0)},
                           choices=("method",)),
    "apply_flow_net": Spec(lambda: dict(net=m.FlowNet(2, 2), g=_small())),
})
