"""DiffGrad's fused step (one torch.compile kernel over flat buffers) and `capturable`: agreement
with the reference path per step, checkpoints across paths, and compilation counted."""
import copy
import io

import pytest
import torch
from torch._dynamo.utils import counters

from gradnotes import diffgrad as dg
from gradnotes.diffgrad import DiffGrad, diffgrad_fused, diffgrad_single

needs_compile = pytest.mark.skipif(dg._compiled() is None, reason="torch.compile is unavailable")
pytestmark = needs_compile


def _state(dtype, n=1000, seed=0):
    "p, g, m, v, g_prev with a history: every term of the update is exercised."
    gen = torch.Generator().manual_seed(seed)
    p, g, m, prev = (torch.randn(n, generator=gen, dtype=dtype) for _ in range(4))
    return [p, g, m, torch.rand(n, generator=gen, dtype=dtype), prev]


def _one_step(update, dtype, wd, maximize=False):
    p, g, m, v, prev = _state(dtype)
    if maximize and update is diffgrad_single: g = -g
    kw = dict(maximize=True) if maximize and update is diffgrad_fused else {}
    update([p], [g], [m], [v], [prev], [3e-3], 0.9, 0.999, 1e-8, wd, **kw)
    return p, m, v, prev


@pytest.mark.parametrize("maximize", [False, True])
@pytest.mark.parametrize("wd", [0.0, 1e-1])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_one_step_within_a_few_ulp_of_the_reference(dtype, wd, maximize):
    """Per element, within 4 ulp of the larger of the value and its inputs' scale (eager's lerp and
    add-with-alpha use fused multiply-adds, the compiled loop rounds each product)."""
    p0, g, m0, v0, _ = _state(dtype)
    fused = _one_step(diffgrad_fused, dtype, wd, maximize)
    ref = _one_step(diffgrad_single, dtype, wd, maximize)
    g_eff = g.abs() + wd * p0.abs()
    scales = [p0.abs(), m0.abs() + g_eff, v0.abs() + g_eff**2, g_eff]
    eps = torch.finfo(dtype).eps
    for name, a, b, s in zip(["p", "m", "v", "g_prev"], fused, ref, scales):
        assert ((a - b).abs() <= 4 * eps * torch.maximum(b.abs(), s)).all(), name
    # the parameter moves by alpha_t * xi m / (sqrt(v) + eps): compare the moves, relatively
    move_f, move_r = fused[0] - p0, ref[0] - p0
    assert ((move_f - move_r).abs() <= 64 * eps * move_r.abs() + 4 * eps * p0.abs()).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_exact_where_the_same_operations_are_used(dtype):
    """Without weight decay the stored gradient is a copy on both paths: bit-exact. (The moments
    are not: eager's vectorized lerp and addcmul contract a product into a fused multiply-add,
    the compiled loop does not, so m and v differ in the last bit in some elements: 4-11 % of
    them for m here, within the bound of the test above.)"""
    fused, ref = _one_step(diffgrad_fused, dtype, 0.0), _one_step(diffgrad_single, dtype, 0.0)
    assert torch.equal(fused[3], ref[3])


def _net(dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).to(dtype)


def _batches(steps, dtype):
    gen = torch.Generator().manual_seed(1)
    return [(torch.randn(32, 6, generator=gen, dtype=dtype), torch.randint(0, 3, (32,), generator=gen))
            for _ in range(steps)]


def _train(net, opt, batches, set_to_none=True):
    for X, y in batches:
        opt.zero_grad(set_to_none=set_to_none)
        torch.nn.functional.cross_entropy(net(X), y).backward()
        opt.step()
    return torch.cat([p.detach().flatten() for p in net.parameters()])


@pytest.mark.parametrize("set_to_none", [True, False])
@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-12), (torch.float32, 2e-5)])
def test_fused_optimizer_follows_the_reference(dtype, tol, set_to_none):
    batches = _batches(20, dtype)
    kw = dict(lr=1e-2, weight_decay=1e-3)
    net_r, net_f = _net(dtype), _net(dtype)
    ref = _train(net_r, DiffGrad(net_r.parameters(), **kw, fused=False), batches)
    opt = DiffGrad(net_f.parameters(), **kw, fused=True)
    fused = _train(net_f, opt, batches, set_to_none)
    assert (fused - ref).abs().max() < tol
    # the parameters, their gradients and the state now view one flat buffer each
    bucket, = opt._buckets.values()
    assert all(p.untyped_storage().data_ptr() == bucket.p.untyped_storage().data_ptr()
               for p in net_f.parameters())


def test_state_dict_resumes_exactly_across_fused_and_unfused():
    """Ten steps on one path, a checkpoint through torch.save, ten more on the other path: the
    resumed run is bit-equal to the uninterrupted one that switched paths at step ten."""
    batches = _batches(20, torch.float64)
    for first, second in [(True, False), (False, True), (True, True)]:
        net = _net()
        opt = DiffGrad(net.parameters(), lr=1e-2, weight_decay=1e-3, fused=first)
        _train(net, opt, batches[:10])
        buf = io.BytesIO()
        torch.save({"net": net.state_dict(), "opt": opt.state_dict()}, buf)
        for g in opt.param_groups: g["fused"] = second
        straight = _train(net, opt, batches[10:])
        buf.seek(0)
        ck = torch.load(buf)
        net2 = _net(seed=5)
        net2.load_state_dict(ck["net"])
        opt2 = DiffGrad(net2.parameters(), lr=1e-2, weight_decay=1e-3, fused=second)
        opt2.load_state_dict(ck["opt"])
        for g in opt2.param_groups: g["fused"] = second  # the checkpoint restores the flags
        assert torch.equal(_train(net2, opt2, batches[10:]), straight), (first, second)


def test_no_recompilation_across_steps_and_learning_rates():
    "After the first step, 20 steps (and new learning rates between them) compile nothing new."
    net = _net(torch.float32)
    opt = DiffGrad(net.parameters(), lr=1e-2, fused=True)
    batches = _batches(21, torch.float32)
    _train(net, opt, batches[:1])
    before = dict(counters["stats"]), dict(counters["frames"])
    for i, batch in enumerate(batches[1:]):
        for g in opt.param_groups: g["lr"] = 1e-2 / (1 + i)
        _train(net, opt, [batch])
    assert dict(counters["stats"]) == before[0] and dict(counters["frames"]) == before[1]
    assert counters["stats"]["unique_graphs"] >= 1  # the counters do count this kernel


def test_a_failed_compilation_falls_back_silently_correct(monkeypatch):
    def broken(*a, **k): raise RuntimeError("no compiler")
    monkeypatch.setitem(dg._COMPILED, "kernel", broken)
    with pytest.warns(UserWarning, match="fused step is unavailable"):
        p, m, v, prev = _one_step(diffgrad_fused, torch.float64, 1e-1)
    assert dg._COMPILED["kernel"] is None
    ref = _one_step(dg.diffgrad_foreach, torch.float64, 1e-1)
    assert all(torch.equal(a, b) for a, b in zip((p, m, v, prev), ref))
    net = _net()  # and the optimizer keeps working on the multi-tensor path
    _train(net, DiffGrad(net.parameters(), fused=True), _batches(2, torch.float64))


def test_the_automatic_choice():
    small, big = torch.zeros(10, requires_grad=True), torch.zeros(dg.FUSED_MIN_NUMEL, requires_grad=True)
    for p in (small, big): p.grad = torch.ones_like(p)
    opt = DiffGrad([small, big])
    assert opt._path(opt.param_groups[0], small.device, [small]) == "single"
    assert opt._path(opt.param_groups[0], big.device, [big]) == "fused"
    assert DiffGrad([big], foreach=False)._path(opt.param_groups[0] | {"foreach": False}, big.device, [big]) == "single"
    half = torch.zeros(dg.FUSED_MIN_NUMEL, dtype=torch.bfloat16)
    assert opt._path(opt.param_groups[0], half.device, [half]) == "single"
    with pytest.raises(TypeError, match="fused"): DiffGrad([half.requires_grad_()], fused=True)
    with pytest.raises(ValueError, match="fused and foreach"): DiffGrad([big], fused=True, foreach=True)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-12), (torch.float32, 2e-5)])
def test_cuda_fused_follows_the_cpu_reference(dtype, tol):
    batches = _batches(20, dtype)
    net_c, net_g = _net(dtype), _net(dtype).cuda()
    cpu = _train(net_c, DiffGrad(net_c.parameters(), lr=1e-2, weight_decay=1e-3, fused=False), batches)
    gpu = _train(net_g, DiffGrad(net_g.parameters(), lr=1e-2, weight_decay=1e-3, fused=True),
                 [(X.cuda(), y.cuda()) for X, y in batches])
    assert (gpu.cpu() - cpu).abs().max() < tol


@pytest.mark.cuda
@pytest.mark.parametrize("fused", [False, True])
def test_cuda_graph_replays_capturable_steps(fused):
    "A capturable step captured in a CUDA graph and replayed follows eager capturable steps."
    torch.manual_seed(0)
    p = torch.randn(1000, device="cuda", requires_grad=True)
    q = p.detach().clone().requires_grad_()
    grads = [torch.randn(1000, device="cuda") for _ in range(8)]
    opt, ref = (DiffGrad([x], lr=1e-2, capturable=True, fused=fused) for x in (p, q))
    p.grad = grads[0].clone()
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3): opt.step()  # warm-up (state, compilation) outside the capture
    torch.cuda.current_stream().wait_stream(s)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph): opt.step()
    for _ in range(3): q.grad = grads[0].clone(); ref.step()
    for g in grads:
        p.grad.copy_(g); graph.replay()
        q.grad = g.clone(); ref.step()
    torch.cuda.synchronize()
    assert torch.allclose(p, q, atol=1e-6)


def test_parameters_that_skip_a_step_follow_the_reference():
    "A parameter without a gradient is not stepped; the buckets rebuild and the run agrees."
    def run(fused):
        torch.manual_seed(0)
        a, b = torch.randn(50, dtype=torch.float64, requires_grad=True), torch.randn(30, dtype=torch.float64,
                                                                                     requires_grad=True)
        opt = DiffGrad([a, b], lr=1e-2, fused=fused)
        for t in range(8):
            opt.zero_grad()
            loss = (a**2).sum() + (0 if t in (2, 3) else (b**3).sum())
            loss.backward()
            opt.step()
        return torch.cat([a.detach(), b.detach()]), opt
    fused, opt = run(True)
    ref, _ = run(False)
    assert (fused - ref).abs().max() < 1e-12
    assert len(opt._buckets) == 1  # stale buffers are dropped
