"""The cost of a batch-size test next to a plain training step.

For a digits MLP (64-128-10) and an MNIST-1D CNN, and several batch sizes: the median time of one plain step
(forward, backward, AdaGrad update), of the norm/augmented test on the same batch (per-sample gradients by
vmap, accumulated as sums in chunks), of the same statistics from all per-sample gradients held at once, and,
when installed, of backpack-for-pytorch's BatchGrad (one extended backward) followed by the variance.
Goals: the norm test by chunked sums no slower than the dense per-sample statistics and than backpack's
BatchGrad at every size (it trades memory for nothing in time); AdaGradNorm in a compiled step compiles
at most two graphs in all, and a compiled step is faster than an eager one.
"""
import statistics
import time

import torch
import torch.nn.functional as F

from gradnotes.adadagrad import grad_stats, required_batch_size
from gradnotes.autodiff import per_sample_grads
from gradnotes.data import digits, mnist1d
from gradnotes.training import MLP, ConvNet1d
from goals import goal


def median_ms(fn, repeats):
    fn()  # warm-up
    ts = []
    for _ in range(repeats):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1e3


def main(repeats=7):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    tasks = {"digits MLP 64-128-10": (lambda: MLP([64, 128, 10]), digits(0)),
             "MNIST-1D CNN (16 channels)": (lambda: ConvNet1d(40, 10, channels=16), mnist1d(0))}
    try:
        import backpack
        from backpack.extensions import BatchGrad
    except ImportError:
        backpack = None
    lines = [f"torch {torch.__version__}, 1 thread, CPU; median of {repeats} repeats (ms).", "",
             "| model | batch | plain step | norm test (chunked sums) | augmented test (chunked sums) | test / step "
             "| dense per-sample variance | backpack BatchGrad variance |", "|---|---|---|---|---|---|---|---|"]
    vs_dense, vs_bp = [], []
    for name, (make, sp) in tasks.items():
        model = make()
        opt = torch.optim.Adagrad(model.parameters(), lr=1e-3)
        for b in (32, 256, 1024):
            X, y = sp.X_train[:b], sp.y_train[:b]
            def step():
                opt.zero_grad(); F.cross_entropy(model(X), y).backward(); opt.step()
            def test(kind):
                opt.zero_grad(); F.cross_entropy(model(X), y).backward()
                st = grad_stats(model, F.cross_entropy, X, y, ref=[p.grad for p in model.parameters()])
                return required_batch_size(st, kind)
            def dense():
                G = per_sample_grads(model, F.cross_entropy, X, y, chunk_size=b)
                return G.var(0).sum()
            t_step = median_ms(step, repeats)
            t_norm = median_ms(lambda: test("norm"), repeats)
            t_aug = median_ms(lambda: test("ip+orth"), repeats)
            t_dense = median_ms(dense, repeats)
            t_bp = "n/a"
            if backpack is not None:
                ext = backpack.extend(make()); ext.load_state_dict(model.state_dict())
                lossf = backpack.extend(torch.nn.CrossEntropyLoss())
                def bp():
                    ext.zero_grad()
                    with backpack.backpack(BatchGrad()):
                        lossf(ext(X), y).backward()
                    return sum((p.grad_batch * b).reshape(b, -1).var(0).sum() for p in ext.parameters())
                t_bp = median_ms(bp, repeats)
                vs_bp.append(t_norm / t_bp)
                t_bp = f"{t_bp:.2f}"
            vs_dense.append(t_norm / t_dense)
            lines.append(f"| {name} | {b} | {t_step:.2f} | {t_norm:.2f} | {t_aug:.2f} | {t_norm / t_step:.1f}x "
                         f"| {t_dense:.2f} | {t_bp} |")
    lines += ["", goal("norm test (chunked sums) at most 1.0x the dense per-sample statistics' time "
                       "at every size", f"worst {max(vs_dense):.2f}x", max(vs_dense) <= 1.0)]
    lines.append(goal("norm test at most 1.0x backpack BatchGrad + variance at every size",
                      f"worst {max(vs_bp):.2f}x", max(vs_bp) <= 1.0) if vs_bp else
                 goal("norm test at most 1.0x backpack BatchGrad + variance at every size",
                      "backpack-for-pytorch not installed", False))
    return "\n".join(lines + [""] + compiled_steps())


def compiled_steps(steps=30):
    """AdaGradNorm inside one torch.compile'd training step (forward and backward by torch.func, then
    step()), with and without `capturable`: the time of all `steps` steps (compilation included),
    the graphs compiled, and the median step after the first ten, against the same step in eager mode."""
    from torch._dynamo.utils import counters
    from gradnotes.adadagrad import AdaGradNorm
    lines = ["AdaGradNorm in a compiled training step (digits-sized MLP 64-128-10, batch 64, "
             f"{steps} steps):", "",
             "| capturable | mode | total s (compilation included) | graphs compiled | recompilations "
             "| median ms/step after 10 |", "|---|---|---|---|---|---|"]
    med, graphs_max = {}, 0
    for capturable in (False, True):
        for compiled in (False, True):
            torch._dynamo.reset(); counters.clear()
            torch.manual_seed(0)
            net = MLP([64, 128, 10])
            opt = AdaGradNorm(net.parameters(), lr=0.1, capturable=capturable)
            X, y = torch.randn(64, 64), torch.randint(0, 10, (64,))

            def step():
                params = {k: v.detach() for k, v in net.named_parameters()}
                f = lambda ps: F.cross_entropy(torch.func.functional_call(net, ps, (X,)), y)
                grads, loss = torch.func.grad_and_value(f)(params)
                for k, p in net.named_parameters(): p.grad = grads[k]
                opt.step()
            fn = torch.compile(step) if compiled else step
            ts, t0 = [], time.perf_counter()
            for _ in range(steps):
                t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
            total = time.perf_counter() - t0
            graphs = counters["stats"]["unique_graphs"]
            recompiles = sum(counters["recompiles"].values())
            med[capturable, compiled] = statistics.median(ts[10:])
            if compiled:
                graphs_max = max(graphs_max, graphs)
            lines.append(f"| {capturable} | {'compiled' if compiled else 'eager'} | {total:.1f} | {graphs} "
                         f"| {recompiles} | {med[capturable, compiled] * 1e3:.3f} |")
    worst = max(med[c, True] / med[c, False] for c in (False, True))
    return lines + ["", goal(f"compiled AdaGradNorm step: at most 2 graphs in {steps} steps (the "
                             "first step, then one more, then never again)",
                             f"at most {graphs_max} graphs", graphs_max <= 2),
                    goal("compiled step at most 1.0x the eager step's median time (both capturable "
                         "settings)", f"worst {worst:.2f}x", worst <= 1.0)]


if __name__ == "__main__":
    print(main())
