"""Run every bench/bench_*.py and collect their tables into bench/RESULTS.md.

Each script runs in its own Python process (so one script's thread settings, compiled kernels or
crash cannot touch the next), with torch and numba held to `--threads` threads (default 1). Its wall
time is recorded; a script that fails is recorded with its error and the run goes on. Every script's
table ends with lines of the form `Goal: <goal in words> (<measured value>: met)` (or `not met`);
RESULTS.md opens with a summary table built from them.

    python bench/run.py                       # all scripts, writes bench/RESULTS.md
    python bench/run.py --only cgs,pndm       # a subset, printed only
    python bench/run.py --only cgs --write    # a subset, written to RESULTS.md anyway
"""
import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the scripts' shared `goals` module, for them and for us
from goals import goals  # noqa: E402


def scripts(only=None):
    "The bench scripts by name (`bench_<name>.py`), all or those named in `only`."
    found = {p.stem.removeprefix("bench_"): p for p in sorted(HERE.glob("bench_*.py"))}
    if not only:
        return found
    missing = [n for n in only if n not in found]
    if missing:
        raise SystemExit(f"--only: no bench script named {', '.join(missing)} "
                         f"(known: {', '.join(found)})")
    return {n: found[n] for n in only}


def child(path, out, threads):
    "Run one script's main() in this process and write its table to `out`."
    import importlib.util
    import torch
    torch.set_num_threads(threads)
    try:
        import numba
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    except ImportError:
        pass
    spec = importlib.util.spec_from_file_location(Path(path).stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    Path(out).write_text(mod.main())


def run_one(path, threads, timeout):
    "(table or None, error or None, wall seconds) of one script run in a fresh process."
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "table.md"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(path), str(out),
               "--threads", str(threads)]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, stdout=sys.stdout, stderr=subprocess.PIPE, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, f"timed out after {timeout} s", time.perf_counter() - t0
        wall = time.perf_counter() - t0
        if proc.returncode != 0 or not out.exists():
            tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
            return None, f"exit status {proc.returncode}:\n{tail}", wall
        return out.read_text(), None, wall


def cell(s):
    return str(s).replace("|", "\\|").replace("\n", " ")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--only", default="", help="comma-separated script names (cgs,pndm,...)")
    ap.add_argument("--write", action="store_true",
                    help="write RESULTS.md even for an --only subset")
    ap.add_argument("--threads", type=int, default=1, help="torch and numba threads per script")
    ap.add_argument("--timeout", type=float, default=None, help="seconds allowed per script")
    ap.add_argument("--out", default=str(HERE / "RESULTS.md"), help=argparse.SUPPRESS)
    ap.add_argument("--child", nargs=2, metavar=("SCRIPT", "OUT"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        return child(*a.child, a.threads)

    import torch
    only = [n.strip().removeprefix("bench_").removesuffix(".py") for n in a.only.split(",")
            if n.strip()]
    todo = scripts(only)
    load0, t_all, stamp = os.getloadavg(), time.perf_counter(), datetime.datetime.now(
        datetime.timezone.utc)
    results = {}
    for name, path in todo.items():
        print(f"running {path.name} ...", flush=True)
        table, err, wall = run_one(path, a.threads, a.timeout)
        results[name] = (path, table, err, wall)
        print(table if err is None else f"FAILED: {err}", flush=True)
        print(f"{path.name}: {wall:.1f} s wall, load {os.getloadavg()[0]:.2f}", flush=True)
    load1, total = os.getloadavg(), time.perf_counter() - t_all

    fmt = lambda la: " / ".join(f"{x:.2f}" for x in la)
    out = ["# Benchmark results", "",
           f"Measured {stamp:%Y-%m-%d %H:%M} UTC on {platform.machine()} "
           f"({platform.processor() or 'unknown CPU'}, {os.cpu_count()} cores), Python "
           f"{platform.python_version()}, torch {torch.__version__}, {a.threads} torch/numba "
           f"thread(s) per script; load average (1/5/15 min) {fmt(load0)} at the start and "
           f"{fmt(load1)} at the end; {total / 60:.1f} minutes in all. Absolute times vary "
           "between machines; the ratios are measured within one run.", "",
           "| benchmark | goal | measured | met | wall s |", "|---|---|---|---|---|"]
    n_met = n_goals = 0
    for name, (path, table, err, wall) in results.items():
        rows = goals(table) if table else []
        if err is not None:
            rows = [("(the script failed: see its section)", "-", "failed")]
        elif not rows:
            rows = [("(no `Goal:` line)", "-", "-")]
        for i, (g, v, m) in enumerate(rows):
            n_goals += m in ("met", "not met")
            n_met += m == "met"
            out.append(f"| {name if i == 0 else ''} | {cell(g)} | {cell(v)} | {m} "
                       f"| {f'{wall:.0f}' if i == 0 else ''} |")
    out += ["", f"{n_met} of {n_goals} goals met.", ""]
    for name, (path, table, err, wall) in results.items():
        out += [f"## {name}", "", f"`bench/{path.name}`, {wall:.0f} s wall", ""]
        out += [table, ""] if err is None else ["**Failed**:", "", "```", err, "```", ""]
    text = "\n".join(out)
    if only and not a.write:
        print("\n" + text)
        print(f"(a subset: {a.out} left as it is; pass --write to write it)")
    else:
        Path(a.out).write_text(text)
        print(f"wrote {a.out}")
    return 1 if any(err for *_, err, _ in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
