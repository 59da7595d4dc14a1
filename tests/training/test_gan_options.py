"""--loss (bce, hinge, wgan-gp), --r1, --n-critic, --lr-g/--lr-d: three whole training steps equal a
PyTorch training loop written here from the papers' definitions (float64, same weights, batches and
noise); resume with --n-critic stays bit-exact; --cuda-graph runs them as eager mode does. (Bad
values: test_cli_inputs.py.)"""
import dataclasses

import numpy
import pytest

from minigan import Tensor, backend, data
from minigan.optim import Adam
from minigan.training import Config, Trainer, main
from nn.test_models import torch_discriminator, torch_generator
from support.device_reads import TINY as GRAPH_TINY

from .test_trainer import assert_resume_is_bit_exact, tiny_config

torch = pytest.importorskip("torch", reason="PyTorch is the test oracle: pip install torch==2.13.0")
TF = torch.nn.functional


def torch_losses(loss):
    """(D's loss, G's loss) on logits: DCGAN's non-saturating BCE, or SNGAN's hinge (Miyato et al.)."""
    if loss == "bce":
        return (lambda real, fake: TF.binary_cross_entropy_with_logits(real, torch.ones_like(real))
                + TF.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)),
                lambda fake: TF.binary_cross_entropy_with_logits(fake, torch.ones_like(fake)))
    if loss == "hinge":
        return (lambda real, fake: TF.relu(1 - real).mean() + TF.relu(1 + fake).mean(),
                lambda fake: -fake.mean())
    return lambda real, fake: fake.mean() - real.mean(), lambda fake: -fake.mean()


def squared_gradient_norms(D, x):
    g, = torch.autograd.grad(D.main(x).sum(), x, create_graph=True)
    return g.pow(2).sum((1, 2, 3))


def gradient_penalty(D, real, fake, e, weight):
    """Gulrajani et al.: at x_hat = e x + (1 - e) G(z), weight * E[(|grad D(x_hat)| - 1)^2]."""
    x_hat = (e * real + (1 - e) * fake.detach()).requires_grad_(True)
    return weight * ((squared_gradient_norms(D, x_hat).sqrt() - 1) ** 2).mean()


def r1_penalty(D, real, gamma, every, d_update):
    """Mescheder et al.: gamma / 2 * E[|grad D(x)|^2] on real data, lazily every `every` updates."""
    if d_update % every:
        return 0
    return gamma / 2 * every * squared_gradient_norms(D, real.detach().requires_grad_(True)).mean()


def torch_train_step(G, D, opt_G, opt_D, reals, zs, options, step):
    """The WGAN/SNGAN loop: a D update per (batch, noise), then a G update on the last fake
    through the updated D. zs holds (G's noise, WGAN-GP's mixing weights). Returns (mean of
    D's losses, G's loss)."""
    loss_D_of, loss_G_of = torch_losses(options["loss"])
    losses_D = []
    for k, (real, (z, e)) in enumerate(zip(reals, zs)):
        fake = G.main(z)
        loss_D = loss_D_of(D.main(real).reshape(-1), D.main(fake.detach()).reshape(-1))
        if options["loss"] == "wgan-gp":
            loss_D = loss_D + gradient_penalty(D, real, fake, e, options.get("gp_weight", 10.0))
        if options.get("r1"):
            loss_D = loss_D + r1_penalty(D, real, options["r1"], options.get("r1_every", 1), step * len(reals) + k)
        opt_D.zero_grad()
        loss_D.backward()
        opt_D.step()
        losses_D.append(loss_D.item())
    D.requires_grad_(False)
    loss_G = loss_G_of(D.main(fake).reshape(-1))
    opt_G.zero_grad()
    loss_G.backward()
    opt_G.step()
    D.requires_grad_(True)
    return numpy.mean(losses_D), loss_G.item()


@pytest.mark.parametrize("options", [
    dict(loss="bce"),
    dict(loss="hinge"),
    dict(loss="bce", n_critic=2),
    dict(loss="bce", lr_g=1e-4, lr_d=4e-4),
    dict(loss="hinge", n_critic=3, lr_g=5e-4),
    dict(loss="wgan-gp"),
    dict(loss="wgan-gp", n_critic=2, gp_weight=5.0),
    dict(loss="hinge", r1=10.0),
    dict(loss="bce", r1=1.0, r1_every=2, n_critic=2),
], ids=lambda options: "-".join(f"{k}={v}" for k, v in options.items()))
def test_three_training_steps_equal_pytorch_in_float64(options, tmp_path):
    config = tiny_config(tmp_path, lr=3e-4, **options)
    trainer = Trainer(config)
    for name in ("G", "D"):  # in float64, with the optimizer the trainer made (its lr, betas)
        net, opt = getattr(trainer, name), getattr(trainer, "opt_" + name)
        net.to(dtype=numpy.float64)
        group = opt.param_groups[0]
        setattr(trainer, "opt_" + name, Adam(net.parameters(), group["lr"], group["betas"], group["eps"]))
    nc, size = trainer.images.shape[1], config.image_size
    G, D = torch_generator(config.nz, config.ngf, nc, size).double(), torch_discriminator(config.ndf, nc, size).double()
    for theirs, mine in ((G, trainer.G), (D, trainer.D)):
        theirs.load_state_dict({k: torch.from_numpy(numpy.array(v)) for k, v in mine.state_dict().items()})
    betas = (config.beta1, 0.999)
    opt_G = torch.optim.Adam(G.parameters(), lr=options.get("lr_g", config.lr), betas=betas)
    opt_D = torch.optim.Adam(D.parameters(), lr=options.get("lr_d", config.lr), betas=betas)

    # The noise each D update draws, in order, from a copy of the trainer's stream.
    kernels, noise_state = backend.kernels(numpy), trainer.noise_state.copy()
    rng = numpy.random.default_rng(5)
    for step in range(3):
        reals = [rng.uniform(-1, 1, (config.batch_size, nc, size, size)) for _ in range(config.n_critic)]
        zs = []
        for _ in reals:  # G's noise, then, for WGAN-GP, two normals per sample: e = exp(-(z1^2 + z2^2) / 2)
            z = kernels.random_normal(noise_state, (config.batch_size, config.nz, 1, 1), numpy.float64)
            pair = kernels.random_normal(noise_state, (2, config.batch_size, 1, 1, 1), numpy.float64) \
                if config.loss == "wgan-gp" else numpy.zeros((2, 1, 1, 1, 1))
            zs.append((torch.from_numpy(z), torch.from_numpy(numpy.exp(-(pair[0] ** 2 + pair[1] ** 2) / 2))))
        loss_D, loss_G, *_ = trainer.train_step(*map(Tensor, reals), step=step).tolist()
        expected_D, expected_G = torch_train_step(G, D, opt_G, opt_D, [torch.from_numpy(r) for r in reals],
                                                  zs, options, step)
        numpy.testing.assert_allclose([loss_D, loss_G], [expected_D, expected_G], rtol=1e-10,
                                      err_msg=f"losses at step {step}")
        for name, theirs, mine in (("G", G, trainer.G), ("D", D, trainer.D)):
            for key, value in theirs.state_dict().items():
                numpy.testing.assert_allclose(mine.state_dict()[key], value.numpy(), rtol=1e-9,
                                              atol=1e-12, err_msg=f"{name}.{key} after step {step}")


def test_n_critic_steps_take_n_critic_batches_and_resume_bit_exact(tmp_path):
    straight, saved = assert_resume_is_bit_exact(tmp_path, n_critic=2, loss="hinge", lr_g=1e-4,
                                                 lr_d=4e-4, ema=0.9)
    # 6 steps of 2 D updates each: D's Adam took 12 steps, G's 6.
    assert int(saved["opt_D/0.step"]) == 12 and int(saved["opt_G/0.step"]) == 6
    # fake's 1024 images are 128 batches of 8: 12 batches are epoch 0; the default --epochs
    # are counted in D's batches, half as many steps as with one D update.
    assert straight.history[-1]["epoch"] == 0
    assert Trainer(tiny_config(tmp_path / "c", epochs=1, n_critic=2)).total_steps == 64


@pytest.mark.parametrize("change", [dict(n_critic=1), dict(loss="bce"), dict(lr_d=1e-3)])
def test_resume_refuses_to_change_the_new_options(change, tmp_path):
    trainer = Trainer(tiny_config(tmp_path, max_steps=1, n_critic=2, loss="hinge", lr_d=4e-4))
    trainer.run()
    with pytest.raises(ValueError, match=f"cannot change \\['{next(iter(change))}'\\]"):
        Trainer.resume(trainer.config.out, {**change, "max_steps": 2})


def test_help_offers_wgan_gp_and_r1(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "or wgan-gp (the Wasserstein loss with WGAN-GP's gradient penalty, weight --gp-weight)" in out
    assert "--r1 R1 the R1 penalty's gamma" in out and "--r1-every R1_EVERY" in out


def test_lazy_r1_is_refused_in_graph_mode():
    with pytest.raises(ValueError, match="--cuda-graph replays one step: it cannot apply R1 on some steps only"):
        Config(backend="cupy", cuda_graph=True, r1=1.0, r1_every=4)


def test_wgan_gp_and_r1_resume_bit_exact(tmp_path):
    """The penalties draw from the checkpointed noise stream (WGAN-GP's mixing weights) and count
    D updates from the step (lazy R1): a resumed run continues exactly."""
    assert_resume_is_bit_exact(tmp_path, loss="wgan-gp", r1=1.0, r1_every=2)


def test_epochs_too_few_for_one_step_are_refused(tmp_path):
    with pytest.raises(ValueError, match="--epochs 1 of 128 batches with --n-critic 200 make no step"):
        Trainer(tiny_config(tmp_path, epochs=1, n_critic=200))


def test_lr_g_and_lr_d_default_to_lr():
    config = Config(lr=3e-4, lr_d=1e-3)
    assert (config.generator_lr, config.discriminator_lr) == (3e-4, 1e-3)
    assert dataclasses.replace(config, lr_d=0).discriminator_lr == 3e-4


def test_graph_mode_runs_the_new_options_exactly_as_eager_mode(device_xp, tmp_path):
    """--cuda-graph captures all n_critic D updates of a step (their batches in static
    buffers) with the hinge loss and two learning rates: 4 steps (warm-up, capture, replays)
    leave every parameter and logged value bit-identical to 4 eager steps."""
    images = data.fake(n=32, channels=3)[0]
    options = dict(GRAPH_TINY, matmul="exact", loss="hinge", n_critic=2, lr_g=1e-4, lr_d=4e-4)
    trainers = {mode: Trainer(Config(**options, cuda_graph=graph, out=str(tmp_path / mode)), images=images)
                for mode, graph in (("eager", False), ("graph", True))}
    logged = {mode: [backend.to_numpy(t.run_step(step)) for step in range(4)] for mode, t in trainers.items()}
    assert trainers["graph"].graph is not None, "graph mode captured its step"
    numpy.testing.assert_array_equal(numpy.array(logged["graph"]), numpy.array(logged["eager"]))
    for name in ("G", "D"):
        eager, graph = (getattr(trainers[mode], name).state_dict() for mode in ("eager", "graph"))
        for key in eager:
            numpy.testing.assert_array_equal(backend.to_numpy(graph[key]), backend.to_numpy(eager[key]),
                                             err_msg=f"{name}.{key}")
    # D saw real and fake in each of its 2 updates and the fake once more for G: 5 per step.
    assert int(backend.to_numpy(trainers["graph"].D.state_dict()["main.3.num_batches_tracked"])) == 4 * 5
