"""The torch.optim flags the package's optimizers support: `maximize` (ascend: the same trajectory
as minimizing the negated objective, bit for bit), `foreach` (the multi-tensor path agrees with the
per-parameter one), and a step that never waits for the host (no `.item()`, `float()` or `bool()`
on a tensor inside `step`, what torch.compile and CUDA graphs need)."""
import contextlib
import copy

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


# `capturable`: step counts (and lr_k / alpha_t) as tensors on the parameters' device.

@pytest.mark.parametrize("cls, kw", CASES, ids=IDS)
def test_capturable_follows_the_host_path(cls, kw):
    "The same trajectory (float64, to rounding of the step size), with tensor step counts."
    kw = {k: v for k, v in kw.items() if k != "fused"}
    host = _run(cls, dict(kw, fused=False) if cls is DiffGrad else kw)
    cap = _run(cls, dict(kw, capturable=True, **({"fused": False} if cls is DiffGrad else {})))
    assert max(float((a - b).abs().max()) for a, b in zip(host, cap)) < 1e-13


@pytest.mark.parametrize("cls, kw", CASES, ids=IDS)
def test_capturable_step_never_waits_for_the_host(cls, kw):
    "Not even the first step reads a tensor on the host; the step counts are tensors."
    def hooked():
        net = _net()
        opt = cls(net.parameters(), **kw, capturable=True)
        X = torch.randn(32, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
        for _ in range(3):
            opt.zero_grad()
            net(X).square().mean().backward()
            with _no_host_sync(): opt.step()
        return opt
    opt = hooked()
    steps = [s["step"] for s in opt.state.values() if "step" in s]
    assert steps and all(isinstance(t, torch.Tensor) and float(t) == 3 for t in steps)


@pytest.mark.parametrize("cls", [DiffGrad, AdaGradNorm])
@pytest.mark.parametrize("saved, loaded", [(True, False), (False, True)])
def test_checkpoints_load_across_capturable(cls, saved, loaded):
    "A checkpoint of either kind resumes on the other: the same run as switching the flag in place."
    net = _net()
    opt = cls(net.parameters(), lr=1e-2, capturable=saved)
    X = torch.randn(32, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)

    def steps(net, opt, n=4):
        for _ in range(n):
            opt.zero_grad()
            net(X).square().mean().backward()
            opt.step()
        return [p.detach().clone() for p in net.parameters()]
    steps(net, opt)
    sd = copy.deepcopy(opt.state_dict())
    net2 = copy.deepcopy(net)
    for g in opt.param_groups: g["capturable"] = loaded
    straight = steps(net, opt)
    opt2 = cls(net2.parameters(), lr=1e-2, capturable=loaded)
    opt2.load_state_dict(sd)
    for g in opt2.param_groups: g["capturable"] = loaded  # the checkpoint restores the flag
    resumed = steps(net2, opt2)
    assert all(torch.equal(a, b) for a, b in zip(straight, resumed))
    kinds = {type(s["step"]) for s in opt2.state.values() if "step" in s}
    assert kinds == ({torch.Tensor} if loaded else {int}), kinds


# One compiled graph for a whole training step: forward and backward through torch.func, the
# optimizer step traced in the same graph (fullgraph=True raises at any graph break).

@pytest.mark.parametrize("cls", [DiffGrad, AdaGradNorm])
def test_a_compiled_training_step_is_one_graph_without_recompiles(cls):
    from torch._dynamo.utils import counters
    breaks = sum(counters["graph_break"].values())
    net = _net(torch.float32)
    opt = cls(net.parameters(), lr=1e-2, capturable=True)
    eager_net = copy.deepcopy(net)
    eager_opt = cls(eager_net.parameters(), lr=1e-2, capturable=True)
    g = torch.Generator().manual_seed(1)
    X, y = torch.randn(16, 5, generator=g), torch.randn(16, 2, generator=g)

    def train_step(net, opt):
        params = {k: v.detach() for k, v in net.named_parameters()}
        loss_fn = lambda ps: ((torch.func.functional_call(net, ps, (X,)) - y) ** 2).mean()
        grads, loss = torch.func.grad_and_value(loss_fn)(params)
        for k, p in net.named_parameters(): p.grad = grads[k]
        opt.step()
        return loss

    compiled = torch.compile(train_step, fullgraph=True)
    for _ in range(3): compiled(net, opt)  # warm-up: the first step creates the state
    graphs, frames = counters["stats"]["unique_graphs"], dict(counters["frames"])
    for _ in range(5): compiled(net, opt)
    assert counters["stats"]["unique_graphs"] == graphs and dict(counters["frames"]) == frames
    assert sum(counters["graph_break"].values()) == breaks
    for _ in range(8): train_step(eager_net, eager_opt)
    for a, b in zip(net.parameters(), eager_net.parameters()):
        assert torch.allclose(a, b, atol=1e-5)
