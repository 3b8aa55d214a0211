"""The bad-input contract: argument specifications, mutations, and how an outcome is classified.

A module's public callables are described in `tests/contracts/spec_<module>.py`:

    SPECS = {"name": Spec(args=lambda: dict(x=torch.randn(4, 3)), tensors={"x": Arr(ndim=2)}), ...}
    OPT_OUT = {"CONSTANT": "a tuple of names, not a callable"}
    XFAIL = {"name:x:nan": "silent: NaN accepted"}      # cases that fail today (strict xfail)

`Spec.args()` builds small, valid arguments; `Spec.call(args)` runs the public object (by default
`obj(**args)`; a class spec may construct and then call a method, so methods are covered through
their class). Each argument named in `tensors`, `numbers`, `ints`, `choices` gets the mutations
below, derived from the declaration alone (so the list of cases is known at collection time).

Every mutation is either *invalid* (the call must raise a `ValueError`/`TypeError` whose message
names the argument) or *tolerated* (the call may accept it, or raise such a clear error).
Outcomes: `clear` (the expected error), `accepted` (a tolerated input handled; for non-contiguous
input, the same result as contiguous input; for a grad-requiring input, no `.grad` left on it),
`unclear` (another exception type, or a message that does not name the argument), `silent` (a
result returned for invalid input, or a tolerated input handled wrongly), `hang` (past the
per-case time limit), `broken` (the valid arguments themselves fail: the spec is out of date).
"""
from __future__ import annotations

import dataclasses
import math
import multiprocessing as mp
import os
import re
import signal
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

os.environ.setdefault("GRADNOTES_QUIET", "1")  # no progress bars in the report

HUGE_FLOAT = 1e300
HUGE_INT = 10**12

# --------------------------------------------------------------------------------------------
# Declarations


@dataclass(frozen=True)
class Arr:
    "A tensor argument. `ndim`: the allowed numbers of dimensions (None: any)."
    ndim: tuple | int | None = "same"  # "same": only the valid value's ndim (read at run time)
    floating: bool = True       # int and complex dtypes are invalid
    int_ok: bool = False        # (floating) integer input is tolerated, e.g. converted
    complex_ok: bool = False    # complex input is tolerated (the function supports it)
    finite: bool = True         # NaN and inf are invalid
    empty_ok: bool = False      # an empty tensor is tolerated
    labels: int | None = None   # integer labels in [0, labels): -1 and `labels` are invalid
    bounds: tuple | None = None  # (low, high[, low_open, high_open]) for the values; None ends are open
    grad: bool = True           # try a grad-requiring copy (float tensors only)
    arrays: bool = True         # try the NumPy-array and list versions (tolerated)


@dataclass(frozen=True)
class Num:
    "A real-number hyperparameter in [low, high] (open ends with low_open/high_open)."
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    huge: bool = True           # try 1e300 (tolerated when `high` is None: accept or reject, never hang)


POS, NONNEG = Num(0, low_open=True), Num(0)
UNIT_OPEN = Num(0, 1, low_open=True, high_open=True)
PROB = Num(0, 1)
ANY = Num()


@dataclass(frozen=True)
class Int:
    "An integer hyperparameter in [low, high]."
    low: int | None = None
    high: int | None = None
    huge: bool = True           # try 10**12 (tolerated when `high` is None: accept or reject, never hang)


POS_INT, NONNEG_INT = Int(1), Int(0)


@dataclass
class Spec:
    "How to call one public object with valid arguments, and what each argument is."
    args: Callable[[], dict]
    call: Callable[[dict], Any] | None = None       # default: the object called with **args
    tensors: dict[str, Arr] = field(default_factory=dict)
    numbers: dict[str, Num] = field(default_factory=dict)
    ints: dict[str, Int] = field(default_factory=dict)
    choices: tuple[str, ...] = ()                    # string options: an unknown one is invalid
    same_length: tuple[tuple[str, ...], ...] = ()    # arguments sharing their first dimension
    names: dict[str, tuple[str, ...]] = field(default_factory=dict)  # other names a message may use
    timeout: float = 30.0                            # CPU seconds per case (numba may compile a new signature)
    isolate: tuple[str, ...] = ()                    # arguments whose mutations run in a subprocess
    compare: bool = True                             # compare non-contiguous results with contiguous
    extra: dict[str, Callable[[dict], dict]] = field(default_factory=dict)  # "arg:what" -> invalid arguments


# --------------------------------------------------------------------------------------------
# Cases


def cases(spec: Spec) -> list[tuple[str, str, str]]:
    "Every (argument, mutation, kind) of a spec; kind is 'invalid' or 'tolerated'. First: the valid call."
    out = [("", "valid", "tolerated")]
    for a, d in spec.tensors.items():
        if not d.empty_ok: out.append((a, "empty", "invalid"))
        if d.ndim is not None:
            out += [(a, "ndim+1", "invalid"), (a, "ndim-1", "invalid")]
        if d.bounds is not None:
            if d.bounds[0] is not None: out.append((a, "value<low", "invalid"))
            if d.bounds[1] is not None: out.append((a, "value>high", "invalid"))
        if d.labels is not None:
            out += [(a, "label-1", "invalid"), (a, "label=n", "invalid"), (a, "float", "tolerated")]
        if d.floating:
            if d.finite: out += [(a, "nan", "invalid"), (a, "inf", "invalid")]
            out += [(a, "int", "tolerated" if d.int_ok else "invalid"),
                    (a, "float16", "tolerated"), (a, "bfloat16", "tolerated")]
            out.append((a, "complex", "tolerated" if d.complex_ok else "invalid"))
            if d.grad: out.append((a, "requires_grad", "tolerated"))
        if d.arrays: out += [(a, "numpy", "tolerated"), (a, "list", "tolerated")]
        out.append((a, "noncontiguous", "tolerated"))
    for a, d in spec.numbers.items():
        if d.low is not None: out.append((a, "below", "invalid"))
        if d.high is not None: out.append((a, "above", "invalid"))
        out += [(a, "nan", "invalid"), (a, "inf", "invalid"), (a, "bool", "invalid"), (a, "str", "invalid")]
        if d.huge and d.high is None: out.append((a, "huge", "tolerated"))
    for a, d in spec.ints.items():
        if d.low is not None: out.append((a, "below", "invalid"))
        if d.high is not None: out.append((a, "above", "invalid"))
        out += [(a, "fraction", "invalid"), (a, "bool", "invalid"), (a, "str", "invalid")]
        if d.huge and d.high is None: out.append((a, "huge", "tolerated"))
    for a in spec.choices:
        out += [(a, "unknown", "invalid"), (a, "int", "invalid")]
    for group in spec.same_length:
        out.append((group[-1], "mismatch", "invalid"))
    for key in spec.extra:
        arg, what = key.split(":", 1)
        out.append((arg, what, "invalid"))
    return out


def case_id(name: str, arg: str, mutation: str) -> str:
    return f"{name}:{mutation}" if not arg else f"{name}:{arg}:{mutation}"


# --------------------------------------------------------------------------------------------
# Mutations


def _noncontiguous(t: torch.Tensor) -> torch.Tensor:
    "The same values in a non-contiguous tensor (every other element of a wider buffer)."
    if t.ndim == 0: return t
    return torch.stack([t, torch.zeros_like(t)], dim=-1)[..., 0]


def _poke(t: torch.Tensor, value) -> torch.Tensor:
    "A copy of `t` with its first element set to `value`."
    t = t.detach().clone()
    t.view(-1)[0] = value
    return t


def mutate(spec: Spec, a: dict, arg: str, mutation: str) -> dict:
    "Apply one mutation to the argument dict `a` (built fresh by `spec.args()`)."
    if mutation == "valid": return a
    if f"{arg}:{mutation}" in spec.extra: return spec.extra[f"{arg}:{mutation}"](a)
    v = a.get(arg)
    if arg in spec.tensors:
        d = spec.tensors[arg]
        if mutation == "mismatch": a[arg] = v[:-1]
        elif mutation == "empty": a[arg] = v[:0] if v.ndim else v.detach().new_empty(0)
        elif mutation == "ndim+1": a[arg] = v.unsqueeze(0)
        elif mutation == "ndim-1": a[arg] = v[0] if v.ndim else v.reshape(1, 1)
        elif mutation in ("nan", "inf"): a[arg] = _poke(v, float(mutation))
        elif mutation == "int": a[arg] = v.detach().round().long()
        elif mutation == "float16": a[arg] = v.detach().half()
        elif mutation == "bfloat16": a[arg] = v.detach().bfloat16()
        elif mutation == "complex": a[arg] = v.detach().to(torch.complex128 if v.dtype == torch.float64
                                                            else torch.complex64)
        elif mutation == "float": a[arg] = v.detach().float()
        elif mutation in ("value<low", "value>high"):
            low, high, lo_open, hi_open = (tuple(d.bounds) + (False, False))[:4]
            bad = (low if lo_open else low - 1) if mutation == "value<low" else (high if hi_open else high + 0.5)
            a[arg] = _poke(v, bad)
        elif mutation == "label-1": a[arg] = _poke(v, -1)
        elif mutation == "label=n": a[arg] = _poke(v, d.labels)
        elif mutation == "requires_grad": a[arg] = v.detach().clone().requires_grad_(True)
        elif mutation == "numpy": a[arg] = v.detach().numpy()
        elif mutation == "list": a[arg] = v.detach().tolist()
        elif mutation == "noncontiguous": a[arg] = _noncontiguous(v)
        else: raise KeyError(mutation)
    elif arg in spec.numbers:
        d = spec.numbers[arg]
        a[arg] = {"below": (d.low if d.low_open else d.low - 1) if d.low is not None else None,
                  "above": (d.high if d.high_open else d.high + 0.5) if d.high is not None else None,
                  "nan": math.nan, "inf": math.inf, "bool": True, "str": "0.1",
                  "huge": HUGE_FLOAT}[mutation]
    elif arg in spec.ints:
        d = spec.ints[arg]
        a[arg] = {"below": None if d.low is None else d.low - 1, "above": None if d.high is None else d.high + 1,
                  "fraction": (v if isinstance(v, (int, float)) else 1) + 0.5, "bool": True, "str": "3",
                  "huge": HUGE_INT}[mutation]
    elif arg in spec.choices:
        a[arg] = {"unknown": "no-such-option", "int": 3}[mutation]
    elif mutation == "mismatch": a[arg] = v[:-1]
    else: raise KeyError(arg)
    return a


def ndim_ok(d: Arr, valid_ndim: int, new_ndim: int) -> bool:
    "Whether a wrong-ndim mutation is actually allowed by the declaration."
    if d.ndim is None: return True
    allowed = (valid_ndim,) if d.ndim == "same" else ((d.ndim,) if isinstance(d.ndim, int) else tuple(d.ndim))
    return new_ndim in allowed


# --------------------------------------------------------------------------------------------
# Running and classifying


class CaseTimeout(BaseException):
    "Raised by the alarm; a BaseException so that `except Exception` in library code cannot swallow it."


def _alarm(signum, frame): raise CaseTimeout()


TIMING = {"seconds", "test_seconds", "time", "times", "elapsed"}  # wall-clock records differ run to run


def _same(x, y) -> bool | None:
    "Whether two results agree (None: cannot tell)."
    if isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor):
        if x.shape != y.shape or x.dtype != y.dtype: return False
        if not (x.is_floating_point() or x.is_complex()): return bool(torch.equal(x, y))
        return bool(torch.allclose(x.detach(), y.detach(), rtol=1e-5, atol=1e-6, equal_nan=True))
    if isinstance(x, (float, int, np.floating, np.integer)) and isinstance(y, (float, int, np.floating, np.integer)):
        return bool(x == y or (math.isnan(x) and math.isnan(y)) or math.isclose(x, y, rel_tol=1e-5, abs_tol=1e-6))
    if isinstance(x, np.ndarray) and isinstance(y, np.ndarray):
        return x.shape == y.shape and bool(np.allclose(x, y, rtol=1e-5, atol=1e-6, equal_nan=True))
    if isinstance(x, (tuple, list)) and isinstance(y, (tuple, list)) and len(x) == len(y):
        parts = [_same(u, w) for u, w in zip(x, y)]
        return None if any(p is None for p in parts) else all(parts)
    if isinstance(x, dict) and isinstance(y, dict) and x.keys() == y.keys():
        keys = [k for k in x if k not in TIMING]
        return _same([x[k] for k in keys], [y[k] for k in keys])
    if dataclasses.is_dataclass(x) and type(x) is type(y):
        vals = [(getattr(x, f.name), getattr(y, f.name)) for f in dataclasses.fields(x)
                if f.name not in TIMING]
        parts = [_same(u, w) for u, w in vals]
        known = [p for p in parts if p is not None]
        return all(known) if known else None
    return None


def names_arg(message: str, names) -> bool:
    "Whether the message mentions one of `names` as a word (`x`, `x[0]`, `x.shape` count; `max_x` does not)."
    return any(re.search(rf"(?<![A-Za-z0-9_]){re.escape(n)}(?![A-Za-z0-9_])", message) for n in names)


def _invoke(obj, spec: Spec, a: dict):
    return spec.call(a) if spec.call is not None else obj(**a)


def _global_state():
    return torch.is_grad_enabled(), torch.get_num_threads(), torch.get_default_dtype()


def _restore(state):
    grad, threads, dtype = state
    torch.set_grad_enabled(grad)
    if torch.get_num_threads() != threads: torch.set_num_threads(threads)
    if torch.get_default_dtype() != dtype: torch.set_default_dtype(dtype)


def _seeded_args(spec: Spec) -> dict:
    torch.manual_seed(0)
    np.random.seed(0)
    return spec.args()


def run_case(obj, spec: Spec, arg: str, mutation: str, kind: str) -> tuple[str, str]:
    "Run one case in this process; return (outcome, detail)."
    a = _seeded_args(spec)
    if arg in spec.tensors and mutation in ("ndim+1", "ndim-1"):
        v = a[arg]
        new = v.ndim + 1 if mutation == "ndim+1" else max(v.ndim - 1, 0) if v.ndim else 2
        if ndim_ok(spec.tensors[arg], v.ndim, new): kind = "tolerated"
    if mutation != "valid": a = mutate(spec, a, arg, mutation)
    watched = a.get(arg) if mutation == "requires_grad" else None
    state = _global_state()
    # The limit is CPU time of this process (ITIMER_PROF), so other load on the machine does not turn a
    # slow case into a "hang"; the valid call runs without a limit (it may compile numba kernels).
    old = signal.signal(signal.SIGPROF, _alarm)
    if mutation != "valid": signal.setitimer(signal.ITIMER_PROF, spec.timeout)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = _invoke(obj, spec, a)
    except CaseTimeout:
        return "hang", f"no answer within {spec.timeout:g} s of CPU time"
    except Exception as e:  # noqa: BLE001 - classifying every failure is the point
        msg = f"{type(e).__name__}: {e}"
        if mutation == "valid":
            return "broken", msg + "\n" + "".join(traceback.format_exception(e)[-3:])
        names = (arg,) + spec.names.get(arg, ())
        if kind == "tolerated":  # a refusal of a tolerated input may rest on another argument (c < m/2)
            declared = (*spec.tensors, *spec.numbers, *spec.ints, *spec.choices)
            names = names + tuple(declared) + tuple(n for a_ in declared for n in spec.names.get(a_, ()))
        if isinstance(e, (ValueError, TypeError)) and names_arg(str(e), names): return "clear", msg
        return "unclear", msg
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, old)
        _restore(state)  # an interrupted case may leave grad mode off (a no_grad block cut by the alarm)
    if kind == "invalid": return "silent", f"returned {type(result).__name__}"
    if watched is not None and watched.grad is not None:
        return "silent", f"filled {arg}.grad of a caller's tensor"
    if mutation == "noncontiguous" and spec.compare:
        base = _invoke(obj, spec, _seeded_args(spec))
        if _same(result, base) is False: return "silent", "non-contiguous input gives another result"
    return "accepted", ""


def _child(conn, module, name, arg, mutation, kind):
    import importlib
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).parent))
    torch.set_num_threads(1)
    specs = importlib.import_module(f"spec_{module}").SPECS
    obj = getattr(importlib.import_module(f"gradnotes.{module}"), name)
    conn.send(run_case(obj, specs[name], arg, mutation, kind))


def run_isolated(module: str, name: str, spec: Spec, arg: str, mutation: str, kind: str) -> tuple[str, str]:
    "Run one case in a fresh process (for loops that a signal cannot interrupt, e.g. numba kernels)."
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_child, args=(child, module, name, arg, mutation, kind), daemon=True)
    p.start()
    ready = parent.poll(spec.timeout + 30)  # + the child's start-up (imports)
    if not ready:
        p.kill(); p.join()
        return "hang", f"no answer within {spec.timeout:g} s (subprocess killed)"
    out = parent.recv()
    p.join()
    return out


def evaluate(module: str, name: str, obj, spec: Spec, arg: str, mutation: str, kind: str) -> tuple[str, str]:
    if arg and arg in spec.isolate and mutation != "valid":
        return run_isolated(module, name, spec, arg, mutation, kind)
    return run_case(obj, spec, arg, mutation, kind)


PASSING = {"clear", "accepted"}   # an invalid input can only come out clear (accepting it is `silent`)
