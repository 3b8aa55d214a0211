"""The `Goal:` line every bench table ends with: written by `goal`, read back by `goals`
(bench/run.py builds RESULTS.md's summary from them)."""
import re

GOAL_PART = re.compile(r"\(([^()]*):\s*(met|not met)\)")
COMPARE = re.compile(r"\s(<=|>=|<|>|at most|at least|within)\s")


def goal(text: str, value: str, ok: bool) -> str:
    "`Goal: <text> (<value>: met)`, or `not met` when `ok` is false."
    return f"Goal: {text} ({value}: {'met' if ok else 'not met'})"


def goals(table: str) -> list[tuple[str, str, str]]:
    "(goal, measured, met) for each `Goal:` line of a table; one row per `(value: met)` part."
    rows = []
    for line in table.splitlines():
        line = line.strip()
        if not line.startswith("Goal:"):
            continue
        body, start, subject = line.removeprefix("Goal:").strip(), 0, ""
        for m in GOAL_PART.finditer(body):
            text = body[start:m.start()].strip().removeprefix("and ").strip(" ,;")
            if start == 0:  # "x <= 1.3x a (..: met) and <= 1.3x b (..: met)": b's goal names x
                cmp = COMPARE.search(" " + text)
                subject = text[:cmp.start()].strip() if cmp else ""
            elif subject and COMPARE.match(" " + text):
                text = f"{subject} {text}"
            rows.append((text, m.group(1).strip(), m.group(2)))
            start = m.end()
        if start == 0:
            rows.append((body, "?", "no verdict"))
    return rows
