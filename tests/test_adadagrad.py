"""AdAdaGrad: batch-size test statistics against dense references and a peer, the distributed pooling over
two gloo processes, AdaGradNorm against transcriptions of its updates, and bad input."""
import copy
import io
import math
import os
import socket
import tempfile
from datetime import timedelta

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import nn

from gradnotes.adadagrad import (AdaGradNorm, GradStats, TESTS, grad_stats, next_batch_size, required_batch_size,
                                 train_adaptive)
from gradnotes.autodiff import per_sample_grads


pytestmark = pytest.mark.usefixtures("one_thread")


def small_net(seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 4)).to(dtype)


def small_data(n=41, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 6, generator=g, dtype=dtype), torch.randint(0, 4, (n,), generator=g)


def official_style(G: dict, eta=0.1, theta=0.1, nu=0.1):
    """The four tests written directly from all per-sample gradients (dict name -> (n, numel)), per tensor as
    in the official code."""
    var = ip = orth = g2 = 0.0
    for V in G.values():
        gb = V.mean(0)
        g2 += float(gb @ gb)
        var += float(V.var(0, correction=1).sum())
        c = V @ gb
        ip += float(c.var(correction=1))
        U = V - torch.outer(c, gb) / (gb @ gb)
        orth += float(U.var(0, correction=1).sum())
    return dict(norm=var / (eta ** 2 * g2), ip=ip / (theta ** 2 * g2 ** 2), orth=orth / (nu ** 2 * g2),
                **{"ip+orth": max(ip / (theta ** 2 * g2 ** 2), orth / (nu ** 2 * g2))})


def test_tests_match_dense_reference():
    net, (X, y) = small_net(), small_data()
    G = {k: v.reshape(len(X), -1) for k, v in per_sample_grads(net, F.cross_entropy, X, y, flat=False).items()}
    want = official_style(G, 0.3, 0.2, 0.4)
    for chunk in (1, 5, 64):
        st = grad_stats(net, F.cross_entropy, X, y, chunk_size=chunk)
        for name in TESTS:
            got, _ = required_batch_size(st, name, eta=0.3, theta=0.2, nu=0.4)
            assert got == pytest.approx(want[name], rel=1e-10)


def test_whole_vector_inner_product():
    net, (X, y) = small_net(), small_data()
    V = per_sample_grads(net, F.cross_entropy, X, y)
    gb = V.mean(0)
    c = V @ gb
    U = V - torch.outer(c, gb) / (gb @ gb)
    _, info = required_batch_size(grad_stats(net, F.cross_entropy, X, y), "ip+orth", per_tensor=False)
    assert info["ip_variance"] == pytest.approx(float(c.var()), rel=1e-10)
    assert info["orth_variance"] == pytest.approx(float(U.var(0).sum()), rel=1e-10)


def test_reference_direction_only_shifts():
    # the variance is exact for any reference direction; a = g_bar gives the official inner products
    net, (X, y) = small_net(), small_data()
    exact = grad_stats(net, F.cross_entropy, X, y)
    shifted = grad_stats(net, F.cross_entropy, X, y, ref=[a + 0.3 for a in exact.ref])
    torch.testing.assert_close(shifted.variances(), exact.variances(), rtol=1e-10, atol=0)
    for m1, m2 in zip(shifted.mean(), exact.mean()): torch.testing.assert_close(m1, m2, rtol=1e-10, atol=1e-14)


def test_logistic_closed_form_float32():
    torch.manual_seed(3)
    lin = nn.Linear(10, 3)
    X, y = torch.randn(200, 10), torch.randint(0, 3, (200,))
    with torch.no_grad(): R = (torch.softmax(lin(X), 1) - F.one_hot(y, 3)).double()
    Gw = (R[:, :, None] * X.double()[:, None, :]).reshape(200, -1)
    st = grad_stats(lin, F.cross_entropy, X, y, chunk_size=32)
    want = torch.stack([Gw.var(0).sum(), R.var(0).sum()])
    torch.testing.assert_close(st.variances(), want, rtol=1e-5, atol=0)


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
def test_backpack_peer():
    backpack = pytest.importorskip("backpack")
    from backpack.extensions import BatchGrad
    net, (X, y) = small_net(dtype=torch.float32), small_data(64, dtype=torch.float32)
    ext = backpack.extend(small_net(dtype=torch.float32))
    ext.load_state_dict(net.state_dict())
    lossf = backpack.extend(nn.CrossEntropyLoss())
    with backpack.backpack(BatchGrad()):
        lossf(ext(X), y).backward()
    # BatchGrad holds the gradients of each example's term of the mean loss: scale by n
    var = sum(float((p.grad_batch * len(X)).reshape(len(X), -1).var(0).sum()) for p in ext.parameters())
    got = float(grad_stats(net, F.cross_entropy, X, y).variances().sum())
    assert got == pytest.approx(var, rel=1e-5)


def test_next_batch_size_rules():
    assert next_batch_size(10, 3.0, 100) == 10
    assert next_batch_size(10, 10.5, 100) == 11
    assert next_batch_size(10, 1e9, 100) == 100
    assert next_batch_size(10, math.inf, 100) == 100
    with pytest.raises(ValueError, match="required must be finite"):
        next_batch_size(10, float("nan"), 100)
    with pytest.raises(ValueError, match="required must be >= 0"): next_batch_size(10, -1.0, 100)
    with pytest.raises(TypeError, match="required"): next_batch_size(10, True, 100)


def test_huge_tolerances_and_step_sizes():
    st = GradStats.empty(["w"], [torch.zeros(2, dtype=torch.float64)])
    st.add({"w": torch.tensor([[1.0, 0.5], [3.0, 0.5]], dtype=torch.float64)})
    assert required_batch_size(st, "norm", eta=1e300)[0] == 0.0  # no overflow
    p = torch.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="lr"): AdaGradNorm([p], lr=1e300)  # beyond float32
    with pytest.raises(TypeError, match="params"): AdaGradNorm([torch.zeros(2, dtype=torch.long)])


def test_zero_mean_gradient():
    # two examples with opposite gradients: g_bar = 0, variance > 0 -> every example
    st = GradStats.empty(["w"], [torch.zeros(2, dtype=torch.float64)])
    st.add({"w": torch.tensor([[1.0, 0.0], [-1.0, 0.0]], dtype=torch.float64)})
    need, _ = required_batch_size(st, "norm")
    assert need == math.inf and next_batch_size(2, need, 50) == 50


def test_train_adaptive_contract():
    net, (X, y) = small_net(dtype=torch.float32), small_data(120, dtype=torch.float32)
    run = train_adaptive(net, torch.optim.Adagrad(net.parameters(), lr=0.05), X, y, batch_size=2, test="ip+orth",
                         theta=0.5, nu=0.5, max_samples=600, max_micro_batch_size=16, max_batch_size=100,
                         eval_fn=lambda m: 0.0, eval_every=120)
    b = run.batch_sizes
    assert all(u <= v for u, v in zip(b, b[1:])) and max(b) <= 100 and b[0] == 2
    assert run.samples >= 600 and run.samples - b[-1] < 600
    assert len(run.tests) == sum(1 for v in b if v < 100)
    assert [e[1] for e in run.evals][:2] == [0, min(s for s in np.cumsum(b) if s >= 120)]
    const = train_adaptive(small_net(dtype=torch.float32), torch.optim.SGD(net.parameters(), lr=0.1), X, y,
                           batch_size=7, test=None, max_samples=70)
    assert const.batch_sizes == [7] * 10 and const.tests == []


def test_micro_batches_do_not_change_the_step():
    X, y = small_data(60)
    out = []
    for mmb in (3, 64):
        net = small_net()
        train_adaptive(net, torch.optim.SGD(net.parameters(), lr=0.2), X, y, batch_size=4, test="norm", eta=0.5,
                       max_samples=200, max_micro_batch_size=mmb)
        out.append(torch.cat([p.detach().flatten() for p in net.parameters()]))
    torch.testing.assert_close(out[0], out[1], rtol=1e-12, atol=1e-12)


# ---- AdaGradNorm -------------------------------------------------------------------------------------

def official_rowwise(params_grads, sums, lr, eps=1e-10):
    """A transcription of the repository's row-wise update for 2-D weights followed by their biases."""
    last = None
    new = []
    for (p, g), s in zip(params_grads, sums):
        if g.ndim == 2:
            last = (g ** 2).sum(1)
            s += last[:, None]
        else:
            if last is not None and last.shape[0] == g.shape[0]: s += last
            s += g * g
        new.append(p - lr * g / (np.sqrt(s) + eps))
    return new


def test_rowwise_matches_transcription():
    rng = np.random.default_rng(0)
    shapes = [(5, 3), (5,), (2, 5), (2,)]
    ps = [rng.normal(size=s) for s in shapes]
    sums = [np.full(s, 1e-2) for s in shapes]
    ts = [torch.tensor(p, requires_grad=True) for p in ps]
    opt = AdaGradNorm(ts, lr=0.1, rowwise=True)
    for k in range(20):
        gs = [rng.normal(size=s) for s in shapes]
        ps = official_rowwise(list(zip(ps, gs)), sums, 0.1)
        for t, g in zip(ts, gs): t.grad = torch.tensor(g)
        opt.step()
    for t, p in zip(ts, ps): np.testing.assert_allclose(t.detach().numpy(), p, rtol=1e-12, atol=1e-12)


def test_scalar_adagradnorm_resume():
    def make():
        net = small_net(1)
        return net, AdaGradNorm(net.parameters(), lr=0.1, momentum=0.3)
    X, y = small_data(30)
    def steps(net, opt, k):
        for _ in range(k):
            opt.zero_grad(); F.cross_entropy(net(X), y).backward(); opt.step()
    a, oa = make(); steps(a, oa, 10)
    b, ob = make(); steps(b, ob, 5)
    c, oc = make(); c.load_state_dict(b.state_dict()); oc.load_state_dict(ob.state_dict()); steps(c, oc, 5)
    for p, q in zip(a.parameters(), c.parameters()): torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_adagradnorm_bad_input():
    p = [torch.zeros(2, requires_grad=True)]
    with pytest.raises(ValueError, match="lr"): AdaGradNorm(p, lr=-1)
    with pytest.raises(ValueError, match="momentum"): AdaGradNorm(p, momentum=1.0)
    with pytest.raises(ValueError, match="both 0"): AdaGradNorm(p, initial_accumulator_value=0, eps=0)
    with pytest.raises(TypeError, match="rowwise"): AdaGradNorm(p, rowwise=1)


# ---- bad input -----------------------------------------------------------------------------------------

def test_bad_input():
    net, (X, y) = small_net(), small_data()
    with pytest.raises(ValueError, match="at least 2"): grad_stats(net, F.cross_entropy, X[:1], y[:1])
    st = grad_stats(net, F.cross_entropy, X, y)
    for k in ("eta", "theta", "nu"):
        for bad in (0.0, -0.1):
            with pytest.raises(ValueError, match=k): required_batch_size(st, "ip+orth", **{k: bad})
    with pytest.raises(ValueError, match="test"): required_batch_size(st, "variance")
    bn = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.Linear(8, 4)).double()
    with pytest.raises(ValueError, match="BatchNorm"): grad_stats(bn, F.cross_entropy, X, y)
    with pytest.raises(ValueError, match="BatchNorm"):
        train_adaptive(bn, torch.optim.SGD(bn.parameters(), lr=0.1), X, y, test="norm")
    bn.eval(); grad_stats(bn, F.cross_entropy, X, y)  # eval mode: per-sample gradients are defined
    nan_net = small_net()
    with torch.no_grad(): nan_net[0].weight[1, 2] = float("nan")
    with pytest.raises(ValueError, match="NaN or infinity"): grad_stats(nan_net, F.cross_entropy, X, y)
    with pytest.raises(ValueError, match="batch_size"):
        train_adaptive(net, torch.optim.SGD(net.parameters(), lr=0.1), X, y, batch_size=1, test="norm")
    with pytest.raises(ValueError, match="max_batch_size"):
        train_adaptive(net, torch.optim.SGD(net.parameters(), lr=0.1), X, y, max_batch_size=len(X) + 1)
    with pytest.raises(ValueError, match="ref"): grad_stats(net, F.cross_entropy, X, y, ref=[torch.zeros(3)])


def test_diverged_run_stops():
    # float32 weights pushed past 1e38: the logits overflow and the loss becomes NaN
    (X, y), net = small_data(dtype=torch.float32), nn.Linear(6, 4)
    run = train_adaptive(net, torch.optim.SGD(net.parameters(), lr=1e38), X, y, batch_size=4, test="norm", eta=0.5,
                         max_samples=400)
    assert run.diverged and run.steps < 100


# ---- distributed: two gloo processes ------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank, world, port, state, X, y, path):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=timedelta(seconds=60))
    try:
        net = small_net(); net.load_state_dict(state)
        # uneven shards: rank 0 gets 21 examples, rank 1 gets 20
        st = grad_stats(net, F.cross_entropy, X[rank::world], y[rank::world], chunk_size=8, group=dist.group.WORLD)
        tests = {name: required_batch_size(st, name, 0.3, 0.2, 0.4)[0] for name in TESTS}
        net2 = small_net(); net2.load_state_dict(state)
        run = train_adaptive(net2, torch.optim.Adagrad(net2.parameters(), lr=0.05), X, y, batch_size=3, test="ip+orth",
                             theta=0.5, nu=0.5, max_samples=150, max_micro_batch_size=4, group=dist.group.WORLD, seed=5)
        if rank == 0:
            torch.save(dict(count=st.count, var=st.variances(), ipv=st.ip_variances(), tests=tests,
                            batch_sizes=run.batch_sizes, params=[p.detach() for p in net2.parameters()]), path)
    finally:
        dist.destroy_process_group()


def test_distributed_equals_single_process():
    if not dist.is_available() or not dist.is_gloo_available(): pytest.skip("torch.distributed with gloo is unavailable")
    net, (X, y) = small_net(), small_data(41)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "out.pt")
        ctx = mp.start_processes(_worker, args=(2, _free_port(), state, X, y, path), nprocs=2, join=False,
                                 start_method="spawn")
        deadline = 120
        import time
        t0 = time.time()
        while not ctx.join(timeout=5):
            if time.time() - t0 > deadline:
                for p in ctx.processes:
                    if p.is_alive(): p.terminate()
                pytest.fail("the distributed workers did not finish in time")
        got = torch.load(path)
    st = grad_stats(net, F.cross_entropy, X, y)
    assert got["count"] == len(X)
    torch.testing.assert_close(got["var"], st.variances(), rtol=1e-10, atol=0)
    torch.testing.assert_close(got["ipv"], st.ip_variances(), rtol=1e-10, atol=0)
    for name in TESTS:
        assert got["tests"][name] == pytest.approx(required_batch_size(st, name, 0.3, 0.2, 0.4)[0], rel=1e-10)
    net2 = small_net(); net2.load_state_dict(state)
    run = train_adaptive(net2, torch.optim.Adagrad(net2.parameters(), lr=0.05), X, y, batch_size=3, test="ip+orth",
                         theta=0.5, nu=0.5, max_samples=150, max_micro_batch_size=4, seed=5)
    assert got["batch_sizes"] == run.batch_sizes and len(set(run.batch_sizes)) > 1
    for p, q in zip(got["params"], net2.parameters()): torch.testing.assert_close(p, q.detach(), rtol=1e-10, atol=1e-12)


@pytest.mark.cuda
def test_cuda_matches_cpu():
    out = {}
    for device in ("cpu", "cuda"):
        net, (X, y) = small_net().to(device), small_data(60)
        X, y = X.to(device), y.to(device)
        st = grad_stats(net, F.cross_entropy, X, y, chunk_size=16)
        run = train_adaptive(net, AdaGradNorm(net.parameters(), lr=0.1), X, y, batch_size=2, test="ip+orth",
                             theta=0.5, nu=0.5, max_samples=240, max_micro_batch_size=8)
        out[device] = (st.variances().cpu(), run.batch_sizes, [p.detach().cpu() for p in net.parameters()])
    torch.testing.assert_close(out["cuda"][0], out["cpu"][0], rtol=1e-9, atol=0)
    assert out["cuda"][1] == out["cpu"][1]
    for p, q in zip(out["cuda"][2], out["cpu"][2]): torch.testing.assert_close(p, q, rtol=1e-9, atol=1e-12)


# ---- complex parameters, checkpoints, data tensors -------------------------------------------

def test_complex_gradient_counts_imaginary_part():
    p = torch.zeros(2, dtype=torch.cfloat, requires_grad=True)
    p.grad = torch.tensor([1j, 1j], dtype=torch.cfloat)
    AdaGradNorm([p], lr=1.0).step()
    expected = -1j / math.sqrt(0.01 + 2.0)  # -0.705j, as on torch.view_as_real(p)
    torch.testing.assert_close(p.detach(), torch.full((2,), expected, dtype=torch.cfloat))


@pytest.mark.parametrize("rowwise", [False, True])
@pytest.mark.parametrize("momentum", [0.0, 0.5])
def test_complex_equals_view_as_real(rowwise, momentum):
    """PyTorch's test_complex convention: a complex parameter moves as its real view would."""
    torch.manual_seed(0)
    W = torch.randn(3, 4, dtype=torch.cdouble, requires_grad=True)
    b = torch.randn(3, dtype=torch.cdouble, requires_grad=True)
    Wr = torch.view_as_real(W.detach()).clone().requires_grad_(True)
    br = torch.view_as_real(b.detach()).clone().requires_grad_(True)
    kw = dict(lr=0.1, momentum=momentum, weight_decay=0.01, rowwise=rowwise)
    opt_c, opt_r = AdaGradNorm([W, b], **kw), AdaGradNorm([Wr, br], **kw)
    x = torch.randn(4, dtype=torch.cdouble)
    for _ in range(5):
        for o in (opt_c, opt_r): o.zero_grad()
        ((W @ x + b).abs() ** 2).sum().backward()
        Wc, bc = torch.view_as_complex(Wr), torch.view_as_complex(br)
        ((Wc @ x + bc).abs() ** 2).sum().backward()
        opt_c.step(); opt_r.step()
        torch.testing.assert_close(torch.view_as_real(W.detach()), Wr.detach(), rtol=0, atol=1e-12)
        torch.testing.assert_close(torch.view_as_real(b.detach()), br.detach(), rtol=0, atol=1e-12)


def _resume(dtype, steps=10, stop=4, **kw):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 4)).to(dtype)
    X, y = small_data(30)
    X = X.to(dtype)

    def train(m, o, k):
        for _ in range(k):
            o.zero_grad(); F.cross_entropy(m(X), y).backward(); o.step()

    a = copy.deepcopy(net); oa = AdaGradNorm(a.parameters(), **kw); train(a, oa, steps)
    b = copy.deepcopy(net); ob = AdaGradNorm(b.parameters(), **kw); train(b, ob, stop)
    buf = io.BytesIO(); torch.save({"m": b.state_dict(), "o": ob.state_dict()}, buf); buf.seek(0)
    ck = torch.load(buf)
    c = copy.deepcopy(net); c.load_state_dict(ck["m"])
    oc = AdaGradNorm(c.parameters(), **kw); oc.load_state_dict(ck["o"])
    train(c, oc, steps - stop)
    return a, c, oc


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])
@pytest.mark.parametrize("kw", [dict(lr=0.1), dict(lr=0.1, momentum=0.3, weight_decay=1e-3),
                                dict(lr=0.1, rowwise=True)], ids=["plain", "momentum", "rowwise"])
def test_resume_is_bit_identical(dtype, kw):
    a, c, oc = _resume(dtype, **kw)
    for p, q in zip(a.parameters(), c.parameters()):
        assert p.dtype == dtype and torch.equal(p, q)
    if not kw.get("rowwise"):
        first = oc.state[next(iter(c.parameters()))]
        assert first["norm_sum"].dtype == torch.float64


def test_state_dict_deterministic():
    """PyTorch's convention: an optimizer loaded from a state dict steps exactly as the original."""
    torch.manual_seed(0)
    w = torch.randn(4, 3, requires_grad=True)
    b = torch.randn(3, requires_grad=True)
    x = torch.randn(4)

    def closure(params, opt):
        opt.zero_grad()
        loss = (x @ params[0] + params[1]).pow(2).sum()
        loss.backward()
        return loss

    opt = AdaGradNorm([w, b], lr=0.1, momentum=0.2)
    for _ in range(3):
        opt.step(lambda: closure([w, b], opt))
    w2, b2 = (t.detach().clone().requires_grad_(True) for t in (w, b))
    opt2 = AdaGradNorm([w2, b2], lr=0.1, momentum=0.2)
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
            assert (torch.equal(v, v2) and v.dtype == v2.dtype) if torch.is_tensor(v) else v == v2


def test_train_adaptive_leaves_data_without_grad():
    net, (X, y) = small_net(), small_data()
    X = X.clone().requires_grad_(True)
    train_adaptive(net, torch.optim.SGD(net.parameters(), lr=0.1), X, y, batch_size=4,
                   test="norm", max_steps=3)
    assert X.grad is None
