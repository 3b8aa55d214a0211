"""One DiffGrad step on a ~1M-parameter model: gradnotes vs pytorch-optimizer vs torch Adam.

Prints the median time of one `step()` over repeats for each optimizer, measured in the same
process with the same parameters and gradients, and each one's ratio to the peers.
"""
import argparse
import statistics
import time

import torch

from gradnotes.diffgrad import DiffGrad


def model_1m():
    # 1000*1000 + 1000 + 1000*10 + 10 = 1,011,010 parameters in four tensors
    return torch.nn.Sequential(torch.nn.Linear(1000, 1000), torch.nn.ReLU(), torch.nn.Linear(1000, 10))


def time_steps(opt, repeats, device, warmup=5):
    "Seconds per `opt.step()`; on CUDA the clock stops only once the step's kernels have finished."
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    for _ in range(warmup):
        opt.step()
    sync()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        opt.step()
        sync()
        times.append(time.perf_counter() - t)
    return times


def main(repeats=200, rounds=5, device="cpu"):
    torch.manual_seed(0)
    model = model_1m().to(device)
    for p in model.parameters():
        p.grad = torch.randn_like(p) * 1e-2
    n = sum(p.numel() for p in model.parameters())
    makers = {"gradnotes DiffGrad (per-parameter)": lambda ps: DiffGrad(ps, foreach=False),
              "gradnotes DiffGrad (foreach)": lambda ps: DiffGrad(ps, foreach=True),
              "torch Adam (foreach)": lambda ps: torch.optim.Adam(ps, foreach=True)}
    try:
        import pytorch_optimizer
        makers["pytorch-optimizer DiffGrad"] = lambda ps: pytorch_optimizer.DiffGrad(ps, weight_decouple=False)
    except ImportError:
        print("pytorch-optimizer is not installed: its row is skipped")
    opts = {k: make(model.parameters()) for k, make in makers.items()}
    samples = {k: [] for k in opts}
    for _ in range(rounds):  # interleave rounds so drifts in machine load hit every optimizer alike
        for k, opt in opts.items():
            samples[k] += time_steps(opt, repeats // rounds, device)
    med = {k: statistics.median(v) * 1e3 for k, v in samples.items()}
    lines = [f"One optimizer step, {n:,} parameters, device {device}, torch {torch.__version__}, "
             f"{torch.get_num_threads()} threads; median of {repeats} steps.", "",
             "| optimizer | median ms/step | vs torch Adam (foreach) | vs pytorch-optimizer DiffGrad |", "|---|---|---|---|"]
    peer = med.get("pytorch-optimizer DiffGrad")
    for k, m in med.items():
        vs_peer = f"{m / peer:.2f}x" if peer else "n/a"
        lines.append(f"| {k} | {m:.3f} | {m / med['torch Adam (foreach)']:.2f}x | {vs_peer} |")
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    print(main(a.repeats, device=a.device))
