"""The LLP estimators with a process group: two gloo processes hold the same data, share out
every batch's bags (uneven shares: batches of 3 bags split 2/1), and end with the same
networks as one process: DLLP, and LLPBP with its aggregate loss (per-instance and per-bag
terms weighted separately)."""
import torch
import torch.distributed as dist

from gloo import needs_gloo, run_gloo
from gradnotes.llp_bp import DLLP, LLPBP, bag_proportions, random_bags


def _data():
    g = torch.Generator().manual_seed(0)
    y = (torch.rand(120, generator=g) < 0.4).long()
    X = (torch.randn(120, 5, generator=g, dtype=torch.float64) + 2.0 * y[:, None])
    bags = random_bags(120, 8, seed=0)
    return X, bags, bag_proportions(y, bags)


def _fit_all(group=None):
    X, bags, p = _data()
    out = []
    for est in (DLLP(hidden=(8,), epochs=3, batch_size=24, seed=1),
                LLPBP(lam_bag=1.0, lam_sim=1.0, hidden=(8,), epochs=2, batch_size=24,
                      agg_weight=0.1, rounds=1, seed=2)):
        est.fit(X, bags=bags, proportions=p, group=group)
        out.append([q.detach() for q in est.model_.parameters()])
    return out


def _worker(rank, world):
    return _fit_all(dist.group.WORLD)


@needs_gloo
def test_two_processes_equal_one():
    ranks = run_gloo(_worker, world=2)
    ref = _fit_all()
    for got in ranks:
        for params, params_ref in zip(got, ref):
            for a, b in zip(params, params_ref):
                torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11)
