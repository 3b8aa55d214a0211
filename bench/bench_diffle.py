"""The distilled enhancer (one forward pass) against the diffusion-guided calibration it
replaces (10 DDIM steps with the exact Gaussian patch prior, or with a trained EpsMLP patch
prior), per batch of 64×64 crops, as multiples of the distilled forward pass.
Goal: the distilled enhancer at least 2x faster than the cheapest calibration it replaces (distilling is
worth it only if it saves at least half the time)."""
import statistics
import time

import torch

from gradnotes.diffle import (calibrate, darken, distill_enhancer, fit_patch_prior,
                              image_crops, pseudo_references, train_enhancer,
                              train_patch_prior)
from goals import goal


def _median(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter(); fn(); times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(repeats=11, batch=8):
    torch.manual_seed(0)
    clean = image_crops(("astronaut", "coffee"), n=batch // 2)
    low = darken(clean, generator=torch.Generator().manual_seed(0))
    prior = fit_patch_prior(clean)
    # timings do not depend on how long the networks trained: a few steps each
    net = train_enhancer(clean, steps=2)
    targets = pseudo_references(net, low, prior, generator=torch.Generator().manual_seed(0))
    student = distill_enhancer(net, low, targets, steps=2)
    learned = train_patch_prior(clean, steps=2)  # EpsMLP(192, hidden=512, depth=3)
    with torch.no_grad():
        runs = {
            "distilled enhancer forward (CurveNet, 8 curves)": lambda: student(low),
            "enhancer + calibration, exact prior (t0 = 100, 10 DDIM steps)":
                lambda: calibrate(net(low), prior, t0=100),
            "enhancer + calibration + guidance, exact prior":
                lambda: calibrate(net(low), prior, t0=100, guidance=1.0),
            "enhancer + calibration, trained EpsMLP prior":
                lambda: calibrate(net(low), learned, t0=100),
        }
        med = {k: _median(f, repeats) for k, f in runs.items()}
    base = med["distilled enhancer forward (CurveNet, 8 curves)"]
    lines = [f"A batch of {batch} RGB crops of 64×64, 8×8 patches (D = 192); torch "
             f"{torch.__version__}, {torch.get_num_threads()} threads; median of {repeats} runs.",
             "", "| step | ms per batch | vs distilled forward |", "|---|---|---|"]
    for k, v in med.items():
        lines.append(f"| {k} | {v * 1e3:.2f} | {v / base:.2f}x |")
    cheapest = min(v for k, v in med.items() if "calibration" in k) / base
    lines += ["", goal("distilled forward at least 2x faster than the cheapest calibration path",
                       f"{cheapest:.2f}x", cheapest >= 2.0)]
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
