"""`training.fit_classifier` and `fit_regressor` with a process group: two gloo processes, each
training on its share of every batch, end with the same model and history as one process on
the whole data (the classifier's batches of 17 split 9/8; the regressor's last batch holds one
example, so one rank has nothing to do)."""
import dataclasses

import pytest
import torch
import torch.distributed as dist

from gloo import needs_gloo, run_gloo
from gradnotes.data import wine
from gradnotes.training import MLP, fit_classifier, fit_regressor


def _split(float_targets=False):
    s = wine()  # float64 throughout, so that one process and two agree to rounding
    ys = [y.double() if float_targets else y for y in (s.y_train, s.y_val, s.y_test)]
    return dataclasses.replace(s, X_train=s.X_train.double(), X_val=s.X_val.double(),
                               X_test=s.X_test.double(), y_train=ys[0], y_val=ys[1],
                               y_test=ys[2])


def _classifier(group=None):
    make = lambda: MLP([13, 16, 3]).double()
    model, h = fit_classifier(make, lambda p: torch.optim.Adam(p, lr=1e-2), _split(),
                              epochs=3, batch_size=17, seed=3, group=group)
    return [p.detach() for p in model.parameters()], h.train_loss, h.val_acc, h.test_acc


def _regressor(group=None):
    s = _split(float_targets=True)
    model, h = fit_regressor(lambda: MLP([13, 8, 1]).double(),
                             lambda p: torch.optim.SGD(p, lr=1e-2, momentum=0.9), s,
                             epochs=2, batch_size=41, seed=1, group=group)
    return [p.detach() for p in model.parameters()], h.train_loss, h.val_rmse


def _worker(rank, world):
    return _classifier(dist.group.WORLD), _regressor(dist.group.WORLD)


@needs_gloo
def test_two_processes_equal_one():
    ranks = run_gloo(_worker, world=2)
    for got in ranks:  # every rank ends with the same model as one process
        for (p_got, *rest_got), (p_ref, *rest_ref) in zip(got, (_classifier(), _regressor())):
            for a, b in zip(p_got, p_ref):
                torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
            for a, b in zip(rest_got, rest_ref):
                torch.testing.assert_close(torch.tensor(a), torch.tensor(b), rtol=1e-10, atol=1e-12)


def test_group_without_distributed_is_a_clear_error():
    with pytest.raises(ValueError, match="not initialized"):
        _classifier(group=object())
