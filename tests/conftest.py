import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_addoption(parser):
    parser.addoption(
        "--nb-flags", action="store", default="",
        help="space- or comma-separated notebook flags (from settings.ini's tst_flags) whose cells to run, "
             "e.g. --nb-flags slow; pytest tests marked with a given flag run too",
    )


def nb_flags(config):
    return set(config.getoption("--nb-flags").replace(",", " ").split())


def pytest_collection_modifyitems(config, items):
    try:
        import torch
        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    flags = nb_flags(config)
    skip_cuda = pytest.mark.skip(reason="needs a CUDA device")
    skip_slow = pytest.mark.skip(reason="slow: run with --nb-flags slow")
    for item in items:
        if "cuda" in item.keywords and not has_cuda:
            item.add_marker(skip_cuda)
        if "slow" in item.keywords and "slow" not in flags:
            item.add_marker(skip_slow)


@pytest.fixture
def one_thread():
    "Run a test with one torch thread (tiny tensors: a second thread only adds overhead), then restore."
    from gradnotes.core import torch_threads
    with torch_threads(1):
        yield
