import tempfile
from pathlib import Path

import torch

from gradnotes import diffusion as m
from harness import NONNEG, PROB, Arr, Int, NONNEG_INT, POS, POS_INT, Spec, UNIT_OPEN

AB = Arr(ndim=(0, 1), bounds=(0, 1, True, False))          # ᾱ in (0, 1], one per sample or shared
X = Arr(ndim=None)


def _conv(fn, second):
    def args():
        g = torch.Generator().manual_seed(0)
        return {"x_t": torch.randn(4, 3, generator=g), second: torch.randn(4, 3, generator=g),
                "ab": torch.rand(4, generator=g) * 0.8 + 0.1}
    return Spec(args, tensors={"x_t": X, second: X, "ab": AB}, same_length=(("x_t", "ab"), ("x_t", second)))


def _unet(a):
    torch.manual_seed(0)
    return m.CondUNet(a["n_classes"], a["in_channels"], channels=(4, 4), emb_dim=a["emb_dim"])


def _tmp(): return Path(tempfile.mkdtemp(prefix="gn-contract-"))


def _model(): torch.manual_seed(0); return m.EpsMLP(2, hidden=8, depth=1, time_dim=4)


def _mixture(a):
    gm = m.GaussianMixture(a["means"], var=a["var"], weights=a["weights"])
    return gm.eps(a["x"], a["ab"]), gm.log_prob(a["x"], 0.5), gm.sample(a["n"], torch.Generator().manual_seed(0))


def _cc_mixture(a):
    cm = m.ClassConditionalMixture(a["means"], a["labels"], var=a["var"], weights=a["weights"])
    return (cm.eps(a["x"], a["ab"], a["y"]), cm.eps(a["x"], a["ab"]), cm.log_prob(a["x"], 0.5, a["y"]),
            cm.sample(a["n"], 1, torch.Generator().manual_seed(0)))


def _ckpt(a):
    model = _model()
    m.save_checkpoint(_tmp() / "c.pt", model, torch.optim.SGD(model.parameters(), lr=0.1), a["step"], [], torch.Generator())


SPECS = {
    "NoiseSchedule": Spec(lambda: dict(alphas_cumprod=torch.linspace(0.99, 0.1, 10, dtype=torch.float64),
                                       t=torch.tensor([0, 3, 9])),
                          call=lambda a: m.NoiseSchedule.from_alphas_cumprod(a["alphas_cumprod"]).alpha_bar(a["t"]),
                          tensors={"alphas_cumprod": Arr(ndim=1, bounds=(0, 1, True, True)),
                                   "t": Arr(floating=False, ndim=None, empty_ok=True)},  # -1: clean data; any shape
                          extra={"alphas_cumprod:increasing":
                                 lambda a: dict(a, alphas_cumprod=a["alphas_cumprod"].flip(0)),
                                 "t:below_-1": lambda a: dict(a, t=torch.tensor([0, -2])),
                                 "t:T": lambda a: dict(a, t=torch.tensor([0, 10]))}),
    "make_schedule": Spec(lambda: dict(kind="linear", T=20, beta_start=1e-4, beta_end=0.02, max_beta=0.999),
                          choices=("kind",), ints={"T": Int(1, huge=False)},
                          numbers={"beta_start": UNIT_OPEN, "beta_end": UNIT_OPEN, "max_beta": UNIT_OPEN},
                          extra={"beta_start:above_beta_end": lambda a: dict(a, beta_start=0.05, beta_end=0.01),
                                 "max_beta:one": lambda a: dict(a, kind="cosine", max_beta=1.0)}),
    "q_sample": Spec(lambda: dict(x0=torch.randn(4, 3), ab=torch.rand(4) * 0.8 + 0.1, noise=torch.randn(4, 3)),
                     tensors={"x0": X, "ab": AB, "noise": X}, same_length=(("x0", "ab"), ("x0", "noise"))),
    "x0_from_eps": _conv(m.x0_from_eps, "eps"),
    "eps_from_x0": _conv(m.eps_from_x0, "x0"),
    "v_from_eps": _conv(m.v_from_eps, "eps"),
    "eps_from_v": _conv(m.eps_from_v, "v"),
    "x0_from_v": _conv(m.x0_from_v, "v"),
    "GaussianMixture": Spec(lambda: dict(means=torch.randn(3, 2, dtype=torch.float64), var=0.3,
                                         weights=torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64),
                                         x=torch.randn(4, 2, dtype=torch.float64),
                                         ab=torch.rand(4, dtype=torch.float64) * 0.8 + 0.1, n=5),
                            call=_mixture, numbers={"var": POS}, ints={"n": POS_INT},
                            tensors={"means": Arr(ndim=2), "weights": Arr(ndim=1, bounds=(0, None)),
                                     "x": Arr(ndim=2), "ab": AB},
                            same_length=(("means", "weights"), ("x", "ab"))),
    "ClassConditionalMixture": Spec(
        lambda: dict(means=torch.randn(3, 2, dtype=torch.float64), labels=torch.tensor([0, 1, 1]), var=0.3,
                     weights=torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64),
                     x=torch.randn(4, 2, dtype=torch.float64), ab=torch.rand(4, dtype=torch.float64) * 0.8 + 0.1,
                     y=torch.tensor([0, 1, 1, 0]), n=5),
        call=_cc_mixture, numbers={"var": POS}, ints={"n": POS_INT},
        tensors={"means": Arr(ndim=2), "labels": Arr(floating=False, labels=2),
                 "weights": Arr(ndim=1, bounds=(0, None)), "x": Arr(ndim=2), "ab": AB,
                 "y": Arr(floating=False, ndim=(0, 1), labels=2)},
        same_length=(("means", "labels"), ("means", "weights"), ("x", "ab"), ("x", "y"))),
    "classifier_free_guidance": Spec(
        lambda: dict(eps_uncond=torch.randn(4, 3), eps_cond=torch.randn(4, 3), scale=2.0),
        tensors={"eps_uncond": X, "eps_cond": X}, numbers={"scale": NONNEG},
        same_length=(("eps_uncond", "eps_cond"),)),
    "timestep_embedding": Spec(lambda: dict(t=torch.tensor([0.0, 3.0, 7.5]), dim=8, max_period=1e4),
                               tensors={"t": Arr(ndim=1, int_ok=True, bounds=(-1, None), empty_ok=True)},
                               ints={"dim": Int(2, huge=False)}, numbers={"max_period": POS},
                               extra={"dim:odd": lambda a: dict(a, dim=7)}),
    "EpsMLP": Spec(lambda: dict(dim=2, hidden=8, depth=1, time_dim=4, x=torch.randn(3, 2), t=torch.tensor([0, 1, 2])),
                   call=lambda a: m.EpsMLP(a["dim"], a["hidden"], a["depth"], a["time_dim"])(a["x"], a["t"]),
                   ints={"dim": Int(1, huge=False), "hidden": Int(1, huge=False), "depth": Int(1, huge=False),
                         "time_dim": Int(2, huge=False)},
                   tensors={"x": Arr(ndim=2), "t": Arr(ndim=1, floating=False)}, same_length=(("x", "t"),)),
    "CondUNet": Spec(lambda: dict(n_classes=3, in_channels=1, emb_dim=8, x=torch.randn(3, 1, 4, 4),
                                  t=torch.tensor([0, 1, 2]), y=torch.tensor([0, 2, -1])),
                     call=lambda a: _unet(a)(a["x"], a["t"], a["y"]),
                     ints={"n_classes": Int(1, huge=False), "in_channels": Int(1, huge=False),
                           "emb_dim": Int(2, huge=False)},
                     tensors={"x": Arr(ndim=4), "t": Arr(ndim=1, floating=False),
                              "y": Arr(floating=False, ndim=(0, 1))},
                     same_length=(("x", "t"),),
                     extra={"emb_dim:odd": lambda a: dict(a, emb_dim=7),
                            "y:below_-1": lambda a: dict(a, y=torch.tensor([0, -2, 1])),
                            "y:n_classes": lambda a: dict(a, y=torch.tensor([0, 3, 1]))}),
    "guided_model": Spec(lambda: dict(y=torch.tensor([0, 1, 2]), scale=2.0, x=torch.randn(3, 1, 4, 4),
                                      t=torch.tensor([0, 1, 2])),
                         call=lambda a: m.guided_model(_unet(dict(n_classes=3, in_channels=1, emb_dim=8)),
                                                       a["y"], a["scale"])(a["x"], a["t"]),
                         numbers={"scale": NONNEG}),
    "save_checkpoint": Spec(lambda: dict(step=3), call=_ckpt, ints={"step": NONNEG_INT}),
    "train_denoiser": Spec(
        lambda: dict(model=_unet(dict(n_classes=3, in_channels=1, emb_dim=8)), X=torch.randn(8, 1, 4, 4),
                     schedule=m.make_schedule(T=10), steps=2, batch_size=4, y=torch.arange(8) % 3,
                     p_uncond=0.2, lr=1e-3, seed=0, save_every=1),
        call=lambda a: m.train_denoiser(**a), tensors={"X": X, "y": Arr(floating=False, ndim=1)},
        ints={"steps": Int(1, huge=False), "batch_size": POS_INT, "seed": Int(0), "save_every": POS_INT},
        numbers={"p_uncond": PROB, "lr": POS}, same_length=(("X", "y"),),
        extra={"y:negative": lambda a: dict(a, y=torch.arange(8) % 3 - 1)}),
    "frechet_distance": Spec(lambda: dict(a=torch.randn(6, 2), b=torch.randn(5, 2)),
                             tensors={"a": Arr(ndim=2), "b": Arr(ndim=2)}),
    "FeatureFrechet": Spec(lambda: dict(X=torch.randn(12, 2), y=torch.arange(12) % 3, hidden=4, epochs=1, seed=0,
                                        samples=torch.randn(5, 2)),
                           call=lambda a: m.FeatureFrechet(a["X"], a["y"], a["hidden"], a["epochs"], a["seed"])(a["samples"]),
                           tensors={"X": Arr(ndim=2), "y": Arr(floating=False), "samples": Arr(ndim=2)},
                           ints={"hidden": Int(1, huge=False), "epochs": Int(1, huge=False), "seed": Int(0)},
                           same_length=(("X", "y"),)),
}
OPT_OUT = {}
# Cases that fail today (findings, fixed at their owner); strict: a fix makes its case XPASS and fail
# until its line goes. Regenerate with `python tests/contracts/report.py --write-xfail`.
XFAIL = {}
