"""The verdict board (README and landing page) is generated from the notebooks and stays equal to them."""
import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs"))
import board  # noqa: E402  (docs/board.py)


def test_board_is_up_to_date():
    stale = [str(p.relative_to(ROOT)) for p in board.stale()]
    assert not stale, f"the board in {stale} differs from the notebooks: run `python docs/board.py`"


def test_papers_table_lists_all_32():
    assert sorted(board.read_papers()) == list(range(1, 33))


def module_all(module):
    "`__all__` of gradnotes/<module>.py, read without importing it."
    tree = ast.parse((ROOT / "gradnotes" / f"{module}.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return ast.literal_eval(node.value)
    return []


@pytest.mark.parametrize("row", [r for r in board.board_rows() if r["page"]],
                         ids=lambda r: f"paper{r['number']}")
def test_implemented_rows_link_to_existing_notebooks_and_modules(row):
    page = row["page"]
    assert page.path.exists() and page.path.parent == ROOT / "nbs"
    assert (ROOT / "gradnotes" / f"{page.module}.py").exists(), page.module
    if page.name:  # the Use it import names a public name of the page's own module
        assert page.name in module_all(page.module), f"{page.name} not in gradnotes.{page.module}.__all__"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"](nbs/{page.path.name})" in readme


def test_board_counts_implemented_methods():
    rows = board.board_rows()
    n = sum(r["status"] == "implemented" for r in rows)
    assert f"**{n} of the 32 methods are implemented**" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_board_parses_the_page_format(tmp_path):
    "A made-up method notebook in the documented format is read back field by field."
    import json
    md = lambda s: {"cell_type": "markdown", "metadata": {}, "source": s}
    code = lambda s: {"cell_type": "code", "metadata": {}, "source": s, "outputs": [], "execution_count": None}
    cells = [code("#| default_exp toy"), md("# Toy\n\n> Does a toy thing."),
             code("#| export\nimport torch"), md("## Use it"),
             code("from gradnotes.data import load\nfrom gradnotes.toy import Toy, helper\nToy()"),
             md("**Verdict:** partly — the speed-up held, the accuracy did not.\n\nMore words."),
             md("## Paper\n\n**Paper 7** in the [table of methods](index.ipynb): A. Author, *Toy*."),
             md("## Checks"), code("assert True"),
             md("## Verdict\n\n**Overall: partly** — the speed-up held, the accuracy did not.\n\n"
                "| claim | paper | ours | verdict |\n|---|---|---|---|\n"
                "| faster | 2x | 1.9x (5 seeds) | held |\n| better | +3% | -0.1% (5 seeds) | not reproduced |")]
    nb = tmp_path / "40_toy.ipynb"
    nb.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    page = board.read_page(nb)
    assert page.problems == []
    assert (page.paper, page.module, page.title, page.summary, page.name) == (7, "toy", "Toy", "Does a toy thing.", "Toy")
    assert (page.use_verdict, page.overall, len(page.claims)) == ("partly", "partly", 2)
    cells[5] = md("**Verdict:** held — no.")
    nb.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    assert any("differs from the Overall" in p for p in board.read_page(nb).problems)


def test_readme_example_runs(capsys, one_thread):
    "The README's example (the block under 'Use it without the Makefile') runs and learns."
    import re as _re
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Use it without the Makefile", 1)[1]
    code = _re.search(r"```python\n(.*?)```", section, _re.S).group(1)
    exec(compile(code, "README.md", "exec"), {})
    acc = float(_re.search(r"test accuracy ([\d.]+)", capsys.readouterr().out).group(1))
    assert acc > 0.85, acc
