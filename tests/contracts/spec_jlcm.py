import io

import torch
from torch import nn

from gradnotes import jlcm as m
from harness import Arr, Int, Num, Spec

NOLOOP = Int(1, huge=False)  # a step or iteration count: a huge one is a long run, not a bug
POW2 = Int(2, huge=False)    # K: also refused when not a power of two
STEP = Num(0, 1e6, low_open=True)  # a step or a margin; above 1e6 overflows float32 logits


def _g(seed=0): return torch.Generator().manual_seed(seed)


def _W(o=6, i=5): return torch.randn(o, i, generator=_g())


def _mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 6), nn.ReLU(), nn.Linear(6, 2))


def _layer(K=4):
    return m.codebook_layer(_W(), K, [3, 3], n_codebooks=2)


def _compressed():
    return m.compress_mlp(_mlp(), torch.randn(8, 3, generator=_g(1)), K=4, groups=2)[0]


def _learn_args():
    X = torch.randn(8, 5, generator=_g(1))
    return dict(layer=_layer(), X=X, Y=X @ _W().T, mode="proximal", steps=2, lr_codebook=1e-3,
                lr_mapping=0.1, margin=1.0)


def _learn_call(a):
    a = dict(a, layer=_layer())   # a fresh layer each call (learn_layer refines it in place)
    return m.learn_layer(**a)["loss_best"]


def _save_load(a):
    buf = io.BytesIO()
    m.save_compressed(a["model"], buf)
    buf.seek(0)
    return m.load_compressed(buf)[0].indices


SPECS = {
    "index_bits": Spec(lambda: dict(K=4), ints={"K": POW2},
                       extra={"K:not_power_of_two": lambda a: dict(a, K=6)}),
    "kmeans_1d": Spec(lambda: dict(x=torch.randn(20, generator=_g()), K=3, iters=5),
                      tensors={"x": Arr(ndim=None)}, ints={"K": NOLOOP, "iters": NOLOOP},
                      extra={"K:more_than_values": lambda a: dict(a, K=21)}),
    "assign_nearest": Spec(lambda: dict(w=_W(), codebook=torch.tensor([-1.0, 0.0, 1.0]),
                                        engine="torch"),
                           tensors={"w": Arr(ndim=None), "codebook": Arr(ndim=1)},
                           choices=("engine",)),
    "group_rows": Spec(lambda: dict(W=_W(), groups=2), tensors={"W": Arr(ndim=2)},
                       ints={"groups": Int(1, 6)}),
    "permute_hidden": Spec(lambda: dict(model=_mlp(), perms=[torch.arange(6).flip(0)]),
                           call=lambda a: m.permute_hidden(**a)[0].weight.detach(),
                           extra={"perms:not_a_permutation": lambda a: dict(a, perms=[torch.zeros(6, dtype=torch.long)]),
                                  "perms:wrong_count": lambda a: dict(a, perms=[])}),
    "CodebookLinear": Spec(lambda: dict(indices=torch.tensor([[0, 1], [3, 2]]),
                                        codebooks=torch.tensor([[-1.0, -0.3, 0.3, 1.0]]),
                                        scales=torch.tensor([1.0, 2.0]), group_sizes=[1, 1],
                                        x=torch.randn(4, 2, generator=_g())),
                           call=lambda a: m.CodebookLinear(a["indices"], a["codebooks"], a["scales"],
                                                           a["group_sizes"])(a["x"]).detach(),
                           tensors={"codebooks": Arr(ndim=2), "scales": Arr(ndim=1),
                                    "indices": Arr(floating=False, ndim=2, bounds=(0, 4, False, True))},
                           extra={"group_sizes:wrong_sum": lambda a: dict(a, group_sizes=[1, 2]),
                                  "codebooks:K_not_power_of_two": lambda a: dict(a, codebooks=torch.zeros(1, 3))}),
    "storage_bits": Spec(lambda: dict(layer=_layer()), call=lambda a: m.storage_bits(a["layer"])["effective_bits"]),
    "codebook_layer": Spec(lambda: dict(W=_W(), K=4, group_sizes=[3, 3], n_codebooks=2),
                           call=lambda a: m.codebook_layer(**a).indices,
                           tensors={"W": Arr(ndim=2)}, ints={"K": POW2, "n_codebooks": Int(1, huge=False)},
                           extra={"K:not_power_of_two": lambda a: dict(a, K=3),
                                  "n_codebooks:not_divisor": lambda a: dict(a, n_codebooks=4)}),
    "uniform_rtn": Spec(lambda: dict(W=_W(), K=4), call=lambda a: m.uniform_rtn(**a)[0],
                        tensors={"W": Arr(ndim=2)}, ints={"K": POW2},
                        extra={"K:not_power_of_two": lambda a: dict(a, K=5)}),
    "mapping_surrogate": Spec(lambda: dict(g=_W(), current=_W(), candidates=torch.randn(6, 4, generator=_g()),
                                           mode="proximal"), choices=("mode",)),
    "learn_layer": Spec(_learn_args, call=_learn_call,
                        tensors={"X": Arr(ndim=2), "Y": Arr(ndim=2)},
                        ints={"steps": NOLOOP},
                        numbers={"lr_codebook": STEP, "lr_mapping": STEP, "margin": STEP},
                        choices=("mode",), same_length=(("X", "Y"),),
                        extra={"X:smaller_than_codebook": lambda a: dict(a, X=a["X"][:3], Y=a["Y"][:3])}),
    "compress_mlp": Spec(lambda: dict(model=_mlp(), X=torch.randn(8, 3, generator=_g(1)), K=4, groups=2,
                                      learn="ste", steps=2),
                         call=lambda a: m.compress_mlp(**a)[0][0].indices,
                         tensors={"X": Arr(ndim=2)}, ints={"K": POW2, "groups": NOLOOP},
                         choices=("learn",),
                         extra={"X:smaller_than_codebook": lambda a: dict(a, X=a["X"][:3]),
                                "K:not_power_of_two": lambda a: dict(a, K=6)}),
    "effective_bits": Spec(lambda: dict(model=_compressed())),
    "layer_errors": Spec(lambda: dict(reference=_mlp(), compressed=_compressed(),
                                      X=torch.randn(5, 3, generator=_g(2))),
                         tensors={"X": Arr(ndim=2)}),
    "rtn_mlp": Spec(lambda: dict(model=_mlp(), K=4), call=lambda a: m.rtn_mlp(**a)[1],
                    ints={"K": POW2}, extra={"K:not_power_of_two": lambda a: dict(a, K=7)}),
    "pack_indices": Spec(lambda: dict(indices=torch.tensor([0, 3, 1, 2, 2]), bits=2),
                         tensors={"indices": Arr(floating=False, ndim=None, bounds=(0, 4, False, True))},
                         ints={"bits": Int(1, 32)}),
    "unpack_indices": Spec(lambda: dict(packed=m.pack_indices(torch.tensor([0, 3, 1, 2, 2]), 2), bits=2, n=5),
                           tensors={"packed": Arr(floating=False, ndim=1)},
                           ints={"bits": Int(1, 32), "n": Int(1, huge=False)}),
    "save_compressed": Spec(lambda: dict(model=_compressed()), call=_save_load),
    "load_compressed": Spec(lambda: dict(model=_compressed()), call=_save_load),
}
OPT_OUT = {}
XFAIL = {}
