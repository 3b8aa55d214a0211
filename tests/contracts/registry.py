"""Which modules and public names exist, which spec covers each, and the full list of cases."""
from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

HERE = Path(__file__).parent
if str(HERE) not in sys.path: sys.path.insert(0, str(HERE))

from harness import Spec, case_id, cases  # noqa: E402


def modules() -> list[str]:
    "Every public module of the package (files under gradnotes/, without a leading underscore)."
    import gradnotes
    return sorted(m.name for m in pkgutil.iter_modules(gradnotes.__path__) if not m.name.startswith("_"))


def public_names(module: str) -> list[str]:
    return list(importlib.import_module(f"gradnotes.{module}").__all__)


def spec_module(module: str):
    "The module's spec file `spec_<module>.py`, or None when it has none."
    if not (HERE / f"spec_{module}.py").exists(): return None
    return importlib.import_module(f"spec_{module}")


def all_cases():
    "Yield (module, name, arg, mutation, kind, xfail_reason) for every case of every spec."
    for module in modules():
        sm = spec_module(module)
        if sm is None: continue
        xfail = getattr(sm, "XFAIL", {})
        for name, spec in sm.SPECS.items():
            for arg, mutation, kind in cases(spec):
                yield module, name, arg, mutation, kind, xfail.get(case_id(name, arg, mutation))


def obj_and_spec(module: str, name: str) -> tuple[object, Spec]:
    return getattr(importlib.import_module(f"gradnotes.{module}"), name), spec_module(module).SPECS[name]
