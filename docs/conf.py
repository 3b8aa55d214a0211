"""Sphinx configuration for the gradnotes docs.

docs/build.py generates the sources in docs/_src/ from the notebooks and runs Sphinx with this
directory as the configuration directory (``-c docs``); see that file for the whole pipeline.
"""
import configparser, importlib.util, os, shutil
from pathlib import Path

_ini = configparser.ConfigParser(delimiters=['='])
_ini.read(Path(__file__).resolve().parent.parent/'settings.ini', encoding='utf-8')
_cfg = _ini['DEFAULT']

project = _cfg['lib_name']
author = _cfg['author']
copyright = _cfg['copyright']
release = version = _cfg['version']

extensions = ['myst_nb']              # brings myst_parser; no intersphinx: no network at build time
root_doc = 'index'
exclude_patterns = ['**.ipynb_checkpoints']

# Notebooks are committed with their outputs: render them as they are, never execute.
nb_execution_mode = 'off'
nb_render_markdown_format = 'myst'    # text/markdown outputs (show_doc) are parsed as MyST
myst_enable_extensions = ['dollarmath', 'amsmath']   # $...$, $$...$$ and \begin{align} via MathJax
myst_heading_anchors = 6              # `page.ipynb#name` links from build.py's link rewriting
# MathJax: the site carries its own copy, so pages read offline (and `make docs-check` can run
# here) show typeset math. The copy is MathJax 3 from the `sphinx-mathjax-offline` package (a
# dev requirement; its directory name has a hyphen, so it is located, not imported). Only what
# tex-mml-chtml.js loads is copied (about 3 MB). GRADNOTES_MATHJAX=<url or file:// path> overrides
# it (e.g. a CDN); without either, Sphinx's default CDN address is used.
_MATHJAX_FILES = ['tex-mml-chtml.js', 'output/chtml', 'input/tex', 'input/mml', 'ui', 'a11y']
_spec = importlib.util.find_spec('sphinx-mathjax-offline')
_mathjax_dir = Path(_spec.origin).parent/'static'/'mathjax' if _spec and _spec.origin else None
if os.environ.get('GRADNOTES_MATHJAX'): mathjax_path = os.environ['GRADNOTES_MATHJAX']
elif _mathjax_dir and _mathjax_dir.is_dir(): mathjax_path = 'mathjax/tex-mml-chtml.js'  # under _static
else: _mathjax_dir = None


def _copy_mathjax(app, exc):
    "After a successful build, put the local MathJax where `mathjax_path` points."
    if exc is not None or _mathjax_dir is None or os.environ.get('GRADNOTES_MATHJAX'): return
    dest = Path(app.outdir)/'_static'/'mathjax'
    for rel in _MATHJAX_FILES:
        src = _mathjax_dir/rel
        if src.is_dir(): shutil.copytree(src, dest/rel, dirs_exist_ok=True)
        else: (dest/rel).parent.mkdir(parents=True, exist_ok=True); shutil.copy2(src, dest/rel)


def setup(app):
    app.connect('build-finished', _copy_mathjax)

html_theme = 'sphinx_book_theme'
html_title = project
html_static_path = ['_static']
html_css_files = ['custom.css']
html_theme_options = {
    'repository_url': _cfg['git_url'],
    'use_repository_button': True,
    'show_toc_level': 2,
}
