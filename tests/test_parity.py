"""minigan against PyTorch: forward values, every input gradient, running statistics, optimizers.

One helper, `check_parity`, runs a minigan callable and a torch callable on the
same float64 inputs, backpropagates the same random upstream gradient through
both, and requires the output and each input's gradient to agree to a relative
error of 1e-9 (relative to the largest magnitude of torch's value).
"""
import itertools

import numpy
import pytest

import minigan
from minigan import Tensor, backend, nn
from minigan import functional as F
from minigan import optim

torch = pytest.importorskip("torch", reason="PyTorch is the test oracle: pip install torch==2.13.0")
TF = torch.nn.functional

f64 = numpy.float64
RTOL = {numpy.float64: 1e-9, numpy.float32: 1e-5}


def as_numpy(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, Tensor):
        value = value.data
    return backend.to_numpy(value)


def assert_close(actual, expected, what, rtol=1e-9):
    """max |actual - expected| <= rtol * max |expected|, with matching shapes."""
    actual, expected = as_numpy(actual), as_numpy(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, torch {expected.shape}"
    scale = max(float(numpy.abs(expected).max(initial=0.0)), 1e-12)
    error = float(numpy.abs(actual.astype(f64) - expected.astype(f64)).max(initial=0.0))
    assert error <= rtol * scale, f"{what}: relative error {error / scale:.3g} > {rtol:g}"


def check_parity(xp, rng, mg_fn, torch_fn, *arrays, dtype=f64):
    """Same inputs, same random upstream gradient; compare output and every input gradient.

    arrays are NumPy arrays (each becomes a leaf that requires grad) or None (passed as None).
    Returns the minigan and torch outputs.
    """
    rtol = RTOL[dtype]
    mg_inputs = [None if a is None else Tensor(xp.asarray(numpy.asarray(a, dtype)), requires_grad=True)
                 for a in arrays]
    torch_inputs = [None if a is None else torch.tensor(numpy.asarray(a, dtype), requires_grad=True)
                    for a in arrays]
    out = mg_fn(*mg_inputs)
    expected = torch_fn(*torch_inputs)
    assert out.dtype == dtype, f"output dtype {out.dtype}, inputs {numpy.dtype(dtype)}"
    assert backend.array_module(out.data) is xp
    assert_close(out, expected, "output", rtol)
    upstream = numpy.asarray(rng.standard_normal(tuple(expected.shape)), dtype)
    out.backward(xp.asarray(upstream))
    expected.backward(torch.from_numpy(upstream))
    for index, (mine, theirs) in enumerate(zip(mg_inputs, torch_inputs)):
        if mine is None:
            continue
        assert mine.grad is not None, f"input {index} got no gradient"
        assert backend.array_module(mine.grad) is xp and mine.grad.dtype == dtype
        assert_close(mine.grad, theirs.grad, f"gradient of input {index}", rtol)
    return out, expected


def device_of(xp):
    return "cpu" if xp is numpy else "cuda"


def load_from_torch(module, torch_module):
    """Copy a torch module's state into a minigan module, through NumPy."""
    module.load_state_dict({k: v.detach().cpu().numpy() for k, v in torch_module.state_dict().items()})


def assert_same_state(module, torch_module, what, rtol=1e-9):
    theirs = torch_module.state_dict()
    mine = module.state_dict()
    assert list(mine) == list(theirs)
    for key, value in theirs.items():
        if value.dtype == torch.int64:
            assert int(as_numpy(mine[key])) == int(value), f"{what}: {key}"
        else:
            assert_close(mine[key], value, f"{what}: {key}", rtol)


# --- convolution -----------------------------------------------------------

@pytest.mark.parametrize("shape", [(2, 3, 7, 6), (1, 2, 5, 8)], ids=["2x3x7x6", "batch1-5x8"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("padding", [0, 1])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("kernel", [1, 3, 4])
def test_conv2d(xp, rng, shape, kernel, stride, padding, bias):
    c = shape[1]
    check_parity(xp, rng,
                 lambda x, w, b: F.conv2d(x, w, b, stride, padding),
                 lambda x, w, b: TF.conv2d(x, w, b, stride, padding),
                 rng.standard_normal(shape), rng.standard_normal((4, c, kernel, kernel)),
                 rng.standard_normal(4) if bias else None)


@pytest.mark.parametrize("padding", [0, 1])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("kernel", [1, 3, 4])
def test_conv2d_float32(xp, rng, kernel, stride, padding):
    check_parity(xp, rng,
                 lambda x, w, b: F.conv2d(x, w, b, stride, padding),
                 lambda x, w, b: TF.conv2d(x, w, b, stride, padding),
                 rng.standard_normal((2, 3, 6, 7)), rng.standard_normal((5, 3, kernel, kernel)),
                 rng.standard_normal(5), dtype=numpy.float32)


@pytest.mark.parametrize("kernel,stride,padding", [((3, 2), (2, 1), (1, 0)), ((2, 3), (1, 2), (0, 1)),
                                                   ((1, 4), (3, 2), (1, 2))])
def test_conv2d_rectangular(xp, rng, kernel, stride, padding):
    check_parity(xp, rng,
                 lambda x, w, b: F.conv2d(x, w, b, stride, padding),
                 lambda x, w, b: TF.conv2d(x, w, b, stride, padding),
                 rng.standard_normal((2, 3, 6, 9)), rng.standard_normal((2, 3, *kernel)),
                 rng.standard_normal(2))


def test_conv2d_wide_channels(xp, rng):
    """More channels and a bigger image than the other cases: GEMM sizes like a real layer."""
    check_parity(xp, rng,
                 lambda x, w, b: F.conv2d(x, w, b, 2, 1),
                 lambda x, w, b: TF.conv2d(x, w, b, 2, 1),
                 rng.standard_normal((4, 16, 16, 16)), rng.standard_normal((32, 16, 4, 4)),
                 rng.standard_normal(32))


CONVT_SETTINGS = [(s, p, q) for s, p, q in itertools.product([1, 2], [0, 1], [0, 1]) if q < s]


# Kernel 1 with padding 1 would crop a 1-pixel-per-input output to nothing on these sizes.
CONVT_KERNEL_SETTINGS = [(k, *setting) for k, setting in itertools.product([1, 3, 4], CONVT_SETTINGS)
                         if not (k == 1 and setting[1] == 1)]


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (1, 2, 3, 2)], ids=["2x3x4x5", "batch1-3x2"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("kernel,stride,padding,output_padding", CONVT_KERNEL_SETTINGS)
def test_conv_transpose2d(xp, rng, shape, kernel, stride, padding, output_padding, bias):
    c = shape[1]
    check_parity(xp, rng,
                 lambda x, w, b: F.conv_transpose2d(x, w, b, stride, padding, output_padding),
                 lambda x, w, b: TF.conv_transpose2d(x, w, b, stride, padding, output_padding),
                 rng.standard_normal(shape), rng.standard_normal((c, 3, kernel, kernel)),
                 rng.standard_normal(3) if bias else None)


@pytest.mark.parametrize("stride,padding,output_padding", CONVT_SETTINGS)
def test_conv_transpose2d_float32(xp, rng, stride, padding, output_padding):
    check_parity(xp, rng,
                 lambda x, w, b: F.conv_transpose2d(x, w, b, stride, padding, output_padding),
                 lambda x, w, b: TF.conv_transpose2d(x, w, b, stride, padding, output_padding),
                 rng.standard_normal((2, 4, 3, 5)), rng.standard_normal((4, 2, 4, 4)),
                 rng.standard_normal(2), dtype=numpy.float32)


@pytest.mark.parametrize("kernel,stride,padding,output_padding", [
    ((3, 2), (2, 1), (1, 0), (1, 0)), ((4, 3), (3, 2), (1, 1), (2, 1)), ((2, 4), (1, 2), (0, 1), (0, 1)),
    ((3, 3), (2, 2), (2, 2), (1, 0))])  # padding wider than kernel - 1 crops into the first taps
def test_conv_transpose2d_rectangular(xp, rng, kernel, stride, padding, output_padding):
    check_parity(xp, rng,
                 lambda x, w, b: F.conv_transpose2d(x, w, b, stride, padding, output_padding),
                 lambda x, w, b: TF.conv_transpose2d(x, w, b, stride, padding, output_padding),
                 rng.standard_normal((2, 3, 4, 3)), rng.standard_normal((3, 2, *kernel)),
                 rng.standard_normal(2))


def test_conv_transpose2d_dcgan_layer(xp, rng):
    """A DCGAN generator layer's shapes: 4x4 -> 8x8 with kernel 4, stride 2, padding 1."""
    check_parity(xp, rng,
                 lambda x, w: F.conv_transpose2d(x, w, None, 2, 1),
                 lambda x, w: TF.conv_transpose2d(x, w, None, 2, 1),
                 rng.standard_normal((4, 32, 4, 4)), rng.standard_normal((32, 16, 4, 4)))


# --- batch normalization -----------------------------------------------------

@pytest.mark.parametrize("affine", [True, False], ids=["affine", "weight_none"])
@pytest.mark.parametrize("shape", [(4, 3, 3, 2), (1, 2, 3, 4)], ids=["4x3x3x2", "batch1"])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_batch_norm(xp, rng, training, shape, affine):
    c = shape[1]
    mean0, var0 = rng.standard_normal(c), rng.uniform(0.5, 2.0, c)
    mg_stats = [xp.asarray(mean0.copy()), xp.asarray(var0.copy())]
    torch_stats = [torch.tensor(mean0), torch.tensor(var0)]
    check_parity(xp, rng,
                 lambda x, w, b: F.batch_norm(x, *mg_stats, w, b, training=training, momentum=0.25, eps=1e-3),
                 lambda x, w, b: TF.batch_norm(x, *torch_stats, w, b, training=training, momentum=0.25,
                                               eps=1e-3),
                 rng.standard_normal(shape) * 3 + 1,
                 rng.standard_normal(c) if affine else None, rng.standard_normal(c) if affine else None)
    assert_close(mg_stats[0], torch_stats[0], "running_mean")
    assert_close(mg_stats[1], torch_stats[1], "running_var")


def test_batch_norm_without_running_statistics(xp, rng):
    check_parity(xp, rng,
                 lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                 lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True),
                 rng.standard_normal((3, 2, 2, 2)), rng.standard_normal(2), rng.standard_normal(2))


def test_batchnorm2d_running_statistics_and_eval(xp, rng):
    """Five training steps with momentum 0.3 (float64), then eval mode, as torch.nn.BatchNorm2d."""
    mine = nn.BatchNorm2d(3, eps=1e-4, momentum=0.3).to(device=device_of(xp), dtype=f64)
    theirs = torch.nn.BatchNorm2d(3, eps=1e-4, momentum=0.3).double()
    for step in range(5):
        x = rng.standard_normal((4, 3, 3, 2)) * rng.uniform(0.5, 3) + rng.standard_normal(3)[:, None, None]
        check_parity(xp, rng, lambda x: mine(x), lambda x: theirs(x), x)
        assert_same_state(mine, theirs, f"after training step {step + 1}")
    assert int(mine.num_batches_tracked.data) == 5
    assert mine.num_batches_tracked.dtype == numpy.int64

    mine.eval()
    theirs.eval()
    for module in (mine, theirs):
        for p in module.parameters():
            p.grad = None
    x = rng.standard_normal((2, 3, 2, 3))
    check_parity(xp, rng, lambda x: mine(x), lambda x: theirs(x), x)
    assert_close(mine.weight.grad, theirs.weight.grad, "eval weight gradient")
    assert_close(mine.bias.grad, theirs.bias.grad, "eval bias gradient")
    assert_same_state(mine, theirs, "after eval (nothing may change)")
    assert int(mine.num_batches_tracked.data) == 5


# --- activations, linear, loss ----------------------------------------------

@pytest.mark.parametrize("shape", [(3, 5), (2, 3, 2, 2)], ids=["2d", "4d"])
@pytest.mark.parametrize("mine,theirs", [
    pytest.param(lambda x: F.leaky_relu(x), lambda x: TF.leaky_relu(x), id="leaky_relu_default"),
    pytest.param(lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2), id="leaky_relu_0.2"),
    pytest.param(lambda x: F.leaky_relu(x, -0.3), lambda x: TF.leaky_relu(x, -0.3), id="leaky_relu_-0.3"),
    pytest.param(lambda x: F.leaky_relu(x, 1.5), lambda x: TF.leaky_relu(x, 1.5), id="leaky_relu_1.5"),
    pytest.param(F.relu, torch.relu, id="relu"),
    pytest.param(F.tanh, torch.tanh, id="tanh"),
    pytest.param(F.sigmoid, torch.sigmoid, id="sigmoid"),
])
def test_activation(xp, rng, nonzero, mine, theirs, shape):
    check_parity(xp, rng, mine, theirs, nonzero(rng, shape, low=0.05, high=4.0))


@pytest.mark.parametrize("mine,theirs", [(F.sigmoid, torch.sigmoid), (F.tanh, torch.tanh)],
                         ids=["sigmoid", "tanh"])
def test_saturating_activation_at_large_inputs(xp, rng, mine, theirs):
    check_parity(xp, rng, mine, theirs, numpy.array([-700.0, -40.0, -15.0, 15.0, 40.0, 700.0]))


@pytest.mark.parametrize("in_shape", [(4, 3), (2, 3, 3), (3,)], ids=["2d", "3d", "1d"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
def test_linear(xp, rng, in_shape, bias):
    check_parity(xp, rng, F.linear, TF.linear, rng.standard_normal(in_shape),
                 rng.standard_normal((5, 3)), rng.standard_normal(5) if bias else None)


@pytest.mark.parametrize("scale", [1.0, 40.0], ids=["moderate", "large_logits"])
@pytest.mark.parametrize("shape", [(8, 1), (2, 3, 2)])
def test_binary_cross_entropy_with_logits(xp, rng, shape, scale):
    check_parity(xp, rng, F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits,
                 rng.standard_normal(shape) * scale, rng.uniform(0, 1, shape))


# --- tensor arithmetic --------------------------------------------------------

BROADCAST_PAIRS = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((1, 4), (3, 1)), ((), (2, 3))]


@pytest.mark.parametrize("shapes", BROADCAST_PAIRS, ids=lambda s: f"{s[0]}-{s[1]}")
@pytest.mark.parametrize("op", [
    pytest.param(lambda a, b: a + b, id="add"), pytest.param(lambda a, b: a - b, id="sub"),
    pytest.param(lambda a, b: a * b, id="mul"), pytest.param(lambda a, b: a / b, id="div")])
def test_binary_op_broadcasting(xp, rng, nonzero, op, shapes):
    a, b = rng.standard_normal(shapes[0]), nonzero(rng, shapes[1], low=0.5, high=2.0)
    check_parity(xp, rng, op, op, a, b)
    check_parity(xp, rng, lambda b, a: op(b, a), lambda b, a: op(b, a), b, nonzero(rng, shapes[0], 0.5, 2.0))


@pytest.mark.parametrize("op", [
    pytest.param(lambda a: a * 2.5 - 1, id="scalar_mul_sub"),
    pytest.param(lambda a: 3 / a + 2, id="scalar_rdiv_radd"),
    pytest.param(lambda a: 1 - a / 4, id="scalar_rsub_div"),
    pytest.param(lambda a: -a, id="neg"),
])
def test_unary_and_scalar_ops(xp, rng, nonzero, op):
    check_parity(xp, rng, op, op, nonzero(rng, (3, 2), low=0.5, high=2.0))


@pytest.mark.parametrize("shapes", [((3, 4), (4, 2)), ((2, 3, 4), (4, 5)), ((2, 3, 4), (1, 4, 2)),
                                    ((3, 4), (2, 4, 3)), ((2, 1, 2, 3), (3, 3, 2))],
                         ids=["2d", "batched-2d", "batch-broadcast", "2d-batched", "4d-3d"])
def test_matmul(xp, rng, shapes):
    check_parity(xp, rng, lambda a, b: a @ b, lambda a, b: a @ b,
                 rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1]))


@pytest.mark.parametrize("mine,theirs", [
    pytest.param(lambda a: a.reshape(6, 4), lambda a: a.reshape(6, 4), id="reshape"),
    pytest.param(lambda a: a.reshape((4, -1)), lambda a: a.reshape((4, -1)), id="reshape_minus1"),
    pytest.param(lambda a: F.flatten(a), lambda a: torch.flatten(a, 1), id="flatten"),
    pytest.param(lambda a: F.flatten(a, 2), lambda a: torch.flatten(a, 2), id="flatten_2"),
])
def test_reshape(xp, rng, mine, theirs):
    check_parity(xp, rng, mine, theirs, rng.standard_normal((2, 3, 2, 2)))


REDUCTIONS = [(None, False), (0, False), (1, True), (-1, False), (-2, True), ((0, 2), False),
              ((0, 2), True), ((1, -1), False)]


@pytest.mark.parametrize("dim,keepdim", REDUCTIONS, ids=[f"dim{d}-keep{k}" for d, k in REDUCTIONS])
@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_reductions(xp, rng, reduce, dim, keepdim):
    def theirs(a):
        return getattr(a, reduce)() if dim is None else getattr(a, reduce)(dim=dim, keepdim=keepdim)
    check_parity(xp, rng, lambda a: getattr(a, reduce)(dim, keepdim), theirs, rng.standard_normal((2, 3, 4)))


# --- modules: state_dict keys, loading torch weights ------------------------

def generator(lib, nz=8, ngf=8):
    """A small DCGAN generator, 1x1 noise -> 8x8 image, built from either library's nn."""
    return lib.Sequential(
        lib.ConvTranspose2d(nz, ngf, 4, 1, 0, bias=False), lib.BatchNorm2d(ngf), lib.ReLU(),
        lib.ConvTranspose2d(ngf, ngf // 2, 4, 2, 1, bias=False), lib.BatchNorm2d(ngf // 2), lib.ReLU(),
        lib.ConvTranspose2d(ngf // 2, 1, 3, 1, 1), lib.Tanh())


def discriminator(lib, ndf=4):
    """A small DCGAN discriminator, 8x8 image -> one logit."""
    return lib.Sequential(
        lib.Conv2d(1, ndf, 4, 2, 1, bias=False), lib.LeakyReLU(0.2),
        lib.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), lib.BatchNorm2d(ndf * 2), lib.LeakyReLU(0.2),
        lib.Flatten(), lib.Linear(ndf * 2 * 2 * 2, 1))


class TorchNested(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2))
        self.head = torch.nn.Linear(2, 1, bias=False)


class Nested(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
        self.head = nn.Linear(2, 1, bias=False)


@pytest.mark.parametrize("build", [
    pytest.param(lambda lib: generator(lib), id="generator"),
    pytest.param(lambda lib: discriminator(lib), id="discriminator"),
    pytest.param(lambda lib: TorchNested() if lib is torch.nn else Nested(), id="nested"),
])
def test_state_dict_keys_match_torch(build):
    mine, theirs = build(nn), build(torch.nn)
    assert list(mine.state_dict()) == list(theirs.state_dict())
    for key, value in theirs.state_dict().items():
        assert tuple(mine.state_dict()[key].shape) == tuple(value.shape), key


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_load_state_dict_from_torch_gives_same_outputs(xp, rng, training, dtype):
    torch.manual_seed(0)
    theirs_g, theirs_d = generator(torch.nn), discriminator(torch.nn)
    # Move torch's running statistics away from their initial values first.
    for _ in range(2):
        theirs_d(theirs_g(torch.randn(4, 8, 1, 1)).detach())
    mine_g, mine_d = generator(nn), discriminator(nn)
    torch_dtype = torch.float64 if dtype == f64 else torch.float32
    for mine, theirs in ((mine_g, theirs_g), (mine_d, theirs_d)):
        theirs.to(torch_dtype)
        mine.to(device=device_of(xp), dtype=dtype)
        load_from_torch(mine, theirs)
        assert_same_state(mine, theirs, "after load_state_dict", rtol=0)
        mine.train(training)
        theirs.train(training)

    z = rng.standard_normal((4, 8, 1, 1))
    check_parity(xp, rng, lambda z: mine_d(mine_g(z)), lambda z: theirs_d(theirs_g(z)), z, dtype=dtype)
    for mine, theirs in ((mine_g, theirs_g), (mine_d, theirs_d)):
        for (name, p), (torch_name, q) in zip(mine.named_parameters(), theirs.named_parameters()):
            assert name == torch_name
            assert_close(p.grad, q.grad, f"gradient of {name}", RTOL[dtype])
        assert_same_state(mine, theirs, "after forward", RTOL[dtype])


# --- optimizers ---------------------------------------------------------------

def _bce(lib_f, logits, target):
    return lib_f.binary_cross_entropy_with_logits(logits, target)


def test_dcgan_three_adam_steps(xp, rng):
    """Three iterations of DCGAN training (D step, then G step through D), both with Adam.

    Non-saturating GAN loss on logits; every parameter and buffer is compared after each step.
    """
    torch.manual_seed(1)
    theirs_g, theirs_d = generator(torch.nn).double(), discriminator(torch.nn).double()
    mine_g = generator(nn).to(device=device_of(xp), dtype=f64)
    mine_d = discriminator(nn).to(device=device_of(xp), dtype=f64)
    load_from_torch(mine_g, theirs_g)
    load_from_torch(mine_d, theirs_d)
    start_g = {k: v.clone() for k, v in theirs_g.state_dict().items()}
    start_d = {k: v.clone() for k, v in theirs_d.state_dict().items()}
    betas = (0.5, 0.999)
    opt = {"mine_g": optim.Adam(mine_g.parameters(), lr=2e-4, betas=betas),
           "mine_d": optim.Adam(mine_d.parameters(), lr=2e-4, betas=betas),
           "theirs_g": torch.optim.Adam(theirs_g.parameters(), lr=2e-4, betas=betas),
           "theirs_d": torch.optim.Adam(theirs_d.parameters(), lr=2e-4, betas=betas)}
    batch = 4

    def mine_ones(value):
        return Tensor(xp.full((batch, 1), value, dtype=f64))

    for step in range(3):
        real = rng.uniform(-1, 1, (batch, 1, 8, 8))
        z = rng.standard_normal((batch, 8, 1, 1))

        # minigan
        opt["mine_d"].zero_grad()
        fake = mine_g(Tensor(xp.asarray(z)))
        loss_d = (_bce(F, mine_d(Tensor(xp.asarray(real))), mine_ones(1.0))
                  + _bce(F, mine_d(fake.detach()), mine_ones(0.0)))
        loss_d.backward()
        opt["mine_d"].step()
        opt["mine_g"].zero_grad()
        loss_g = _bce(F, mine_d(fake), mine_ones(1.0))
        loss_g.backward()
        opt["mine_g"].step()

        # torch
        opt["theirs_d"].zero_grad()
        t_fake = theirs_g(torch.from_numpy(z))
        t_loss_d = (_bce(TF, theirs_d(torch.from_numpy(real)), torch.ones(batch, 1, dtype=torch.float64))
                    + _bce(TF, theirs_d(t_fake.detach()), torch.zeros(batch, 1, dtype=torch.float64)))
        t_loss_d.backward()
        opt["theirs_d"].step()
        opt["theirs_g"].zero_grad()
        t_loss_g = _bce(TF, theirs_d(t_fake), torch.ones(batch, 1, dtype=torch.float64))
        t_loss_g.backward()
        opt["theirs_g"].step()

        assert_close(loss_d, t_loss_d, f"D loss at step {step + 1}")
        assert_close(loss_g, t_loss_g, f"G loss at step {step + 1}")
        assert_same_state(mine_d, theirs_d, f"discriminator after step {step + 1}")
        assert_same_state(mine_g, theirs_g, f"generator after step {step + 1}")
    # The weights really moved: the comparisons above are not between untouched copies.
    for mine, start in ((mine_g, start_g), (mine_d, start_d)):
        for key, value in start.items():
            if value.dtype == torch.float64:
                assert numpy.abs(as_numpy(mine.state_dict()[key]) - value.numpy()).max() > 1e-6, key


def _mlp(lib):
    return lib.Sequential(lib.Linear(5, 4), lib.Tanh(), lib.Linear(4, 3))


@pytest.mark.parametrize("make_opts", [
    pytest.param(lambda mp, tp: (optim.SGD(mp, lr=0.1, momentum=0.9), torch.optim.SGD(tp, lr=0.1, momentum=0.9)),
                 id="sgd_momentum"),
    pytest.param(lambda mp, tp: (optim.SGD(mp, lr=0.05), torch.optim.SGD(tp, lr=0.05)), id="sgd"),
    pytest.param(lambda mp, tp: (optim.Adam(mp, lr=0.01, weight_decay=0.1),
                                 torch.optim.Adam(tp, lr=0.01, weight_decay=0.1)), id="adam_weight_decay"),
    pytest.param(lambda mp, tp: (optim.Adam(mp), torch.optim.Adam(tp)), id="adam_defaults"),
    pytest.param(lambda mp, tp: (optim.Adam(mp, lr=0.01, weight_decay=0.1, capturable=True),
                                 torch.optim.Adam(tp, lr=0.01, weight_decay=0.1)), id="adam_capturable"),
])
def test_optimizer_steps(xp, rng, make_opts):
    torch.manual_seed(2)
    theirs = _mlp(torch.nn).double()
    mine = _mlp(nn).to(device=device_of(xp), dtype=f64)
    load_from_torch(mine, theirs)
    mine_opt, theirs_opt = make_opts(mine.parameters(), theirs.parameters())
    for step in range(4):
        x, target = rng.standard_normal((6, 5)), rng.uniform(0, 1, (6, 3))
        mine_opt.zero_grad()
        theirs_opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(mine(Tensor(xp.asarray(x))), Tensor(xp.asarray(target)))
        t_loss = TF.binary_cross_entropy_with_logits(theirs(torch.from_numpy(x)), torch.from_numpy(target))
        loss.backward()
        t_loss.backward()
        mine_opt.step()
        theirs_opt.step()
        assert_close(loss, t_loss, f"loss at step {step + 1}")
        assert_same_state(mine, theirs, f"after step {step + 1}")


@pytest.mark.parametrize("make_opt", [
    pytest.param(lambda mp, tp: (optim.Adam(mp, lr=0.1), torch.optim.Adam(tp, lr=0.1)), id="adam"),
    pytest.param(lambda mp, tp: (optim.SGD(mp, lr=0.1, momentum=0.9), torch.optim.SGD(tp, lr=0.1, momentum=0.9)),
                 id="sgd_momentum"),
])
def test_optimizer_updates_a_non_contiguous_parameter(xp, rng, make_opt):
    """A Parameter made from a transposed array (not C-contiguous) is updated like any other."""
    values = rng.standard_normal((3, 4))
    mine = nn.Parameter(xp.asarray(values).T)
    assert not mine.data.flags.c_contiguous
    theirs = torch.tensor(values.T.copy(), requires_grad=True)
    mine_opt, theirs_opt = make_opt([mine], [theirs])
    for step in range(3):
        grad = rng.standard_normal((4, 3))
        mine.grad, theirs.grad = xp.asarray(grad), torch.from_numpy(grad.copy())
        mine_opt.step()
        theirs_opt.step()
        assert_close(mine, theirs, f"parameter after step {step + 1}")


@pytest.mark.parametrize("mine,theirs", [
    pytest.param(F.relu, torch.relu, id="relu"),
    pytest.param(lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2), id="leaky_relu"),
])
def test_gradient_at_the_kink_follows_torch(xp, rng, mine, theirs):
    """At exactly 0 the derivative is a convention; torch's is the negative side's slope."""
    check_parity(xp, rng, mine, theirs, numpy.array([-1.0, 0.0, -0.0, 1.0]))


def test_adam_skips_a_parameter_without_gradient_as_torch(xp, rng):
    """A parameter with no gradient in a step is not updated and its step count stays: then
    the parameters' steps differ, and each follows its own bias correction."""
    torch.manual_seed(3)
    theirs = _mlp(torch.nn).double()
    mine = _mlp(nn).to(device=device_of(xp), dtype=f64)
    load_from_torch(mine, theirs)
    mine_opt, theirs_opt = optim.Adam(mine.parameters(), lr=0.01), torch.optim.Adam(theirs.parameters(), lr=0.01)
    for step in range(4):
        frozen = step in (1, 2)  # the first layer sits out steps 2 and 3
        for p, q in zip(mine[0].parameters(), theirs[0].parameters()):
            p.requires_grad = q.requires_grad = not frozen
        x, target = rng.standard_normal((6, 5)), rng.uniform(0, 1, (6, 3))
        mine_opt.zero_grad()
        theirs_opt.zero_grad()
        F.binary_cross_entropy_with_logits(mine(Tensor(xp.asarray(x))), Tensor(xp.asarray(target))).backward()
        TF.binary_cross_entropy_with_logits(theirs(torch.from_numpy(x)), torch.from_numpy(target)).backward()
        mine_opt.step()
        theirs_opt.step()
        assert_same_state(mine, theirs, f"after step {step + 1}")
    assert [s["step"] for s in mine_opt.state.values()] == [2, 2, 4, 4]


def test_capturable_adam_counts_steps_on_the_device(xp, rng, monkeypatch):
    """capturable=True: the kernel gets the step as a device array, one array for all
    parameters, never a host number (a CUDA graph would replay that number forever);
    a checkpoint round trip keeps the count."""
    kernels = backend.kernels(xp)
    steps_seen = []
    fused = kernels.adam_update
    monkeypatch.setattr(kernels, "adam_update", lambda param, grad, m, v, step, *args:
                        steps_seen.append(step) or fused(param, grad, m, v, step, *args))
    model = _mlp(nn).to(device=device_of(xp), dtype=f64)
    opt = optim.Adam(model.parameters(), lr=0.01, capturable=True)
    for _ in range(3):
        opt.zero_grad()
        model(Tensor(xp.asarray(rng.standard_normal((6, 5))))).mean().backward()
        opt.step()
    assert all(step is opt.step_count for step in steps_seen) and len(steps_seen) == 3
    assert backend.array_module(opt.step_count) is xp and int(opt.step_count) == 3
    saved = {k: as_numpy(v) if hasattr(v, "shape") else v for k, v in opt.state_dict().items()}
    again = optim.Adam(model.parameters(), lr=0.01, capturable=True)
    again.load_state_dict(saved)
    assert int(again.step_count) == 3 and all(s["step"] is again.step_count for s in again.state.values())


def test_adam_steps_every_parameter_in_one_kernel_call(xp, rng, monkeypatch):
    """Gradients land in one flat buffer and the update is one call of the fused kernel
    (on a GPU: one launch), however many parameters there are."""
    kernels = backend.kernels(xp)
    calls = []
    fused = kernels.adam_update
    monkeypatch.setattr(kernels, "adam_update", lambda param, *args: calls.append(param.size) or
                        fused(param, *args))
    model = _mlp(nn).to(device=device_of(xp), dtype=f64)
    sizes = [p.size for p in model.parameters()]
    opt = optim.Adam(model.parameters(), lr=0.01)
    for step in range(3):
        opt.zero_grad()
        x = Tensor(xp.asarray(rng.standard_normal((6, 5))))
        (model(x) * model(x)).mean().backward()  # two uses: gradients accumulate in place
        before = [p.data.copy() for p in model.parameters()]
        opt.step()
        assert calls == [sum(sizes)] * (step + 1)
        assert all(not numpy.array_equal(as_numpy(b), as_numpy(p)) for b, p in zip(before, model.parameters()))
