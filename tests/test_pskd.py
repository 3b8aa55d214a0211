"""PS-KD: the loss and memory contracts, bad input, and the calibration metrics against peers."""
import math
import sys

import pytest
import torch
import torch.nn.functional as F

from gradnotes.pskd import (PSKDLoss, PredictionMemory, aurc, calibration_report,
                            expected_calibration_error, negative_log_likelihood, pskd_alpha,
                            reliability_bins, soft_cross_entropy, soft_targets)


def _torchmetrics():
    "Import torchmetrics; a torchvision built for another torch is hidden from it (unused here)."
    try:
        import torchvision  # noqa: F401
    except ImportError:
        pass
    except Exception:  # installed but broken (e.g. its operators do not match this torch)
        import lightning_utilities.core.imports as li
        orig = li.RequirementCache.__bool__
        def available(self):
            name = str(getattr(self, "requirement", "") or getattr(self, "module", ""))
            return False if "torchvision" in name else orig(self)
        li.RequirementCache.__bool__ = available
        for k in [k for k in sys.modules if k.startswith("torchvision")]: del sys.modules[k]
        sys.modules["torchvision"] = None
    return pytest.importorskip("torchmetrics")


def _preds(n=600, c=10, scale=3.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, generator=g) * scale
    return logits, torch.randint(0, c, (n,), generator=g)


@pytest.mark.parametrize("n_bins", [5, 10, 15])
@pytest.mark.parametrize("scale", [0.5, 3.0, 10.0])
def test_ece_matches_torchmetrics(n_bins, scale):
    tm = _torchmetrics()
    from torchmetrics.classification import MulticlassCalibrationError
    logits, y = _preds(scale=scale)
    probs = logits.softmax(1)
    peer = MulticlassCalibrationError(num_classes=10, n_bins=n_bins, norm="l1")(probs, y)
    assert expected_calibration_error(probs, y, n_bins) == pytest.approx(peer.item(), abs=1e-6)


def test_nll_matches_cross_entropy():
    logits, y = _preds()
    assert negative_log_likelihood(logits.softmax(1), y) == pytest.approx(
        F.cross_entropy(logits.double(), y).item(), rel=1e-6)


def test_aurc_direct_and_limits():
    logits, y = _preds(n=300, c=4, scale=2.0)
    probs = logits.softmax(1)
    conf, wrong = probs.max(1).values.tolist(), (probs.argmax(1) != y).tolist()
    order = sorted(range(300), key=lambda i: -conf[i])
    risks, errs = [], 0
    for k, i in enumerate(order, 1):
        errs += wrong[i]; risks.append(errs / k)
    r = aurc(probs, y)
    assert r["aurc"] == pytest.approx(sum(risks) / 300, abs=1e-12)
    # a perfect ranking has zero excess; E-AURC is never negative
    right = torch.arange(300) % 3 != 0
    pred = torch.where(right, y, (y + 1) % 4)
    top = torch.where(right, 0.9, 0.4)[:, None]
    # the predicted class gets `top`, the rest share what is left: every correct one ranks first
    perfect = torch.where(F.one_hot(pred, 4).bool(), top, (1 - top) / 3).double()
    assert aurc(perfect, y)["eaurc"] == pytest.approx(0.0, abs=1e-12)
    assert r["eaurc"] >= 0
    # all correct: zero risk everywhere
    assert aurc(F.one_hot(y, 4).double(), y)["aurc"] == 0.0


def test_report_and_bins():
    logits, y = _preds()
    probs = logits.softmax(1)
    rep = calibration_report(probs, y)
    assert rep["error"] == pytest.approx((probs.argmax(1) != y).double().mean().item())
    b = reliability_bins(probs, y, 10)
    assert b["count"].sum().item() == 600
    assert ((b["confidence"] >= b["edges"][:-1] - 1e-12) | (b["count"] == 0)).all()


def test_alpha_schedule():
    assert pskd_alpha(0, 300) == pytest.approx(0.8 / 300)
    assert pskd_alpha(299, 300) == pytest.approx(0.8)
    assert pskd_alpha(0, 1, alpha_T=0.0) == 0.0


def test_soft_cross_entropy_matches_torch():
    logits, y = _preds(n=50)
    past = torch.randn(50, 10).softmax(1)
    t = soft_targets(y, past, 0.4)
    assert torch.allclose(soft_cross_entropy(logits, t), F.cross_entropy(logits, t), atol=1e-6)
    assert torch.allclose(soft_targets(y, past, 0.0), F.one_hot(y, 10).float())
    assert torch.equal(soft_targets(y, past, 1.0), past)


def test_first_epoch_is_cross_entropy_and_memory_is_pre_step():
    torch.manual_seed(0)
    X, y = torch.randn(90, 6), torch.randint(0, 3, (90,))
    net = torch.nn.Linear(6, 3)
    opt = torch.optim.SGD(net.parameters(), 0.5)
    loss_fn = PSKDLoss(90, 3, epochs=2)
    expected = torch.zeros(90, 3)
    for epoch in range(2):
        for idx in torch.randperm(90).split(32):
            z = net(X[idx])
            if epoch == 0:
                ce = F.cross_entropy(z, y[idx])
            else:
                a = pskd_alpha(1, 2)
                tgt = (1 - a) * F.one_hot(y[idx], 3) + a * expected[idx]
                ce = F.cross_entropy(z, tgt)
            loss = loss_fn(z, y[idx], idx, epoch)
            assert torch.allclose(loss, ce, atol=1e-6)
            expected[idx] = z.detach().softmax(1)
            opt.zero_grad(); loss.backward(); opt.step()
        assert torch.equal(loss_fn.memory.table, expected)


def test_store_false_and_state_dict_round_trip():
    L = PSKDLoss(10, 3, 4, dtype=torch.float16)
    z, y, idx = torch.randn(4, 3), torch.tensor([0, 1, 2, 0]), torch.tensor([9, 3, 0, 5])
    L(z, y, idx, 0, store=False)
    assert not L.memory.seen.any()
    L(z, y, idx, 0)
    L2 = PSKDLoss(10, 3, 4, dtype=torch.float16)
    L2.load_state_dict(L.state_dict())
    assert torch.equal(L2.memory.table, L.memory.table) and L2.memory.table.dtype == torch.float16
    assert torch.allclose(L2.memory.table[idx].float(), z.softmax(1), atol=1e-3)


def test_bad_input():
    L = PSKDLoss(10, 3, epochs=5)
    z, y = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    with pytest.raises(TypeError, match="idx must be a tensor of sample ids"): L(z, y, None, 0)
    with pytest.raises(TypeError, match="idx must hold integer"): L(z, y, torch.zeros(4), 0)
    with pytest.raises(ValueError, match="idx must lie in"): L(z, y, torch.tensor([0, 1, 2, -1]), 0)
    with pytest.raises(ValueError, match="must not repeat"): L(z, y, torch.tensor([0, 1, 1, 2]), 0)
    with pytest.raises(ValueError, match="one id per row"): L(z, y, torch.arange(3), 0)
    with pytest.raises(ValueError, match="logits must"): L(torch.randn(4, 2), y, torch.arange(4), 0)
    with pytest.raises(ValueError, match="logits contains NaN"):
        L(torch.full((4, 3), float("nan")), y, torch.arange(4), 0)
    with pytest.raises(ValueError, match="y must lie in"): L(z, torch.tensor([0, 1, 3, 0]), torch.arange(4), 0)
    with pytest.raises(TypeError, match="y must hold integer"): L(z, y.float(), torch.arange(4), 0)
    with pytest.raises(ValueError, match="epoch must be <= 4"): L(z, y, torch.arange(4), 5)
    with pytest.raises(ValueError, match="alpha_T must be <= 1"): PSKDLoss(10, 3, 5, alpha_T=1.01)
    with pytest.raises(ValueError, match="alpha_T must be >= 0"): PSKDLoss(10, 3, 5, alpha_T=-0.1)
    with pytest.raises(ValueError, match="alpha must be <= 1"): soft_targets(y, z.softmax(1), 2.0)
    with pytest.raises(ValueError, match="epochs must be >= 1"): PSKDLoss(10, 3, 0)
    with pytest.raises(ValueError, match="n_classes must be >= 2"): PredictionMemory(10, 1)
    with pytest.raises(TypeError, match="dtype must be a floating"): PredictionMemory(10, 3, torch.int64)
    with pytest.raises(ValueError, match="probs must lie in"): expected_calibration_error(z, y)
    with pytest.raises(ValueError, match="rows must sum to 1"): aurc(torch.full((4, 3), 0.5), y)
    with pytest.raises(ValueError, match="targets must have shape"):
        soft_cross_entropy(z, torch.rand(4, 2))
    with pytest.raises(ValueError, match="n_bins must be >= 1"):
        reliability_bins(z.softmax(1), y, 0)


@pytest.mark.cuda
def test_cuda_matches_cpu():
    out = {}
    for dev in ("cpu", "cuda"):
        torch.manual_seed(0)
        net = torch.nn.Linear(6, 3).to(dev).double()
        X, y = torch.randn(64, 6, dtype=torch.float64).to(dev), torch.randint(0, 3, (64,)).to(dev)
        L = PSKDLoss(64, 3, 3, device=dev).double()
        opt = torch.optim.SGD(net.parameters(), 0.3)
        for epoch in range(3):
            for idx in torch.arange(64).split(16):
                idx = idx.to(dev)
                loss = L(net(X[idx]), y[idx], idx, epoch)
                opt.zero_grad(); loss.backward(); opt.step()
        assert L.memory.table.device.type == dev
        with torch.no_grad():
            out[dev] = (net.weight.cpu(), L.memory.table.cpu(),
                        calibration_report(net(X).softmax(1), y))
    assert torch.allclose(out["cpu"][0], out["cuda"][0], atol=1e-10)
    assert torch.allclose(out["cpu"][1], out["cuda"][1], atol=1e-10)
    for k, v in out["cpu"][2].items(): assert math.isclose(v, out["cuda"][2][k], abs_tol=1e-9)


def test_with_index_feeds_the_loss():
    from gradnotes.pskd import WithIndex
    X, y = torch.randn(20, 4), torch.randint(0, 3, (20,))
    ds = WithIndex(torch.utils.data.TensorDataset(X, y))
    L, seen = PSKDLoss(20, 3, 2), []
    for xb, yb, ib in torch.utils.data.DataLoader(ds, batch_size=6, shuffle=True):
        assert torch.equal(X[ib], xb) and torch.equal(y[ib], yb)
        L(torch.randn(len(ib), 3), yb, ib, 0); seen += ib.tolist()
    assert sorted(seen) == list(range(20)) and L.memory.seen.all()
    with pytest.raises(TypeError, match="dataset must be a map-style"): WithIndex(iter([1, 2]))


def test_targets_and_memories_hold_probabilities():
    from gradnotes.pskd import soft_cross_entropy, soft_targets
    p = torch.full((2, 3), 1 / 3)
    with pytest.raises(ValueError, match=r"past must hold probabilities in \[0, 1\]"):
        soft_targets(torch.tensor([0, 1]), p * 4, 0.5)
    with pytest.raises(ValueError, match="targets must hold probabilities"):
        soft_cross_entropy(torch.zeros(2, 3), -p)
