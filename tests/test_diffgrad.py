"""DiffGrad: cross-check against pytorch-optimizer, state, devices and bad input."""
import copy
import io
from functools import partial

import pytest
import torch

from gradnotes.diffgrad import DiffGrad


def _trajectory(make_opt, steps=100, weight_decay=0.0, dtype=torch.float64, device="cpu"):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(10, 20), torch.nn.Tanh(), torch.nn.Linear(20, 3)).to(device, dtype)
    X = torch.randn(64, 10, dtype=dtype).to(device)  # drawn on the CPU: the same data on every device
    y = torch.randint(0, 3, (64,)).to(device)
    opt = make_opt(net.parameters())
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(X), y).backward()
        opt.step()
    return torch.cat([p.detach().flatten().cpu() for p in net.parameters()])


@pytest.fixture
def peer_without_inner_eps(monkeypatch):
    """pytorch-optimizer's DiffGrad with its extra 1e-15 under the square root removed.

    That library computes sqrt(v + 1e-15) + eps; the paper and the official code compute sqrt(v) + eps.
    """
    po = pytest.importorskip("pytorch_optimizer")
    from pytorch_optimizer.base.optimizer import BaseOptimizer
    for name in ("apply_ams_bound", "apply_ams_bound_foreach"):
        original = getattr(BaseOptimizer, name)
        monkeypatch.setattr(BaseOptimizer, name, staticmethod(partial(original, exp_avg_sq_eps=0.0)))
    return po.DiffGrad


@pytest.mark.parametrize("weight_decay", [0.0, 1e-2])
@pytest.mark.parametrize("foreach", [False, True])
def test_matches_pytorch_optimizer(peer_without_inner_eps, weight_decay, foreach):
    ours = _trajectory(lambda p: DiffGrad(p, lr=1e-2, weight_decay=weight_decay, foreach=foreach), weight_decay=weight_decay)
    peer = _trajectory(lambda p: peer_without_inner_eps(p, lr=1e-2, weight_decay=weight_decay, weight_decouple=False,
                                                        foreach=foreach))
    assert (ours - peer).abs().max().item() < 1e-12


def test_peer_inner_eps_is_the_only_difference():
    """With the peer's 1e-15 left in, trajectories differ measurably: the fixture above is needed, and sufficient."""
    po = pytest.importorskip("pytorch_optimizer")
    ours = _trajectory(lambda p: DiffGrad(p, lr=1e-2))
    peer = _trajectory(lambda p: po.DiffGrad(p, lr=1e-2, weight_decouple=False))
    assert (ours - peer).abs().max().item() > 1e-8


def test_paths_agree_float32():
    a = _trajectory(lambda p: DiffGrad(p, lr=1e-2, foreach=True), dtype=torch.float32)
    b = _trajectory(lambda p: DiffGrad(p, lr=1e-2, foreach=False), dtype=torch.float32)
    assert torch.allclose(a, b, atol=1e-5)


def test_state_dict_moves_between_paths():
    torch.manual_seed(0)
    w = torch.randn(5, requires_grad=True)
    opt = DiffGrad([w], lr=0.1, foreach=True)
    for t in range(5):
        w.grad = torch.sin(w.detach() * (t + 1)); opt.step()
    w2 = w.detach().clone().requires_grad_(True)
    opt2 = DiffGrad([w2], lr=0.1, foreach=False)
    opt2.load_state_dict(copy.deepcopy(opt.state_dict()))  # state_dict() returns live tensors
    for t in range(5, 10):
        for p, o in ((w, opt), (w2, opt2)):
            p.grad = torch.sin(p.detach() * (t + 1)); o.step()
    assert torch.allclose(w, w2, atol=1e-6)
    assert opt2.state[w2]["step"] == 10


def test_mixed_dtypes_in_one_group():
    a = torch.ones(3, dtype=torch.float32, requires_grad=True)
    b = torch.ones(3, dtype=torch.float64, requires_grad=True)
    opt = DiffGrad([a, b], lr=0.1)
    a.grad, b.grad = torch.ones(3), torch.ones(3, dtype=torch.float64)
    opt.step()
    assert torch.allclose(a.double(), b, atol=1e-7) and (a < 1).all()


@pytest.mark.parametrize("kwargs, message", [
    (dict(lr=-1.0), "lr (DiffGrad) must be >= 0"),
    (dict(lr=float("inf")), "lr (DiffGrad) must be finite"),
    (dict(betas=(1.0, 0.999)), "betas (DiffGrad)[0] must be < 1"),
    (dict(betas=(0.9, -0.1)), "betas (DiffGrad)[1] must be >= 0"),
    (dict(betas=(0.9,)), "betas (DiffGrad) must be a pair"),
    (dict(eps=-1e-8), "eps (DiffGrad) must be >= 0"),
    (dict(weight_decay=float("nan")), "weight_decay (DiffGrad) must be finite"),
    (dict(lr="0.1"), "lr (DiffGrad) must be a real number"),
    (dict(foreach=1), "foreach (DiffGrad) must be True, False or None"),
])
def test_bad_hyperparameters(kwargs, message):
    with pytest.raises((ValueError, TypeError)) as info:
        DiffGrad([torch.zeros(1, requires_grad=True)], **kwargs)
    assert message in str(info.value)


def test_each_param_group_is_validated():
    a, b = torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)
    with pytest.raises(ValueError, match=r"betas \(param_groups\[1\]\)\[1\] must be < 1"):
        DiffGrad([{"params": [a]}, {"params": [b], "betas": (0.9, 1.5)}])
    opt = DiffGrad([a])
    with pytest.raises(ValueError, match=r"eps \(param_groups\[1\]\) must be >= 0"):
        opt.add_param_group({"params": [b], "eps": -1.0})


def test_complex_parameters_are_refused_before_any_state_changes():
    z = torch.zeros(2, dtype=torch.complex64, requires_grad=True)
    z.grad = torch.ones(2, dtype=torch.complex64)
    opt = DiffGrad([z])
    with pytest.raises(TypeError, match="complex parameters"):
        opt.step()
    assert z not in opt.state


def test_sparse_gradient_is_refused():
    emb = torch.nn.Embedding(10, 3, sparse=True)
    emb(torch.tensor([1])).sum().backward()
    with pytest.raises(TypeError, match="sparse gradients"):
        DiffGrad(emb.parameters()).step()


@pytest.mark.cuda
@pytest.mark.parametrize("foreach", [None, False, True])
def test_cuda_matches_cpu(foreach):
    cpu = _trajectory(lambda p: DiffGrad(p, lr=1e-2, weight_decay=1e-3, foreach=foreach), steps=50)
    gpu = _trajectory(lambda p: DiffGrad(p, lr=1e-2, weight_decay=1e-3, foreach=foreach), steps=50, device="cuda")
    assert torch.allclose(cpu, gpu, atol=1e-10)


def _resume_run(make_opt, dtype, steps=12, stop=5):
    """Parameters after `steps` steps, uninterrupted and with a checkpoint round trip at `stop`."""
    def data(t):
        g = torch.Generator().manual_seed(100 + t)
        return torch.randn(16, 4, generator=g).to(dtype), torch.randn(16, 2, generator=g).to(dtype)

    def train(net, opt, ts):
        for t in ts:
            X, y = data(t)
            opt.zero_grad()
            torch.nn.functional.mse_loss(net(X), y).backward()
            opt.step()

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2)).to(dtype)
    net2 = copy.deepcopy(net)
    opt = make_opt(net.parameters())
    train(net, opt, range(steps))
    opt2 = make_opt(net2.parameters())
    train(net2, opt2, range(stop))
    buf = io.BytesIO()
    torch.save({"model": net2.state_dict(), "opt": opt2.state_dict()}, buf)
    buf.seek(0)
    ckpt = torch.load(buf)
    net3 = copy.deepcopy(net2)
    net3.load_state_dict(ckpt["model"])
    opt3 = make_opt(net3.parameters())
    opt3.load_state_dict(ckpt["opt"])
    train(net3, opt3, range(stop, steps))
    return list(net.parameters()), list(net3.parameters())


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])
@pytest.mark.parametrize("foreach", [False, True])
def test_resume_is_bit_identical(dtype, foreach):
    a, b = _resume_run(lambda p: DiffGrad(p, lr=1e-2, weight_decay=1e-3, foreach=foreach), dtype)
    for p, q in zip(a, b):
        assert p.dtype == dtype and torch.equal(p, q)


def test_state_dict_deterministic():
    """PyTorch's convention: an optimizer loaded from a state dict steps exactly as the original."""
    torch.manual_seed(0)
    w = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True)
    x = torch.randn(4, dtype=torch.float64)

    def closure(params, opt):
        opt.zero_grad()
        loss = (x @ params[0] + params[1]).pow(2).sum()
        loss.backward()
        return loss

    opt = DiffGrad([w, b], lr=0.1)
    for _ in range(3):
        opt.step(lambda: closure([w, b], opt))
    w2, b2 = (t.detach().clone().requires_grad_(True) for t in (w, b))
    opt2 = DiffGrad([w2, b2], lr=0.1)
    opt2.load_state_dict(copy.deepcopy(opt.state_dict()))
    for _ in range(5):
        opt.step(lambda: closure([w, b], opt))
        opt2.step(lambda: closure([w2, b2], opt2))
        assert torch.equal(w, w2) and torch.equal(b, b2)
    s1, s2 = opt.state_dict(), opt2.state_dict()
    assert s1["param_groups"] == s2["param_groups"]
    for k in s1["state"]:
        for name, v in s1["state"][k].items():
            v2 = s2["state"][k][name]
            assert torch.equal(v, v2) if torch.is_tensor(v) else v == v2
