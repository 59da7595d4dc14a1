"""The launch budget of issue 15: device launches per eager D+G DCGAN-32 step, counted on
the emulated GPU (tests/support/launch_count.py; no GPU ran these counts).

At DCGAN-32 sizes a GPU step is bound by the host issuing launches, so the count
is the step's cost model. LAUNCH_CEILING holds today's count, within the issue's
LAUNCH_TARGET, so that nothing adds launches unnoticed; the benchmark reports the count
beside the target (benchmarks/sections/launches.py). What brought it there (215 -> 147) is
checked below one part at a time: parameter gradients written in place, batchnorm's backward
in one launch, the batch made in one.
"""
import pytest

from support import launch_count

LAUNCH_TARGET = 150  # issue 15: at most 150 launches per eager D+G step (about 390 before it)
LAUNCH_CEILING = 127  # measured here: in-place parameter gradients, one-launch batchnorm backward, the batch
# kernel (147), then batchnorm fused with the activation after it (129), then kept backward seeds (127)


def breakdown(counted):
    by_site = "\n".join(f"{n:4d}  {site}" for site, n in counted.by_site.most_common())
    return f"{counted.total} launches; by issuing code:\n{by_site}"


@pytest.fixture
def dcgan32(emulated_cupy, tmp_path):
    return launch_count.count_eager_step(tmp_path)


def test_the_count_is_the_steps_structure_not_its_sizes(dcgan32, tmp_path):
    wider = launch_count.count_eager_step(tmp_path / "wider", batch_size=3, nz=5, ngf=3, ndf=4)
    assert wider.by_kernel == dcgan32.by_kernel


def test_an_eager_step_stays_under_todays_ceiling(dcgan32):
    assert LAUNCH_CEILING <= LAUNCH_TARGET
    assert dcgan32.total <= LAUNCH_CEILING, breakdown(dcgan32)


def test_parameter_gradients_land_in_place(dcgan32):
    """The weight-gradient GEMMs and batchnorm's kernel write each parameter's gradient into
    the optimizer's buffer, or add it to the one there (D's two losses): autograd copies and
    adds nothing, and nothing is zeroed."""
    assert not [site for site in dcgan32.by_site if site.startswith(("autograd.py _accumulate", "optim/"))
                and "Adam." not in site], breakdown(dcgan32)
    assert dcgan32.by_kernel["cublas.gemm"] == 12  # D: 4 weights x 2 losses; G: 4 weights


def test_batchnorm_backward_is_one_launch_per_layer(dcgan32):
    """Nine batchnorm backwards per step (D's two layers through three passes, G's three)."""
    assert dcgan32.by_site["functional/batchnorm.py BatchNormTrain.backward"] == 9
    assert dcgan32.by_kernel["batch_norm_backward<float>"] == 9


def test_the_real_batch_is_one_launch(dcgan32):
    """Gathered, converted, scaled and laid out batch-innermost by one kernel, so D's first
    convolution copies nothing: the one layout copy left is G's noise."""
    assert {site: n for site, n in dcgan32.by_site.items() if site.startswith("data/")} == \
        {"data/loader.py Batches.normalized": 1}
    assert dcgan32.by_site["functional/layout.py batch_innermost"] == 1


def test_each_loss_is_one_launch_forward_and_one_backward(dcgan32):
    """Three losses per step (D on real, D on fake, G through D): the fused kernel, then the
    scaling of its gradient by the upstream one."""
    assert dcgan32.by_kernel["bce_with_logits_mean<float>"] == 3
    loss_sites = {site: n for site, n in dcgan32.by_site.items() if site.startswith("functional/loss.py")}
    assert loss_sites == {"functional/loss.py BCEWithLogits.forward": 3,
                          "functional/loss.py BCEWithLogits.backward": 3}


def test_the_trainers_own_code_launches_only_the_noise_and_the_logged_values(dcgan32):
    """The step's labels are made once: what train_step launches itself is G's noise (two
    kernels) and the logged scalars (D's loss as the sum of its two terms, two means and their
    stack; the sigmoids are ops)."""
    trainer_sites = {site: n for site, n in dcgan32.by_site.items() if site.startswith("training/")}
    assert trainer_sites == {"training/trainer.py Trainer.train_step": 6}


def test_the_counter_counts_what_cupy_would_launch(emulated_cupy):
    """One launch per ufunc, reduction, copy or fill; none for views and empty allocations."""
    from support import emulated_device
    xp = emulated_cupy
    a, b = xp.ones((4, 6), "float32"), xp.zeros((4, 6), "float32")  # fill, memset
    emulated_device.launches.clear()
    c = a + b
    c += a
    views = (c.reshape(6, 4), c.T, c[1:], c[None])
    xp.empty((3,)), xp.empty_like(c), xp.ascontiguousarray(c)
    c.mean()
    c.T.copy()
    c[...] = b
    assert len(views) == 4 and dict(emulated_device.launches) == {"add": 2, "mean": 1, "copy": 1, "__setitem__": 1}
