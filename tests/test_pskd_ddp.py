"""PS-KD under DistributedDataParallel: two CPU processes (gloo), each training on half of
every global batch, all-gather their predictions and sample ids into the prediction memory.
The memory table (and the model) must equal a single process trained on the same global
batches."""
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from gloo import needs_gloo, run_gloo
from gradnotes.core import all_gather_rows
from gradnotes.pskd import PSKDLoss
from gradnotes.training import MLP

N, D, C, BATCH, EPOCHS, WORLD = 48, 10, 3, 16, 3, 2


def _data():
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(N, D, generator=g), torch.randint(0, C, (N,), generator=g)
    orders = [torch.randperm(N, generator=g) for _ in range(EPOCHS)]  # the global batches
    return X, y, orders


def _model():
    torch.manual_seed(0)
    return MLP([D, 16, C])


def _single_process():
    X, y, orders = _data()
    model, crit = _model(), PSKDLoss(N, C, EPOCHS)
    opt = torch.optim.SGD(model.parameters(), 0.1)
    for epoch, order in enumerate(orders):
        for idx in order.split(BATCH):
            loss = crit(model(X[idx]), y[idx], idx, epoch)  # stores this batch's predictions
            opt.zero_grad(); loss.backward(); opt.step()
    return crit.memory, model


def _worker(rank, world):
    X, y, orders = _data()
    model, crit = DistributedDataParallel(_model()), PSKDLoss(N, C, EPOCHS)
    opt = torch.optim.SGD(model.parameters(), 0.1)
    for epoch, order in enumerate(orders):
        for batch in order.split(BATCH):
            idx = batch.chunk(world)[rank]  # this process's half of the global batch
            logits = model(X[idx])
            loss = crit(logits, y[idx], idx, epoch, store=False)
            # every process stores the predictions of the whole global batch
            group = dist.group.WORLD
            crit.memory.store(all_gather_rows(idx, group),
                              all_gather_rows(logits.detach().softmax(1), group))
            opt.zero_grad(); loss.backward(); opt.step()  # DDP averages the gradients
    return {"table": crit.memory.table, "seen": crit.memory.seen,
            "params": [p.detach() for p in model.module.parameters()]}


@needs_gloo
def test_pskd_memory_under_ddp_equals_single_process():
    got, other = run_gloo(_worker, world=WORLD)
    memory, model = _single_process()
    assert bool(got["seen"].all()) and bool(memory.seen.all())
    torch.testing.assert_close(other["table"], got["table"], rtol=0, atol=0)  # ranks agree
    torch.testing.assert_close(got["table"], memory.table, rtol=1e-5, atol=1e-6)
    for p, q in zip(got["params"], model.parameters()):
        torch.testing.assert_close(p, q.detach(), rtol=1e-5, atol=1e-6)
