"""One DiffGrad step on a ~1M-parameter model: gradnotes (per-parameter, multi-tensor, fused) vs
pytorch-optimizer's DiffGrad vs torch Adam (foreach and fused).

Prints the median time of one `step()` over repeats for each optimizer, measured in the same process
on the same parameters and gradients (rounds interleaved), each one's ratio to the peers, and the
time of the fused step's first call (compiling the kernel, or loading it from inductor's cache).
Goal: the fused diffGrad step at most 1.3x torch Adam's foreach and fused steps (diffGrad moves
9 parameter-sized tensors per step, Adam 7).

Two reference kernels, compiled like the fused step and run on flat buffers of the same size, show
where the time goes: Adam's update written for inductor (7 streams, Adam's arithmetic) and
diffGrad's update without the sigmoid (9 streams, Adam's arithmetic). The first against torch's
fused Adam measures inductor's code; the second against the first, the cost of the traffic alone.
"""
import argparse
import statistics
import time

import torch

from gradnotes.core import torch_threads
from gradnotes.diffgrad import DiffGrad
from goals import goal

GOAL = 1.3


def model_1m():
    # 1000*1000 + 1000 + 1000*10 + 10 = 1,011,010 parameters in four tensors
    return torch.nn.Sequential(torch.nn.Linear(1000, 1000), torch.nn.ReLU(), torch.nn.Linear(1000, 10))


def _adam_kernel(p, g, m, v, prev, alpha, hyper):
    "Adam's update for inductor: reads p, g, m, v and writes p, m, v (7 streams)."
    _, w1, b2, w2, eps, _ = hyper.unbind()
    m.lerp_(g, w1)
    v.mul_(b2).add_(w2 * g * g)
    p.sub_(alpha * m / (v.sqrt() + eps))


def _traffic_kernel(p, g, m, v, prev, alpha, hyper):
    "diffGrad's streams (reads p, g, m, v, g_prev; writes p, m, v, g_prev), Adam's arithmetic."
    _adam_kernel(p, g, m, v, prev, alpha, hyper)
    prev.copy_(g)


class _Bare:
    "A compiled reference kernel on flat float32 buffers of n elements, stepped like an optimizer."

    def __init__(self, fn, n, device):
        self.kernel = torch.compile(fn, fullgraph=True, dynamic=True)
        gen = torch.Generator().manual_seed(1)
        self.args = [torch.randn(n, generator=gen).to(device) for _ in range(5)]
        self.args[3].abs_()
        self.args += [torch.tensor(1e-3, device=device),
                      torch.tensor([1.0, 0.1, 0.999, 1e-3, 1e-8, 0.0], device=device)]
        self.step()

    def step(self):
        self.kernel(*self.args)


def time_steps(opt, repeats, device, before=None, warmup=5):
    """Seconds per `opt.step()` (`before()` runs untimed ahead of each); on CUDA the clock stops only
    once the step's kernels have finished."""
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    for _ in range(warmup):
        if before: before()
        opt.step()
    sync()
    times = []
    for _ in range(repeats):
        if before: before()
        sync()
        t = time.perf_counter()
        opt.step()
        sync()
        times.append(time.perf_counter() - t)
    return times


def main(repeats=200, rounds=5, device="cpu", threads=1):
    with torch_threads(threads):
        return _main(repeats, rounds, device)


def _main(repeats, rounds, device):
    torch.manual_seed(0)
    model = model_1m().to(device)
    params = list(model.parameters())
    for p in params:
        p.grad = torch.randn_like(p) * 1e-2
    fresh = [p.grad.clone() for p in params]

    def new_grads():  # what backward after zero_grad(set_to_none=True) hands the step
        for p, g in zip(params, fresh): p.grad = g.clone()

    n = sum(p.numel() for p in params)
    makers = {"gradnotes DiffGrad (per-parameter)": lambda ps: DiffGrad(ps, foreach=False, fused=False),
              "gradnotes DiffGrad (foreach)": lambda ps: DiffGrad(ps, foreach=True),
              "gradnotes DiffGrad (fused)": lambda ps: DiffGrad(ps, fused=True),
              "gradnotes DiffGrad (fused, new .grad tensors)": lambda ps: DiffGrad(ps, fused=True),
              "torch Adam (foreach)": lambda ps: torch.optim.Adam(ps, foreach=True),
              "torch Adam (fused)": lambda ps: torch.optim.Adam(ps, fused=True)}
    try:
        import pytorch_optimizer
        makers["pytorch-optimizer DiffGrad"] = lambda ps: pytorch_optimizer.DiffGrad(ps, weight_decouple=False)
    except ImportError:
        print("pytorch-optimizer is not installed: its row is skipped")
    opts = {k: make(params) for k, make in makers.items()}
    opts["reference: Adam's update compiled by inductor (7 streams)"] = _Bare(_adam_kernel, n, device)
    opts["reference: diffGrad's 9 streams, Adam's arithmetic"] = _Bare(_traffic_kernel, n, device)
    t = time.perf_counter()
    opts["gradnotes DiffGrad (fused)"].step()  # the first fused step compiles the kernel
    first = time.perf_counter() - t
    samples = {k: [] for k in opts}
    for _ in range(rounds):  # interleave rounds so drifts in machine load hit every optimizer alike
        for k, opt in opts.items():
            before = new_grads if "new .grad" in k else None
            samples[k] += time_steps(opt, repeats // rounds, device, before)
    med = {k: statistics.median(v) * 1e3 for k, v in samples.items()}
    fe, fu = med["torch Adam (foreach)"], med["torch Adam (fused)"]
    peer = med.get("pytorch-optimizer DiffGrad")
    lines = [f"One optimizer step, {n:,} parameters, device {device}, torch {torch.__version__}, "
             f"{torch.get_num_threads()} thread(s); median of {repeats} steps in {rounds} interleaved "
             f"rounds. First fused step (compiling the kernel or loading it from inductor's cache): "
             f"{first:.1f} s.", "",
             "| optimizer | median ms/step | vs torch Adam (foreach) | vs torch Adam (fused) "
             "| vs pytorch-optimizer DiffGrad |", "|---|---|---|---|---|"]
    for k, m in med.items():
        vs_peer = f"{m / peer:.2f}x" if peer else "n/a"
        lines.append(f"| {k} | {m:.3f} | {m / fe:.2f}x | {m / fu:.2f}x | {vs_peer} |")
    r_fe, r_fu = med["gradnotes DiffGrad (fused)"] / fe, med["gradnotes DiffGrad (fused)"] / fu
    ref7 = med["reference: Adam's update compiled by inductor (7 streams)"]
    ref9 = med["reference: diffGrad's 9 streams, Adam's arithmetic"]
    lines += ["", f"Traffic alone (9 streams / 7, both compiled by inductor): {ref9 / ref7:.2f}x "
              f"(ideal 9/7 = 1.29x); inductor's Adam / torch's fused Adam: {ref7 / fu:.2f}x; "
              f"diffGrad's sigmoid on top of its traffic: {med['gradnotes DiffGrad (fused)'] / ref9:.2f}x.",
              "", goal(f"fused diffGrad <= {GOAL}x Adam foreach", f"{r_fe:.2f}x", r_fe <= GOAL),
              goal(f"fused diffGrad <= {GOAL}x Adam fused", f"{r_fu:.2f}x", r_fu <= GOAL)]
    return "\n".join(lines + [""] + crossover(repeats // 2, device))


def crossover(repeats, device, widths=(64, 128, 256, 512)):
    "Per-step medians of the three paths on two-layer MLPs of growing size (FUSED_MIN_NUMEL's basis)."
    lines = ["| parameters | per-parameter ms | foreach ms | fused ms | fused / per-parameter |",
             "|---|---|---|---|---|"]
    for w in widths:
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(w, w), torch.nn.ReLU(), torch.nn.Linear(w, w)).to(device)
        for p in net.parameters(): p.grad = torch.randn_like(p)
        paths = [dict(foreach=False, fused=False), dict(foreach=True), dict(fused=True)]
        opts = [DiffGrad(net.parameters(), **kw) for kw in paths]
        ms = [statistics.median(time_steps(o, repeats, device)) * 1e3 for o in opts]
        n = sum(p.numel() for p in net.parameters())
        lines.append(f"| {n:,} | {ms[0]:.3f} | {ms[1]:.3f} | {ms[2]:.3f} | {ms[2] / ms[0]:.2f}x |")
    return lines


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    print(main(a.repeats, a.rounds, a.device, a.threads))
