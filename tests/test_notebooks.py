"""Each notebook in nbs/ is one test item, run by nbdev's own runner.

nbdev's runner honours `#| eval: false`, front-matter `skip_exec` and the flags in settings.ini's
`tst_flags`: cells carrying a flag are skipped unless it is passed with `--nb-flags`.
"""
from pathlib import Path

import pytest
import torch
from nbdev.config import get_config
from nbdev.test import test_nb as run_notebook  # renamed so pytest does not collect it

from conftest import nb_flags
from gradnotes.core import torch_threads

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "nbs").glob("*.ipynb") if not p.name.startswith(("_", ".")))


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook(nb, request, monkeypatch):
    monkeypatch.chdir(ROOT)
    tst_flags = set(get_config().get("tst_flags", "").split())
    skip = tst_flags - nb_flags(request.config)
    # notebooks run in this process: a page that sets torch's thread count must not change it for the rest
    with torch_threads(torch.get_num_threads()):
        ok, seconds = run_notebook(nb, skip_flags=list(skip), basepath=ROOT)
    assert ok, f"{nb.name} failed (see the traceback above)"
