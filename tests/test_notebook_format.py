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
