"""Code cells fit the page: no line longer than 90 characters, so nothing runs off the column."""
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "nbs").glob("*.ipynb") if not p.name.startswith(("_", ".")))
MAX = 90

# Notebooks that still have longer lines. Shrink it as they are wrapped: a notebook listed here
# that no longer has a long line fails test_pending_notebooks_still_have_long_lines.
LONG_LINES_PENDING = {
}


def long_lines(nb):
    "`(cell number, line)` of each code line over MAX characters."
    cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
    return [(i, line) for i, c in enumerate(cells) if c["cell_type"] == "code"
            for line in "".join(c["source"]).splitlines() if len(line) > MAX]


@pytest.mark.parametrize("nb", [p for p in NOTEBOOKS if p.stem not in LONG_LINES_PENDING],
                         ids=lambda p: p.stem)
def test_code_lines_fit(nb):
    bad = long_lines(nb)
    assert not bad, (f"{nb.name}: {len(bad)} code lines over {MAX} characters, e.g. cell {bad[0][0]}: "
                     f"{bad[0][1]!r}")


@pytest.mark.parametrize("name", sorted(LONG_LINES_PENDING))
def test_pending_notebooks_still_have_long_lines(name):
    nb = ROOT / "nbs" / f"{name}.ipynb"
    assert nb.exists(), f"LONG_LINES_PENDING lists {name}, which has no notebook: remove it"
    assert long_lines(nb), f"{nb.name} has no code line over {MAX} characters: remove it from LONG_LINES_PENDING"
