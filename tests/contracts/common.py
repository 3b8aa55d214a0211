"""Small, fast building blocks shared by the spec files."""
import torch
import torch.nn.functional as F
from torch import nn


def tiny_model(d_in: int = 3, d_out: int = 2, seed: int = 0, dtype=torch.float32) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d_in, 4), nn.Tanh(), nn.Linear(4, d_out)).to(dtype)


def classification(n: int = 8, d: int = 3, k: int = 2, seed: int = 0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=dtype)
    y = torch.arange(n) % k
    return X, y


def model_data(n: int = 8, d: int = 3, k: int = 2, dtype=torch.float32) -> dict:
    X, y = classification(n, d, k, dtype=dtype)
    return dict(model=tiny_model(d, k, dtype=dtype), loss_fn=F.cross_entropy, X=X, y=y)


def spd(n: int = 4, seed: int = 0, dtype=torch.float64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(n, n, generator=g, dtype=dtype)
    return A @ A.T + n * torch.eye(n, dtype=dtype)


def tiny_split(n: int = 12, d: int = 3, k: int = 2):
    from gradnotes.data import Split
    X, y = classification(n + 8, d, k)
    return Split(X[:n], y[:n], X[n:n + 4], y[n:n + 4], X[n + 4:], y[n + 4:], name="tiny")


def optimizer_run(cls, a: dict, steps: int = 2, **fixed):
    "Build `cls` over one parameter `a['p']` (gradient `a['g']`, cast to its shape and dtype) and take steps."
    p = a["p"].detach()
    if p.is_floating_point() or p.is_complex(): p.requires_grad_(True)
    g = a["g"] if a["g"].shape == p.shape else torch.ones(p.shape)
    hyper = {k: v for k, v in a.items() if k not in ("p", "g")}
    opt = cls([p], **hyper, **fixed)
    for _ in range(steps):
        p.grad = g.to(p.dtype)
        opt.step()
    return p.detach()
