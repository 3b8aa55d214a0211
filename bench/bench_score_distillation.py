"""One score-distillation gradient of each estimator, as a multiple of an SDS step.

The renders are a batch of flattened 8×8 images; the "pretrained model" is an exact 20-component
class-conditional Gaussian mixture (10 classes) and ε_ψ a small MLP, so the cost is that of the
estimators' model calls and arithmetic. Each estimator runs on the same renders with fixed steps
and noise; VSD and DSD also need one ε_ψ update (fit_variational) per render update, timed apart.
The estimators are timed in interleaved rounds (each round calls every one once, in an order that
rotates), so a change of load on a shared machine hits them all alike; the ratio to SDS is the
median over rounds of the ratio within a round.
Goal: every estimator's gradient at most 2x an SDS step (each adds at most one network call to SDS's
two).
"""
import statistics
import time

import torch

from gradnotes.diffusion import ClassConditionalMixture, EpsMLP, make_schedule
from gradnotes.score_distillation import (dsd_grad, fit_variational, nfsd_grad, sds_grad,
                                          vsd_grad)
from goals import goal


def _interleaved(runs, repeats):
    """Times (seconds) of every callable in `runs`, `repeats` rounds each: a round calls each
    once, starting one further along each round."""
    for fn in runs.values():
        fn()  # warm-up
    names, times = list(runs), {k: [] for k in runs}
    for r in range(repeats):
        for k in names[r % len(names):] + names[:r % len(names)]:
            t = time.perf_counter(); runs[k](); times[k].append(time.perf_counter() - t)
    return times


def main(repeats=21, batch=64):
    torch.manual_seed(0)
    sched = make_schedule("linear")
    g = torch.Generator().manual_seed(0)
    prior = ClassConditionalMixture(torch.randn(20, 64, generator=g), torch.arange(20) % 10, var=0.1)
    model = prior.model(sched)
    psi = EpsMLP(64, hidden=128, depth=2, time_dim=32).double()
    psi_opt = torch.optim.Adam(psi.parameters(), lr=1e-3)
    x = torch.randn(batch, 64, dtype=torch.float64, generator=g)
    y = torch.arange(batch) % 10
    kw = dict(t=torch.randint(20, 980, (batch,), generator=g),
              noise=torch.randn(batch, 64, dtype=torch.float64, generator=g))
    runs = {
        "SDS (s = 7.5)": lambda: sds_grad(x, y, model, sched, 7.5, **kw),
        "NFSD (s = 7.5)": lambda: nfsd_grad(x, y, model, sched, 7.5, **kw),
        "NFSD with a negative condition": lambda: nfsd_grad(x, y, model, sched, 7.5, y_neg=(y + 1) % 10,
                                                            **kw),
        "VSD (s = 7.5)": lambda: vsd_grad(x, y, model, psi, sched, 7.5, **kw),
        "DSD (λ = 7.5, 1)": lambda: dsd_grad(x, y, model, psi, sched, 7.5, 1.0, **kw),
        "ε_ψ update (fit_variational, 1 step)": lambda: fit_variational(psi, psi_opt, x, sched, 1, g),
    }
    times = _interleaved(runs, repeats)
    med = {k: statistics.median(v) for k, v in times.items()}
    sds = times["SDS (s = 7.5)"]
    ratio = {k: statistics.median(a / b for a, b in zip(v, sds)) for k, v in times.items()}
    lines = [f"One gradient on a batch of {batch} flattened 8×8 renders, exact 20-component class-conditional "
             f"prior, ε_ψ an MLP (128 hidden); torch {torch.__version__}, {torch.get_num_threads()} threads; "
             f"medians of {repeats} interleaved rounds.", "",
             "| estimator | ms per gradient | vs SDS step (median of per-round ratios) |", "|---|---|---|"]
    for k, v in med.items():
        lines.append(f"| {k} | {v * 1e3:.2f} | {ratio[k]:.2f}x |")
    worst = max((v, k) for k, v in ratio.items() if "update" not in k)
    lines += ["", goal("every estimator's gradient at most 2x an SDS step",
                       f"worst {worst[0]:.2f}x, {worst[1].split(' (')[0]}", worst[0] <= 2.0)]
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
