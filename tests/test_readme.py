"""The README and the docs' front page carry the same table of methods."""
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def method_rows(markdown):
    "Rows of the methods table, with link targets dropped (they differ between README and docs)."
    rows = [l for l in markdown.splitlines() if re.match(r"^\| \d+ \|", l)]
    return [re.sub(r"\]\([^)]*\)", "]", r) for r in rows]


def test_readme_and_index_tables_agree():
    index = json.loads((ROOT / "nbs" / "index.ipynb").read_text())
    index_md = "\n".join("".join(c["source"]) for c in index["cells"] if c["cell_type"] == "markdown")
    readme_rows, index_rows = method_rows((ROOT / "README.md").read_text()), method_rows(index_md)
    assert len(readme_rows) == 32
    assert readme_rows == index_rows


def test_implemented_methods_link_to_existing_notebooks():
    for line in (ROOT / "README.md").read_text().splitlines():
        if re.match(r"^\| \d+ \|", line) and "implemented" in line:
            target = re.search(r"\]\(([^)]+)\)", line).group(1)
            assert (ROOT / target).exists(), target
            module = re.search(r"`(\w+)`", line).group(1)
            assert (ROOT / "gradnotes" / f"{module}.py").exists(), module
