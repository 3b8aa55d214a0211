"""The torch.optim flags the package's optimizers support: `maximize` (ascend: the same trajectory
as minimizing the negated objective, bit for bit), `foreach` (the multi-tensor path agrees with the
per-parameter one), and a step that never waits for the host (no `.item()`, `float()` or `bool()`
on a tensor inside `step`, what torch.compile and CUDA graphs need)."""
import contextlib

import pytest
import torch

from gradnotes.adadagrad import AdaGradNorm
from gradnotes.diffgrad import DiffGrad
from test_checkpoints import SETTINGS

CASES = [(cls, kw) for cls in (DiffGrad, AdaGradNorm) for kw in SETTINGS[cls.__name__]]
IDS = [f"{c.__name__}-{i}" for c in (DiffGrad, AdaGradNorm) for i in range(len(SETTINGS[c.__name__]))]


def _net(dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 2)).to(dtype)


def _run(cls, kw, sign=1.0, steps=8, dtype=torch.float64, hook=None):
    net = _net(dtype)
    opt = cls(net.parameters(), **kw)
    g = torch.Generator().manual_seed(1)
    X, y = torch.randn(32, 5, generator=g, dtype=dtype), torch.randn(32, 2, generator=g, dtype=dtype)
    for t in range(steps):
        opt.zero_grad()
        (sign * ((net(X) - y) ** 2).mean()).backward()
        with (hook() if hook and t > 0 else contextlib.nullcontext()): opt.step()
    return [p.detach().clone() for p in net.parameters()]


@pytest.mark.parametrize("cls, kw", CASES, ids=IDS)
def test_maximize_ascends_the_negated_objective(cls, kw):
    down = _run(cls, kw)
    up = _run(cls, dict(kw, maximize=True), sign=-1.0)
    assert all(torch.equal(a, b) for a, b in zip(down, up))


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-13), (torch.float32, 1e-6)])
@pytest.mark.parametrize("cls, kw", CASES, ids=IDS)
def test_foreach_path_agrees_with_the_loop(cls, kw, dtype, tol):
    a = _run(cls, dict(kw, foreach=False), dtype=dtype)
    b = _run(cls, dict(kw, foreach=True), dtype=dtype)
    assert max(float((x - y).abs().max()) for x, y in zip(a, b)) < tol


@contextlib.contextmanager
def _no_host_sync():
    "Make every tensor-to-Python conversion raise inside the block."
    def refuse(*a, **k): raise AssertionError("a host synchronization inside step()")
    names = ("item", "tolist", "__float__", "__int__", "__bool__")
    saved = {n: getattr(torch.Tensor, n) for n in names}
    for n in names: setattr(torch.Tensor, n, refuse)
    try: yield
    finally:
        for n, f in saved.items(): setattr(torch.Tensor, n, f)


@pytest.mark.parametrize("cls, kw", CASES, ids=IDS)
def test_step_never_waits_for_the_host(cls, kw):
    "After the first step (which creates state), a step reads no tensor value on the host."
    synced = _run(cls, kw, hook=_no_host_sync)
    assert all(torch.equal(a, b) for a, b in zip(synced, _run(cls, kw)))


@pytest.mark.parametrize("cls", [DiffGrad, AdaGradNorm])
def test_flags_are_checked(cls):
    p = [torch.zeros(2, requires_grad=True)]
    with pytest.raises(TypeError, match="maximize"): cls(p, maximize="yes")
    with pytest.raises(TypeError, match="foreach"): cls(p, foreach=1)


@pytest.mark.parametrize("cls", [DiffGrad, AdaGradNorm])
def test_old_checkpoints_without_the_flags_still_load(cls):
    net = _net()
    opt = cls(net.parameters())
    net(torch.randn(3, 5, dtype=torch.float64)).sum().backward()
    opt.step()
    sd = opt.state_dict()
    for g in sd["param_groups"]: g.pop("maximize"), g.pop("foreach", None)
    opt2 = cls(net.parameters())
    opt2.load_state_dict(sd)
    opt2.step()
