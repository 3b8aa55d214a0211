"""Sampler overhead per network evaluation: gradnotes' PNDM/DDIM vs diffusers' schedulers.

The model is a trivial function (a fixed linear map), so the time measured is the sampler's own
work. Each sampler does the same number of model evaluations on the same (batch, 3, 32, 32) input.
Goals: gradnotes' F-PNDM and DDIM overhead per call at most 1.0x diffusers' PNDMScheduler and
DDIMScheduler.
"""
import statistics
import time

import torch

from gradnotes.diffusion import make_schedule
from gradnotes.pndm import sample
from goals import goal


def main(repeats=5, steps=50, batch=16):
    sched = make_schedule("linear")
    x0 = torch.randn(batch, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    model = lambda x, t: 0.1 * x  # negligible cost, deterministic
    runs = {}

    def ours(method):
        return lambda: sample(model, x0, sched, steps, method, return_nfe=True)[1]

    runs["gradnotes f-pndm"] = ours("f-pndm")
    runs["gradnotes ddim"] = ours("ddim")
    try:
        import diffusers
        common = dict(num_train_timesteps=1000, beta_start=1e-4, beta_end=0.02, beta_schedule="linear",
                      set_alpha_to_one=True, steps_offset=0)

        def theirs(scheduler, **kw):
            def run():
                scheduler.set_timesteps(steps)
                x, n = x0.clone(), 0
                for t in scheduler.timesteps:
                    x = scheduler.step(model(x, t), int(t), x, **kw).prev_sample
                    n += 1
                return n
            return run
        runs["diffusers PNDMScheduler (PRK warm-up)"] = theirs(diffusers.PNDMScheduler(skip_prk_steps=False, **common))
        runs["diffusers DDIMScheduler"] = theirs(diffusers.DDIMScheduler(clip_sample=False, **common), eta=0.0)
    except ImportError:
        print("diffusers is not installed: its rows are skipped")
    per_nfe, nfe = {}, {}
    for k, run in runs.items():
        nfe[k] = run()  # warm-up, and the evaluation count
        times = []
        for _ in range(repeats):
            t = time.perf_counter(); run(); times.append(time.perf_counter() - t)
        per_nfe[k] = statistics.median(times) / nfe[k] * 1e6
    lines = [f"Sampler overhead, {steps} steps, input {tuple(x0.shape)}, trivial model, torch {torch.__version__}, "
             f"{torch.get_num_threads()} threads; median of {repeats} runs.", "",
             "| sampler | network calls | µs per call (sampler work) | vs diffusers, same method |", "|---|---|---|---|"]
    peer = {"gradnotes f-pndm": "diffusers PNDMScheduler (PRK warm-up)", "gradnotes ddim": "diffusers DDIMScheduler"}
    for k in runs:
        ratio = f"{per_nfe[k] / per_nfe[peer[k]]:.2f}x" if k in peer and peer[k] in per_nfe else ""
        lines.append(f"| {k} | {nfe[k]} | {per_nfe[k]:.1f} | {ratio} |")
    lines.append("")
    for k, name in (("gradnotes f-pndm", "F-PNDM"), ("gradnotes ddim", "DDIM")):
        text = f"{name} overhead per call at most 1.0x {peer[k].split(' (')[0]}'s"
        if peer[k] in per_nfe:
            r = per_nfe[k] / per_nfe[peer[k]]
            lines.append(goal(text, f"{r:.2f}x", r <= 1.0))
        else:
            lines.append(goal(text, "diffusers not installed", False))
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
