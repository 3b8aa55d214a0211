"""Contracts of gradnotes.autodiff: flat views, functional loss, per-example gradients."""
import pytest
import torch
from torch import nn

from gradnotes.autodiff import (check_functional, flat_grad, flatten, functional_loss, iter_per_sample_grads,
                                num_params, per_sample_grads, trainable, unflatten)

F = nn.functional


def _net(dtype=torch.float64):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3)).to(dtype)


def test_per_sample_matches_loop_float64():
    net = _net()
    X, y = torch.randn(23, 5, dtype=torch.float64), torch.randint(0, 3, (23,))
    G = per_sample_grads(net, F.cross_entropy, X, y, chunk_size=4)
    loop = torch.stack([flat_grad(net, F.cross_entropy, X[i:i + 1], y[i:i + 1]) for i in range(23)])
    assert G.dtype == torch.float64
    torch.testing.assert_close(G, loop, rtol=0, atol=1e-13)
    torch.testing.assert_close(G.mean(0), flat_grad(net, F.cross_entropy, X, y), rtol=0, atol=1e-13)


def test_chunks_and_sums():
    net = _net()
    X, y = torch.randn(10, 5, dtype=torch.float64), torch.randint(0, 3, (10,))
    chunks = list(iter_per_sample_grads(net, F.cross_entropy, X, y, chunk_size=3))
    assert [c.shape[0] for c in chunks] == [3, 3, 3, 1]
    full = per_sample_grads(net, F.cross_entropy, X, y)
    torch.testing.assert_close(torch.cat(chunks), full)


def test_subset_of_parameters_and_mse():
    net = _net()
    X, Y = torch.randn(8, 5, dtype=torch.float64), torch.randn(8, 3, dtype=torch.float64)
    head = [net[2].weight, net[2].bias]
    G = per_sample_grads(net, F.mse_loss, X, Y, params=head)
    assert G.shape == (8, num_params(net, head)) == (8, 24)
    full = per_sample_grads(net, F.mse_loss, X, Y)
    torch.testing.assert_close(G, full[:, -24:])


def test_functional_loss_keeps_unselected_and_buffers():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).double().eval()
    X, y = torch.randn(6, 4, dtype=torch.float64), torch.randint(0, 2, (6,))
    f = functional_loss(net, F.cross_entropy, params=["2.weight"])
    p = trainable(net, ["2.weight"])
    torch.testing.assert_close(f(p, X, y), F.cross_entropy(net(X), y))
    shifted = {"2.weight": p["2.weight"] + 1.0}
    with torch.no_grad():
        net[2].weight += 1.0
    torch.testing.assert_close(f(shifted, X, y), F.cross_entropy(net(X), y))


def test_unflatten_roundtrip_and_batched():
    net = _net()
    p = trainable(net)
    v = torch.randn(4, num_params(net), dtype=torch.float64)
    parts = unflatten(v, p)
    assert parts["0.weight"].shape == (4, 7, 5)
    torch.testing.assert_close(torch.cat([t.reshape(4, -1) for t in parts.values()], 1), v)
    torch.testing.assert_close(flatten(unflatten(v[0], p)), v[0])


def test_bad_input():
    net = _net()
    X, y = torch.randn(4, 5, dtype=torch.float64), torch.randint(0, 3, (4,))
    with pytest.raises(ValueError, match="training mode"):
        check_functional(nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2)))
    with pytest.raises(ValueError, match="scalar"):
        per_sample_grads(net, lambda o, t: F.cross_entropy(o, t, reduction="none"), X, y)
    with pytest.raises(ValueError, match="no parameter named"):
        trainable(net, ["nope"])
    with pytest.raises(ValueError, match="not a parameter"):
        trainable(net, [torch.zeros(2)])
    with pytest.raises(ValueError, match="no trainable"):
        trainable(net, [])
    with pytest.raises(ValueError, match="entries"):
        unflatten(torch.zeros(3), trainable(net))
    with pytest.raises(ValueError, match="empty"):
        per_sample_grads(net, F.cross_entropy, X[:0], y[:0])
    with pytest.raises(TypeError, match="chunk_size"):
        per_sample_grads(net, F.cross_entropy, X, y, chunk_size=2.5)


def test_dropout_gives_per_example_masks():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 50), nn.Dropout(0.5), nn.Linear(50, 2)).double().train()
    X = torch.randn(1, 5, dtype=torch.float64).repeat(6, 1)
    y = torch.zeros(6, dtype=torch.long)
    G = per_sample_grads(net, F.cross_entropy, X, y)
    assert not torch.allclose(G[0], G[1])  # identical inputs, different dropout masks


@pytest.mark.cuda
def test_cuda():
    net = _net(torch.float32).cuda()
    X, y = torch.randn(9, 5, device="cuda"), torch.randint(0, 3, (9,), device="cuda")
    G = per_sample_grads(net, F.cross_entropy, X, y, chunk_size=4)
    assert G.device.type == "cuda"
    cpu = per_sample_grads(net.cpu(), F.cross_entropy, X.cpu(), y.cpu())
    torch.testing.assert_close(G.cpu(), cpu, rtol=1e-5, atol=1e-6)


def test_flat_grad_checks_X_and_y_like_per_sample_grads():
    from gradnotes.autodiff import flat_grad
    net = torch.nn.Linear(3, 2)
    X, y = torch.randn(6, 3), torch.randint(0, 2, (6,))
    loss = torch.nn.functional.cross_entropy
    with pytest.raises(ValueError, match="same number of examples"):
        flat_grad(net, loss, X, y[:4])
    with pytest.raises(ValueError, match="X contains NaN"):
        flat_grad(net, loss, X * float("nan"), y)
    with pytest.raises(ValueError, match="X must not be empty"):
        flat_grad(net, loss, X[:0], y[:0])
    with pytest.raises(TypeError, match="X must be a torch.Tensor"):
        flat_grad(net, loss, X.tolist(), y)


def test_inputs_must_match_the_model_dtype():
    from gradnotes.autodiff import check_input
    net = torch.nn.Linear(3, 2)
    X, y = torch.randn(6, 3), torch.randint(0, 2, (6,))
    loss = torch.nn.functional.cross_entropy
    for bad in (X.double(), X.half(), X.long(), X.to(torch.complex64)):
        with pytest.raises(TypeError, match="X"):
            flat_grad(net, loss, bad, y)
        with pytest.raises(TypeError, match="X"):
            per_sample_grads(net, loss, bad, y)
    emb = torch.nn.Embedding(5, 2)  # integer inputs are right for an embedding
    assert check_input("X", torch.tensor([[1, 4]]), emb).dtype == torch.int64


def test_saved_bytes_counts_activations_and_backpropagates():
    from gradnotes.autodiff import saved_bytes
    net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
    X = torch.randn(32, 8)
    n = saved_bytes(lambda: net(X).square().mean())
    # at least the input, the hidden pre/post-activations, each 4 bytes a number
    assert n >= 4 * 32 * (8 + 16)
    assert all(p.grad is not None for p in net.parameters())
    with pytest.raises(ValueError, match="scalar"):
        saved_bytes(lambda: net(X))
