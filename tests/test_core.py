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
