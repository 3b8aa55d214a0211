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


# --- the amortised flow network ---
from gradnotes.sd_viton import (FlowNet, TryOnFit, apply_flow_net, person_condition,  # noqa: E402
                                train_flow_net)
from gradnotes.sd_viton import _terms  # noqa: E402


def _net_inputs(n=2, h=32, w=24, seed=0):
    g = make_garments(n=n, h=h, w=w, seed=seed)
    return g, (g.cloth, g.cloth_mask, person_condition(g))


@pytest.mark.parametrize("n_levels", [1, 3])
def test_flow_net_output_shapes(n_levels, one_thread):
    g, x = _net_inputs()
    for taco in (True, False):
        res, t = FlowNet(n_levels, width=4, taco=taco)(*x)
        assert [tuple(r.shape) for r in res] == [(2, 2, 32 >> k, 24 >> k)
                                                 for k in range(n_levels - 1, -1, -1)]
        assert t.shape == (2, 3, 32, 24)


def test_flow_net_starts_at_the_identity_warp(one_thread):
    "Zero heads: every residual and TACO's (dx, dy) are exactly 0 and z exactly -1."
    g, x = _net_inputs()
    for taco, method in ((True, "sd"), (False, "cascade")):
        torch.manual_seed(3)
        res, t = FlowNet(3, width=4, taco=taco)(*x)
        assert all(float(r.abs().max()) == 0.0 for r in res)
        assert float(t[:, :2].abs().max()) == 0.0 and bool((t[:, 2] == -1).all())
        terms = _terms(g, res, t, method, 3)
        assert float(terms["flow"].detach().abs().max()) == 0.0
        torch.testing.assert_close(terms["out"].detach(), g.cloth, atol=1e-5, rtol=0)


def test_train_flow_net_learns_is_seeded_and_applies(one_thread):
    g = make_garments(n=4, h=32, w=24, seed=5)
    a = train_flow_net(g, "sd", steps=8, batch=2, n_levels=3, width=4, seed=1)
    b = train_flow_net(g, "sd", steps=8, batch=2, n_levels=3, width=4, seed=1)
    assert a.losses == b.losses and a.losses[-1] < a.losses[0]
    held = make_garments(n=2, h=32, w=24, seed=6)
    for net in (a, train_flow_net(g, "cascade", steps=3, batch=2, n_levels=3, width=4)):
        r = apply_flow_net(net, held)
        assert isinstance(r, TryOnFit) and r.flow.shape == (2, 2, 32, 24)
        assert r.warped.shape == r.warped_mask.shape == (2, 1, 32, 24)
        assert torch.isfinite(r.cosine).all() and not r.flow.requires_grad


def test_flow_net_bad_input_names_the_argument():
    g, (c, m, k) = _net_inputs()
    net = FlowNet(3, width=4)
    with pytest.raises(ValueError, match="n_levels"): FlowNet(0)
    with pytest.raises(TypeError, match="taco"): FlowNet(taco=1)
    with pytest.raises(ValueError, match="cloth"): net(c[..., :30, :], m[..., :30, :],
                                                       k[..., :30, :])
    with pytest.raises(TypeError, match="cloth"): net(c.double(), m, k)
    with pytest.raises(ValueError, match="cloth"): net(c * float("nan"), m, k)
    with pytest.raises(ValueError, match="cloth_mask"): net(c, 0 * m, k)
    with pytest.raises(ValueError, match="cond"): net(c, m, k[:, :1])
    with pytest.raises(ValueError, match="method"): train_flow_net(g, "x")
    with pytest.raises(ValueError, match="batch"): train_flow_net(g, batch=0)
    with pytest.raises(TypeError, match="net"): apply_flow_net(torch.nn.Linear(2, 2), g)


@pytest.mark.cuda
def test_flow_net_cuda_matches_cpu():
    g, x = _net_inputs()
    torch.manual_seed(0)
    net = FlowNet(3, width=4)
    for p in net.parameters():  # non-zero heads, so the flows are not trivially zero
        torch.nn.init.normal_(p, std=0.05)
    cpu = net(*x)
    cu = net.cuda()(*(v.cuda() for v in x))
    for a, b in zip(cpu[0] + [cpu[1]], cu[0] + [cu[1]]):
        torch.testing.assert_close(b.cpu(), a, atol=1e-4, rtol=1e-4)
