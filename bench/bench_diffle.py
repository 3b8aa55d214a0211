"""One diffusion-guided calibration pass (10 DDIM steps with the exact Gaussian patch prior),
as a multiple of one forward pass of the curve enhancer, on the same batch of 64×64 crops."""
import statistics
import time

import torch

from gradnotes.diffle import CurveNet, calibrate, darken, fit_patch_prior, image_crops


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
    net = CurveNet().eval()
    with torch.no_grad():
        e = net(low)
        runs = {
            "enhancer forward (CurveNet, 8 curves)": lambda: net(low),
            "calibration, t0 = 100, 10 DDIM steps": lambda: calibrate(e, prior, t0=100),
            "calibration + guidance": lambda: calibrate(e, prior, t0=100, guidance=1.0),
        }
        med = {k: _median(f, repeats) for k, f in runs.items()}
    base = med["enhancer forward (CurveNet, 8 curves)"]
    lines = [f"A batch of {batch} RGB crops of 64×64, 8×8 patch prior (D = 192); torch "
             f"{torch.__version__}, {torch.get_num_threads()} threads; median of {repeats} runs.",
             "", "| step | ms per batch | vs enhancer forward |", "|---|---|---|"]
    for k, v in med.items():
        lines.append(f"| {k} | {v * 1e3:.2f} | {v / base:.2f}x |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
