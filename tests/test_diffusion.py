"""Bad input for the diffusion toolkit: schedules, noising and parameterizations, embeddings."""
import pytest
import torch

from gradnotes.diffusion import (EpsMLP, NoiseSchedule, eps_from_v, eps_from_x0, make_schedule,
                                 q_sample, timestep_embedding, v_from_eps, x0_from_eps,
                                 x0_from_v)

CONVERSIONS = [q_sample, x0_from_eps, eps_from_x0, v_from_eps, eps_from_v, x0_from_v]
X = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
AB = torch.tensor([0.9, 0.5, 0.2, 0.05], dtype=torch.float64)


def test_from_alphas_cumprod_refuses_increasing():
    ab = torch.tensor([0.9, 0.5, 0.6, 0.1], dtype=torch.float64)
    with pytest.raises(ValueError, match="decrease strictly"):
        NoiseSchedule.from_alphas_cumprod(ab)
    with pytest.raises(ValueError, match="decrease strictly"):
        NoiseSchedule.from_alphas_cumprod(torch.tensor([0.5, 0.5]))


@pytest.mark.parametrize("ab, exc, message", [
    (torch.tensor([0.9, 1.2]), ValueError, r"lie in \(0, 1\)"),
    (torch.tensor([0.9, 0.0]), ValueError, r"lie in \(0, 1\)"),
    (torch.tensor([0.9, float("nan")]), ValueError, "contains NaN"),
    (torch.tensor([0.9, 0.5], dtype=torch.cfloat), TypeError, "must be real"),
    (torch.tensor([[0.9, 0.5]]), ValueError, "dimension"),
])
def test_from_alphas_cumprod_refuses_bad_values(ab, exc, message):
    with pytest.raises(exc, match=message):
        NoiseSchedule.from_alphas_cumprod(ab)


def test_from_alphas_cumprod_betas_positive():
    s = NoiseSchedule.from_alphas_cumprod(make_schedule("cosine").alphas_cumprod)
    assert (s.betas > 0).all()


@pytest.mark.parametrize("kwargs, message", [
    (dict(kind="cosine", max_beta=1.0), "max_beta must be < 1"),
    (dict(kind="cosine", max_beta=1.5), "max_beta must be < 1"),
    (dict(kind="cosine", max_beta=0.0), "max_beta must be > 0"),
    (dict(beta_start=0.02, beta_end=1e-4), "beta_start must be <= beta_end"),
    (dict(kind="quadratic", beta_start=0.5, beta_end=0.1), "beta_start must be <= beta_end"),
    (dict(beta_end=1.0), "beta_end must be < 1"),
])
def test_make_schedule_refuses_bad_betas(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_schedule(**kwargs)


@pytest.mark.parametrize("t, dim, exc, message", [
    (torch.tensor([1.0]), 7, ValueError, "dim must be even"),
    (torch.tensor([1.0]), 2.5, TypeError, "dim must be an integer"),
    (torch.tensor([1.0]), True, TypeError, "dim must be an integer"),
    (torch.tensor([1.0]), 0, ValueError, "dim must be >= 2"),
    (torch.tensor([-2.0]), 8, ValueError, "t must be >= -1"),
    (torch.tensor([float("nan")]), 8, ValueError, "t contains NaN"),
    (torch.tensor([1.0], dtype=torch.cfloat), 8, TypeError, "t must be real"),
    (torch.tensor([True]), 8, TypeError, "t must be a tensor of step indices"),
    (torch.tensor([[1.0]]), 8, ValueError, "t must have 1 dimension"),
    ([1.0], 8, TypeError, "t must be a tensor"),
])
def test_timestep_embedding_refuses_bad_input(t, dim, exc, message):
    with pytest.raises(exc, match=message):
        timestep_embedding(t, dim)


def test_timestep_embedding_width_and_clean_step():
    emb = timestep_embedding(torch.tensor([-1.0, 0.0, 0.5, 999.0]), 6)
    assert emb.shape == (4, 6) and torch.isfinite(emb).all()


def test_eps_mlp_odd_time_dim():
    with pytest.raises(ValueError, match="time_dim must be even"):
        EpsMLP(4, time_dim=7)


@pytest.mark.parametrize("fn", CONVERSIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("x, y, ab, exc, message", [
    (X * float("nan"), X, AB, ValueError, "contains NaN"),
    (X, X * float("inf"), AB, ValueError, "contains NaN"),
    (X, X, torch.tensor([0.9, 0.5, 0.2, 1.5], dtype=torch.float64), ValueError, "ab must lie in"),
    (X, X, torch.tensor([0.9, 0.5, 0.2, 0.0], dtype=torch.float64), ValueError, "ab must lie in"),
    (X, X, -0.5, ValueError, "ab must be > 0"),
    (X, X, 1.5, ValueError, "ab must be <"),
    (X, X, float("nan"), ValueError, "ab must be finite"),
    (X, X, AB.to(torch.cdouble), TypeError, "ab must be real"),
    (X.long(), X, AB, TypeError, "floating dtype"),
    (X, X.long(), AB, TypeError, "floating dtype"),
    (X.to(torch.cdouble), X, AB, TypeError, "must be real"),
    (X, X, AB[:2], ValueError, "to match the batch"),
    (X, X[:2], AB, ValueError, "must have shape"),
    (X[0, 0], X[0, 0], AB, ValueError, "to match the batch"),
])
def test_conversions_refuse_bad_input(fn, x, y, ab, exc, message):
    with pytest.raises(exc, match=message):
        fn(x, ab, y) if fn is q_sample else fn(x, y, ab)


def test_eps_from_x0_needs_noise():
    with pytest.raises(ValueError, match="ab must be < 1"):
        eps_from_x0(X, X, 1.0)
    assert torch.isfinite(x0_from_eps(X, X, 1.0)).all()  # clean data: x0 = x_t


def test_conversions_round_trip_with_checks():
    eps = torch.randn(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    xt = q_sample(X, AB, eps)
    torch.testing.assert_close(x0_from_eps(xt, eps, AB), X)
    torch.testing.assert_close(eps_from_v(xt, v_from_eps(xt, eps, AB), AB), eps)
    torch.testing.assert_close(x0_from_v(xt, v_from_eps(xt, eps, AB), AB), X)
    torch.testing.assert_close(q_sample(X, 0.5, eps), q_sample(X, torch.full((4,), 0.5), eps))


def test_training_and_metric_arguments_are_checked():
    from gradnotes.diffusion import frechet_distance, make_schedule, train_denoiser
    a = torch.randn(5, 3, dtype=torch.float64)
    with pytest.raises(TypeError, match="b must have a floating dtype"):
        frechet_distance(a, a.long())
    net = torch.nn.Linear(3, 3)
    with pytest.raises(ValueError, match="save_every"):
        train_denoiser(net, torch.randn(8, 3), make_schedule("linear", 10), steps=1,
                       save_every=0)


# class-conditional mixtures and classifier-free guidance
from gradnotes.diffusion import ClassConditionalMixture, classifier_free_guidance  # noqa: E402

CCM = ClassConditionalMixture(torch.tensor([[-2.0, 0.0], [2.0, 0.0], [0.0, 2.0]]),
                              torch.tensor([0, 0, 1]), var=0.2)


@pytest.mark.parametrize("kwargs, exc, message", [
    (dict(labels=torch.tensor([0, 2, 2])), ValueError, r"missing \[1\]"),
    (dict(labels=torch.tensor([0, -1, 1])), ValueError, "labels must be >= 0"),
    (dict(labels=torch.tensor([0.0, 1.0, 1.0])), TypeError, "labels"),
    (dict(labels=torch.tensor([0, 1])), ValueError, "labels must have shape"),
    (dict(labels=torch.tensor([0, 1, 1]), weights=torch.tensor([0.0, 0.5, 0.5])), ValueError,
     "every class a positive"),
])
def test_class_conditional_mixture_refuses(kwargs, exc, message):
    with pytest.raises(exc, match=message):
        ClassConditionalMixture(torch.zeros(3, 2), **kwargs)


@pytest.mark.parametrize("y, message", [
    (torch.tensor([0, 2]), r"y must lie in \[0, 1\]"),
    (torch.tensor([0, 1, 1]), "one per sample"),
    (torch.tensor([0.0, 1.0]), "y must have an integer dtype"),
])
def test_class_conditional_eps_refuses_bad_labels(y, message):
    with pytest.raises((ValueError, TypeError), match=message):
        CCM.eps(torch.zeros(2, 2, dtype=torch.float64), 0.5, y)


def test_class_conditional_eps_one_label_broadcasts():
    x = torch.randn(5, 2, dtype=torch.float64)
    torch.testing.assert_close(CCM.eps(x, 0.3, torch.tensor(1)), CCM.classes[1].eps(x, 0.3))
    torch.testing.assert_close(CCM.eps(x, 0.3), CCM.joint.eps(x, 0.3))


def test_class_conditional_model_matches_eps():
    sched = make_schedule(T=50)
    x, t, y = torch.randn(4, 2, dtype=torch.float64), torch.tensor([0, 10, 30, 49]), torch.tensor([0, 1, 1, 0])
    ab = sched.alpha_bar(t)
    torch.testing.assert_close(CCM.model(sched)(x, t, y), CCM.eps(x, ab, y))
    torch.testing.assert_close(CCM.model(sched)(x, t), CCM.eps(x, ab))


@pytest.mark.parametrize("args, exc, message", [
    ((torch.zeros(2, 2), torch.zeros(2, 2), -0.5), ValueError, "scale must be >= 0"),
    ((torch.zeros(2, 2), torch.zeros(2, 2), float("nan")), ValueError, "scale"),
    ((torch.zeros(2, 2), torch.zeros(2, 3), 1.0), ValueError, "eps_cond must have shape"),
    ((torch.zeros(2, 2), torch.full((2, 2), float("inf")), 1.0), ValueError, "eps_cond contains NaN"),
    ((torch.zeros(2, 2, dtype=torch.long), torch.zeros(2, 2), 1.0), TypeError, "eps_uncond"),
])
def test_classifier_free_guidance_refuses(args, exc, message):
    with pytest.raises(exc, match=message):
        classifier_free_guidance(*args)


def test_alpha_bar_reads_steps_of_any_shape():
    from gradnotes.diffusion import NoiseSchedule
    s = NoiseSchedule.from_alphas_cumprod(torch.linspace(0.99, 0.1, 10, dtype=torch.float64))
    t = torch.tensor([[0, 3], [9, -1]])
    out = s.alpha_bar(t)
    assert out.shape == t.shape and torch.equal(out.flatten(), s.alpha_bar(t.flatten()))
