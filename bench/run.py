"""Run every bench/bench_*.py and collect their tables into bench/RESULTS.md."""
import datetime
import importlib.util
import platform
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main():
    import torch
    out = [f"# Benchmark results", "",
           f"Measured {datetime.date.today().isoformat()} on {platform.machine()} ({platform.processor() or 'unknown CPU'}), "
           f"Python {platform.python_version()}, torch {torch.__version__}. Absolute times vary between machines; "
           "the ratios are measured within one run.", ""]
    for path in sorted(HERE.glob("bench_*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        print(f"running {path.name} ...", flush=True)
        table = mod.main()
        print(table, flush=True)
        out += [f"## {path.stem.removeprefix('bench_')}", "", f"`bench/{path.name}`", "", table, ""]
    (HERE / "RESULTS.md").write_text("\n".join(out))
    print(f"wrote {HERE / 'RESULTS.md'}")


if __name__ == "__main__":
    sys.exit(main())
