"""gradnotes.sd_viton: warps against explicit interpolation, composition, Jacobians, bad input."""
import math

import pytest
import torch

from gradnotes.sd_viton import (affine_flow, compose_flows, fit_flows, fold_fraction,
                                identity_grid, jacobian_det, make_garments, mask_iou,
                                stripe_period, tv_loss, warp, z_distance_loss, z_erase_warp)


def _theta():
    return torch.tensor([[0.92, 0.08, 0.04], [-0.06, 1.07, -0.03]], dtype=torch.float64)


@pytest.mark.parametrize("shape", [(1, 1, 5, 7), (3, 2, 16, 12)])
def test_identity_flow_returns_input(shape):
    x = torch.rand(*shape, dtype=torch.float64)
    torch.testing.assert_close(warp(x, torch.zeros(shape[0], 2, *shape[2:], dtype=x.dtype)), x)


def test_warp_matches_explicit_bilinear():
    "A constant sub-pixel shift equals the explicit two-tap bilinear blend (interior)."
    x = torch.rand(1, 1, 9, 11, dtype=torch.float64)
    a = 0.3  # pixels to the right
    flow = torch.zeros(1, 2, 9, 11, dtype=x.dtype)
    flow[:, 0] = a * 2 / 10
    ref = (1 - a) * x[..., :-1] + a * x[..., 1:]
    torch.testing.assert_close(warp(x, flow)[..., :-1], ref)


def test_known_warp_and_inverse_compose_to_identity():
    th = _theta()
    inv = torch.linalg.inv(torch.cat((th, torch.tensor([[0., 0., 1.]], dtype=th.dtype))))[:2]
    f, fi = affine_flow(th, 40, 30), affine_flow(inv, 40, 30)
    c = compose_flows(f, fi)
    assert c[..., 5:-5, 5:-5].abs().max() < 1e-6
    gx, gy = identity_grid(40, 30, dtype=th.dtype)
    x = (torch.sin(3 * gx) * torch.cos(2 * gy))[None, None]  # smooth, so bilinear is exact-ish
    back = warp(warp(x, f), fi)
    inner = (slice(None), slice(None), slice(6, -6), slice(6, -6))
    torch.testing.assert_close(back[inner], x[inner], atol=2e-2, rtol=0)
    torch.testing.assert_close(back[inner], warp(x, c)[inner], atol=2e-2, rtol=0)


def test_affine_jacobian_is_det_A():
    th = _theta()
    d = jacobian_det(affine_flow(th, 12, 9))
    torch.testing.assert_close(d, torch.full_like(d, float(torch.det(th[:, :2]))))


def test_tv_zero_for_constant_and_positive_otherwise():
    f = torch.full((1, 2, 6, 6), 0.3)
    assert float(tv_loss(f)) == 0.0
    assert float(tv_loss(affine_flow(_theta().float(), 6, 6))) > 0


def test_folds_are_reported():
    mirror = torch.tensor([[-1.0, 0, 0], [0, 1, 0]])  # x -> -x: a fold everywhere
    assert float(fold_fraction(affine_flow(mirror, 8, 8))) == 1.0
    assert float(fold_fraction(affine_flow(_theta().float(), 8, 8))) == 0.0
    m = torch.zeros(1, 1, 8, 8); m[..., :4] = 1
    f = torch.zeros(1, 2, 8, 8); f[0, 0, :, 4:] = -2 * identity_grid(8, 8)[0, :, 4:]
    assert float(fold_fraction(f, m)) == 0.0  # the fold lies outside the mask
    assert float(fold_fraction(f)) > 0.3


def test_z_erasing_equals_mask_blending():
    x = torch.rand(2, 3, 7, 5, dtype=torch.float64)
    keep = (torch.rand(2, 1, 7, 5) > 0.4).double()
    flow3 = torch.cat((torch.zeros(2, 2, 7, 5, dtype=x.dtype), 1 - 2 * keep), 1)
    torch.testing.assert_close(z_erase_warp(x, flow3), x * keep)
    assert float(z_distance_loss(1 - 2 * keep, keep)) == 0.0
    assert float(z_distance_loss(-1 + 0 * keep, keep)) > 0


def test_generated_garments_match_their_true_warp():
    g = make_garments(n=2, seed=1)
    inside = g.target_mask > 0.5
    err = (warp(g.cloth, g.gt_flow) - g.target)[inside].abs()
    assert float(err.median()) < 0.05
    assert float(g.sleeve_mask.sum()) > 0 and bool((g.sleeve_mask <= g.target_mask).all())


def test_stripe_period_reads_a_known_period():
    y = torch.arange(40.0)[:, None].expand(40, 30)
    img = torch.sin(2 * math.pi * y / 5.0)
    assert abs(stripe_period(img, torch.ones(40, 30)) - 5.0) < 0.3


def test_fit_flows_runs_and_improves():
    g = make_garments(n=1, seed=0, h=32, w=24)
    for method in ("cascade", "sd"):
        r = fit_flows(g, method, steps=15, n_levels=3)
        assert r.losses[-1] < r.losses[0]
        assert r.flow.shape == (1, 2, 32, 24) and torch.isfinite(r.cosine).all()


def test_bad_input_names_the_argument():
    x = torch.rand(1, 1, 8, 6)
    with pytest.raises(ValueError, match="flow"): warp(x, torch.zeros(1, 2, 8, 5))
    with pytest.raises(ValueError, match="x"): warp(x * float("inf"), torch.zeros(1, 2, 8, 6))
    with pytest.raises(ValueError, match="target"): mask_iou(x, torch.zeros(1, 1, 8, 6))
    with pytest.raises(ValueError, match="pred"): mask_iou(x, torch.ones(1, 1, 8, 5))
    with pytest.raises(ValueError, match="roi"): z_distance_loss(x, 2 * torch.ones(1, 1, 8, 6))
    with pytest.raises(ValueError, match="mask"): fold_fraction(torch.zeros(1, 2, 8, 6),
                                                                torch.zeros(1, 1, 8, 6))
    with pytest.raises(ValueError, match="flow3"): z_erase_warp(x, torch.zeros(1, 2, 8, 6))
    with pytest.raises(ValueError, match="method"): fit_flows(make_garments(1, 32, 24), "x")
    with pytest.raises(ValueError, match="texture"): make_garments(texture="dots")
    with pytest.raises(ValueError, match="mask"): stripe_period(x[0, 0], torch.zeros(8, 6))


@pytest.mark.cuda
def test_cuda_matches_cpu():
    "Warps, composition, z-erasing and the Jacobian follow the input to CUDA and agree with CPU."
    x = torch.rand(2, 3, 16, 12, dtype=torch.float64)
    f1, f2 = (0.05 * torch.randn(2, 2, 16, 12, dtype=x.dtype) for _ in range(2))
    z = torch.cat((f1, torch.rand(2, 1, 16, 12, dtype=x.dtype) * 2 - 1), 1)
    cpu = (warp(x, compose_flows(f1, f2)), z_erase_warp(x, z), jacobian_det(f1))
    cu = (warp(x.cuda(), compose_flows(f1.cuda(), f2.cuda())), z_erase_warp(x.cuda(), z.cuda()),
          jacobian_det(f1.cuda()))
    for a, b in zip(cpu, cu):
        assert b.device.type == "cuda"
        torch.testing.assert_close(b.cpu(), a)
