import torch

from gradnotes import fewshot_clustering as m
from harness import Arr, Int, NONNEG, POS, POS_INT, Spec

NOLOOP = Int(1, huge=False)
LABELS = Arr(floating=False, ndim=(1,), labels=3)


def _episode():
    g = torch.Generator().manual_seed(0)
    centres = 3 * torch.randn(3, 4, generator=g)
    lab = torch.arange(3).repeat(2)          # two supports per class
    qlab = torch.arange(3).repeat(3)
    return dict(support=centres[lab] + 0.3 * torch.randn(6, 4, generator=g), support_labels=lab,
                query=centres[qlab] + 0.3 * torch.randn(9, 4, generator=g))


# K is read from the labels (0..K-1, every class present): a label K is a valid K+1-th class, -1 is not
EPISODE = dict(tensors={"support": Arr(ndim=(2, 3)), "support_labels": Arr(floating=False, ndim=(1, 2)),
                        "query": Arr(ndim=(2, 3))},
               same_length=(("support", "support_labels"),),
               names={"support": ("query",)},  # a support/query shape mismatch may name either
               extra={"support_labels:negative": lambda a: dict(a, support_labels=a["support_labels"] - 1),
                      "support_labels:missing_class": lambda a: dict(a, support_labels=2 * a["support_labels"])})


def _points(): return torch.randn(8, 3, generator=torch.Generator().manual_seed(1))


def _bound_args():
    X = _points()[None]
    nbrs = m.knn_graph(X, 3)
    A = torch.randn(1, 8, 3, generator=torch.Generator().manual_seed(2))
    return dict(A=A, nbrs=nbrs, lmd=0.5, max_iter=20, tol=1e-6)


def _features():
    g = torch.Generator().manual_seed(0)
    return dict(features=torch.randn(30, 4, generator=g), labels=torch.arange(30) % 5)


SPECS = {
    "cl2n": Spec(lambda: dict(x=_points(), base_mean=torch.zeros(3)),
                 tensors={"x": Arr(ndim=None), "base_mean": Arr(ndim=1)}),
    "shift_queries": Spec(lambda: dict(support=_points()[:4], query=_points()[4:]),
                          tensors={"support": Arr(ndim=(2, 3)), "query": Arr(ndim=(2, 3), empty_ok=True)}),
    "sqdist": Spec(lambda: dict(x=_points()[:4], y=_points()[4:]),  # no rows in: no rows out
                   tensors={"x": Arr(ndim=(2, 3), empty_ok=True), "y": Arr(ndim=(2, 3), empty_ok=True)}),
    "knn_graph": Spec(lambda: dict(X=_points(), knn=3), tensors={"X": Arr(ndim=(2, 3))}, ints={"knn": Int(2)}),
    "kernel_sigma": Spec(lambda: dict(X=_points(), nbrs=m.knn_graph(_points(), 3), divisor=5.0),
                         tensors={"X": Arr(ndim=(2, 3)), "nbrs": Arr(floating=False, ndim=2, labels=8)},
                         numbers={"divisor": POS}, same_length=(("X", "nbrs"),)),
    "bound_update": Spec(_bound_args, tensors={"A": Arr(ndim=3), "nbrs": Arr(floating=False, ndim=3, labels=8)},
                         numbers={"lmd": NONNEG, "tol": NONNEG}, ints={"max_iter": NOLOOP}),
    "SLKResult": Spec(dict, call=lambda a: m.slk(**_episode())),
    "slk": Spec(lambda: dict(_episode(), lmd=0.7, mode="kmeans", knn=3, outer_iter=10, inner_iter=20, engine="numba"),
                numbers={"lmd": NONNEG}, ints={"knn": Int(2), "outer_iter": NOLOOP, "inner_iter": NOLOOP},
                choices=("mode", "engine"), **EPISODE),
    "simpleshot": Spec(_episode, **EPISODE),
    "laplacianshot": Spec(lambda: dict(_episode(), lmd=0.7, knn=3, max_iter=10, tol=1e-6),
                          numbers={"lmd": NONNEG, "tol": NONNEG}, ints={"knn": Int(2), "max_iter": NOLOOP}, **EPISODE),
    "tim": Spec(lambda: dict(_episode(), iters=5, lr=1e-3, temp=15.0),
                numbers={"lr": POS, "temp": POS}, ints={"iters": NOLOOP}, **EPISODE),
    "Episodes": Spec(dict, call=lambda a: m.sample_episodes(**_features(), n_way=3, shot=1, n_query=2, n_episodes=2)),
    "sample_episodes": Spec(lambda: dict(_features(), n_way=3, shot=1, n_query=2, n_episodes=2, seed=0),
                            tensors={"features": Arr(ndim=2), "labels": Arr(floating=False, ndim=1)},
                            ints={"n_way": POS_INT, "shot": POS_INT, "n_query": POS_INT, "n_episodes": NOLOOP,
                                  "seed": Int(0)}, same_length=(("features", "labels"),)),
    "episode_accuracy": Spec(lambda: dict(pred=torch.tensor([[0, 1, 2, 2]]), labels=torch.tensor([[0, 1, 2, 1]]),
                                          hungarian=True),
                             tensors={"pred": Arr(floating=False, ndim=2), "labels": Arr(floating=False, ndim=2)},
                             extra={"labels:huge_class": lambda a: dict(a, labels=torch.tensor([[0, 1, 2, 10**6]])),
                                    "labels:negative": lambda a: dict(a, labels=torch.tensor([[0, 1, 2, -1]])),
                                    "pred:negative": lambda a: dict(a, pred=torch.tensor([[0, 1, 2, -1]]))}),
    "mean_ci95": Spec(lambda: dict(acc=torch.tensor([0.5, 0.75, 1.0])), tensors={"acc": Arr(ndim=1, bounds=(0, 1))},
                      extra={"acc:one_episode": lambda a: dict(a, acc=torch.tensor([0.5]))}),
}
OPT_OUT = {}
# Cases that fail today (findings, fixed at their owner); strict: a fix makes its case XPASS and fail
# until its line goes. Regenerate with `python tests/contracts/report.py --write-xfail`.
XFAIL = {
    'shift_queries:support:empty': 'silent: empty support accepted (returned Tensor)',
    'shift_queries:support:ndim-1': 'unclear: IndexError: Dimension out of range (expected to be in range of [-1, 0], but go...',
    'shift_queries:support:nan': 'silent: nan support accepted (returned Tensor)',
    'shift_queries:support:inf': 'silent: inf support accepted (returned Tensor)',
    'shift_queries:support:int': 'unclear: RuntimeError: mean(): could not infer output dtype. Input dtype must be either...',
    'shift_queries:support:complex': 'silent: complex support accepted (returned Tensor)',
    'shift_queries:support:numpy': "unclear: TypeError: _mean() got an unexpected keyword argument 'keepdim'",
    'shift_queries:support:list': "unclear: AttributeError: 'list' object has no attribute 'mean'",
    'shift_queries:query:ndim-1': 'unclear: IndexError: Dimension out of range (expected to be in range of [-1, 0], but go...',
    'shift_queries:query:nan': 'silent: nan query accepted (returned Tensor)',
    'shift_queries:query:inf': 'silent: inf query accepted (returned Tensor)',
    'shift_queries:query:int': 'unclear: RuntimeError: mean(): could not infer output dtype. Input dtype must be either...',
    'shift_queries:query:complex': 'silent: complex query accepted (returned Tensor)',
    'shift_queries:query:numpy': "unclear: TypeError: _mean() got an unexpected keyword argument 'keepdim'",
    'shift_queries:query:list': "unclear: AttributeError: 'list' object has no attribute 'mean'",
    'sqdist:x:ndim-1': 'unclear: IndexError: too many indices for tensor of dimension 0',
    'sqdist:x:nan': 'silent: nan x accepted (returned Tensor)',
    'sqdist:x:inf': 'silent: inf x accepted (returned Tensor)',
    'sqdist:x:int': 'unclear: RuntimeError: expected m1 and m2 to have the same dtype, but got: long int != ...',
    'sqdist:x:float16': 'unclear: RuntimeError: expected m1 and m2 to have the same dtype, but got: c10::Half !=...',
    'sqdist:x:bfloat16': 'unclear: RuntimeError: expected m1 and m2 to have the same dtype, but got: c10::BFloat1...',
    'sqdist:x:complex': 'unclear: RuntimeError: expected m1 and m2 to have the same dtype, but got: c10::complex...',
    'sqdist:x:numpy': 'unclear: TypeError: Concatenation operation is not implemented for NumPy arrays, use np...',
    'sqdist:x:list': "unclear: TypeError: can't multiply sequence by non-int of type 'list'",
    'sqdist:y:ndim-1': 'unclear: IndexError: too many indices for tensor of dimension 0',
    'sqdist:y:nan': 'silent: nan y accepted (returned Tensor)',
    'sqdist:y:inf': 'silent: inf y accepted (returned Tensor)',
    'sqdist:y:int': 'unclear: RuntimeError: expected m1 and m2 to have the same dtype, but got: float != lon...',
    'sqdist:y:float16': 'unclear: RuntimeError: expected m1 and m2 to have the same dtype, but got: float != c10...',
    'sqdist:y:bfloat16': 'unclear: RuntimeError: expected m1 and m2 to have the same dtype, but got: float != c10...',
    'sqdist:y:complex': 'unclear: RuntimeError: expected m1 and m2 to have the same dtype, but got: float != c10...',
    'sqdist:y:list': "unclear: TypeError: can't multiply sequence by non-int of type 'list'",
    'kernel_sigma:X:empty': 'unclear: RuntimeError: Size does not match at dimension 0 expected index [8, 2] to be n...',
    'kernel_sigma:X:ndim+1': 'unclear: RuntimeError: Index tensor must have the same number of dimensions as input te...',
    'kernel_sigma:X:ndim-1': 'unclear: IndexError: too many indices for tensor of dimension 0',
    'kernel_sigma:X:nan': 'silent: nan X accepted (returned Tensor)',
    'kernel_sigma:X:inf': 'silent: inf X accepted (returned Tensor)',
    'kernel_sigma:X:int': 'silent: int X accepted (returned Tensor)',
    'kernel_sigma:X:complex': 'silent: complex X accepted (returned Tensor)',
    'kernel_sigma:X:numpy': "unclear: AttributeError: 'numpy.ndarray' object has no attribute 'gather'",
    'kernel_sigma:X:list': "unclear: TypeError: can't multiply sequence by non-int of type 'list'",
    'kernel_sigma:nbrs:empty': 'silent: empty nbrs accepted (returned Tensor)',
    'kernel_sigma:nbrs:ndim+1': 'unclear: RuntimeError: Index tensor must have the same number of dimensions as input te...',
    'kernel_sigma:nbrs:ndim-1': 'unclear: RuntimeError: Index tensor must have the same number of dimensions as input te...',
    'kernel_sigma:nbrs:label-1': 'unclear: RuntimeError: index -1 is out of bounds for dimension 1 with size 8',
    'kernel_sigma:nbrs:label=n': 'unclear: RuntimeError: index 8 is out of bounds for dimension 1 with size 8',
    'kernel_sigma:nbrs:float': 'unclear: RuntimeError: gather(): Expected dtype int32/int64 for index',
    'kernel_sigma:nbrs:numpy': "unclear: TypeError: gather(): argument 'index' (position 2) must be Tensor, not numpy.n...",
    'kernel_sigma:nbrs:list': "unclear: TypeError: gather(): argument 'index' (position 2) must be Tensor, not list",
    'kernel_sigma:divisor:below': 'silent: below divisor accepted (returned Tensor)',
    'kernel_sigma:divisor:nan': 'silent: nan divisor accepted (returned Tensor)',
    'kernel_sigma:divisor:inf': 'silent: inf divisor accepted (returned Tensor)',
    'kernel_sigma:divisor:bool': 'silent: bool divisor accepted (returned Tensor)',
    'kernel_sigma:divisor:str': "unclear: TypeError: unsupported operand type(s) for /: 'Tensor' and 'str'",
    'kernel_sigma:nbrs:mismatch': 'silent: mismatch nbrs accepted (returned Tensor)',
    'bound_update:A:empty': 'unclear: RuntimeError: Size does not match at dimension 0 expected index [1, 16, 3] to ...',
    'bound_update:A:ndim+1': 'unclear: RuntimeError: Index tensor must have the same number of dimensions as input te...',
    'bound_update:A:ndim-1': 'unclear: RuntimeError: Index tensor must have the same number of dimensions as input te...',
    'bound_update:A:nan': 'silent: nan A accepted (returned tuple)',
    'bound_update:A:inf': 'silent: inf A accepted (returned tuple)',
    'bound_update:A:int': 'unclear: NotImplementedError: "softmax_lastdim_kernel_impl" not implemented for \'Long\'',
    'bound_update:A:complex': 'unclear: NotImplementedError: "softmax_lastdim_kernel_impl" not implemented for \'Comple...',
    'bound_update:A:numpy': "unclear: TypeError: softmax(): argument 'input' (position 1) must be Tensor, not numpy....",
    'bound_update:A:list': "unclear: AttributeError: 'list' object has no attribute 'shape'",
    'bound_update:nbrs:empty': 'silent: empty nbrs accepted (returned tuple)',
    'bound_update:nbrs:ndim+1': 'unclear: ValueError: too many values to unpack (expected 3)',
    'bound_update:nbrs:ndim-1': 'unclear: ValueError: not enough values to unpack (expected 3, got 2)',
    'bound_update:nbrs:label-1': 'unclear: RuntimeError: index -1 is out of bounds for dimension 1 with size 8',
    'bound_update:nbrs:label=n': 'unclear: RuntimeError: index 8 is out of bounds for dimension 1 with size 8',
    'bound_update:nbrs:float': 'unclear: RuntimeError: gather(): Expected dtype int32/int64 for index',
    'bound_update:nbrs:numpy': "unclear: AttributeError: 'numpy.ndarray' object has no attribute 'expand'",
    'bound_update:nbrs:list': "unclear: AttributeError: 'list' object has no attribute 'shape'",
    'bound_update:lmd:below': 'silent: below lmd accepted (returned tuple)',
    'bound_update:lmd:nan': 'silent: nan lmd accepted (returned tuple)',
    'bound_update:lmd:inf': 'silent: inf lmd accepted (returned tuple)',
    'bound_update:lmd:bool': 'silent: bool lmd accepted (returned tuple)',
    'bound_update:lmd:str': 'unclear: TypeError: only integer tensors of a single element can be converted to an index',
    'bound_update:tol:below': 'silent: below tol accepted (returned tuple)',
    'bound_update:tol:nan': 'silent: nan tol accepted (returned tuple)',
    'bound_update:tol:inf': 'silent: inf tol accepted (returned tuple)',
    'bound_update:tol:bool': 'silent: bool tol accepted (returned tuple)',
    'bound_update:tol:str': 'unclear: TypeError: only integer tensors of a single element can be converted to an index',
    'bound_update:max_iter:below': 'silent: below max_iter accepted (returned tuple)',
    'bound_update:max_iter:fraction': "unclear: TypeError: 'float' object cannot be interpreted as an integer",
    'bound_update:max_iter:bool': 'silent: bool max_iter accepted (returned tuple)',
    'bound_update:max_iter:str': "unclear: TypeError: 'str' object cannot be interpreted as an integer",
    'tim:lr:huge': 'unclear: RuntimeError: value cannot be converted to type float without overflow',
    'episode_accuracy:labels:huge_class': 'unclear: RuntimeError: [enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocato...',
    'mean_ci95:acc:value<low': 'silent: value<low acc accepted (returned tuple)',
    'mean_ci95:acc:value>high': 'silent: value>high acc accepted (returned tuple)',
}
