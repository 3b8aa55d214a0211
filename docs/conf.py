"""Sphinx configuration for the gradnotes docs.

docs/build.py generates the sources in docs/_src/ from the notebooks and runs Sphinx with this
directory as the configuration directory (``-c docs``); see that file for the whole pipeline.
"""
import configparser, os
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
# Offline reading: point MathJax at a local copy (GRADNOTES_MATHJAX=file:///.../tex-mml-chtml.js).
if os.environ.get('GRADNOTES_MATHJAX'): mathjax_path = os.environ['GRADNOTES_MATHJAX']

html_theme = 'sphinx_book_theme'
html_title = project
html_static_path = ['_static']
html_css_files = ['custom.css']
html_theme_options = {
    'repository_url': _cfg['git_url'],
    'use_repository_button': True,
    'show_toc_level': 2,
}
