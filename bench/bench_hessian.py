"""HessianOperator vs PyHessian: top-5 eigenvalues and Hutchinson trace at equal accuracy, and the cost of one
Hessian-vector product relative to one gradient.

Model: an MLP on the digits training split, briefly trained with Adam so the Hessian is taken at a realistic
point. Accuracy is measured against exact eigenvalues (dense float64 Hessian, `torch.linalg.eigvalsh`).
PyHessian finds the top eigenvalues by power iteration with deflation (its defaults: maxIter=100, tol=1e-3);
gradnotes uses Lanczos with full reorthogonalization at tol=1e-3, a residual tolerance under which its eigenvalue
errors are far smaller than PyHessian's (both errors are printed). Both run Hutchinson with the same number of
Rademacher probes, so the estimators have the same variance; gradnotes pushes its probes through in blocks.
Timings are medians over repeats, interleaved so machine-load drifts hit both alike.
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


def _trained_mlp(sizes, X, y, steps=300, seed=0, device="cpu"):
    torch.manual_seed(seed)
    net = MLP(sizes, act=torch.nn.Tanh).to(device)
    opt = torch.optim.Adam(net.parameters(), 1e-2)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(net(X), y).backward()
        opt.step()
    return net


def _timed(fn, sync):
    sync()
    t = time.perf_counter()
    out = fn()
    sync()
    return time.perf_counter() - t, out


def _counting(pyhessian_module):
    "Count PyHessian's Hessian-vector products by wrapping the function its class calls."
    counter = {"n": 0}
    original = pyhessian_module.hessian_vector_product

    def counted(gradsH, params, v):
        counter["n"] += 1
        return original(gradsH, params, v)
    pyhessian_module.hessian_vector_product = counted
    return counter, lambda: setattr(pyhessian_module, "hessian_vector_product", original)


def spectrum_and_trace(repeats=3, device="cpu", n_probes=100):
    data = digits(seed=0)
    X, y = data.X_train.to(device), data.y_train.to(device)
    net = _trained_mlp([64, 32, 10], X, y, device=device)
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    exact = torch.linalg.eigvalsh(HessianOperator(net, F.cross_entropy, (X, y), dtype=torch.float64,
                                                  batch_probes=256).dense().cpu())
    top_exact = exact.flip(0)[:5].numpy()
    trace_exact = exact.sum().item()
    rows = []
    try:
        import pyhessian
        ph = sys.modules["pyhessian.hessian"]  # the module (the package exports the class under the same name)
    except ImportError:
        pyhessian = None
    times = {k: [] for k in ("ours_eig", "peer_eig", "ours_tr", "peer_tr")}
    res = {}
    for r in range(repeats):
        H = HessianOperator(net, F.cross_entropy, (X, y))
        t, vals = _timed(lambda: H.eigenvalues(k=5, tol=1e-3, seed=r), sync)
        times["ours_eig"].append(t)
        res["ours_eig"] = (np.abs(vals.cpu().numpy() - top_exact) / top_exact).max(), H.n_products
        H.n_products = 0
        t, est = _timed(lambda: H.trace(n_probes=n_probes, seed=r), sync)
        times["ours_tr"].append(t)
        res["ours_tr"] = est, H.n_products
        if pyhessian is None:
            continue
        counter, restore = _counting(ph)
        torch.manual_seed(r)
        peer = pyhessian.hessian(net, torch.nn.CrossEntropyLoss(), data=(X, y), cuda=torch.device(device).type == "cuda")
        t, (pvals, _) = _timed(lambda: peer.eigenvalues(top_n=5), sync)  # defaults maxIter=100, tol=1e-3
        times["peer_eig"].append(t)
        res["peer_eig"] = (np.abs(np.array(pvals) - top_exact) / top_exact).max(), counter["n"]
        counter["n"] = 0
        t, samples = _timed(lambda: peer.trace(maxIter=n_probes, tol=0.0), sync)
        times["peer_tr"].append(t)
        s = np.array(samples)
        res["peer_tr"] = (s.mean(), s.std(ddof=1) / np.sqrt(len(s))), counter["n"]
        restore()
    med = {k: statistics.median(v) * 1e3 if v else float("nan") for k, v in times.items()}
    D = H.dim
    lines = [f"MLP 64-32-10 (tanh) on digits train ({len(X)} examples), D = {D:,} parameters, float32, device {device}, "
             f"torch {torch.__version__}, {torch.get_num_threads()} threads; median of {repeats} runs.", "",
             "| task | library | median ms | Hessian-vector products | accuracy | gradnotes / PyHessian time |",
             "|---|---|---|---|---|---|"]
    e_ours, n_ours = res["ours_eig"]
    ratio = f"{med['ours_eig'] / med['peer_eig']:.2f}x" if pyhessian else "n/a"
    lines.append(f"| top-5 eigenvalues | gradnotes Lanczos (tol 1e-3) | {med['ours_eig']:.1f} | {n_ours} | "
                 f"max rel. error {e_ours:.1e} | {ratio} |")
    if pyhessian:
        e_p, n_p = res["peer_eig"]
        lines.append(f"| top-5 eigenvalues | PyHessian power iteration (defaults) | {med['peer_eig']:.1f} | {n_p} | "
                     f"max rel. error {e_p:.1e} | |")
    (est, se), n_t = res["ours_tr"]
    ratio = f"{med['ours_tr'] / med['peer_tr']:.2f}x" if pyhessian else "n/a"
    lines.append(f"| trace, {n_probes} probes | gradnotes Hutchinson (blocked probes) | {med['ours_tr']:.1f} | {n_t} | "
                 f"{est:.3f} +- {se:.3f} (exact {trace_exact:.3f}) | {ratio} |")
    if pyhessian:
        (pe, pse), n_p = res["peer_tr"]
        lines.append(f"| trace, {n_probes} probes | PyHessian Hutchinson | {med['peer_tr']:.1f} | {n_p} | "
                     f"{pe:.3f} +- {pse:.3f} | |")
    return "\n".join(lines)


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
           "matvec, forward-over-reverse (torch.func)": HessianOperator(net, F.cross_entropy, (X, y), method="func")}
    v = torch.randn(ops[next(iter(ops))].dim, device=device)
    fns = {"gradient (forward + backward)": gradient, **{k: (lambda op=op: op @ v) for k, op in ops.items()}}
    for f in fns.values():  # warm up (and build the kept graph)
        f(); f()
    samples = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            samples[k].append(_timed(f, sync)[0])
    med = {k: statistics.median(s) * 1e3 for k, s in samples.items()}
    g = med["gradient (forward + backward)"]
    lines = [f"MLP 64-256-256-10 (tanh), {sum(p.numel() for p in params):,} parameters, batch of {n}, float32, device {device}, "
             f"{torch.get_num_threads()} threads; median of {repeats} interleaved runs.", "",
             "| operation | median ms | relative to one gradient |", "|---|---|---|"]
    lines += [f"| {k} | {m:.2f} | {m / g:.2f}x |" for k, m in med.items()]
    return "\n".join(lines)


def main(repeats=3, device="cpu"):
    return spectrum_and_trace(repeats, device) + "\n\n" + matvec_vs_gradient(10 * repeats, device)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    print(main(a.repeats, device=a.device))
