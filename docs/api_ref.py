"""The API reference page and each page's "Uses / Used by" line, generated at docs build time.

Both are read from the exported package (``gradnotes/*.py``) with :mod:`ast`, never imported, so
they cost nothing and cannot go stale:

- every name in a module's ``__all__``, with its signature (annotations left out; a class shows
  its ``__init__``, or its fields when it is a dataclass or NamedTuple) and the first line of its
  docstring, becomes a ``py:function``/``py:class``/``py:data`` entry of ``api.md`` (so Sphinx's
  general index lists it) linked to the name's section on its page;
- ``from gradnotes.X import a, b`` and ``from .X import a, b`` anywhere in a module (function
  bodies included) make the page of X "used by" that module's page, naming a and b.
"""
import ast, functools, json, re
from dataclasses import dataclass
from pathlib import Path

_re_exp = re.compile(r'^#\|\s*default_exp\s+(\S+)', re.M)


@dataclass
class Export:
    name: str
    kind: str        # 'function', 'class' or 'data'
    signature: str   # `(a, b=1, *, c=None)`; '' for data
    summary: str     # first line of the docstring; '' if none


def notebook_modules(nbs):
    "`{module: notebook stem}` from each notebook's `#| default_exp` cell."
    out = {}
    for p in sorted(Path(nbs).glob('*.ipynb')):
        if p.name.startswith(('_', '.')): continue
        cells = json.loads(p.read_text(encoding='utf-8'))['cells']
        src = ''.join(cells[0]['source']) if cells else ''
        if m := _re_exp.search(src if isinstance(src, str) else ''.join(src)): out[m.group(1)] = p.stem
    return out


def _args(a: ast.arguments, drop_first=False):
    "An `ast.arguments` as Python source without annotations: `a, b=1, *args, c=None, **kw`."
    pos = a.posonlyargs + a.args
    defaults = [None] * (len(pos) - len(a.defaults)) + list(a.defaults)
    parts = [x.arg + (f'={ast.unparse(d)}' if d is not None else '') for x, d in zip(pos, defaults)]
    if a.posonlyargs: parts.insert(len(a.posonlyargs), '/')
    if drop_first and parts: parts = parts[1:]
    if a.vararg: parts.append(f'*{a.vararg.arg}')
    elif a.kwonlyargs: parts.append('*')
    parts += [x.arg + (f'={ast.unparse(d)}' if d is not None else '') for x, d in zip(a.kwonlyargs, a.kw_defaults)]
    if a.kwarg: parts.append(f'**{a.kwarg.arg}')
    return '(' + ', '.join(parts) + ')'


def _summary(node):
    doc = ast.get_docstring(node) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else None
    return doc.strip().splitlines()[0].strip() if doc and doc.strip() else ''


def _class_signature(node: ast.ClassDef):
    for b in node.body:
        if isinstance(b, ast.FunctionDef) and b.name == '__init__': return _args(b.args, drop_first=True)
    fields = [b for b in node.body if isinstance(b, ast.AnnAssign) and isinstance(b.target, ast.Name)]
    if fields:  # dataclass / NamedTuple fields, in order
        return '(' + ', '.join(f.target.id + (f'={ast.unparse(f.value)}' if f.value is not None else '')
                               for f in fields if not ast.unparse(f.annotation).startswith('ClassVar')) + ')'
    return '()'


@functools.lru_cache(maxsize=None)
def _parse(path):
    "The module at `path` as an AST (parsed once per build: every page asks for the import graph)."
    return ast.parse(Path(path).read_text(encoding='utf-8'))


def module_exports(path):
    "The names of `__all__` in the module at `path`, each an `Export`, in `__all__` order."
    tree = _parse(str(path))
    names, defs = [], {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, 'id', None) == '__all__' for t in node.targets):
            names = list(ast.literal_eval(node.value))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): defs[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                if isinstance(t, ast.Name): defs.setdefault(t.id, node)
    out = []
    for n in names:
        node = defs.get(n)
        if isinstance(node, ast.ClassDef): out.append(Export(n, 'class', _class_signature(node), _summary(node)))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.append(Export(n, 'function', _args(node.args), _summary(node)))
        else: out.append(Export(n, 'data', '', ''))
    return out


def module_imports(path, modules):
    "`{other module: [names]}` this module imports from the package (`from .X` / `from gradnotes.X`)."
    tree = _parse(str(path))
    me, out = Path(path).stem, {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or not node.module: continue
        if node.level == 1: mod = node.module.split('.')[0]
        elif node.level == 0 and node.module.startswith('gradnotes.'): mod = node.module.split('.')[1]
        else: continue
        if mod == me or mod not in modules: continue
        names = out.setdefault(mod, [])
        names += [a.name for a in node.names if a.name not in names and a.name != '*']
    return out


def _slug(text): return re.sub(r'[^\w\- ]', '', text.strip().lower()).replace(' ', '-')


def _target(stem, name, anchors):
    "Link target of `name` on page `stem`: its show_doc section when there is one, else the page."
    return f'{stem}.ipynb#{_slug(name)}' if _slug(name) in anchors.get(stem, ()) else f'{stem}.ipynb'


def api_page(lib, modules, titles, anchors):
    """`api.md`: per module (in page order) its exported names as py-domain entries (Sphinx's
    general index and module index list them), each with its summary and a link to its section."""
    lines = ['# API reference', '',
             'Every public name of every module (its `__all__`), with its signature and the first line '
             'of its docstring; the name\'s link leads to its section, where the arguments are '
             'documented and demonstrated. The same names are in the {ref}`genindex`.', '']
    for mod, stem in sorted(modules.items(), key=lambda kv: kv[1]):
        path = Path(lib)/f'{mod}.py'
        if not path.exists(): continue
        exports = module_exports(path)
        lines += [f'## `gradnotes.{mod}`', '', f'[{titles.get(stem, stem)}]({stem}.ipynb)', '',
                  f'```{{py:module}} gradnotes.{mod}', '```', '']
        for e in exports:
            directive = {'function': 'py:function', 'class': 'py:class', 'data': 'py:data'}[e.kind]
            link = f'[`{e.name}`]({_target(stem, e.name, anchors)})'
            body = f'{e.summary} ({link})' if e.summary else f'See {link}.'
            lines += [f'```{{{directive}}} {e.name}{e.signature}', ':module: gradnotes.' + mod, '',
                      body, '```', '']
    return '\n'.join(lines) + '\n'


@functools.lru_cache(maxsize=None)
def import_graph(lib, module_items):
    "`{module: {module it imports from: [names]}}` for the whole package (computed once)."
    modules = dict(module_items)
    return {m: module_imports(Path(lib)/f'{m}.py', modules) for m in modules if (Path(lib)/f'{m}.py').exists()}


def xref_markdown(stem, lib, modules, titles, anchors):
    "The page's 'Uses ... · Used by ...' line (markdown), or '' when it shares nothing."
    mod_of = {s: m for m, s in modules.items()}
    me = mod_of.get(stem)
    if me is None or not (Path(lib)/f'{me}.py').exists(): return ''
    graph = import_graph(str(lib), tuple(sorted(modules.items())))
    def page(m): return f'[{titles.get(modules[m], m)}]({modules[m]}.ipynb)'
    uses = [f"{page(m)} ({', '.join(f'[`{n}`]({_target(modules[m], n, anchors)})' for n in names)})"
            for m, names in sorted(graph[me].items(), key=lambda kv: modules[kv[0]])]
    used_by = [page(m) for m in sorted(graph, key=lambda m: modules[m]) if me in graph[m]]
    parts = ([f"**Uses:** {'; '.join(uses)}"] if uses else []) + \
            ([f"**Used by:** {', '.join(used_by)}"] if used_by else [])
    if not parts: return ''
    return '```{container} gn-xref\n' + '  \n'.join(parts) + '\n```'
