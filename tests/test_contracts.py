"""Bad input across the whole public API: every public name of every module has a specification
in `tests/contracts/spec_<module>.py`, and every mutation of every declared argument either
raises a clear `ValueError`/`TypeError` naming the argument or (for tolerated inputs) is handled.

Cases that fail today are listed in each spec file's `XFAIL` table and marked
`xfail(strict=True)`: a fix makes its case XPASS, which fails until the line is removed.
`python tests/contracts/report.py` prints the counts per outcome class.
"""
import collections
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent / "contracts"))
import harness  # noqa: E402
import registry  # noqa: E402
from harness import case_id  # noqa: E402


OUTCOMES = collections.Counter()


@pytest.fixture(scope="module", autouse=True)
def _print_counts(request):
    "After the module: the counts per outcome class (the suite's headline numbers)."
    yield
    if not OUTCOMES: return
    tr = request.config.pluginmanager.get_plugin("terminalreporter")
    line = ", ".join(f"{k} {OUTCOMES[k]}" for k in ("clear", "accepted", "unclear", "silent", "hang", "broken"))
    text = f"contract cases: {sum(OUTCOMES.values())}: {line}"
    capman = request.config.pluginmanager.getplugin("capturemanager")
    if tr is None or capman is None: return
    with capman.global_and_fixture_disabled(): tr.write_line(""); tr.write_line(text)


@pytest.fixture(autouse=True)
def _one_thread():
    from gradnotes.core import torch_threads
    with torch_threads(1):
        yield


@pytest.mark.parametrize("module", registry.modules())
def test_every_public_name_has_a_spec(module):
    "A new public name fails here until its module's spec file describes it (or opts it out, with a reason)."
    sm = registry.spec_module(module)
    assert sm is not None, f"no tests/contracts/spec_{module}.py: add one with SPECS for {registry.public_names(module)}"
    public = set(registry.public_names(module))
    opted = getattr(sm, "OPT_OUT", {})
    missing = sorted(public - set(sm.SPECS) - set(opted))
    stale = sorted((set(sm.SPECS) | set(opted)) - public)
    both = sorted(set(sm.SPECS) & set(opted))
    assert not missing, f"public names of gradnotes.{module} without a spec: {missing}"
    assert not stale, f"specs or opt-outs for names gradnotes.{module} does not export: {stale}"
    assert not both, f"names both specified and opted out: {both}"
    assert all(isinstance(r, str) and r for r in opted.values()), "every opt-out needs its reason"


@pytest.mark.parametrize("module", registry.modules())
def test_xfail_table_names_real_cases(module):
    "An XFAIL entry must name an existing case (typos would otherwise hide nothing and pass)."
    sm = registry.spec_module(module)
    if sm is None: pytest.skip("no spec file")
    known = {case_id(n, a, m) for n, s in sm.SPECS.items() for a, m, _ in harness.cases(s)}
    unknown = sorted(set(getattr(sm, "XFAIL", {})) - known)
    assert not unknown, f"XFAIL entries that name no case: {unknown}"


def _params():
    for module, name, arg, mutation, kind, reason in registry.all_cases():
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        yield pytest.param(module, name, arg, mutation, kind, marks=marks,
                           id=f"{module}.{case_id(name, arg, mutation)}")


@pytest.mark.parametrize("module, name, arg, mutation, kind", list(_params()))
def test_contract(module, name, arg, mutation, kind):
    obj, spec = registry.obj_and_spec(module, name)
    outcome, detail = harness.evaluate(module, name, obj, spec, arg, mutation, kind)
    OUTCOMES[outcome] += 1
    assert outcome in harness.PASSING, f"{outcome} ({kind} {mutation} of {arg or 'nothing'}): {detail}"


def test_the_harness_classifies_each_outcome():
    "The classifier itself, on toy functions with a known behaviour."
    from harness import POS, Arr, Spec
    def strict(x, lr):
        if not isinstance(x, torch.Tensor): raise TypeError(f"x must be a tensor, got {type(x).__name__}")
        if not torch.isfinite(x).all(): raise ValueError("x contains NaN")
        if lr <= 0: raise ValueError(f"lr must be > 0, got {lr}")
        return x * lr
    def sloppy(x, lr):
        if lr == 0: raise ZeroDivisionError("float division by zero")
        if lr < 0: raise ValueError("learning rate must be positive")  # does not name `lr`
        return x / lr
    def spin(x, lr):
        while lr > 0: pass
    spec = lambda fn, **kw: Spec(lambda: dict(x=torch.ones(3), lr=0.5), tensors={"x": Arr(ndim=None)},
                                 numbers={"lr": POS}, **kw)
    run = lambda fn, arg, mutation, **kw: harness.run_case(fn, spec(fn, **kw), arg, mutation, "invalid")[0]
    assert run(strict, "x", "nan") == "clear"
    assert run(strict, "lr", "below") == "clear"
    assert run(sloppy, "x", "nan") == "silent"
    assert run(sloppy, "lr", "below") == "unclear"          # ZeroDivisionError at lr = 0
    assert harness.names_arg("lr must be > 0", ("lr",)) and not harness.names_arg("max_lr must be > 0", ("lr",))
    assert harness.names_arg("env_losses[0] must be a scalar", ("env_losses",))
    assert run(spin, "lr", "huge", timeout=0.3) == "hang"
    assert torch.is_grad_enabled()
    ok = harness.run_case(strict, spec(strict), "", "valid", "tolerated")
    assert ok == ("accepted", "")
