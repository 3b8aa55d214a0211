"""What every optimizer of the package owes its users, whatever its update rule (the generic part of
PyTorch's own optimizer tests): complex parameters are refused with a clear `TypeError` or handled
as their real view; a parameter without a gradient is left alone; `step(closure)` returns the
closure's loss; `zero_grad` clears; two identical runs give identical `state_dict`s; parameter
groups keep their own hyperparameters. Optimizers are found by scanning every module's `__all__`
for `torch.optim.Optimizer` subclasses (the list is shared with `test_checkpoints.py`)."""
import importlib

import pytest
import torch

from test_checkpoints import OPTIMIZERS, SETTINGS


def _cls(module, name): return getattr(importlib.import_module(f"gradnotes.{module}"), name)


def _kwargs(name): return SETTINGS.get(name, [{}])[0]


IDS = [n for _, n in OPTIMIZERS]

# Cases that fail today: optimizer -> the finding.
XFAIL_COMPLEX = {}


@pytest.mark.parametrize("module, name", [pytest.param(m, n, marks=[pytest.mark.xfail(strict=True, reason=XFAIL_COMPLEX[n])]
                                           if n in XFAIL_COMPLEX else []) for m, n in OPTIMIZERS], ids=IDS)
def test_complex_parameters_are_refused_or_handled_as_real(module, name, one_thread):
    cls, kw = _cls(module, name), _kwargs(name)
    g = torch.Generator().manual_seed(0)
    z = torch.randn(3, 2, dtype=torch.complex128, generator=g)
    grads = [torch.randn(3, 2, dtype=torch.complex128, generator=g) for _ in range(3)]
    pz = z.clone().requires_grad_(True)
    try: opt = cls([pz], **kw)
    except TypeError as e:
        assert "complex" in str(e); return
    pr = torch.view_as_real(z.clone()).requires_grad_(True)
    opt_r = cls([pr], **kw)
    try:
        for gr in grads:
            pz.grad = gr.clone(); opt.step()
            pr.grad = torch.view_as_real(gr.clone()); opt_r.step()
    except TypeError as e:
        assert "complex" in str(e); return
    torch.testing.assert_close(torch.view_as_real(pz.detach()), pr.detach(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("module, name", OPTIMIZERS, ids=IDS)
def test_parameter_without_gradient_is_left_alone(module, name, one_thread):
    a, b = torch.ones(3, requires_grad=True), torch.ones(2, requires_grad=True)
    opt = _cls(module, name)([a, b], **_kwargs(name))
    for _ in range(2):
        a.grad = torch.full((3,), 0.5); opt.step()
    assert torch.equal(b.detach(), torch.ones(2)) and not torch.equal(a.detach(), torch.ones(3))


@pytest.mark.parametrize("module, name", OPTIMIZERS, ids=IDS)
def test_step_with_closure_returns_its_loss_and_zero_grad_clears(module, name, one_thread):
    p = torch.tensor([1.0, -2.0], requires_grad=True)
    opt = _cls(module, name)([p], **_kwargs(name))
    def closure():
        opt.zero_grad()
        loss = (p ** 2).sum()
        loss.backward()
        return loss
    loss = opt.step(closure)
    assert isinstance(loss, torch.Tensor) and loss.item() == 5.0
    opt.zero_grad()
    assert p.grad is None or not p.grad.any()


def _run(cls, kw, steps=3):
    torch.manual_seed(0)
    p = torch.randn(4, 3, requires_grad=True)
    q = torch.randn(3, requires_grad=True)
    opt = cls([{"params": [p]}, {"params": [q], "lr": 0.05}], **kw)
    for _ in range(steps):
        opt.zero_grad()
        ((p.sum(0) * q) ** 2).sum().backward()
        opt.step()
    return opt, p, q


@pytest.mark.parametrize("module, name", OPTIMIZERS, ids=IDS)
def test_state_dict_is_deterministic_and_groups_keep_their_lr(module, name, one_thread):
    cls, kw = _cls(module, name), _kwargs(name)
    (o1, p1, q1), (o2, p2, q2) = _run(cls, kw), _run(cls, kw)
    assert torch.equal(p1, p2) and torch.equal(q1, q2)
    s1, s2 = o1.state_dict(), o2.state_dict()
    assert s1["param_groups"] == s2["param_groups"]
    assert s1["state"].keys() == s2["state"].keys()
    for k in s1["state"]:
        for key, v in s1["state"][k].items():
            w = s2["state"][k][key]
            assert torch.equal(v, w) if isinstance(v, torch.Tensor) else v == w, (k, key)
    assert [g["lr"] for g in o1.param_groups] == [kw.get("lr", o1.defaults["lr"]), 0.05]
