"""Build the gradnotes documentation without Quarto.

Run from the repository root (``make docs`` does): ``python docs/build.py [--force]``

1. ``nbdev.serve.proc_nbs()`` processes ``nbs/*.ipynb`` into ``_proc/`` exactly as nbdev does for
   Quarto: front matter gathered into a raw cell, ``show_doc`` output added, hidden and export-only
   cells removed, backticked names linked. (Never run ``nbdev_proc_nbs``/``nbdev_docs``: without
   Quarto they try to install it with sudo.)
2. A small adapter rewrites each processed notebook into ``docs/_src/`` for myst-nb: the front matter
   becomes a ``# Title`` heading and a lead paragraph, Quarto cell options (``#| echo: false`` ...)
   become myst-nb cell tags, ``show_doc`` output becomes page sections, nbdev's absolute doc links
   become links between pages, and ``index`` gets a toctree of every other notebook. From the
   exported package (docs/api_ref.py): each page gets a "Uses / Used by" line under its title, and
   ``api.md`` lists every public name (the API reference, which also fills the general index).
3. Sphinx builds ``docs/_src/`` (configuration: ``docs/conf.py``) into ``docs/_build/html`` with
   warnings as errors, and the path of the front page is printed.
"""
import os, re, shutil, sys, time
from pathlib import Path

import nbformat, yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import api_ref as api  # docs/api_ref.py


def _skip_example_cells():
    """nbdev's docs pass executes every cell that contains an import, to have the names show_doc
    needs; a cell that imports *and* does work (a page's Use it example: import, then run the
    method on real data) would then run at every docs build. Such cells are skipped here: what
    show_doc needs comes from exported cells and import-only cells, which still run. This runs at
    import time so that the worker processes nbdev spawns (they import this script) do it too."""
    import ast
    import nbdev.processors as P
    if getattr(P._do_eval, 'gradnotes', False): return
    orig = P._do_eval
    def _do_eval(cell):
        if cell.cell_type == 'code' and cell.source and not (cell.directives_.keys() & {
                'export', 'exports', 'exporti', 'exec_doc'}):
            trees = cell.parsed_()
            if (trees and P._ast_contains(trees, (ast.Import, ast.ImportFrom))
                    and P._ast_contains(trees, (ast.Expr, ast.Assign)) and not P._show_docs(trees)):
                return None
        return orig(cell)
    _do_eval.gradnotes = True
    P._do_eval = _do_eval


_skip_example_cells()

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT/'docs'
SRC, OUT = DOCS/'_src', DOCS/'_build'/'html'

# Sidebar sections: a notebook's leading digit is its area (0 foundations, 3 optimizers, ...); anything else is "More".
AREAS = {'0': 'Foundations', '1': 'Curvature', '2': 'Implicit differentiation and bilevel',
         '3': 'Optimizers', '4': 'Solvers', '5': 'Diffusion and score-based methods',
         '6': 'Self-training, distillation and adaptation', '7': 'Weak supervision and few-shot',
         '8': 'Graphs, contrastive learning, compression, offline RL'}

# Files under nbs/ that are not copied next to the pages (notebooks are handled separately).
SKIP_ASSETS = {'.ipynb', '.md', '.qmd', '.yml', '.yaml', '.py', '.ini'}

_re_opt = re.compile(r'^\s*#\|\s*(.*?)\s*$')                    # one `#| ...` line
_re_heading = re.compile(r'^(#{1,6})\s+(.*?)\s*#*\s*$')          # a markdown ATX heading
_re_slug_drop = re.compile(r'[^\w\- ]')                          # what a MyST heading slug drops
_re_source = re.compile(r'\[source\]\((\S+?)\)\{[^}\n]*\}')      # show_doc's link to the code
_re_nested = re.compile(r'\[\[(`[^`\n]+`)\]\([^)\s]*\)\]\(([^)\s]*)\)')  # [[`x`](nbdev's)](author's)
_re_code_link = re.compile(r'\[(`[^`\n]+`)\]\([^)\s]*\)')             # [`x`](url)
_re_fenced = re.compile(r'^(```|~~~)(?!\{)[^\n]*\n.*?^\1\s*$', re.M | re.S)  # fenced code, no directive


def cell_options(source):
    "Split `source` into its `#|` options (``{'echo': 'false', 'hide_input': True}``) and the code left."
    opts, code = {}, []
    for line in source.splitlines():
        m = _re_opt.match(line)
        if not m: code.append(line); continue
        key, sep, val = m.group(1).partition(':')
        opts[key.strip()] = val.strip().strip('"\'').lower() if sep else True
    return opts, '\n'.join(code).strip('\n')


def slug(text):
    "The anchor MyST gives a heading (GitHub style), e.g. `Stepper.step` -> `stepperstep`."
    return _re_slug_drop.sub('', text.strip().lower()).replace(' ', '-')


def headings(md):
    "Yield `(level, text)` for each heading in markdown `md`, skipping fenced code."
    fence = False
    for line in md.splitlines():
        if line.lstrip().startswith(('```', '~~~')): fence = not fence
        elif not fence and (m := _re_heading.match(line)): yield len(m.group(1)), m.group(2)


def md_cell(text, **kw): return nbformat.v4.new_markdown_cell(text, **kw)


def title_cell(fm):
    "nbdev's front matter (title, description) -> a `# Title` heading plus the description as a lead paragraph."
    text = f"# {fm['title']}\n"
    # `container` is a plain docutils directive: a div with class "lead" (styled in _static/custom.css)
    if fm.get('description'): text += f"\n```{{container}} lead\n{fm['description']}\n```\n"
    return md_cell(text)


def doc_cells(cell, level):
    "A `#| output: asis` cell (nbdev's show_doc) -> markdown cells holding its output, headings at `level`."
    cells = []
    for out in cell.get('outputs', []):
        md = out.get('data', {}).get('text/markdown')
        if md is None: continue
        md = ''.join(md) if isinstance(md, list) else md
        md = re.sub(r'^\s*---\s*\n', '', md)  # show_doc opens with a rule; the heading separates enough
        # show_doc's `[source](url){target=... style=...}` (Quarto attributes) comes before the heading:
        # drop the attributes and move it under the heading, into a right-aligned div (custom.css)
        src = _re_source.search(md)
        md = _re_source.sub('', md).strip()
        link = f'\n\n```{{container}} gn-source\n[source]({src.group(1)})\n```' if src else ''
        # show_doc always writes `###`; nest it one level under the section it appears in instead
        md = re.sub(r'^###\s+(.*)$', lambda m: f"{'#'*level} {m.group(1)}{link}", md, count=1, flags=re.M)
        cells.append(md_cell(md.strip()))
    return cells


def tags_for(opts, meta):
    "myst-nb tags for nbdev/Quarto display options (`opts`) and classic Jupyter cell metadata (`meta`)."
    tags = []
    if opts.get('include') == 'false' or 'hide' in opts: tags.append('remove-cell')
    if opts.get('echo') == 'false' or 'hide_input' in opts or meta.get('hide_input'): tags.append('remove-input')
    if opts.get('output') == 'false' or 'hide_output' in opts: tags.append('remove-output')
    if opts.get('code-fold') in ('true', 'hide'): tags.append('hide-input')  # collapsed; `show` stays open
    return tags


def adapt(proc_path, orig_path):
    "Processed notebook -> (myst-nb notebook, anchors of its show_doc sections, nbdev's page name)."
    nb = nbformat.read(proc_path, as_version=4)
    # nbdev strips option lines without a colon (`#| hide_input`) before we see them: recover them
    # from the original notebook, matching cells by id (nbdev_clean gives every cell one).
    orig = nbformat.read(orig_path, as_version=4)
    flags = {c.id: cell_options(c.source)[0] for c in orig.cells if c.cell_type == 'code' and c.get('id')}

    cells, anchors, level, fm = [], set(), 1, {}  # `level`: heading level of the current section
    for i, cell in enumerate(nb.cells):
        src = cell.source
        if cell.cell_type == 'raw' and i == 0 and src.lstrip().startswith('---'):  # nbdev's front matter
            fm = yaml.safe_load(src.strip().strip('-')) or {}
            cells.append(title_cell(fm)); continue
        if cell.cell_type == 'markdown':
            if src.strip().startswith('<!-- WARNING: THIS FILE WAS AUTOGENERATED'): continue
            for lvl, _ in headings(src): level = lvl
            cells.append(cell); continue
        if cell.cell_type != 'code': cells.append(cell); continue

        opts, code = cell_options(src)
        opts = {**flags.get(cell.get('id'), {}), **opts}
        if opts.get('output') == 'asis':  # raw markdown output: it becomes part of the page
            new = doc_cells(cell, min(level + 1, 6))
            for c in new: anchors.update(slug(t) for _, t in headings(c.source))
            if opts.get('echo') != 'false': cells.append(nbformat.v4.new_code_cell(code))
            cells.extend(new); continue
        cell.source = code
        tags = tags_for(opts, cell.metadata)
        # A committed traceback is a broken notebook, not documentation (Quarto: `#| error: true` allows it)
        if opts.get('error') != 'true' and any(o.output_type == 'error' for o in cell.get('outputs', [])):
            sys.exit(f'nbs/{orig_path.name}: cell raised an error in its saved outputs; rerun it:\n{code}')
        if 'remove-cell' in tags: continue
        if tags: cell.metadata['tags'] = sorted(set(cell.metadata.get('tags', [])) | set(tags))
        cells.append(cell)

    nb.nbformat_minor = max(nb.nbformat_minor, 5)  # cell ids need nbformat 4.5
    for i, c in enumerate(cells): c.setdefault('id', f'gn{i:04d}')  # cells nbdev added have no id
    nb.cells = cells
    nb.metadata.setdefault('language_info', {'name': 'python', 'pygments_lexer': 'ipython3'})
    if not fm.get('title'): sys.exit(f'nbs/{orig_path.name}: no title; start it with a `# Title` markdown cell')
    return nb, anchors, Path(fm.get('output-file', orig_path.stem)).stem


def link_fixer(base, pages, anchors):
    "Rewrite nbdev's absolute doc links (`{base}/sample.html#grad_norm`) to links between pages."
    re_link = re.compile(rf'\]\({re.escape(base)}/([\w.-]+)\.html(?:#([^)\s]*))?\)')
    def fix(m):
        page, anchor = m.group(1), m.group(2)
        if page not in pages: return m.group(0)  # not ours: leave the absolute link
        target = pages[page]
        if anchor and slug(anchor) in anchors[target]: return f']({target}.ipynb#{slug(anchor)})'
        return f']({target}.ipynb)'  # names without a show_doc section link to their page
    return lambda text: re_link.sub(fix, text)


def tidy_links(md):
    """Undo nbdev's linking where it harms: a backticked name the author already linked gets a
    second link inside the first (`[[`x`](...)](page)`: keep the author's), and inside fenced code
    (show_doc's signature blocks) a link is shown as raw markdown (keep the backticked name)."""
    md = _re_nested.sub(r'[\1](\2)', md)
    return _re_fenced.sub(lambda m: _re_code_link.sub(r'\1', m.group(0)), md)


def toctree_cells(names):
    "Hidden toctrees (one per area, in filename order) so every notebook is in the sidebar."
    groups = {}
    for n in names: groups.setdefault(AREAS.get(n[0], 'More'), []).append(n)
    groups['Reference'] = ['api', 'genindex']
    return [md_cell(f"```{{toctree}}\n:hidden:\n:caption: {cap}\n:maxdepth: 1\n\n" + '\n'.join(ns) + "\n```")
            for cap, ns in groups.items()]


def make_sources(force=False):
    "Steps 1 and 2: nbdev processing, then the adapted notebooks and assets in docs/_src."
    from nbdev.config import get_config
    from nbdev.serve import proc_nbs
    cfg = get_config()
    base = cfg.doc_host.rstrip('/') + '/' + cfg.doc_baseurl.strip('/')
    nbs = sorted(p for p in cfg.nbs_path.glob('*.ipynb') if not p.name.startswith(('_', '.')))
    if not any(p.name == 'index.ipynb' for p in nbs): sys.exit('nbs/index.ipynb is missing: it is the front page')

    proc = proc_nbs(force=force)

    adapted, anchors, pages = {}, {}, {}
    for p in nbs:
        adapted[p.stem], anchors[p.stem], page = adapt(proc/p.name, p)
        pages[page] = p.stem  # nbdev's page name (`00_core` -> `core`) -> our page
    fix = link_fixer(base, pages, anchors)

    SRC.mkdir(parents=True, exist_ok=True)
    keep = set()
    modules = api.notebook_modules(cfg.nbs_path)
    titles = {stem: nb.cells[0].source.splitlines()[0].lstrip('# ').strip() for stem, nb in adapted.items()}
    for stem, nb in adapted.items():
        for c in nb.cells:
            if c.cell_type == 'markdown': c.source = tidy_links(fix(c.source))
        if xref := api.xref_markdown(stem, cfg.lib_path, modules, titles, anchors):
            nb.cells.insert(1, md_cell(xref, id='gn-xref'))  # under the title and summary
        if stem == 'index': nb.cells += toctree_cells([s for s in adapted if s != 'index'])
        nbformat.validate(nb)
        nbformat.write(nb, SRC/f'{stem}.ipynb')
        keep.add(SRC/f'{stem}.ipynb')
    (SRC/'api.md').write_text(api.api_page(cfg.lib_path, modules, titles, anchors), encoding='utf-8')
    keep.add(SRC/'api.md')
    # images and data the notebooks refer to by relative path
    for f in cfg.nbs_path.rglob('*'):
        rel = f.relative_to(cfg.nbs_path)
        if f.is_file() and f.suffix not in SKIP_ASSETS and not any(s[0] in '._' for s in rel.parts):
            (SRC/rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, SRC/rel); keep.add(SRC/rel)
    for f in SRC.rglob('*'):  # drop pages whose notebook was deleted or renamed
        if f.is_file() and f not in keep: f.unlink()
    return list(adapted)


def run_sphinx():
    "Step 3: Sphinx with warnings as errors; a fresh environment so no old warning hides."
    from sphinx.cmd.build import build_main
    return build_main(['-b', 'html', '-W', '--keep-going', '-E', '-q', '-j', 'auto',
                       '-c', str(DOCS), '-d', str(DOCS/'_build'/'doctrees'), str(SRC), str(OUT)])


def main():
    os.chdir(ROOT)
    # proc_nbs runs each notebook's imports in spawned processes, which inherit sys.path: let them
    # import this checkout's package even where it is not installed
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault('MPLBACKEND', 'Agg')
    t0 = time.time()
    names = make_sources(force='--force' in sys.argv[1:])
    t1 = time.time()
    rc = run_sphinx()
    if rc: sys.exit(f'docs: Sphinx failed (exit {rc}); see the warnings above. docs/_src/X.ipynb is '
                    f'nbs/X.ipynb after the adapter; a line number N000k means cell N (after adapting), line k')
    print(f'docs: {len(names)} pages; nbdev {t1-t0:.1f}s, sphinx {time.time()-t1:.1f}s')
    print((OUT/'index.html').resolve())


if __name__ == '__main__': main()
