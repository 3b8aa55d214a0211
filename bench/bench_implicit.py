"""Hypergradient through a ridge solution: gradnotes' custom_root vs torchopt's, and vs unrolling.

Same problem, same solution, same linear solver family (CG, relative tolerance 1e-10): the time of
one forward-and-backward pass, median over repeats; then unrolled gradient descent through k
iterations, whose time and memory grow with k.
Goals: gradnotes' custom_root at most 1.0x torchopt's time, and the same hypergradient to 1e-9 relative.
"""
import statistics
import time
import warnings

import torch

from gradnotes.implicit import custom_root, solve_cg
from goals import goal


def main(repeats=20, n=2000, d=300):
    g = torch.Generator().manual_seed(0)
    X = torch.randn(n, d, dtype=torch.float64, generator=g) / n ** 0.5
    y = torch.randn(n, dtype=torch.float64, generator=g)
    F = lambda w, lam, X, y: X.T @ (X @ w - y) + lam * w
    # the inner solution is computed once: the timings below are the implicit machinery (the backward
    # solve with vector-Jacobian products), not the inner solver, which is the same for both
    w_star = torch.linalg.solve(X.T @ X + 0.5 * torch.eye(d, dtype=X.dtype), X.T @ y)
    exact = lambda init, lam, X, y: w_star.clone()
    solvers = {"gradnotes custom_root (CG)": custom_root(F, argnums=1, solve=solve_cg(tol=1e-10))(exact)}
    try:
        import torchopt
        solvers["torchopt custom_root (CG)"] = torchopt.diff.implicit.custom_root(
            F, argnums=1, solve=torchopt.linear_solve.solve_cg(rtol=1e-10))(exact)
    except ImportError:
        print("torchopt is not installed: its row is skipped")

    def run(solver):
        lam = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
        w = solver(torch.zeros(d, dtype=torch.float64), lam, X, y)
        return torch.autograd.grad((w ** 2).sum(), lam)[0]

    med, vals = {}, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchopt's deprecation warnings
        for k, s in solvers.items():
            vals[k] = run(s).item()
            ts = []
            for _ in range(repeats):
                t = time.perf_counter(); run(s); ts.append(time.perf_counter() - t)
            med[k] = statistics.median(ts) * 1e3
    ref = "torchopt custom_root (CG)"
    lines = [f"Hypergradient of ||w*(λ)||² through ridge ({n}×{d}), torch {torch.__version__}, "
             f"{torch.get_num_threads()} threads; median of {repeats} runs of the implicit forward and backward passes.", "",
             "| method | ms | vs torchopt | value |", "|---|---|---|---|"]
    for k in med:
        lines.append(f"| {k} | {med[k]:.2f} | {med[k] / med[ref]:.2f}x | {vals[k]:.10f} |" if ref in med
                     else f"| {k} | {med[k]:.2f} | | {vals[k]:.10f} |")
    ours = "gradnotes custom_root (CG)"
    if ref in med:
        r, dv = med[ours] / med[ref], abs(vals[ours] - vals[ref]) / abs(vals[ref])
        goals = [goal("custom_root at most 1.0x torchopt's time", f"{r:.2f}x", r <= 1.0),
                 goal("the same hypergradient as torchopt to 1e-9 relative", f"{dv:.1e}", dv <= 1e-9)]
    else:
        goals = [goal("custom_root at most 1.0x torchopt's time", "torchopt not installed", False)]

    # unrolled gradient descent: time and memory grow with the iteration count
    L = torch.linalg.eigvalsh(X.T @ X).max().item() + 0.5
    lines += ["", "| unrolled gradient descent, k | ms (forward + backward) | bytes saved for backward |", "|---|---|---|"]
    for k in (10, 100, 1000):
        saved = {}
        def pack(t):
            saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes(); return t
        lam = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
        t0 = time.perf_counter()
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            w = torch.zeros(d, dtype=torch.float64)
            for _ in range(k):
                w = w - (1 / L) * (X.T @ (X @ w - y) + lam * w)
            loss = (w ** 2).sum()
        torch.autograd.grad(loss, lam)
        lines.append(f"| {k} | {(time.perf_counter() - t0) * 1e3:.1f} | {sum(saved.values()):,} |")
    return "\n".join(lines + [""] + goals)


if __name__ == "__main__":
    print(main())
