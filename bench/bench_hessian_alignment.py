"""Hessian alignment: cost of one training step of each penalty on the colored-digits MLP.

One full-batch step (forward over both training environments, penalty, backward through everything) of
the 128 -> 128 -> 128 -> 1 MLP on colored digits (599 + 599 examples, head of 129 parameters). Compared:
the Hutchinson penalty with its R = 150 probes in one batched backward (ours) against one autograd call per
probe (the official code's loop); HGP against a plain ERM step; and Fishr's per-example head gradients by
torch.func.vmap (ours) against BackPACK's BatchGrad (the official code's route), when BackPACK is installed.

Goals (fixed before measuring): the Hutchinson penalty step with its R probes in one batched backward at least 2x
faster than the official per-probe loop (R autograd calls); per-example head gradients by vmap at least as fast as
BackPACK's BatchGrad (when BackPACK is installed).
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from gradnotes.hessian_alignment import (colored_digits, colored_mlp, fishr_penalty, hgp_penalty, hutchinson_penalty,
                                         per_sample_head_grads)
from goals import goal

GOAL_BATCHED = 2.0  # batched Hutchinson step at least this many times faster than the per-probe loop


def timed(fn, rounds):
    fn()  # warm-up
    ts = []
    for _ in range(rounds):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main(rounds=15, n_probes=150):
    envs = colored_digits(seed=0)
    torch.manual_seed(0)
    model = colored_mlp()
    layers = list(model)
    body, head = nn.Sequential(*layers[:-1]), layers[-1]
    Xs, ys = [X for X, _ in envs.train], [y for _, y in envs.train]
    X_all, sizes = torch.cat(Xs), [len(X) for X in Xs]

    def step(penalty):
        def run():
            model.zero_grad(set_to_none=True)
            feats = list(torch.split(body(X_all), sizes))
            losses = [F.binary_cross_entropy_with_logits(head(h), y) for h, y in zip(feats, ys)]
            (torch.stack(losses).mean() + penalty(feats, losses)).backward()
        return run

    gen = torch.Generator().manual_seed(0)
    rows = [("ERM (no penalty)", step(lambda f, L: 0.0)),
            ("HGP", step(lambda f, L: hgp_penalty(L, head))),
            (f"Hutchinson, R = {n_probes}, batched (ours)", step(lambda f, L: hutchinson_penalty(L, head, n_probes, gen))),
            (f"Hutchinson, R = {n_probes}, loop (official)", step(lambda f, L: hutchinson_penalty(L, head, n_probes, gen, batched=False))),
            ("Fishr, vmap per-example gradients (ours)", step(lambda f, L: fishr_penalty(head, f, ys)))]
    times = {name: timed(fn, rounds) for name, fn in rows}
    lines = [f"One full-batch training step on colored digits (1,198 examples, float32, {torch.get_num_threads()} threads), "
             f"median of {rounds} rounds; torch {torch.__version__}.", "",
             "| step | ms | / ERM step |", "|---|---|---|"]
    erm = times["ERM (no penalty)"]
    for name, t in times.items():
        lines.append(f"| {name} | {1e3 * t:.1f} | {t / erm:.1f} |")
    loop, batched = times[f"Hutchinson, R = {n_probes}, loop (official)"], times[f"Hutchinson, R = {n_probes}, batched (ours)"]
    speedup = loop / batched
    lines += ["", f"Batched probes vs the per-probe loop: {speedup:.1f}x faster.", "",
              goal(f"the Hutchinson penalty step with batched probes at least {GOAL_BATCHED:g}x faster than "
                   "the official per-probe loop", f"{speedup:.1f}x", speedup >= GOAL_BATCHED)]
    try:
        import backpack
        from backpack.extensions import BatchGrad
    except ImportError:
        lines += ["", "BackPACK not installed: the per-example-gradient comparison is skipped."]
        return "\n".join(lines)
    h = body(X_all[:sizes[0]]).detach()
    hd = backpack.extend(nn.Linear(128, 1))
    hd.load_state_dict(head.state_dict())
    lossfn = backpack.extend(nn.BCEWithLogitsLoss())

    def bp():
        hd.zero_grad()
        with backpack.backpack(BatchGrad()):
            lossfn(hd(h), ys[0]).backward()
        return hd.weight.grad_batch

    t_bp, t_ours = timed(bp, rounds), timed(lambda: per_sample_head_grads(head, h, ys[0]), rounds)
    lines += ["", "| per-example head gradients, 599 examples | ms |", "|---|---|",
              f"| torch.func.vmap (ours) | {1e3 * t_ours:.2f} |", f"| BackPACK BatchGrad | {1e3 * t_bp:.2f} |",
              "", f"BackPACK / ours: {t_bp / t_ours:.2f}.", "",
              goal("per-example head gradients by torch.func.vmap at least as fast as BackPACK's BatchGrad",
                   f"{t_bp / t_ours:.2f}x", t_bp >= t_ours)]
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    a = ap.parse_args()
    if a.threads: torch.set_num_threads(a.threads)
    print(main(a.rounds))
