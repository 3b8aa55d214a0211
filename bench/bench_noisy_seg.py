"""One U-Net training step with channels-last against the default (contiguous) memory format.

A step is forward, the noise-weighted Dice loss with reliability weights, backward and an Adam
step, on the U-Net and image size of the noisy-pseudo-label page and on a larger case. Both
layouts run the same model weights and batch; medians over interleaved rounds (so drifts in
machine load hit both alike), one torch thread, CPU (and CUDA when there is one).
`fit_segmenter(channels_last=True)` trains in channels-last; the default stays contiguous because the
two layouts' results agree only to rounding (the page's stored results were run in the default).
Goal: the default layout, the one `fit_segmenter` trains in, within 1.1x of channels-last's time in every
case (else the library leaves speed on the table).
"""
import argparse
import statistics
import time

import torch

from gradnotes.core import torch_threads
from gradnotes.noisy_seg import noise_weighted_dice_loss, reliability_weights
from gradnotes.training import UNet
from goals import goal

CASES = {  # name: (width, depth, batch, size)
    "page: width 8, depth 2, 16 x 32x32": (8, 2, 16, 32),
    "width 16, depth 3, 8 x 96x96": (16, 3, 8, 96),
}


def step_timer(model, opt, X, y, sync):
    def step():
        prob = model(X).softmax(1)[:, 1]
        loss = noise_weighted_dice_loss(prob, y, reliability_weights(prob, y))
        opt.zero_grad(); loss.backward(); opt.step()
        sync()
    return step


def time_it(fn, repeats, warmup=2):
    for _ in range(warmup): fn()
    out = []
    for _ in range(repeats):
        t = time.perf_counter(); fn(); out.append(time.perf_counter() - t)
    return out


def _layouts(width, depth, batch, size, device):
    torch.manual_seed(0)
    X = torch.randn(batch, 1, size, size, device=device)
    y = (torch.rand(batch, size, size, device=device) > 0.5).float()
    base = UNet(1, 2, width, depth).to(device)
    out = {}
    for key, fmt in (("default", torch.contiguous_format), ("channels_last", torch.channels_last)):
        m = UNet(1, 2, width, depth).to(device)
        m.load_state_dict(base.state_dict())
        m = m.to(memory_format=fmt)
        out[key] = (m, X.contiguous(memory_format=fmt), y)
    return out


def main(repeats=20, rounds=4):
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    lines = [f"One U-Net training step (forward, noise-weighted Dice, backward, Adam), torch "
             f"{torch.__version__}, 1 CPU thread; medians of {repeats} steps in {rounds} "
             "interleaved rounds (ms).", "",
             "| device | case | default | channels-last | channels-last / default |",
             "|---|---|---|---|---|"]
    ratios = []
    with torch_threads(1):
        for dev in devices:
            sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
            for name, (w, d, b, s) in CASES.items():
                steps = {}
                for k, (m, X, y) in _layouts(w, d, b, s, dev).items():
                    opt = torch.optim.Adam(m.parameters(), 1e-3)
                    steps[k] = step_timer(m, opt, X, y, sync)
                samples = {k: [] for k in steps}
                for _ in range(rounds):
                    for k, st in steps.items(): samples[k] += time_it(st, max(1, repeats // rounds))
                med = {k: statistics.median(v) * 1e3 for k, v in samples.items()}
                ratios.append(med['default'] / med['channels_last'])
                lines.append(f"| {dev} | {name} | {med['default']:.2f} | {med['channels_last']:.2f} "
                             f"| {med['channels_last'] / med['default']:.2f}x |")
    lines += ["", goal("default layout at most 1.1x channels-last's step time in every case",
                       f"worst {max(ratios):.2f}x", max(ratios) <= 1.1)]
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=20)
    a = ap.parse_args()
    print(main(a.repeats))
