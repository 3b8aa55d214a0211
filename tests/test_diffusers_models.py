"""A diffusers model runs through gradnotes' sampler in the dev environment.

`UNet2DModel` imports only when torchvision is absent or matches the installed torch (a
torchvision built for another torch fails at import with `operator torchvision::nms does not
exist`); the Makefile removes such a torchvision after installing the peers.
"""
import pytest
import torch

from gradnotes.diffusion import make_schedule
from gradnotes.pndm import sample


def test_unet2dmodel_imports_and_samples(one_thread):
    from diffusers import DDIMScheduler, UNet2DModel  # must import: no importorskip here
    torch.manual_seed(0)
    unet = UNet2DModel(sample_size=8, in_channels=1, out_channels=1, layers_per_block=1,
                       block_out_channels=(8, 16), norm_num_groups=4,
                       down_block_types=("DownBlock2D", "DownBlock2D"),
                       up_block_types=("UpBlock2D", "UpBlock2D")).eval()
    sched = DDIMScheduler(num_train_timesteps=100, beta_schedule="linear",
                          set_alpha_to_one=True, steps_offset=0, clip_sample=False)
    ours = make_schedule("linear", T=100)
    torch.testing.assert_close(ours.alphas_cumprod.float(), sched.alphas_cumprod, rtol=1e-5, atol=1e-6)

    def eps(x, t): return unet(x, t).sample

    x = torch.randn(2, 1, 8, 8)
    with torch.no_grad():
        got, nfe = sample(eps, x.clone(), ours, num_steps=10, method="ddim", return_nfe=True)
        sched.set_timesteps(10)
        ref = x.clone()
        for t in sched.timesteps:
            ref = sched.step(unet(ref, t.expand(2)).sample, t, ref, eta=0.0).prev_sample
    assert nfe == 10 and got.shape == x.shape and torch.isfinite(got).all()
    torch.testing.assert_close(got.float(), ref, rtol=1e-4, atol=1e-4)
