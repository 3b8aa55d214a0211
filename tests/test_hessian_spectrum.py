"""Paper 19 helpers: data and model conventions of the official code, training, spectrum statistics, interpolation."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gradnotes.hessian_spectrum import blobs, gaussian_mlp, interpolate, spectra, spectrum_summary, train

pytestmark = pytest.mark.usefixtures("one_thread")


def test_blobs_standardized_halves():
    X, y, Xt, yt = blobs(4, 2.0, n=50, d=3, seed=1)
    assert X.shape == (50, 3) and Xt.shape == (50, 3) and X.dtype == torch.float64
    full = torch.cat([X, Xt])
    assert torch.allclose(full.mean(0), torch.zeros(3, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(full.std(0, unbiased=False), torch.ones(3, dtype=torch.float64), atol=1e-12)
    assert set(torch.cat([y, yt]).tolist()) == {0, 1, 2, 3}
    with pytest.raises(ValueError, match="k must be >= 2"):
        blobs(1)
    with pytest.raises(ValueError, match="cluster_std must be > 0"):
        blobs(3, 0.0)


def test_gaussian_init_scale():
    net = gaussian_mlp([50, 200, 10], scale=0.1, seed=0)
    w = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
    assert abs(w.std().item() - 0.1) < 0.003 and abs(w.mean().item()) < 0.003
    assert torch.equal(w, torch.cat([p.detach().reshape(-1) for p in gaussian_mlp([50, 200, 10], seed=0).parameters()]))


def test_train_gd_and_sgd():
    X, y, _, _ = blobs(3, n=60, d=4)
    net = gaussian_mlp([4, 8, 3])
    loss0 = F.cross_entropy(net(X), y).item()
    rec = train(net, X, y, max_steps=300)
    assert rec["steps"] == 300 and rec["loss"] < loss0
    # a loose tolerance stops full-batch GD early, at a point meeting it
    net2 = gaussian_mlp([4, 8, 3])
    rec2 = train(net2, X, y, max_steps=5000, grad_tol=5e-2)
    assert rec2["steps"] < 5000 and rec2["grad_norm"] <= 5e-2
    rec3 = train(gaussian_mlp([4, 8, 3]), X, y, max_steps=200, batch_size=8)
    assert rec3["loss"] < loss0
    with pytest.raises(ValueError, match="batch_size must be <= 60"):
        train(net, X, y, batch_size=61)


def test_summary_on_known_spectrum():
    e = np.concatenate([[10.0, 8.0, 6.0, 4.0], np.linspace(0.1, 0.0, 96), [-0.2]])
    s = spectrum_summary(e, 4)
    assert s["largest_gap_at"] == 4 and s["n_above"] == 4 and np.isclose(s["gap_ratio_k"], 40.0)
    assert np.isclose(s["negative_mass"], 0.02) and np.isclose(s["bulk_fraction"], np.mean(np.abs(e) < 1e-2))


def test_gauss_newton_rank_bound_and_spectra():
    X, y, _, _ = blobs(3, n=15, d=5)
    net = gaussian_mlp([5, 12, 3], seed=2)
    s = spectra(net, X, y)
    assert s["dim"] == 5 * 12 + 12 + 12 * 3 + 3
    assert np.sum(s["G"] > 1e-10 * s["G"][0]) <= 15 * 2
    assert np.all(np.diff(s["H"]) <= 0) and s["G"][-1] > -1e-12


def test_interpolate_endpoints_and_restore():
    X, y, _, _ = blobs(3, n=30, d=4)
    net = gaussian_mlp([4, 6, 3])
    wa = {k: v.clone() for k, v in net.state_dict().items()}
    wb = {k: v * 2 for k, v in wa.items()}
    L, A = interpolate(net, wa, wb, X, y, [0.0, 0.5, 1.0])
    assert np.isclose(L[0], F.cross_entropy(net(X), y).item())
    net.load_state_dict(wb)
    assert np.isclose(L[2], F.cross_entropy(net(X), y).item())
    net.load_state_dict(wa)
    interpolate(net, wb, wb, X, y, [0.3])
    assert all(torch.equal(net.state_dict()[k], wa[k]) for k in wa)


@pytest.mark.parametrize("eigs, kwargs, exc, message", [
    (np.array([3.0, np.nan, 1.0]), {}, ValueError, "eigs contains NaN"),
    (np.array([3.0, np.inf, 1.0]), {}, ValueError, "eigs contains NaN"),
    (np.array([3.0, 2.0, 1.0]), dict(outlier_frac=1.5), ValueError, "outlier_frac must be < 1"),
    (np.array([3.0, 2.0, 1.0]), dict(outlier_frac=0.0), ValueError, "outlier_frac must be > 0"),
    (np.array([3.0, 2.0, 1.0]), dict(bulk_tol=-1e-3), ValueError, "bulk_tol must be > 0"),
    (np.array([1.0, 2.0, 3.0]), {}, ValueError, "descending order"),
    (np.array([0.0, -1.0, -2.0]), {}, ValueError, "largest eigenvalue must be > 0"),
    (np.array([3.0, 2.0, 1.0]) + 0j, {}, TypeError, "real numbers"),
    (np.array([3, 2, 1]), {}, TypeError, "floating dtype"),
    (np.array([3.0]), {}, ValueError, "at least 2 eigenvalues"),
    (np.ones((2, 2)), {}, TypeError, "1-D array"),
])
def test_spectrum_summary_refuses_bad_input(eigs, kwargs, exc, message):
    with pytest.raises(exc, match=message):
        spectrum_summary(eigs, 1, **kwargs)


def test_spectrum_summary_counts():
    s = spectrum_summary(np.array([10.0, 9.0, 1.0, 0.9, 0.8, 0.7, 0.6, 1e-5, 0.0, -1e-5]), k=2)
    assert (s["n_above"], s["largest_gap_at"], s["n_nonbulk"]) == (7, 2, 7)
    assert abs(s["bulk_fraction"] - 0.3) < 1e-12


def test_training_arguments_are_checked():
    from gradnotes.hessian_spectrum import train
    net = torch.nn.Linear(3, 2)
    X, y = torch.randn(6, 3), torch.arange(6) % 2
    with pytest.raises(ValueError, match="grad_tol"): train(net, X, y, grad_tol=-1.0)
    with pytest.raises(ValueError, match="X contains NaN"): train(net, X * float("nan"), y)
    with pytest.raises(ValueError, match="same number of examples"): train(net, X, y[:4])


def test_labels_spectra_and_tensor_eigs_are_checked():
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4),
                              torch.nn.Linear(4, 2)).double()
    X, y = torch.randn(6, 3, dtype=torch.float64), torch.arange(6) % 2
    stats = net[1].running_mean.clone()
    with pytest.raises(ValueError, match="labels < 2"): train(net, X, y + 1)
    assert net.training and torch.equal(net[1].running_mean, stats)  # the label check moved nothing
    lin = torch.nn.Linear(3, 2).double()
    with pytest.raises(ValueError, match="labels < 2"): interpolate(lin, lin.state_dict(),
                                                                     lin.state_dict(), X, y + 1, [0.5])
    with pytest.raises(ValueError, match="labels < 2"): spectra(lin, X, y + 1)
    with pytest.raises(TypeError, match="y"): spectra(lin, X, y.double())
    with pytest.raises(ValueError, match="seed must be <="): blobs(3, seed=2**32)
    s = spectra(lin, X.clone().requires_grad_(True), y)  # no gradient to X: plain eigenvalues
    assert isinstance(s["H"], np.ndarray)
    eigs = torch.tensor([5.0, 3.0, 1.0, 0.0], requires_grad=True)
    assert spectrum_summary(eigs, k=1)["lambda_max"] == 5.0
    assert spectrum_summary(eigs.detach().bfloat16(), k=1)["lambda_max"] == 5.0
    with pytest.raises(TypeError, match="eigs"): spectrum_summary(torch.tensor([3, 2, 1]), k=1)
