"""Every page opens the way the docs expect: `#| default_exp`, then a `# Title` and a `> summary`."""
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "nbs").glob("*.ipynb") if not p.name.startswith(("_", ".")))


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_title_and_summary(nb):
    cells = json.loads(nb.read_text())["cells"]
    first_md = next(c for c in cells if c["cell_type"] == "markdown")
    lines = "".join(first_md["source"]).splitlines()
    assert lines and lines[0].startswith("# ") and len(lines[0]) > 2, f"{nb.name}: first markdown cell needs '# Title'"
    assert any(l.startswith("> ") for l in lines[1:]), f"{nb.name}: first markdown cell needs a '> summary' line"
    if nb.stem != "index":
        src = "".join(cells[0]["source"])
        assert src.startswith("#| default_exp "), f"{nb.name}: first cell must be '#| default_exp name'"


# --- Use it and Verdict on method pages (the site contract; format parsed by docs/board.py) ---
import sys  # noqa: E402

sys.path.insert(0, str(ROOT / "docs"))
import board  # noqa: E402

METHOD_NOTEBOOKS = board.method_notebooks()

# Method pages that do not have `## Use it` and `## Verdict` yet. Shrink it as they are added:
# each name here is expected to fail the contract (xfail strict), so a page that gains a correct
# Use it block and Verdict section turns its entry into a failure until the name is removed.
PAGES_PENDING = {
}


def contract_problems(nb):
    page = board.read_page(nb)
    problems = list(page.problems)
    if not page.has_use_it: problems.append("no `## Use it` section")
    if not page.has_verdict: problems.append("no `## Verdict` section")
    cells = json.loads(nb.read_text())["cells"]
    sections = [l for c in cells if c["cell_type"] == "markdown"
                for lvl, l in board.md_headings("".join(c["source"])) if lvl == 2]
    if page.has_use_it and sections and sections[0] != "Use it":
        problems.append(f"`## Use it` must be the first `##` section, not `## {sections[0]}`")
    return problems


@pytest.mark.parametrize("nb", METHOD_NOTEBOOKS, ids=[p.stem for p in METHOD_NOTEBOOKS])
def test_use_it_and_verdict(nb):
    "Enforced on every method page that has started its Use it or Verdict section."
    page = board.read_page(nb)
    if not (page.has_use_it or page.has_verdict):
        if nb.stem in PAGES_PENDING:
            pytest.skip("pending: no `## Use it` or `## Verdict` yet (PAGES_PENDING)")
        pytest.fail(f"{nb.name}: a new method page needs `## Use it` and `## Verdict` (or an entry in PAGES_PENDING)")
    problems = contract_problems(nb)
    assert not problems, f"{nb.name}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("name", sorted(PAGES_PENDING))
def test_pending_pages_exist(name):
    assert (ROOT / "nbs" / f"{name}.ipynb").exists(), f"PAGES_PENDING lists {name}, which has no notebook"


@pytest.mark.parametrize("nb", [pytest.param(ROOT / "nbs" / f"{n}.ipynb", id=n,
                                             marks=pytest.mark.xfail(strict=True, reason=(
                                                 "pending page: once it passes, remove it from PAGES_PENDING")))
                                for n in sorted(PAGES_PENDING)])
def test_use_it_and_verdict_pending(nb):
    "Strict: passes (and so fails the run) once a pending page meets the contract; then drop it from PAGES_PENDING."
    problems = contract_problems(nb)
    assert not problems, f"{nb.name}:\n  " + "\n  ".join(problems)
