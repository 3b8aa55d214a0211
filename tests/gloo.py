"""Run a function on a few CPU processes joined in a gloo process group: the shared harness
of the distributed tests, which compare a multi-process run against one process."""
import os
import socket
import tempfile
import time
from datetime import timedelta

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def gloo_available() -> bool:
    return dist.is_available() and dist.is_gloo_available()


needs_gloo = pytest.mark.skipif(not gloo_available(), reason="needs torch.distributed with gloo")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _entry(rank, world, port, fn, args, folder):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=timedelta(seconds=60))
    try:
        out = fn(rank, world, *args)
        torch.save(out, os.path.join(folder, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def run_gloo(fn, *args, world: int = 2, timeout: float = 120) -> list:
    """Call `fn(rank, world, *args)` in `world` spawned processes inside one gloo group
    (`dist.group.WORLD`); return what each rank returned, in rank order. `fn` must be a
    module-level function (spawn pickles it by name)."""
    with tempfile.TemporaryDirectory() as folder:
        ctx = mp.start_processes(_entry, args=(world, _free_port(), fn, args, folder),
                                 nprocs=world, join=False, start_method="spawn")
        start = time.time()
        while not ctx.join(timeout=2):
            if time.time() - start > timeout:
                for p in ctx.processes:
                    if p.is_alive():
                        p.terminate()
                pytest.fail(f"the {world} gloo processes did not finish in {timeout} s")
        return [torch.load(os.path.join(folder, f"rank{r}.pt"), weights_only=False)
                for r in range(world)]
