"""The verdict board: one table of all 32 papers, generated from the method notebooks.

Run from anywhere: ``python docs/board.py`` rewrites the board in ``nbs/index.ipynb`` (the cell
holding the ``<!-- board:start -->`` ... ``<!-- board:end -->`` markers) and in ``README.md``
(between the same markers); ``python docs/board.py --check`` changes nothing and exits 1 when
either is out of date. Text between ``<!-- count:start -->`` and ``<!-- count:end -->`` (either
file, optional) becomes "N of the 32 methods are implemented". ``tests/test_readme.py`` runs the check.

What is read, per method notebook (a notebook whose markdown has a ``**Paper N**`` marker):

- ``**Paper N**``: the paper's number in ``papers.md`` (the text of the ``## Paper`` section
  starts with it); exactly one number per notebook, and one notebook per number;
- the first cell ``#| default_exp <module>``; the first markdown cell's ``# Title`` and
  ``> summary``;
- ``## Use it``: the first code cell after that heading, its line
  ``from gradnotes.<module> import <Name>[, ...]`` (``<module>`` the notebook's own): the first
  name is the method's main class or function; then the markdown cell right after that code
  cell, whose first line is ``**Verdict:** <overall> — <one sentence>``;
- ``## Verdict`` (the last ``#``/``##`` section): its first paragraph
  ``**Overall: <overall>** — <one sentence>``, then the table whose header is
  ``| claim | paper | ours | verdict |``, one row per claim, each verdict cell starting with an
  allowed word.

``<overall>`` is one of :data:`VERDICTS`. Planned papers come from ``docs/papers.tsv``
(number, short title, planned module, what the method does in a line); that file also gives the
short title and the one-line description of every row. ``tests/test_notebook_format.py``
checks the format above; this module only reads it, and shows ``—`` where a part is missing.
"""
import argparse, json, re, sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT/'nbs'
PAPERS = ROOT/'docs'/'papers.tsv'
INDEX, README = NBS/'index.ipynb', ROOT/'README.md'
START, END = '<!-- board:start -->', '<!-- board:end -->'
COUNT_START, COUNT_END = '<!-- count:start -->', '<!-- count:end -->'  # optional: the count alone
N_PAPERS = 32

VERDICTS = ('held', 'partly', 'not reproduced', 'not testable here')
DASH = '—'  # an em dash separates the verdict word from its sentence

_re_paper = re.compile(r'\*\*Paper (\d+)\*\*')
_re_exp = re.compile(r'^#\|\s*default_exp\s+(\S+)', re.M)
_re_import = re.compile(r'^from gradnotes\.(\w+) import \(?\s*(\w+)', re.M)
_re_heading = re.compile(r'^(#{1,6})\s+(.*?)\s*#*\s*$')
_re_use_verdict = re.compile(rf'^\*\*Verdict:\*\* (.+?) {DASH} (\S.*)$')
_re_overall = re.compile(rf'^\*\*Overall: (.+?)\*\* {DASH} (\S.*)$')
_re_table_head = re.compile(r'^\|\s*claim\s*\|\s*paper\s*\|\s*ours\s*\|\s*verdict\s*\|\s*$')


def source(cell):
    s = cell.get('source', '')
    return ''.join(s) if isinstance(s, list) else s


def md_headings(text):
    "`(level, title)` of each ATX heading in markdown `text`, fenced code skipped."
    fence = False
    for line in text.splitlines():
        if line.lstrip().startswith(('```', '~~~')): fence = not fence
        elif not fence and (m := _re_heading.match(line)): yield len(m.group(1)), m.group(2)


def read_papers(path=PAPERS):
    "The 32 rows of `docs/papers.tsv`: `{number: (short title, planned module, does)}`."
    rows = {}
    for line in path.read_text(encoding='utf-8').splitlines():
        if not line.strip() or line.startswith('#'): continue
        num, title, module, does = line.split('\t')
        rows[int(num)] = (title.strip(), module.strip(), does.strip())
    if sorted(rows) != list(range(1, N_PAPERS + 1)):
        raise ValueError(f'{path.name}: needs exactly the papers 1..{N_PAPERS}, one line each')
    return rows


@dataclass
class Page:
    "What the board needs from one method notebook; `problems` lists departures from the format."
    path: Path
    paper: int | None = None
    module: str | None = None
    title: str | None = None
    summary: str | None = None
    name: str | None = None           # main class/function from the Use it import line
    use_verdict: str | None = None    # word of the Use it `**Verdict:**` line
    use_sentence: str | None = None
    has_use_it: bool = False
    has_verdict: bool = False
    overall: str | None = None        # word of `**Overall: ...**` in `## Verdict`
    overall_sentence: str | None = None
    claims: list = field(default_factory=list)  # rows of the verdict table
    problems: list = field(default_factory=list)

    @property
    def stem(self): return self.path.stem


def is_method_notebook(path):
    "A method notebook is one whose markdown carries a `**Paper N**` marker."
    cells = json.loads(Path(path).read_text(encoding='utf-8'))['cells']
    return any(_re_paper.search(source(c)) for c in cells if c['cell_type'] == 'markdown')


def method_notebooks(nbs=NBS):
    return [p for p in sorted(Path(nbs).glob('*.ipynb'))
            if not p.name.startswith(('_', '.')) and p.stem != 'index' and is_method_notebook(p)]


def _verdict_table(lines, page):
    "Rows of the `| claim | paper | ours | verdict |` table in `lines`."
    rows, inside = [], False
    for line in lines:
        if _re_table_head.match(line.strip()): inside = True; continue
        if inside:
            s = line.strip()
            if re.match(r'^\|[\s:|-]+\|$', s): continue  # the |---| rule
            if not s.startswith('|'): break
            cells = [c.strip() for c in s.strip('|').split('|')]
            if len(cells) != 4: page.problems.append(f'verdict table row without 4 cells: {s}')
            rows.append(cells)
    return rows


def read_page(path):
    "Parse one method notebook into a `Page` (never raises on format problems: they are listed)."
    path = Path(path)
    cells = json.loads(path.read_text(encoding='utf-8'))['cells']
    page = Page(path)
    prob = page.problems.append
    if cells and (m := _re_exp.search(source(cells[0]))): page.module = m.group(1)
    else: prob('first cell is not `#| default_exp <module>`')
    md = [(i, source(c)) for i, c in enumerate(cells) if c['cell_type'] == 'markdown']
    if md:
        lines = md[0][1].splitlines()
        if lines and lines[0].startswith('# '): page.title = lines[0][2:].strip()
        page.summary = next((l[2:].strip() for l in lines[1:] if l.startswith('> ')), None)
    numbers = {int(n) for _, t in md for n in _re_paper.findall(t)}
    if len(numbers) == 1: page.paper = numbers.pop()
    else: prob(f'needs exactly one `**Paper N**` number, found {sorted(numbers) or "none"}')

    # sections: index of each markdown cell that opens a level-1/2 heading
    sections = [(i, t) for i, s in md for lvl, t in md_headings(s) if lvl <= 2]
    use = [i for i, t in sections if t == 'Use it']
    if use:
        page.has_use_it = True
        i = use[0]
        code = next((j for j in range(i + 1, len(cells)) if cells[j]['cell_type'] == 'code'), None)
        if code is None: prob('`## Use it` has no code cell after it')
        else:
            between = [j for j in range(i + 1, code) if cells[j]['cell_type'] == 'markdown'
                       and any(l <= 2 for l, _ in md_headings(source(cells[j])))]
            if between: prob('`## Use it` is not directly followed by its code cell')
            imports = [m for m in _re_import.finditer(source(cells[code]))
                       if m.group(1) == page.module]
            if imports: page.name = imports[0].group(2)
            else: prob(f'the Use it code cell does not `from gradnotes.{page.module} import <Name>`')
            nxt = cells[code + 1] if code + 1 < len(cells) else None
            first = source(nxt).strip().splitlines()[0] if nxt and source(nxt).strip() else ''
            if nxt is None or nxt['cell_type'] != 'markdown' or not (m := _re_use_verdict.match(first)):
                prob(f'the Use it code cell must be followed by a markdown cell starting '
                     f'`**Verdict:** <overall> {DASH} <one sentence>`')
            else:
                page.use_verdict, page.use_sentence = m.group(1), m.group(2)
                if page.use_verdict not in VERDICTS:
                    prob(f'Use it verdict {page.use_verdict!r} is not one of {VERDICTS}')

    ver = [k for k, (i, t) in enumerate(sections) if t == 'Verdict']
    if ver:
        page.has_verdict = True
        k = ver[-1]
        if k != len(sections) - 1: prob('`## Verdict` is not the last section')
        start = sections[k][0]
        text = source(cells[start])
        if not text.lstrip().startswith('## Verdict'): prob('`## Verdict` must open its markdown cell')
        body = []  # the section: its markdown cells and any markdown the code cells in it display
        for c in cells[start:]:
            if c['cell_type'] == 'markdown': body += source(c).splitlines()
            else:
                for o in c.get('outputs', []):
                    t = o.get('data', {}).get('text/markdown')
                    if t: body += (''.join(t) if isinstance(t, list) else t).splitlines()
        after = [l for l in body[1:] if l.strip()]
        if after and (m := _re_overall.match(after[0].strip())):
            page.overall, page.overall_sentence = m.group(1), m.group(2)
            if page.overall not in VERDICTS: prob(f'Overall {page.overall!r} is not one of {VERDICTS}')
        else: prob(f'`## Verdict` must start with `**Overall: <overall>** {DASH} <one sentence>`')
        page.claims = _verdict_table(body, page)
        if not page.claims: prob('`## Verdict` has no `| claim | paper | ours | verdict |` table with rows')
        for row in page.claims:
            word = row[-1].strip('* ').lower() if row else ''
            if not any(word.startswith(v) for v in VERDICTS):
                prob(f'claim verdict {row[-1]!r} does not start with one of {VERDICTS}')
    if page.use_verdict and page.overall and page.use_verdict != page.overall:
        prob(f'Use it verdict {page.use_verdict!r} differs from the Overall {page.overall!r}')
    return page


# --- the board ---------------------------------------------------------------------------------

def slug(text):
    "The anchor MyST gives a heading (the same rule as docs/build.py)."
    return re.sub(r'[^\w\- ]', '', text.strip().lower()).replace(' ', '-')


def _cell(text): return text.replace('|', '\\|')


def _has_section(module, name):
    """Whether `name` gets a section (a show_doc heading) on its page: nbdev documents every
    exported function and class; other names (constants) are linked to their page."""
    import ast
    path = ROOT/'gradnotes'/f'{module}.py'
    if not path.exists(): return False
    return any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name == name
               for n in ast.parse(path.read_text(encoding='utf-8')).body)


def board_rows(pages=None, papers=None):
    "One dict per paper 1..32, implemented rows filled from their notebooks."
    papers = papers or read_papers()
    pages = method_notebooks() if pages is None else pages
    by_num = {}
    for p in pages:
        page = p if isinstance(p, Page) else read_page(p)
        if page.paper is None: continue
        if page.paper in by_num:
            raise ValueError(f'paper {page.paper} claimed by {by_num[page.paper].path.name} '
                             f'and {page.path.name}')
        if page.paper not in papers: raise ValueError(f'{page.path.name}: no paper {page.paper}')
        by_num[page.paper] = page
    rows = []
    for num, (title, module, does) in sorted(papers.items()):
        page = by_num.get(num)
        rows.append(dict(number=num, title=title, does=does or (page and page.summary) or '',
                         module=page.module if page else module, page=page,
                         status='implemented' if page else 'planned'))
    return rows


def render(rows, style):
    """The board as markdown. `style='site'` links pages as `NN_x.ipynb` (the landing page, beside
    the notebooks); `style='readme'` links notebooks as `nbs/NN_x.ipynb` and API entries and
    verdicts to the built site (settings.ini's doc_host and doc_baseurl)."""
    if style == 'site':
        nb_link = api = lambda stem, anchor=None: f'{stem}.ipynb' + (f'#{anchor}' if anchor else '')
    else:
        base = site_url()
        api = lambda stem, anchor=None: f'{base}/{stem}.html' + (f'#{anchor}' if anchor else '')
        nb_link = lambda stem, anchor=None: f'nbs/{stem}.ipynb'
    n_impl = sum(r['status'] == 'implemented' for r in rows)
    n_verdict = sum(bool(r['page'] and r['page'].overall) for r in rows)
    rest = len(rows) - n_impl
    planned = f'; the other {rest} are planned' if rest else ''
    out = [f'**{n_impl} of the {len(rows)} methods are implemented** ({n_verdict} with a verdict '
           f'on the paper\'s claims){planned}. The verdict '
           f'says what came of the paper\'s headline claim here: *held*, *partly*, '
           f'*not reproduced* or *not testable here*.', '',
           '| # | paper | what it does | use | status | verdict |', '|---|---|---|---|---|---|']
    for r in rows:
        page = r['page']
        if page:
            stem = page.stem
            paper = f"[{_cell(r['title'])}]({nb_link(stem)})"
            if page.name and _has_section(page.module, page.name):
                use = f"[`{page.name}`]({api(stem, slug(page.name))})"
            elif page.name: use = f"[`{page.name}`]({api(stem)})"  # a constant: no section of its own
            else: use = f"[`{page.module}`]({api(stem)})"
            verdict = f"[{page.overall}]({api(stem, 'verdict')})" if page.overall else DASH
        else:
            paper, use, verdict = _cell(r['title']), f"`{r['module']}`", DASH
        out.append(f"| {r['number']} | {paper} | {_cell(r['does'])} | {use} | {r['status']} | {verdict} |")
    return '\n'.join(out)


def site_url():
    import configparser
    ini = configparser.ConfigParser(delimiters=['='])
    ini.read(ROOT/'settings.ini', encoding='utf-8')
    d = ini['DEFAULT']
    return d['doc_host'].rstrip('/') + '/' + d['doc_baseurl'].strip('/')


def count_line(rows):
    n = sum(r['status'] == 'implemented' for r in rows)
    return f'{n} of the {len(rows)} methods are implemented'


def splice(text, board, where, start=START, end=END, required=True, sep='\n'):
    "Replace what lies between the `start` and `end` markers in `text`."
    if text.count(start) == 0 and text.count(end) == 0 and not required: return text
    if text.count(start) != 1 or text.count(end) != 1:
        raise ValueError(f'{where}: needs exactly one {start} and one {end}')
    head, rest = text.split(start)
    _, tail = rest.split(end)
    return f'{head}{start}{sep}{board}{sep}{end}{tail}'


def splice_all(text, rows, style, where):
    "The board, and the count wherever the count markers are."
    text = splice(text, render(rows, style), where)
    return splice(text, count_line(rows), where, COUNT_START, COUNT_END, required=False, sep='')


def updated(rows=None):
    "`{path: new text}` for the README and the landing notebook."
    rows = board_rows() if rows is None else rows
    from execnb.nbio import read_nb, write_nb  # what nbdev_clean writes with: the result stays clean
    nb = read_nb(INDEX)
    cells = [c for c in nb.cells if c.cell_type == 'markdown' and START in c.source]
    if len(cells) != 1: raise ValueError(f'{INDEX.name}: needs exactly one markdown cell with {START}')
    for c in nb.cells:
        if c.cell_type == 'markdown': c.source = splice_all(c.source, rows, 'site', INDEX.name) \
            if START in c.source else splice(c.source, count_line(rows), INDEX.name, COUNT_START,
                                             COUNT_END, required=False, sep='')
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)/'index.ipynb'
        write_nb(nb, tmp)
        index_text = tmp.read_text(encoding='utf-8')
    readme = splice_all(README.read_text(encoding='utf-8'), rows, 'readme', README.name)
    return {INDEX: index_text, README: readme}


def stale():
    "Files whose board differs from the notebooks (empty when up to date)."
    return [p for p, text in updated().items() if p.read_text(encoding='utf-8') != text]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--check', action='store_true', help='change nothing; exit 1 when out of date')
    ap.add_argument('--json', action='store_true', help='print what was read from each notebook')
    args = ap.parse_args(argv)
    rows = board_rows()
    if args.json:
        print(json.dumps([{**r, 'page': r['page'] and {k: (str(v.relative_to(ROOT)) if k == 'path' else v)
                                                         for k, v in vars(r['page']).items()}}
                          for r in rows], indent=1, ensure_ascii=False))
        return 0
    new = updated(rows)
    changed = [p for p, text in new.items() if p.read_text(encoding='utf-8') != text]
    if args.check:
        for p in changed: print(f'{p.relative_to(ROOT)}: the board is out of date; run python docs/board.py')
        return 1 if changed else 0
    for p in changed: p.write_text(new[p], encoding='utf-8'); print(f'wrote {p.relative_to(ROOT)}')
    n = sum(r['status'] == 'implemented' for r in rows)
    print(f'board: {n} of {len(rows)} implemented' + ('' if changed else '; nothing changed'))
    return 0


if __name__ == '__main__': sys.exit(main())
