"""Run every contract case and print the counts per outcome class (and, with --xfail, the XFAIL
tables of today's failures, to paste into the spec files).

    PYTHONPATH=. python tests/contracts/report.py [--module NAME] [--xfail] [--failures]
"""
from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import harness  # noqa: E402
import registry  # noqa: E402


def run(only: str | None = None):
    import torch
    torch.set_num_threads(1)
    rows = []
    for module, name, arg, mutation, kind, reason in registry.all_cases():
        if only and module != only: continue
        try: obj, spec = registry.obj_and_spec(module, name)
        except AttributeError: continue  # a name this version of the package does not export
        t = time.perf_counter()
        outcome, detail = harness.evaluate(module, name, obj, spec, arg, mutation, kind)
        rows.append(dict(module=module, name=name, arg=arg, mutation=mutation, kind=kind, outcome=outcome,
                         detail=detail, xfail=reason, seconds=time.perf_counter() - t))
    return rows


def short(detail: str, n: int = 70) -> str:
    line = detail.splitlines()[0] if detail else ""
    return line if len(line) <= n else line[:n - 3] + "..."


def reason(r) -> str:
    if r.get("xfail"): return r["xfail"]  # keep the reason already written
    what = f"{r['mutation']} {r['arg']}".strip()
    if r["outcome"] == "silent": return short(f"silent: {what} accepted ({r['detail']})", 90)
    if r["outcome"] == "hang": return f"hang: {what}"
    return short(f"unclear: {r['detail']}", 90)


def xfail_block(bad) -> str:
    lines = ["XFAIL = {"]
    lines += [f"    {harness.case_id(r['name'], r['arg'], r['mutation'])!r}: {reason(r)!r}," for r in bad]
    return "\n".join(lines) + "\n}" if bad else "XFAIL = {}"


def write_xfail(module: str, bad):
    "Replace the XFAIL table (from `XFAIL = {` to the closing brace) at the end of the module's spec file."
    path = Path(__file__).parent / f"spec_{module}.py"
    text = path.read_text()
    start = text.index("\nXFAIL = {") + 1
    end = text.index("}", start) + 1 if text[start:].startswith("XFAIL = {}") else text.index("\n}", start) + 2
    path.write_text(text[:start] + xfail_block(bad) + text[end:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--module")
    ap.add_argument("--xfail", action="store_true", help="print XFAIL tables for today's failures")
    ap.add_argument("--failures", action="store_true", help="list every failing case")
    ap.add_argument("--slowest", type=int, default=0)
    ap.add_argument("--write-xfail", action="store_true",
                    help="rewrite each spec file's XFAIL table: passing cases out (with --add-new: new failures in)")
    ap.add_argument("--add-new", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    rows = run(args.module)
    total = time.perf_counter() - t0
    counts = collections.Counter(r["outcome"] for r in rows)
    invalid = collections.Counter(r["outcome"] for r in rows if r["kind"] == "invalid")
    print(f"{len(rows)} cases in {total:.1f} s")
    print("outcome     all  invalid-input")
    for k in ("clear", "accepted", "unclear", "silent", "hang", "broken"):
        print(f"{k:9s} {counts[k]:5d}  {invalid[k]:5d}")
    per = collections.defaultdict(collections.Counter)
    for r in rows: per[r["module"]][r["outcome"]] += 1
    print("\nper module: clear/accepted/unclear/silent/hang/broken")
    for m, c in sorted(per.items()):
        print(f"  {m:20s} " + "/".join(str(c[k]) for k in ("clear", "accepted", "unclear", "silent", "hang", "broken")))
    bad = [r for r in rows if r["outcome"] not in harness.PASSING]
    for r in rows:
        if r["outcome"] == "broken":
            print(f"BROKEN SPEC {r['module']}.{r['name']}: {r['detail']}")
    if args.failures:
        for r in bad:
            print(f"{r['outcome']:8s} {r['module']}.{harness.case_id(r['name'], r['arg'], r['mutation'])}: {short(r['detail'], 150)}")
    if args.xfail:
        for m in sorted({r["module"] for r in bad}):
            print(f"\n# spec_{m}.py\n" + xfail_block([r for r in bad if r["module"] == m]))
    if args.write_xfail:
        for m in sorted({r["module"] for r in rows}):
            write_xfail(m, [r for r in bad if r["module"] == m and (args.add_new or r["xfail"])])
    new = [r for r in bad if not r["xfail"]]
    if new:
        print(f"\n{len(new)} failures without an XFAIL entry:")
        for r in new: print(f"  {r['module']}: {harness.case_id(r['name'], r['arg'], r['mutation'])!r} {reason(r)}")
    stale = [r for r in rows if r["xfail"] and r["outcome"] in harness.PASSING]
    if stale:
        print(f"\n{len(stale)} XFAIL entries now pass (remove them):")
        for r in stale: print(f"  {r['module']}: {harness.case_id(r['name'], r['arg'], r['mutation'])!r}")
    if args.slowest:
        for r in sorted(rows, key=lambda r: -r["seconds"])[:args.slowest]:
            print(f"{r['seconds']:6.2f} s {r['module']}.{harness.case_id(r['name'], r['arg'], r['mutation'])}")


if __name__ == "__main__":
    main()
