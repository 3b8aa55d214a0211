"""Contracts of gradnotes.training's regression loop: determinism, divergence, bad input."""
import math

import pytest
import torch

from gradnotes.data import diabetes, wine
from gradnotes.training import MLP, fit_regressor, rmse


def _scaled():
    sp = diabetes()
    sp.y_train, sp.y_val, sp.y_test = (t / 100 for t in (sp.y_train, sp.y_val, sp.y_test))
    return sp


def test_same_seed_same_run(one_thread):
    sp = _scaled()
    runs = [fit_regressor(lambda: MLP([10, 8, 1]), lambda p: torch.optim.Adam(p, 1e-2), sp, epochs=3,
                          seed=s)[1] for s in (1, 1, 2)]
    assert runs[0].train_loss == runs[1].train_loss != runs[2].train_loss


def test_rmse_is_the_root_mean_square():
    model = torch.nn.Linear(1, 1)
    with torch.no_grad(): model.weight.fill_(0.0); model.bias.fill_(1.0)
    assert math.isclose(rmse(model, torch.zeros(4, 1), torch.tensor([1.0, 1.0, 3.0, 3.0])), 2 ** 0.5 * 1.0)


def test_divergence_is_reported(one_thread):
    h = fit_regressor(lambda: MLP([10, 8, 1]), lambda p: torch.optim.SGD(p, lr=float("nan")), _scaled(), epochs=2)[1]
    assert h.diverged and math.isnan(h.test_rmse)


def test_bad_input():
    with pytest.raises(TypeError, match="float targets"):
        fit_regressor(lambda: MLP([13, 3]), lambda p: torch.optim.SGD(p, 0.1), wine())
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        fit_regressor(lambda: MLP([10, 1]), lambda p: torch.optim.SGD(p, 0.1), _scaled(), epochs=0)
    with pytest.raises(ValueError, match="empty X"):
        rmse(torch.nn.Linear(2, 1), torch.zeros(0, 2), torch.zeros(0))
