"""HessianOperator vs PyHessian: top-5 eigenvalues and Hutchinson trace at equal accuracy, and the cost of one
Hessian-vector product relative to one gradient.

Model: an MLP on the digits training split, briefly trained with Adam so the Hessian is taken at a realistic
point. Accuracy is measured against exact eigenvalues (dense float64 Hessian, `torch.linalg.eigvalsh`).
PyHessian finds the top eigenvalues by power iteration with deflation (its defaults: maxIter=100, tol=1e-3);
gradnotes uses Lanczos with full reorthogonalization at tol=1e-3, a residual tolerance under which its eigenvalue
errors are far smaller than PyHessian's (both errors are printed). Both run Hutchinson with the same number of
Rademacher probes, so the estimators have the same variance; gradnotes pushes its probes through in blocks.
Timings are medians over repeats, interleaved so machine-load drifts hit both alike, in wall time and in this
process's CPU time (on a loaded machine the wall time holds the scheduler's preemptions; CPU time does not).
Both libraries are timed from the model to the eigenvalues (constructor included): PyHessian builds its gradient
graph in its constructor, gradnotes on its first product, so both include that pass.

Goals (fixed before measuring): Lanczos top-5 at least 5x faster than PyHessian's top-5 (wall-time medians) at equal
or better accuracy (worst max relative error over the seeds no larger than PyHessian's); one Hessian-vector product
at most 3x a gradient on the torch.func path (`method="func"`).

`lanczos_breakdown` splits the CPU time of one Lanczos run into its parts. `lanczos_limit` shows how far a
stopping rule can go on this problem: the error of the top-5 Ritz values step by step against the exact ones,
the step an oracle would stop at (error <= 1e-3) and the step the residual test stops at, and the cost of a
block of b products (`is_grads_batched`) against b single ones.
"""
import argparse
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from gradnotes.data import digits
from gradnotes.hessian import HessianOperator
from gradnotes.training import MLP
from goals import goal


def _trained_mlp(sizes, X, y, steps=300, seed=0, device="cpu"):
    torch.manual_seed(seed)
    net = MLP(sizes, act=torch.nn.Tanh).to(device)
    opt = torch.optim.Adam(net.parameters(), 1e-2)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(net(X), y).backward()
        opt.step()
    return net


def _timed(fn, sync, cpu=False):
    "Seconds of wall time (or of this process's CPU time) that fn takes, and its result."
    clock = time.process_time if cpu else time.perf_counter
    sync()
    t = clock()
    out = fn()
    sync()
    return clock() - t, out


def _counting(pyhessian_module):
    "Count PyHessian's Hessian-vector products by wrapping the function its class calls."
    counter = {"n": 0}
    original = pyhessian_module.hessian_vector_product

    def counted(gradsH, params, v):
        counter["n"] += 1
        return original(gradsH, params, v)
    pyhessian_module.hessian_vector_product = counted
    return counter, lambda: setattr(pyhessian_module, "hessian_vector_product", original)


def _max_rel(vals, exact):
    return float((np.abs(np.asarray(vals, dtype=np.float64) - exact) / np.abs(exact)).max())


def spectrum_and_trace(repeats=5, device="cpu", n_probes=100):
    data = digits(seed=0)
    X, y = data.X_train.to(device), data.y_train.to(device)
    net = _trained_mlp([64, 32, 10], X, y, device=device)
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    exact = torch.linalg.eigvalsh(HessianOperator(net, F.cross_entropy, (X, y), dtype=torch.float64,
                                                  batch_probes=256).dense().cpu())
    top_exact = exact.flip(0)[:5].numpy()
    trace_exact = exact.sum().item()
    try:
        import pyhessian
        ph = sys.modules["pyhessian.hessian"]  # the module (the package exports the class under the same name)
    except ImportError:
        pyhessian = None
    cuda = torch.device(device).type == "cuda"
    keys = ("ours_eig", "peer_eig", "ours_tr", "peer_tr", "ours_cpu", "peer_cpu", "ours_trcpu", "peer_trcpu")
    times = {k: [] for k in keys}
    errs = {"ours": [], "peer": []}
    prods = {"ours": [], "peer": []}
    res = {}
    for r in range(repeats):
        def ours_top5():  # from the model to the eigenvalues: constructor, gradient graph, Lanczos
            H = HessianOperator(net, F.cross_entropy, (X, y))
            return H, H.eigenvalues(k=5, tol=1e-3, seed=r)
        t, (H, vals) = _timed(ours_top5, sync)
        times["ours_eig"].append(t)
        errs["ours"].append(_max_rel(vals.cpu().numpy(), top_exact))
        prods["ours"].append(H.n_products)
        times["ours_cpu"].append(_timed(ours_top5, sync, cpu=True)[0])
        H.n_products = 0
        t, est = _timed(lambda: H.trace(n_probes=n_probes, seed=r), sync)
        times["ours_tr"].append(t)
        res["ours_tr"] = est, H.n_products
        times["ours_trcpu"].append(_timed(lambda: H.trace(n_probes=n_probes, seed=r), sync, cpu=True)[0])
        if pyhessian is None:
            continue
        counter, restore = _counting(ph)

        def peer_top5():  # defaults maxIter=100, tol=1e-3; the constructor builds the gradient graph
            torch.manual_seed(r)
            counter["n"] = 0
            return pyhessian.hessian(net, torch.nn.CrossEntropyLoss(), data=(X, y), cuda=cuda).eigenvalues(top_n=5)
        t, (pvals, _) = _timed(peer_top5, sync)
        times["peer_eig"].append(t)
        errs["peer"].append(_max_rel(pvals, top_exact))
        prods["peer"].append(counter["n"])
        times["peer_cpu"].append(_timed(peer_top5, sync, cpu=True)[0])
        torch.manual_seed(r)
        peer = pyhessian.hessian(net, torch.nn.CrossEntropyLoss(), data=(X, y), cuda=cuda)
        counter["n"] = 0
        t, samples = _timed(lambda: peer.trace(maxIter=n_probes, tol=0.0), sync)
        times["peer_tr"].append(t)
        s = np.array(samples)
        res["peer_tr"] = (s.mean(), s.std(ddof=1) / np.sqrt(len(s))), counter["n"]
        times["peer_trcpu"].append(_timed(lambda: peer.trace(maxIter=n_probes, tol=0.0), sync, cpu=True)[0])
        restore()
    med = {k: statistics.median(v) * 1e3 if v else float("nan") for k, v in times.items()}
    D = H.dim
    lines = [f"MLP 64-32-10 (tanh) on digits train ({len(X)} examples), D = {D:,} parameters, float32, device {device}, "
             f"torch {torch.__version__}, {torch.get_num_threads()} threads; median of {repeats} runs (seeds 0..{repeats - 1}), "
             "each library timed from the model to the eigenvalues. Products: median (range) over the seeds; error: the "
             "worst over the seeds of the max relative error of the top 5 against the dense eigendecomposition.", "",
             "| task | library | median ms | Hessian-vector products | accuracy | gradnotes / PyHessian time |",
             "|---|---|---|---|---|---|"]
    e_ours, e_peer = max(errs["ours"]), (max(errs["peer"]) if errs["peer"] else float("nan"))
    rng = lambda v: f"{statistics.median(v):g} ({min(v)}-{max(v)})"
    ratio = f"{med['ours_eig'] / med['peer_eig']:.2f}x" if pyhessian else "n/a"
    if pyhessian:
        ratio += f" (CPU time {med['ours_cpu'] / med['peer_cpu']:.2f}x)"
    lines.append(f"| top-5 eigenvalues | gradnotes Lanczos (tol 1e-3) | {med['ours_eig']:.1f} | {rng(prods['ours'])} | "
                 f"max rel. error {e_ours:.1e} | {ratio} |")
    if pyhessian:
        lines.append(f"| top-5 eigenvalues | PyHessian power iteration (defaults) | {med['peer_eig']:.1f} | "
                     f"{rng(prods['peer'])} | max rel. error {e_peer:.1e} | |")
    (est, se), n_t = res["ours_tr"]
    ratio = f"{med['ours_tr'] / med['peer_tr']:.2f}x" if pyhessian else "n/a"
    if pyhessian:
        ratio += f" (CPU time {med['ours_trcpu'] / med['peer_trcpu']:.2f}x)"
    lines.append(f"| trace, {n_probes} probes | gradnotes Hutchinson (blocked probes) | {med['ours_tr']:.1f} | {n_t} | "
                 f"{est:.3f} +- {se:.3f} (exact {trace_exact:.3f}) | {ratio} |")
    if pyhessian:
        (pe, pse), n_p = res["peer_tr"]
        lines.append(f"| trace, {n_probes} probes | PyHessian Hutchinson | {med['peer_tr']:.1f} | {n_p} | "
                     f"{pe:.3f} +- {pse:.3f} | |")
        speedup = med["peer_eig"] / med["ours_eig"]
        lines += ["", goal("Lanczos top-5 at least 5x faster than PyHessian's top-5 at equal or better accuracy",
                           f"{speedup:.2f}x, errors ours {e_ours:.1e} vs PyHessian {e_peer:.1e}",
                           speedup >= 5 and e_ours <= e_peer)]
    else:
        lines += ["", "Goal: Lanczos top-5 at least 5x faster than PyHessian's top-5 at equal or better accuracy "
                      "(PyHessian not installed: not measured)."]
    return "\n".join(lines)


def lanczos_breakdown(repeats=9, device="cpu"):
    "Where the time of one top-5 run goes: constructor, gradient graph, products, Ritz test, the rest."
    import gradnotes.hessian as gh
    data = digits(seed=0)
    X, y = data.X_train.to(device), data.y_train.to(device)
    net = _trained_mlp([64, 32, 10], X, y, device=device)
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    acc = {}
    saved = [(HessianOperator, "_gradient_graph"), (HessianOperator, "_product"), (gh, "_ritz")]
    originals = [getattr(o, n) for o, n in saved]

    def wrap(obj, name, key):
        f = getattr(obj, name)

        def timed(*a, **k):
            sync()
            t = time.process_time()
            out = f(*a, **k)
            sync()
            acc[key] = acc.get(key, 0.0) + time.process_time() - t
            return out
        setattr(obj, name, timed)
    for (o, n), key in zip(saved, ("graph", "products", "ritz")):
        wrap(o, n, key)
    totals, ctor, n_prod = [], [], []
    try:
        for r in range(repeats):
            sync()
            t0 = time.process_time()
            H = HessianOperator(net, F.cross_entropy, (X, y))
            t1 = time.process_time()
            H.eigenvalues(k=5, tol=1e-3, seed=r)
            sync()
            totals.append(time.process_time() - t0)
            ctor.append(t1 - t0)
            n_prod.append(H.n_products)
    finally:
        for (o, n), f in zip(saved, originals):
            setattr(o, n, f)
    tot = sum(totals)
    graph, prod, ritz = acc["graph"], acc["products"] - acc["graph"], acc["ritz"]
    rest = tot - sum(ctor) - acc["products"] - ritz
    per = lambda v: f"{v / repeats * 1e3:.2f} | {100 * v / tot:.0f}%"
    n = sum(n_prod)
    return "\n".join([
        f"Where the CPU time of one Lanczos top-5 run goes (tol 1e-3, {repeats} seeds, {n / repeats:.1f} products on "
        f"average, the first product building the gradient graph):", "",
        "| part | ms per run | share |", "|---|---|---|",
        f"| constructor (checks, one forward pass) | {per(sum(ctor))} |",
        f"| gradient graph (first product) | {per(graph)} |",
        f"| Hessian-vector products ({prod / n * 1e3:.2f} ms each) | {per(prod)} |",
        f"| residual test (tridiagonal eigenproblem every step) | {per(ritz)} |",
        f"| the rest (reorthogonalization, Python) | {per(rest)} |",
        f"| total | {tot / repeats * 1e3:.2f} | 100% |"])


def matvec_vs_gradient(repeats=30, device="cpu", n=2000):
    data = digits(seed=0)
    X = data.X_train.to(device).repeat(2, 1)[:n]
    y = data.y_train.to(device).repeat(2)[:n]
    torch.manual_seed(0)
    net = MLP([64, 256, 256, 10], act=torch.nn.Tanh).to(device)
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    params = list(net.parameters())

    def gradient():
        return torch.autograd.grad(F.cross_entropy(net(X), y), params)
    ops = {"matvec, double backward, graph kept (single batch)": HessianOperator(net, F.cross_entropy, (X, y)),
           "matvec, double backward, graph rebuilt": HessianOperator(net, F.cross_entropy, (X, y), cache_graph=False),
           "matvec, forward-over-reverse (torch.func)": HessianOperator(net, F.cross_entropy, (X, y), method="func"),
           "matvec, forward-over-reverse, gradient traced once (linearize)":
               HessianOperator(net, F.cross_entropy, (X, y), method="linearize")}
    v = torch.randn(ops[next(iter(ops))].dim, device=device)
    fns = {"gradient (forward + backward)": gradient, **{k: (lambda op=op: op @ v) for k, op in ops.items()}}
    for f in fns.values():  # warm up (and build the kept graph)
        f(); f()
    samples = {k: [] for k in fns}
    cpu = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            samples[k].append(_timed(f, sync)[0])
            cpu[k].append(_timed(f, sync, cpu=True)[0])
    med = {k: statistics.median(s) * 1e3 for k, s in samples.items()}
    med_cpu = {k: statistics.median(s) * 1e3 for k, s in cpu.items()}
    g = med["gradient (forward + backward)"]
    g_cpu = med_cpu["gradient (forward + backward)"]
    lines = [f"MLP 64-256-256-10 (tanh), {sum(p.numel() for p in params):,} parameters, batch of {n}, float32, device {device}, "
             f"{torch.get_num_threads()} threads; median of {repeats} interleaved runs.", "",
             "| operation | median ms | relative to one gradient | in CPU time |", "|---|---|---|---|"]
    lines += [f"| {k} | {m:.2f} | {m / g:.2f}x | {med_cpu[k] / g_cpu:.2f}x |" for k, m in med.items()]
    r_func = med["matvec, forward-over-reverse (torch.func)"] / g
    r_lin = med["matvec, forward-over-reverse, gradient traced once (linearize)"] / g
    lines += ["", goal("one Hessian-vector product at most 3x a gradient on the torch.func path",
                       f"{r_func:.2f}x", r_func <= 3),
              goal("one Hessian-vector product at most 3x a gradient on the torch.func path with the "
                   "first pass reused (linearize)", f"{r_lin:.2f}x", r_lin <= 3)]
    v1 = v.clone()
    first = _timed(lambda: HessianOperator(net, F.cross_entropy, (X, y), method="linearize") @ v1, sync, cpu=True)[0]
    lines += ["", f"Tracing the gradient once for `linearize` (the first product) costs {first * 1e3 / g_cpu:.0f} "
              "gradients of CPU time."]
    return "\n".join(lines)


def lanczos_limit(device="cpu", seeds=(0, 1, 2, 3, 4), steps=(14, 16, 18, 20, 22, 24, 26), repeats=15):
    "Top-5 Ritz-value error step by step, and the cost of blocked products, on the top-5 problem."
    from gradnotes.hessian import _lanczos, _ritz
    data = digits(seed=0)
    X, y = data.X_train.to(device), data.y_train.to(device)
    net = _trained_mlp([64, 32, 10], X, y, device=device)
    exact = torch.linalg.eigvalsh(HessianOperator(net, F.cross_entropy, (X, y), dtype=torch.float64,
                                                  batch_probes=256).dense().cpu()).flip(0)[:5].numpy()
    H = HessianOperator(net, F.cross_entropy, (X, y))
    lines = ["Lanczos (full reorthogonalization, no stopping rule) on the top-5 problem: max relative error of "
             "the top-5 Ritz values after j products, against the dense eigendecomposition; then the first j at "
             "which that error is <= 1e-3 (what an oracle stop would need) and the j at which the residual test "
             "with tol 1e-3 (every top-5 residual <= 1e-3 max|theta|) stops.", "",
             "| seed | " + " | ".join(f"j = {j}" for j in steps) + " | oracle (error <= 1e-3) | residual stop |",
             "|---|" + "---|" * (len(steps) + 2)]
    for seed in seeds:
        v0 = torch.randn(H.dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        alpha, beta, _ = _lanczos(H, v0.to(device, H.dtype), 40)
        err, stop = {}, None
        for j in range(5, 41):
            theta, S = _ritz(alpha[:j], beta[:j])
            idx = np.argsort(-theta)[:5]
            err[j] = (np.abs(theta[idx] - exact) / exact).max()
            if stop is None and (abs(beta[j - 1]) * np.abs(S[-1, idx])).max() <= 1e-3 * np.abs(theta).max():
                stop = j
        oracle = min((j for j, e in err.items() if e <= 1e-3), default=None)
        lines.append(f"| {seed} | " + " | ".join(f"{err[j]:.0e}" for j in steps) + f" | {oracle} | {stop} |")
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    blocks = (1, 2, 4, 8)
    Vs = {b: torch.randn(H.dim, b, device=device) for b in blocks}
    for b in blocks:
        H @ Vs[b]
    cpu = {b: [] for b in blocks}
    for _ in range(repeats):
        for b in blocks:
            cpu[b].append(_timed(lambda b=b: H @ Vs[b], sync, cpu=True)[0])
    one = statistics.median(cpu[1])
    lines += ["", f"A block of b products in one call (`is_grads_batched`), graph kept; median CPU time of {repeats}, "
              "relative to one product.", "", "| b | " + " | ".join(map(str, blocks)) + " |",
              "|---|" + "---|" * len(blocks),
              "| time / one product | " + " | ".join(f"{statistics.median(cpu[b]) / one:.2f}" for b in blocks) + " |"]
    return "\n".join(lines)


def main(repeats=5, device="cpu"):
    return (spectrum_and_trace(repeats, device) + "\n\n" + lanczos_breakdown(2 * repeats - 1, device) + "\n\n"
            + lanczos_limit(device) + "\n\n" + matvec_vs_gradient(6 * repeats, device))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    print(main(a.repeats, device=a.device))
