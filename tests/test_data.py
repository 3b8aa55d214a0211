"""Contracts of gradnotes.data: determinism, splits, caching, missing packages."""
import sys

import numpy as np
import pytest
import torch

from gradnotes import data


@pytest.mark.parametrize("loader", [data.digits, data.breast_cancer, data.wine, data.diabetes])
def test_tables_are_deterministic(loader):
    a, b = loader(seed=3), loader(seed=3)
    assert torch.equal(a.X_test, b.X_test) and torch.equal(a.y_train, b.y_train)
    assert not torch.equal(loader(seed=4).X_test, a.X_test)


@pytest.mark.parametrize("stratify", [True, False])
def test_partition_is_disjoint_and_covering(stratify):
    y = np.repeat(np.arange(4), [50, 30, 15, 5])
    parts = data._partition(len(y), y if stratify else None, 0.2, 0.3, seed=7)
    joined = np.concatenate(parts)
    assert len(joined) == len(y) and set(joined.tolist()) == set(range(len(y)))


def test_stratification_keeps_class_balance():
    sp = data.breast_cancer(seed=0)
    fr = [y.float().mean().item() for y in (sp.y_train, sp.y_val, sp.y_test)]
    assert max(fr) - min(fr) < 0.03


def test_split_to_device_and_dtype():
    sp = data.wine().to(dtype=torch.float64)
    assert sp.X_train.dtype == torch.float64 and sp.y_train.dtype == torch.long


def test_loader_batches_cover_train_once():
    sp = data.wine()
    seen = torch.cat([y for _, y in sp.loader(batch_size=16, seed=1)])
    assert len(seen) == len(sp.y_train)


def test_mnist1d_disk_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADNOTES_CACHE", str(tmp_path))
    data._mnist1d_cached.cache_clear()
    first = data.mnist1d()
    files = list(tmp_path.glob("mnist1d-*.npz"))
    assert len(files) == 1
    data._mnist1d_cached.cache_clear()
    again = data.mnist1d()  # read back from disk
    assert torch.equal(first.X_test, again.X_test)
    data._mnist1d_cached.cache_clear()


def test_missing_package_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "networkx", None)  # makes `import networkx` fail
    with pytest.raises(ImportError, match="needs the package 'networkx'"):
        data.karate_club()


@pytest.mark.cuda
def test_loaders_put_tensors_on_cuda():
    sp = data.digits(device="cuda")
    assert sp.X_train.is_cuda and sp.y_test.is_cuda
    assert data.karate_club(device="cuda").edge_index.is_cuda


def test_split_rejects_parts_of_different_lengths():
    from gradnotes.data import Split
    with pytest.raises(ValueError, match="X_val and y_val must hold the same number of rows"):
        Split(torch.zeros(3, 2), torch.zeros(3), torch.zeros(2, 2), torch.zeros(1), torch.zeros(1, 2), torch.zeros(1))
    with pytest.raises(TypeError, match="X_train and y_train must be torch.Tensors"):
        Split([[0.0]], torch.zeros(1), torch.zeros(1, 2), torch.zeros(1), torch.zeros(1, 2), torch.zeros(1))


def test_split_arrays_takes_tensors_and_refuses_complex():
    from gradnotes.data import split_arrays
    X, y = torch.randn(20, 3, dtype=torch.bfloat16, requires_grad=False), torch.arange(20) % 2
    assert split_arrays(X, y).X_train.dtype == torch.float32
    assert split_arrays(torch.randn(20, 3, requires_grad=True), y).X_train.grad_fn is None
    with pytest.raises(TypeError, match="X must be real"):
        split_arrays(torch.randn(20, 3, dtype=torch.cfloat), y)


@pytest.mark.parametrize("size, exc, message", [(2.5, TypeError, "size must be an int or a pair"),
                                                 ("8", TypeError, "size must be an int or a pair"),
                                                 ((8, 8, 8), ValueError, "size must be an int or a pair"),
                                                 (10**6, ValueError, "size must be <= 8192"),
                                                 ((8, True), TypeError, "size must be an integer")])
def test_sample_image_size(size, exc, message):
    from gradnotes.data import sample_image
    with pytest.raises(exc, match=message):
        sample_image("camera", size=size)


def test_shapes_masks_are_exact_and_deterministic():
    a = data.shapes_segmentation(n_train=16, n_val=4, n_test=4, seed=5)
    b = data.shapes_segmentation(n_train=16, n_val=4, n_test=4, seed=5)
    assert torch.equal(a.X_train, b.X_train) and torch.equal(a.y_test, b.y_test)
    c = data.shapes_segmentation(n_train=16, n_val=4, n_test=4, seed=6)
    assert not torch.equal(a.y_train, c.y_train)
    assert a.X_train.shape == (16, 3, 32, 32) and a.y_train.shape == (16, 32, 32)
    assert a.y_train.dtype == torch.long and int(a.y_train.max()) < len(data.SHAPE_CLASSES)
    # every labelled pixel of the clean domain wears one colour per shape: background pixels
    # keep the image's background colour exactly
    for x, y in zip(a.X_train, a.y_train):
        bg = x[:, y == 0]
        assert bg.numel() == 0 or torch.allclose(bg, bg[:, :1].expand_as(bg))


def test_shapes_mask_matches_skimage_drawing():
    # one disk, drawn again with skimage from the same stream of random numbers
    from skimage import draw
    rng = np.random.default_rng(0)
    rr, cc = data._draw_shape(draw, 1, 32, rng)
    m = np.zeros((32, 32), bool); m[rr, cc] = True
    rng = np.random.default_rng(0)
    r0, c0 = rng.uniform(0.15 * 32, 0.85 * 32, 2)
    rad = rng.uniform(0.1, 0.22) * 32
    yy, xx = np.mgrid[:32, :32]
    assert m.sum() > 0 and (np.abs(m ^ ((yy - r0) ** 2 + (xx - c0) ** 2 < rad ** 2)).sum() == 0)


def test_domain_shift_changes_the_look_not_the_masks():
    kw = dict(n_train=8, n_val=2, n_test=2, seed=3)
    src = data.shapes_segmentation(**kw)
    same = data.shapes_segmentation(**kw, shift=data.DomainShift())
    assert torch.equal(src.X_train, same.X_train)
    for sh in (data.DomainShift(permute=(1, 0, 2, 3)), data.DomainShift(blur=1.0),
               data.DomainShift(noise=0.1), data.DomainShift(contrast=0.5)):
        t = data.shapes_segmentation(**kw, shift=sh)
        assert torch.equal(t.y_train, src.y_train) and not torch.equal(t.X_train, src.X_train)
        assert 0 <= float(t.X_train.min()) and float(t.X_train.max()) <= 1
    flat = data.shapes_segmentation(**kw, shift=data.DomainShift(contrast=0.5))
    assert float(flat.X_train.std()) < float(src.X_train.std())


@pytest.mark.parametrize("kw, exc, message", [
    (dict(permute=(0, 1, 2)), ValueError, "permute must be a permutation"),
    (dict(permute=(0, 1, 2, 7)), ValueError, "permute must be <= 3"),
    (dict(blur=-1), ValueError, "blur must be >= 0"),
    (dict(noise=float("nan")), ValueError, "noise must be finite"),
    (dict(contrast=0), ValueError, "contrast must be > 0")])
def test_domain_shift_bad_input(kw, exc, message):
    with pytest.raises(exc, match=message):
        data.DomainShift(**kw)


def test_shapes_bad_input():
    with pytest.raises(TypeError, match="shift must be a DomainShift"):
        data.shapes_segmentation(shift={"blur": 1})
    with pytest.raises(ValueError, match="n_val must be >= 1"):
        data.shapes_segmentation(n_val=0)
    with pytest.raises(ValueError, match="fidelity must be <= 1"):
        data.shapes_segmentation(fidelity=1.5)


# --- corruption stream ---------------------------------------------------------------------
from gradnotes.data import CORRUPTIONS, CorruptionStream, corrupt, digit_images


@pytest.fixture(scope="module")
def clean():
    return digit_images().X_test[:32]


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_every_corruption_is_seeded_in_range_and_monotone(clean, name):
    outs = [corrupt(clean, name, s, seed=3) for s in range(1, 6)]
    assert all(o.shape == clean.shape and o.dtype == clean.dtype for o in outs)
    assert all(0 <= float(o.min()) and float(o.max()) <= 1 for o in outs)
    torch.testing.assert_close(corrupt(clean, name, 4, seed=3), outs[3], rtol=0, atol=0)
    # severity 5 is further from the clean images than severity 1 (mean absolute change)
    gaps = [float((o - clean).abs().mean()) for o in outs]
    assert gaps[4] > gaps[0] > 0, gaps


def test_corruption_batches_are_per_image_not_per_batch(clean):
    # two identical images in one batch get different gaussian noise
    x = clean[:1].repeat(2, 1, 1, 1)
    out = corrupt(x, "gaussian_noise", 3)
    assert not torch.equal(out[0], out[1])


def test_corrupt_keeps_float64():
    x = digit_images(dtype=torch.float64).X_test[:4]
    assert corrupt(x, "elastic", 5).dtype == torch.float64


def test_stream_order_rounds_and_gradual(clean):
    y = torch.arange(len(clean)) % 10
    s = CorruptionStream(clean, y, ["fog", "jpeg"], severity=4, batch_size=10, rounds=3)
    bs = list(s)
    assert len(bs) == len(s) == 3 * 2 * 4
    assert [b.domain for b in bs[:5]] == ["fog"] * 4 + ["jpeg"]
    assert {b.severity for b in bs} == {4} and [b.round for b in bs[::8]] == [0, 1, 2]
    torch.testing.assert_close(torch.cat([b.x for b in bs[:4]]), corrupt(clean, "fog", 4))
    g = CorruptionStream(clean, y, ["fog"], batch_size=32, gradual=True)
    assert [b.severity for b in g] == [1, 2, 3, 4, 5, 4, 3, 2, 1]


@pytest.mark.parametrize("kw, exc, msg", [
    (dict(corruptions=[]), ValueError, "corruptions"),
    (dict(corruptions="fog"), TypeError, "corruptions"),
    (dict(severity=6), ValueError, "severity"),
    (dict(gradual=1), TypeError, "gradual"),
    (dict(batch_size=0), ValueError, "batch_size"),
])
def test_stream_bad_input(clean, kw, exc, msg):
    with pytest.raises(exc, match=msg):
        CorruptionStream(clean, torch.arange(len(clean)), **kw)


def test_corrupt_bad_input(clean):
    with pytest.raises(ValueError, match="x must lie"):
        corrupt(clean - 1, "fog")
    with pytest.raises(ValueError, match="name"):
        corrupt(clean, "snow")
    with pytest.raises(ValueError, match="x contains NaN"):
        corrupt(clean * float("nan"), "fog")
