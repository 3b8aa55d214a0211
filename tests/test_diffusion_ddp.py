"""train_denoiser with a process group: two CPU processes (gloo) each compute the loss on
their half of every global batch and all-reduce the gradients. The trained model, the loss
history and the checkpoint must equal one process trained on the same global batches."""
import pytest
import torch
import torch.distributed as dist

from gloo import needs_gloo, run_gloo
from gradnotes.diffusion import CondUNet, EpsMLP, make_schedule, train_denoiser

WORLD, STEPS, BATCH = 2, 6, 12


def _data():  # float64: Adam's normalized steps would magnify float32 round-off
    g = torch.Generator().manual_seed(0)
    return torch.randn(40, 1, 4, 4, generator=g, dtype=torch.float64), torch.arange(40) % 3


def _model(kind, seed):
    torch.manual_seed(seed)
    if kind == "unet":
        return CondUNet(3, channels=(8, 8), emb_dim=8).double()
    return EpsMLP(16, hidden=16, depth=1, time_dim=8).double()


def _train(kind, model, group=None, checkpoint=None):
    X, y = _data()
    if kind == "mlp":
        X, y = X.reshape(len(X), -1), None
    return train_denoiser(model, X, make_schedule("linear", T=50), steps=STEPS,
                          batch_size=BATCH, lr=1e-2, seed=3, y=y, group=group,
                          checkpoint=checkpoint)


def _worker(rank, world, kind, out):
    # rank 1 starts from other weights: train_denoiser starts every rank from rank 0's
    model = _model(kind, seed=rank)
    losses = _train(kind, model, dist.group.WORLD, out + ".ckpt")
    return {"losses": losses, "params": [p.detach() for p in model.parameters()]}


@needs_gloo
@pytest.mark.parametrize("kind", ["unet", "mlp"])
def test_two_processes_equal_one(kind, tmp_path):
    out = str(tmp_path / "run")
    r0, r1 = run_gloo(_worker, kind, out, world=WORLD)
    model = _model(kind, seed=0)
    with torch.random.fork_rng():
        torch.set_num_threads(1)
        losses = _train(kind, model)
    for p, q in zip(r0["params"], r1["params"]):  # the ranks agree exactly
        torch.testing.assert_close(p, q, rtol=0, atol=0)
    for p, q in zip(r0["params"], model.parameters()):
        torch.testing.assert_close(p, q.detach(), rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(torch.tensor(r0["losses"]), torch.tensor(losses),
                               rtol=1e-9, atol=1e-10)
    assert r0["losses"] == r1["losses"]
    state = torch.load(out + ".ckpt", weights_only=False)  # written once, by rank 0
    assert state["step"] == STEPS


def test_batch_must_cover_the_ranks():
    class G:  # a stand-in group of 4 ranks is refused before any communication
        pass

    with pytest.raises((ValueError, TypeError), match="group|batch_size"):
        train_denoiser(_model("mlp", 0), torch.randn(8, 16), make_schedule(T=10), steps=1,
                       batch_size=2, group=G())
