"""GBNN: the numba stage fit vs the torch stage fit, and whole fits against scikit-learn's MLP and
the official gbnn package.

1. One stage fit (J units, 200 L-BFGS iterations, all run) on breast cancer and digits rows: the
   numba engine (kernel + numba L-BFGS) against the torch engine (torch.optim.LBFGS, strong Wolfe).
2. A whole fit of 30 units (J = 1, subsample 0.5, 200 iterations per stage) on breast cancer:
   GBNNClassifier with each engine, scikit-learn's MLPClassifier of the same width (L-BFGS,
   200 iterations), and the official gbnn GNEGNEClassifier when it is installed
   (pip install --no-deps gbnn). Medians over repeats; torch and numba with one thread.
Goals: the numba engine (the CPU default) faster than the torch engine on every row; a whole 30-unit
numba fit at most 1.0x scikit-learn fitting one network of the same width, and faster than the
official gbnn.
"""
import importlib.util
import os
import statistics
import time
import warnings

import numpy as np
import torch

from gradnotes.data import breast_cancer, digits
from gradnotes.gbnn import GBNNClassifier, fit_stage
from goals import goal


def timed(fn, rounds):
    fn()  # warm-up (numba compilation or its cache load, torch's first calls)
    ts = []
    for _ in range(rounds):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def official():
    spec = importlib.util.find_spec("gbnn")
    if spec is None: return None
    s = importlib.util.spec_from_file_location("gbnn_GBNN", spec.submodule_search_locations[0] + "/GBNN.py")
    mod = importlib.util.module_from_spec(s)
    s.loader.exec_module(mod)
    mod.is_classifier = lambda est: getattr(est, "_estimator_type", None) == "classifier"
    return mod


def main(rounds=5):
    torch.set_num_threads(1)
    lines = [f"torch {torch.__version__}, 1 thread; load average {os.getloadavg()[0]:.1f} at the start; "
             f"medians of {rounds} repeats (s).", "",
             "| work | numba engine | torch engine | torch / numba |", "|---|---|---|---|"]
    speed = []
    for name, sp, K in (("breast cancer", breast_cancer(dtype=torch.float64), 1),
                        ("digits", digits(dtype=torch.float64), 10)):
        X = sp.X_train[: len(sp.X_train) // 2]
        R = torch.randn(len(X), K, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        for J in (1, 5):
            t = {e: timed(lambda e=e: fit_stage(X, R, J, torch.Generator().manual_seed(0), max_iter=200,
                                                tol=0.0, engine=e), rounds) for e in ("numba", "torch")}
            speed.append(t['torch'] / t['numba'])
            lines.append(f"| one stage, {name} ({len(X)} rows, K={K}), J={J} | {t['numba']:.4f} | "
                         f"{t['torch']:.4f} | {t['torch'] / t['numba']:.1f}x |")
    bc = breast_cancer()
    X, y = bc.X_train.double().numpy(), bc.y_train.numpy()
    whole = {e: timed(lambda e=e: GBNNClassifier(total_units=30, engine=e, random_state=0).fit(X, y), 3)
             for e in ("numba", "torch")}
    speed.append(whole['torch'] / whole['numba'])
    lines.append(f"| whole fit, 30 units, breast cancer | {whole['numba']:.3f} | {whole['torch']:.3f} | "
                 f"{whole['torch'] / whole['numba']:.1f}x |")
    lines += ["", "| whole fit, 30 units, breast cancer | seconds | / GBNN numba |", "|---|---|---|"]
    from sklearn.neural_network import MLPClassifier
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk = timed(lambda: MLPClassifier((30,), activation="logistic", solver="lbfgs", max_iter=200,
                                         random_state=0).fit(X, y), 3)
        G = official()
        off = None
        if G is not None:
            t0 = time.perf_counter()  # one fit, no warm-up: pure Python and scikit-learn
            G.GNEGNEClassifier(total_nn=30, random_state=0).fit(X, y)
            off = time.perf_counter() - t0
    lines.append(f"| GBNNClassifier (numba) | {whole['numba']:.3f} | 1.0x |")
    lines.append(f"| GBNNClassifier (torch) | {whole['torch']:.3f} | {whole['torch'] / whole['numba']:.1f}x |")
    lines.append(f"| scikit-learn MLPClassifier(30, lbfgs, 200 iterations), one network | {sk:.3f} | "
                 f"{sk / whole['numba']:.2f}x |")
    lines.append(f"| official gbnn GNEGNEClassifier(total_nn=30) | " +
                 (f"{off:.3f} | {off / whole['numba']:.1f}x |" if off else "not installed | |"))
    lines += ["", goal("numba engine faster than the torch engine on every row (torch / numba >= 1.0x)",
                       f"lowest {min(speed):.1f}x", min(speed) >= 1.0),
              goal("whole 30-unit GBNN fit (numba) at most 1.0x one scikit-learn MLPClassifier fit",
                   f"{whole['numba'] / sk:.2f}x", whole['numba'] <= sk),
              goal("whole 30-unit GBNN fit (numba) at most 1.0x the official gbnn's",
                   f"{whole['numba'] / off:.3f}x" if off else "gbnn not installed",
                   bool(off) and whole['numba'] <= off)]
    lines.append(f"\nload average {os.getloadavg()[0]:.1f} at the end.")
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
