import torch

from gradnotes import ignite as m
from harness import Arr, Int, NONNEG, NONNEG_INT, Num, POS, POS_INT, Spec

SMALL = Int(1, huge=False)  # a width, a count of epochs or steps: a huge one is a long run
QUANTILE = Num(0, 1, low_open=True)


def _gen(): return torch.Generator().manual_seed(0)


def _net(): torch.manual_seed(0); return m.GaussianSurrogate(3, hidden=(8,))


def _X(n=16, d=3): return torch.randn(n, d, generator=_gen())


def _potts(): return m.make_potts(length=4, alphabet=3, seed=0)


def _seqs(n=6): return torch.randint(0, 3, (n, 4), generator=_gen())


def _task(): return m.potts_task(_potts(), seed=0, n_ood=8)


def _ignite(a):
    a = dict(a)
    net, X = _net(), a.pop("X")
    ig = m.Ignite(net, torch.optim.Adam(net.parameters(), lr=1e-3), **a)
    loss = m.gaussian_nll(net(_X()), torch.randn(16, generator=_gen()))
    return ig.step(loss, X)["lam"]


SPECS = {
    "sharpness_grad": Spec(lambda: dict(model=_net(), X=_X(), r=0.05, output=0),
                           tensors={"X": Arr(ndim=2)}, numbers={"r": POS},
                           ints={"output": Int(0, 1, huge=False)}),
    "GaussianSurrogate": Spec(lambda: dict(dim=3, hidden=(4,)), ints={"dim": SMALL}),
    "gaussian_nll": Spec(lambda: dict(out=torch.randn(6, 2, generator=_gen()),
                                      y=torch.randn(6, generator=_gen())),
                         tensors={"out": Arr(ndim=2), "y": Arr(ndim=1)},
                         same_length=(("out", "y"),)),
    "Ignite": Spec(lambda: dict(X=_X(), lam=1e-3,
                                rho=0.05, eps=0.1, lr_lambda=1e-3, r=0.05, hvp="fd"),
                   call=_ignite, tensors={"X": Arr(ndim=2)},
                   numbers={"lam": NONNEG, "rho": NONNEG, "eps": NONNEG, "lr_lambda": NONNEG,
                            "r": POS},
                   choices=("hvp",)),
    "all_sequences": Spec(lambda: dict(length=3, alphabet=2),
                          ints={"length": Int(1, 24), "alphabet": Int(2, 64)}),
    "check_sequences": Spec(lambda: dict(name="seqs", seqs=_seqs(), length=4, alphabet=3),
                            tensors={"seqs": Arr(ndim=2, floating=False, labels=3)}),
    "PottsOracle": Spec(dict, call=lambda a: m.PottsOracle(_potts().h, _potts().J).length),
    "make_potts": Spec(lambda: dict(length=4, alphabet=3, coupling=1.0, seed=0),
                       ints={"length": Int(2, 24), "alphabet": Int(2, 64),
                             "seed": NONNEG_INT},
                       numbers={"coupling": NONNEG}),
    "potts_score": Spec(lambda: dict(oracle=_potts(), seqs=_seqs(), engine="torch"),
                        tensors={"seqs": Arr(ndim=2, floating=False, labels=3)},
                        choices=("engine",)),
    "hide_top": Spec(lambda: dict(y=torch.randn(40, generator=_gen()), keep_below=0.5,
                                  fraction=0.5, seed=0),
                     tensors={"y": Arr(ndim=1)},
                     numbers={"keep_below": QUANTILE, "fraction": QUANTILE},
                     ints={"seed": NONNEG_INT}),
    "OfflineTask": Spec(dict, call=lambda a: (lambda t: t.normalize(t.score(t.x)))(_task())),
    "seqs_to_logits": Spec(lambda: dict(seqs=_seqs(), alphabet=3, soft=0.6),
                           tensors={"seqs": Arr(ndim=2, floating=False, labels=3)},
                           ints={"alphabet": Int(2, huge=False)},
                           numbers={"soft": Num(1 / 3, 1, low_open=True, high_open=True)}),
    "logits_to_seqs": Spec(lambda: dict(x=torch.randn(5, 12, generator=_gen()), length=4,
                                        alphabet=3),
                           tensors={"x": Arr(ndim=2)}),
    "potts_task": Spec(lambda: dict(oracle=_potts(), keep_below=0.5, fraction=0.5, seed=0,
                                    n_ood=8),
                       numbers={"keep_below": QUANTILE, "fraction": QUANTILE},
                       ints={"seed": NONNEG_INT, "n_ood": POS_INT}),
    "RandomMLPOracle": Spec(lambda: dict(dim=3, hidden=4, seed=0, x=_X()),
                            call=lambda a: m.RandomMLPOracle(a["dim"], a["hidden"],
                                                             a["seed"])(a["x"]),
                            tensors={"x": Arr(ndim=2)},
                            ints={"dim": SMALL, "hidden": SMALL, "seed": NONNEG_INT}),
    "neg_ackley": Spec(lambda: dict(x=_X()), tensors={"x": Arr(ndim=2)}),
    "continuous_task": Spec(lambda: dict(oracle=m.neg_ackley, dim=2, n=60, keep_below=0.5,
                                         fraction=0.5, seed=0, n_ood=8),
                            numbers={"keep_below": QUANTILE, "fraction": QUANTILE},
                            ints={"dim": SMALL, "n": Int(2, huge=False), "seed": NONNEG_INT,
                                  "n_ood": POS_INT}),
    "SurrogateHistory": Spec(dict, call=lambda a: m.SurrogateHistory().loss),
    "fit_surrogate": Spec(lambda: dict(task=_task(), mode="ignite", epochs=1, batch_size=8,
                                       lr=1e-3, hidden=(4,), seed=0, hvp="fd"),
                          call=lambda a: m.fit_surrogate(**a)[1].loss,
                          numbers={"lr": POS},
                          ints={"epochs": SMALL, "batch_size": POS_INT, "seed": NONNEG_INT},
                          choices=("mode", "hvp")),
    "gradient_ascent": Spec(lambda: dict(models=_net(), x0=_X(4), steps=3, lr=0.01),
                            tensors={"x0": Arr(ndim=2)},
                            numbers={"lr": NONNEG}, ints={"steps": Int(0, huge=False)}),
    "top_designs": Spec(lambda: dict(task=_task(), k=4), ints={"k": Int(1, len(_task().x))}),
    "percentiles": Spec(lambda: dict(task=_task(), x=_task().x[:5]),
                        tensors={"x": Arr(ndim=2)}),
}
OPT_OUT = {"MODES": "a tuple of names, not a callable"}
XFAIL = {}
