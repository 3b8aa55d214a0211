"""PS-KD under DistributedDataParallel: two CPU processes (gloo), each training on half of
every global batch, all-gather their predictions and sample ids into the prediction memory.
The memory table (and the model) must equal a single process trained on the same global
batches."""
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

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


def _all_gather(t):
    out = [torch.empty_like(t) for _ in range(dist.get_world_size())]
    dist.all_gather(out, t)
    return torch.cat(out)


def _worker(rank, port, path):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    torch.set_num_threads(1)
    try:
        X, y, orders = _data()
        model, crit = DistributedDataParallel(_model()), PSKDLoss(N, C, EPOCHS)
        opt = torch.optim.SGD(model.parameters(), 0.1)
        for epoch, order in enumerate(orders):
            for batch in order.split(BATCH):
                idx = batch.chunk(WORLD)[rank]  # this process's half of the global batch
                logits = model(X[idx])
                loss = crit(logits, y[idx], idx, epoch, store=False)
                # every process stores the predictions of the whole global batch
                crit.memory.store(_all_gather(idx), _all_gather(logits.detach().softmax(1)))
                opt.zero_grad(); loss.backward(); opt.step()  # DDP averages the gradients
        if rank == 0:
            torch.save({"table": crit.memory.table, "seen": crit.memory.seen,
                        "params": [p.detach() for p in model.module.parameters()]}, path)
        else:
            torch.save({"table": crit.memory.table}, path + ".1")
    finally:
        dist.destroy_process_group()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                    reason="needs torch.distributed with gloo")
def test_pskd_memory_under_ddp_equals_single_process(tmp_path):
    path = str(tmp_path / "rank0.pt")
    mp.spawn(_worker, args=(_free_port(), path), nprocs=WORLD, join=True)
    got, other = torch.load(path), torch.load(path + ".1")
    memory, model = _single_process()
    assert bool(got["seen"].all()) and bool(memory.seen.all())
    torch.testing.assert_close(other["table"], got["table"], rtol=0, atol=0)  # ranks agree
    torch.testing.assert_close(got["table"], memory.table, rtol=1e-5, atol=1e-6)
    for p, q in zip(got["params"], model.parameters()):
        torch.testing.assert_close(p, q.detach(), rtol=1e-5, atol=1e-6)
