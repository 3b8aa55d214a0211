"""The site's machinery: the docs adapter's link fixes, and the notebooks' kernel in this venv."""
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "nbs").glob("*.ipynb") if not p.name.startswith(("_", ".")))
sys.path.insert(0, str(ROOT / "docs"))


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_kernelspec_resolves_in_this_venv(nb):
    "Opening a notebook (`make lab`) starts a kernel of this environment, not some other Python."
    from jupyter_client.kernelspec import KernelSpecManager
    name = json.loads(nb.read_text(encoding="utf-8"))["metadata"]["kernelspec"]["name"]
    ksm = KernelSpecManager()
    assert name in ksm.find_kernel_specs(), f"{nb.name}: kernel {name!r} is not installed in {sys.prefix}"
    argv0 = ksm.get_kernel_spec(name).argv[0]
    # jupyter_client runs a bare `python`/`python3` as the interpreter that launches it (this one)
    assert argv0 in ("python", "python3") or Path(argv0).resolve().is_relative_to(Path(sys.prefix).resolve()), argv0


def docs_build():
    "docs/build.py as a module (not `import build`: that name belongs to PyPA's build too)."
    import importlib.util
    spec = importlib.util.spec_from_file_location("gradnotes_docs_build", ROOT / "docs" / "build.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_signature_links_are_unwrapped():
    tidy_links = docs_build().tidy_links
    sig = "```python\ndef f(\n    a, # As in [`g`](12_x.ipynb#g)\n)\n```"
    assert tidy_links(sig) == "```python\ndef f(\n    a, # As in `g`\n)\n```"
    assert tidy_links("[[`maid`](21_maid.ipynb#maid)](21_maid.ipynb)") == "[`maid`](21_maid.ipynb)"
    lead = "```{container} lead\nSee [`x`](a.ipynb#x)\n```"  # directives hold markdown: keep links
    assert tidy_links(lead) == lead


def test_api_reference_lists_every_exported_name():
    import api_ref as api
    modules = api.notebook_modules(ROOT / "nbs")
    page = api.api_page(ROOT / "gradnotes", modules, {}, {})
    for mod in modules:
        path = ROOT / "gradnotes" / f"{mod}.py"
        if not path.exists(): continue
        for e in api.module_exports(path):
            assert f"{e.name}{e.signature}\n:module: gradnotes.{mod}\n" in page, (mod, e.name)


def test_api_signatures_and_imports(tmp_path):
    import api_ref as api
    (tmp_path / "a.py").write_text(
        '__all__ = ["f", "C", "D", "K"]\n'
        'def f(x, /, y=1, *args, z=None, **kw):\n    "Does f.\\n\\nMore."\n'
        'class C:\n    "A C."\n    def __init__(self, a, b=(1, 2)): pass\n'
        'class D:\n    a: int\n    b: float = 0.5\n'
        'K = 3\n')
    (tmp_path / "b.py").write_text("from .a import f, C\ndef g():\n    from gradnotes.a import K\n")
    ex = {e.name: e for e in api.module_exports(tmp_path / "a.py")}
    assert (ex["f"].signature, ex["f"].summary) == ("(x, /, y=1, *args, z=None, **kw)", "Does f.")
    assert (ex["C"].kind, ex["C"].signature, ex["C"].summary) == ("class", "(a, b=(1, 2))", "A C.")
    assert ex["D"].signature == "(a, b=0.5)" and ex["K"].kind == "data"
    assert api.module_imports(tmp_path / "b.py", {"a": "00_a", "b": "01_b"}) == {"a": ["f", "C", "K"]}


def test_docs_check_reports_what_it_should(tmp_path):
    "docs/site_check.py on a made-up page: overflow, a sideways scroll, a broken image and math are reported."
    import site_check as check
    if not check.find_browser(): pytest.skip("no Chromium (apt-get install -y chromium)")
    (tmp_path / "bad.html").write_text(
        '<html><body><article class="bd-article" style="width:600px">'
        '<pre style="white-space:pre;overflow-x:auto">' + "x" * 300 + '</pre>'
        '<div style="width:900px">too wide</div><img src="missing.png">'
        '<span class="math">\\(x\\)</span></article></body></html>')
    (tmp_path / "good.html").write_text(
        '<html><body><article class="bd-article" style="width:600px"><p>fits</p></article></body></html>')
    (tmp_path / "index.html").write_text("<html></html>")
    failures, pending = check.check(tmp_path, widths=(1000,), pages=["bad", "good"])
    text = "\n".join(failures)
    assert "hidden behind a sideways scroll: pre" in text
    assert "runs 300 px past the column: div" in text
    assert "image failed to load: missing.png" in text
    assert "MathJax did not load" in text
    assert not [f for f in failures if f.startswith("good")] and not pending
