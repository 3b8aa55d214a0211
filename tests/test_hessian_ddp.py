"""`HessianOperator` with a process group: two gloo processes, each holding its shard of the
data (45 and 15 of 60 examples, the second rank's shard in two batches), give the same
products, dense Hessian, loss, gradient, Gauss-Newton products, eigenvalues and trace as one
process on the whole data, to 1e-10 in float64."""
import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from gloo import needs_gloo, run_gloo
from gradnotes.hessian import HessianOperator


def _problem():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)).double()
    X = torch.randn(60, 4, dtype=torch.float64)
    y = torch.randint(0, 3, (60,))
    V = torch.randn(sum(p.numel() for p in net.parameters()), 3, dtype=torch.float64)
    return net, X, y, V


def _results(H, V):
    return dict(HV=H @ V, Hv=H @ V[:, 0], dense=H.dense(), loss=torch.tensor(H.loss()),
                grad=H.gradient(), GV=H.gauss_newton() @ V, eig=H.eigenvalues(k=2),
                trace=torch.tensor(H.trace(n_probes=4).estimate), n=torch.tensor(H.n))


METHODS = ("autograd", "func")


def _worker(rank, world):
    net, X, y, V = _problem()
    shard = [(X[:45], y[:45])] if rank == 0 else [(X[45:50], y[45:50]), (X[50:], y[50:])]
    return {m: _results(HessianOperator(net, F.cross_entropy, shard, method=m,
                                        group=dist.group.WORLD), V) for m in METHODS}


@needs_gloo
def test_two_shards_equal_the_whole_data():
    "One spawn for both product paths (starting the processes is most of the cost)."
    net, X, y, V = _problem()
    for got in run_gloo(_worker, world=2):
        for m in METHODS:
            ref = _results(HessianOperator(net, F.cross_entropy, (X, y), method=m), V)
            for key, value in ref.items():
                torch.testing.assert_close(got[m][key], value, rtol=0, atol=1e-10,
                                           msg=f"{m}: {key}")


def test_group_without_distributed_is_a_clear_error():
    net, X, y, _ = _problem()
    with pytest.raises(ValueError, match="not initialized"):
        HessianOperator(net, F.cross_entropy, (X, y), group=object())
