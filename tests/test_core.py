"""Contracts of gradnotes.core: devices, checks, seeding, numba dispatch, progress."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from gradnotes import core


@pytest.mark.parametrize("value, kwargs, exc, message", [
    (-1, dict(low=0), ValueError, "x must be >= 0, got -1.0"),
    (0, dict(low=0, low_open=True), ValueError, "x must be > 0"),
    (2, dict(high=1), ValueError, "x must be <= 1"),
    (1, dict(high=1, high_open=True), ValueError, "x must be < 1"),
    (float("inf"), {}, ValueError, "x must be finite"),
    (None, {}, TypeError, "x must be a real number, got NoneType"),
    (np.bool_(True), {}, TypeError, "x must be a real number"),
])
def test_check_number_rejects(value, kwargs, exc, message):
    with pytest.raises(exc) as info:
        core.check_number("x", value, **kwargs)
    assert message in str(info.value)


def test_check_number_accepts_scalar_tensors_and_arrays():
    assert core.check_number("x", torch.tensor(0.5)) == 0.5
    assert core.check_number("x", np.float32(0.25)) == 0.25


def test_check_tensor():
    x = torch.zeros(2, 3, dtype=torch.long)
    with pytest.raises(TypeError, match="x must have a floating dtype"):
        core.check_tensor("x", x, floating=True)
    with pytest.raises(ValueError, match=r"x must have 1 dimension"):
        core.check_tensor("x", x, ndim=1)
    assert core.check_tensor("x", x, ndim=(1, 2)) is x


def test_seed_returns_generator_and_validates():
    g = core.seed_everything(7)
    assert torch.equal(torch.randn(3, generator=g), torch.randn(3, generator=torch.Generator().manual_seed(7)))
    with pytest.raises(ValueError, match="seed must be <= 4294967295"):
        core.seed_everything(2**32)


def test_use_numba_follows_device_and_env(monkeypatch):
    assert core.use_numba(torch.zeros(1))
    assert not core.use_numba(torch.zeros(1, device="meta"))
    monkeypatch.setenv("GRADNOTES_DISABLE_NUMBA", "1")
    assert not core.use_numba(torch.zeros(1))


def test_njit_kernel_is_cached_on_disk(tmp_path):
    """A kernel in a real module is written to numba's on-disk cache, and a second process loads it from there."""
    (tmp_path / "kern_mod.py").write_text("from gradnotes.core import njit\n@njit\ndef twice(x):\n    return 2 * x\n")
    script = ("import sys; sys.path.insert(0, sys.argv[1]); import kern_mod; assert kern_mod.twice(21) == 42; "
              "print(sum(kern_mod.twice.stats.cache_hits.values()))")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    run = lambda: subprocess.run([sys.executable, "-c", script, str(tmp_path)], env=env, capture_output=True, text=True, check=True)
    assert run().stdout.strip() == "0"                       # first process compiles ...
    assert list((tmp_path / "cache").rglob("*.nbi"))         # ... and writes the index
    assert run().stdout.strip() == "1"                       # second process loads from the cache


def test_progress_is_quiet_in_tests(monkeypatch):
    monkeypatch.setenv("IN_TEST", "1")
    assert core.quiet()
    assert core.progress(range(3)).disable
    monkeypatch.delenv("IN_TEST"); monkeypatch.delenv("CI", raising=False); monkeypatch.delenv("GRADNOTES_QUIET", raising=False)
    assert not core.quiet()
    assert core.progress(range(3), disable=True).disable


@pytest.mark.cuda
def test_device_follows_cuda_inputs():
    x = torch.zeros(2, device="cuda")
    assert core.infer_device(x).type == "cuda"
    assert core.default_device().type == "cuda"
    assert core.to_tensor(np.ones(2), device=x.device).is_cuda


@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
def test_check_tensor_floating_rejects_complex(dtype):
    z = torch.zeros(3, dtype=dtype)
    with pytest.raises(TypeError, match=r"z must be real, got torch.complex\d+: complex tensors are not supported"):
        core.check_tensor("z", z, floating=True)
    assert core.check_tensor("z", z, floating=True, allow_complex=True) is z
    with pytest.raises(ValueError, match="z contains NaN"):
        core.check_tensor("z", torch.tensor([complex(float("nan"), 0)]), floating=True, allow_complex=True)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_check_tensor_floating_accepts_every_real_float_and_dtypes_narrows(dtype):
    x = torch.ones(2, dtype=dtype)
    assert core.check_tensor("x", x, floating=True) is x
    kernel = (torch.float32, torch.float64)
    if dtype in kernel: assert core.check_tensor("x", x, dtypes=kernel) is x
    else:
        with pytest.raises(TypeError, match=r"x must have dtype torch.float32 or torch.float64, got torch.(b?float16)"):
            core.check_tensor("x", x, dtypes=kernel)


def test_check_tensor_integer_labels():
    assert core.check_tensor("y", torch.arange(3), integer=True).dtype == torch.long
    for bad in (torch.zeros(3), torch.zeros(3, dtype=torch.bool), torch.zeros(3, dtype=torch.cfloat)):
        with pytest.raises(TypeError, match="y must have an integer dtype"):
            core.check_tensor("y", bad, integer=True)


def test_check_tensor_array_likes():
    with pytest.raises(TypeError, match=r"X must be a torch.Tensor, got ndarray; convert it with torch.as_tensor"):
        core.check_tensor("X", np.ones((2, 2)))
    with pytest.raises(TypeError, match=r"X must be a torch.Tensor, got list"):
        core.check_tensor("X", [[1.0]])
    assert core.check_tensor("X", np.ones((2, 2)), ndim=2, convert=True).dtype == torch.float64
    assert core.check_tensor("X", [[1.0, 2.0]], ndim=2, convert=True).dtype == torch.get_default_dtype()
    with pytest.raises(TypeError, match="X must be a tensor or array-like of numbers, got list"):
        core.check_tensor("X", [["a"]], convert=True)
    with pytest.raises(ValueError, match="X contains NaN"):
        core.check_tensor("X", [1.0, float("inf")], convert=True)


def test_check_tensor_empty_and_ndim_still_checked_in_order():
    with pytest.raises(ValueError, match="x must have 2 dimension"):
        core.check_tensor("x", torch.zeros(3, dtype=torch.long), ndim=2, floating=True)
    with pytest.raises(ValueError, match="x must not be empty"):
        core.check_tensor("x", torch.zeros(0, 2), ndim=2, floating=True)


@pytest.mark.parametrize("value, kwargs, exc, message", [
    (0, {}, ValueError, "lr must be > 0, got 0.0"),
    (-1e-3, dict(strict=False), ValueError, "lr must be >= 0"),
    (True, {}, TypeError, "lr must be a real number, got bool"),
    (float("nan"), {}, ValueError, "lr must be finite"),
    (float("inf"), {}, ValueError, "lr must be finite"),
    (1e300, dict(high=1e6), ValueError, "lr must be <= 1000000.0"),
    ("1", {}, TypeError, "lr must be a real number, got str"),
    (1j, {}, TypeError, "lr must be a real number, got complex"),
])
def test_check_positive_rejects(value, kwargs, exc, message):
    with pytest.raises(exc, match=message):
        core.check_positive("lr", value, **kwargs)


def test_check_positive_and_int_accept():
    assert core.check_positive("lr", 1e-3) == 1e-3
    assert core.check_positive("l2", 0, strict=False) == 0.0
    assert core.check_positive("lr", np.float32(0.5)) == 0.5
    assert core.check_int("k", np.int64(4), low=1) == 4
    assert core.check_int("k", torch.tensor(4)) == 4
    for bad in (torch.tensor(4.0), 4.0, "4", None, np.bool_(True)):
        with pytest.raises(TypeError, match="k must be an integer"):
            core.check_int("k", bad)


def test_check_choice_with_unhashable_or_tensor_values():
    with pytest.raises(ValueError, match="engine must be one of"):
        core.check_choice("engine", torch.ones(3), ["auto", "torch"])
    with pytest.raises(ValueError, match="engine must be one of"):
        core.check_choice("engine", ["auto"], ["auto", "torch"])
    with pytest.raises(ValueError, match="mode must be one of"):
        core.check_choice("mode", 1.0, [True, "x"])  # 1.0 == True, but not the same kind of option
    assert core.check_choice("engine", "auto", ("auto", "torch")) == "auto"


def test_half_precisions_take_the_torch_path():
    from gradnotes.core import use_numba
    x = torch.zeros(3)
    assert use_numba(x) or os.environ.get("GRADNOTES_DISABLE_NUMBA", "0") not in ("", "0")
    assert not use_numba(x.half()) and not use_numba(x, x.bfloat16())


def test_one_symmetry_probe_serves_hessian_and_implicit():
    from gradnotes.core import check_symmetric
    from gradnotes.hessian import SymmetricOperator
    from gradnotes.implicit import check_symmetric_operator
    N = torch.triu(torch.ones(4, 4, dtype=torch.float64)) + torch.eye(4, dtype=torch.float64)
    with pytest.raises(ValueError, match="matvec is not symmetric"):
        check_symmetric_operator(lambda v: N @ v, torch.zeros(4, dtype=torch.float64))
    with pytest.raises(ValueError, match="the operator is not symmetric"):
        SymmetricOperator(lambda V: N @ V, 4, dtype=torch.float64)
    u = torch.ones(3)
    with pytest.raises(ValueError, match="must map a finite tensor"):
        check_symmetric("A", u, u, u * float("nan"), u, 1e-8)
    with pytest.raises(ValueError, match="rtol"): check_symmetric("A", u, u, u, u, -1.0)
