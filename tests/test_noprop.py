"""NoProp-DT: schedule algebra (against diffusers), per-block independence, determinism, bad input."""
import pytest
import torch

from gradnotes.core import seed_everything
from gradnotes.data import digits
from gradnotes.noprop import (NoPropDT, fit_noprop, noprop_accuracy, noprop_schedule,
                              posterior_coefficients, snr)


def test_schedule_monotone_and_identities():
    for T in (1, 3, 10, 50):
        ab = noprop_schedule(T)
        assert ab.shape == (T + 1,) and ((ab > 0) & (ab < 1)).all()
        assert (snr(ab).diff() > 0).all()
        a, b, c = posterior_coefficients(ab)
        torch.testing.assert_close(a + b * ab[:-1].sqrt(), ab[1:].sqrt(), rtol=0, atol=1e-12)
        torch.testing.assert_close(b**2 * (1 - ab[:-1]) + c, 1 - ab[1:], rtol=0, atol=1e-12)
        assert (c > 0).all()


def test_schedule_against_diffusers():
    diffusers = pytest.importorskip("diffusers")
    T = 10
    sch = diffusers.DDPMScheduler(num_train_timesteps=T + 1, beta_schedule="squaredcos_cap_v2")
    ab = noprop_schedule(T)
    ref = sch.alphas_cumprod.double().flip(0)
    torch.testing.assert_close(ab, ref, rtol=0, atol=1e-6)
    a, b, c = posterior_coefficients(ab)
    for t in range(1, T + 1):
        s = T - t + 1   # diffusers' step from x_s (our z_{t-1}) to x_{s-1} (our z_t)
        prod_t, prod_prev = sch.alphas_cumprod[s].double(), sch.alphas_cumprod[s - 1].double()
        cur_alpha = prod_t / prod_prev
        x0_coeff = prod_prev.sqrt() * (1 - cur_alpha) / (1 - prod_t)
        xt_coeff = cur_alpha.sqrt() * (1 - prod_prev) / (1 - prod_t)
        assert abs(a[t - 1] - x0_coeff) < 1e-6 and abs(b[t - 1] - xt_coeff) < 1e-6
        assert abs(c[t - 1] - sch._get_variance(s).double()) < 1e-6


def _leaks(model, t):
    "Parameters outside block t (head included) that block t's loss reaches."
    x, y = torch.randn(6, model.n_features), torch.randint(0, model.n_classes, (6,))
    loss = model.block_loss(t, x, y)
    others = [p for k, blk in enumerate(model.blocks) if k != t - 1 for p in blk.parameters()]
    others += list(model.head.parameters())
    grads = torch.autograd.grad(loss, others, allow_unused=True)
    own = torch.autograd.grad(model.block_loss(t, x, y), list(model.blocks[t - 1].parameters()))
    assert all(g.abs().sum() > 0 for g in own)
    return sum(g is not None and bool(g.abs().sum() > 0) for g in grads)


class _Coupled(NoPropDT):
    "A deliberately wrong variant: block t reads block t-1's output (gradient flows between)."
    def denoise(self, t, x, z):
        if t > 1: z = z + super().denoise(t - 1, x, z)
        return super().denoise(t, x, z)


def test_blocks_independent():
    torch.manual_seed(0)
    m = NoPropDT(7, 4, T=5, hidden=8)
    assert all(_leaks(m, t) == 0 for t in range(1, 6))
    torch.manual_seed(0)
    assert _leaks(_Coupled(7, 4, T=5, hidden=8), 3) > 0   # the check can fail


def test_shapes_and_determinism():
    sp = digits(seed=0)
    runs = []
    for _ in range(2):
        seed_everything(0)
        runs.append(fit_noprop(NoPropDT(64, 10, T=2, hidden=16), sp, epochs=1, seed=5))
    (m1, h1), (m2, h2) = runs
    assert h1.train_loss == h2.train_loss and h1.test_acc == h2.test_acc
    g = lambda: torch.Generator().manual_seed(1)
    logits, path = m1(sp.X_test[:9], generator=g(), return_path=True)
    assert logits.shape == (9, 10) and len(path) == 3 and path[-1].shape == (9, 10)
    torch.testing.assert_close(m1.predict(sp.X_test, generator=g()),
                               m2.predict(sp.X_test, generator=g()))
    assert m1.predict(sp.X_test[:4], noise=False).dtype == torch.int64
    assert 0 <= noprop_accuracy(m1, sp.X_test, sp.y_test) <= 1


def test_fixed_onehot_embedding_is_a_buffer():
    m = NoPropDT(5, 3, embed="onehot")
    assert "W_embed" not in dict(m.named_parameters())
    assert "W_embed" in dict(m.named_buffers())
    assert "W_embed" in dict(NoPropDT(5, 3).named_parameters())


def test_bad_input():
    m = NoPropDT(5, 3, T=2, hidden=4)
    x, y = torch.randn(4, 5), torch.tensor([0, 1, 2, 0])
    with pytest.raises(ValueError, match="T must be"): NoPropDT(5, 3, T=0)
    with pytest.raises(ValueError, match="n_classes"): NoPropDT(5, 1)
    with pytest.raises(ValueError, match="eta"): NoPropDT(5, 3, eta=0)
    with pytest.raises(ValueError, match="embed must be one of"): NoPropDT(5, 3, embed="x")
    with pytest.raises(ValueError, match="x must have shape"): m.predict(torch.randn(4, 6))
    with pytest.raises(ValueError, match="y must have shape"): m.block_loss(1, x, y[:3])
    with pytest.raises(ValueError, match=r"y must lie in \[0, 2\]"):
        m.block_loss(1, x, torch.tensor([0, 1, 3, 0]))
    with pytest.raises(ValueError, match=r"y must lie"): m.block_loss(1, x, -y - 1)
    with pytest.raises(TypeError, match="y must hold integer"): m.block_loss(1, x, y.float())
    with pytest.raises(ValueError, match="NaN"): m.predict(x.masked_fill(x > 1, float("inf")))
    with pytest.raises(ValueError, match="t must be"): m.block_loss(3, x, y)
    with pytest.raises(TypeError, match="x must have a floating"): m.predict(x.long())
    with pytest.raises(ValueError, match="T must be"): noprop_schedule(0)
    with pytest.raises(ValueError, match="abar"): posterior_coefficients(torch.ones(1).double())
    sp = digits(seed=0)
    with pytest.raises(ValueError, match="epochs"): fit_noprop(NoPropDT(64, 10), sp, epochs=0)
    with pytest.raises(ValueError, match="x must have shape"): fit_noprop(m, sp, epochs=1)


def test_device_mismatch_is_reported():
    m = NoPropDT(5, 3, T=2, hidden=4).to("meta")   # the model elsewhere than x
    with pytest.raises(ValueError, match="x is on cpu but the model is on meta"):
        m.predict(torch.randn(2, 5))


@pytest.mark.cuda
def test_cuda_fit_and_predict():
    sp = digits(seed=0).to("cuda")
    seed_everything(0)
    m, h = fit_noprop(NoPropDT(64, 10, T=3, hidden=32), sp, epochs=2)
    assert m.W_embed.device.type == "cuda" and h.test_acc > 0.3
    g = torch.Generator("cuda").manual_seed(0)
    assert m.predict(sp.X_test, generator=g).device.type == "cuda"


def test_schedule_helpers_and_training_arguments_are_checked():
    from gradnotes.noprop import noprop_schedule, posterior_coefficients, snr
    abar = noprop_schedule(3)
    with pytest.raises(ValueError, match=r"abar must lie in \[0, 1\)"):
        snr(torch.tensor([0.5, 1.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="abar must increase"):
        posterior_coefficients(abar.flip(0))
    with pytest.raises(ValueError, match=r"abar must lie in \[0, 1\]"):
        posterior_coefficients(torch.tensor([0.1, 1.5], dtype=torch.float64))
