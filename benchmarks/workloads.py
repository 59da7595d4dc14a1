"""The DCGAN-32 workloads, built the same way for minigan and for PyTorch.

Both `compare.py` and the pytest-benchmark tests time these callables, so the
two frameworks always run the same shapes, dtypes, thread counts and step.
Every builder returns a zero-argument callable that does the work once and
waits for it (on the GPU, a synchronize), so a wall-clock timer around it is
honest.
"""
import itertools
import os
import tempfile
import time

import numpy

import minigan
from harness import import_torch, sync
from minigan import backend
from minigan import functional as F
from minigan.functional.layout import as_nchw, batch_innermost
from minigan.models.dcgan import Discriminator, Generator, init_weights

NZ, NGF, NDF, NC, IMAGE = 100, 64, 64, 3, 32
TORCH_MISSING = "PyTorch is an optional benchmark dependency: pip install torch==2.13.0"

# (name, op, in_channels, out_channels, kernel, stride, padding, input size) of DCGAN-32's
# conv layers, ngf = ndf = 64; each is followed by the batch norm named in BATCH_NORMS.
LAYERS = [
    ("G1", "conv_transpose2d", NZ, 4 * NGF, 4, 1, 0, 1),
    ("G2", "conv_transpose2d", 4 * NGF, 2 * NGF, 4, 2, 1, 4),
    ("G3", "conv_transpose2d", 2 * NGF, NGF, 4, 2, 1, 8),
    ("G4", "conv_transpose2d", NGF, NC, 4, 2, 1, 16),
    ("D1", "conv2d", NC, NDF, 4, 2, 1, 32),
    ("D2", "conv2d", NDF, 2 * NDF, 4, 2, 1, 16),
    ("D3", "conv2d", 2 * NDF, 4 * NDF, 4, 2, 1, 8),
    ("D4", "conv2d", 4 * NDF, 1, 4, 1, 0, 4),
]
# (name, channels, size) of the batch norms' inputs.
BATCH_NORMS = [("G1.bn", 4 * NGF, 4), ("G2.bn", 2 * NGF, 8), ("G3.bn", NGF, 16),
               ("D2.bn", 2 * NDF, 8), ("D3.bn", 4 * NDF, 4)]


def require_backend(name):
    """numpy, or cupy (raising backend.BackendUnavailable with a one-line reason)."""
    if name == "numpy":
        return numpy
    if name == "cupy":
        return backend.require_cupy()
    raise ValueError(f"unknown backend {name!r}: use numpy or cupy")



# --- what both frameworks share ----------------------------------------------------
class Workloads:
    """Per-layer workloads, written once against a framework's tensor(), functional and backward()."""

    def layer(self, spec, batch, rng):
        """(forward, backward) callables for one conv layer; backward reuses one forward's graph."""
        _, op, cin, cout, k, s, p, size = spec
        x = self.tensor(rng.standard_normal((batch, cin, size, size)), requires_grad=spec[0] != "G1")
        shape = (cout, cin, k, k) if op == "conv2d" else (cin, cout, k, k)
        w = self.tensor(rng.standard_normal(shape) * 0.02, requires_grad=True)
        fn = getattr(self.functional, op)
        y = fn(x, w, None, s, p)
        grad = self.tensor(rng.standard_normal(tuple(y.shape)))
        return self._pair(lambda: fn(x, w, None, s, p), y, grad, (x, w))

    def batch_norm(self, spec, batch, rng):
        _, c, size = spec
        x = self.tensor(rng.standard_normal((batch, c, size, size)), requires_grad=True)
        w = self.tensor(rng.uniform(0.5, 1.5, c), requires_grad=True)
        b = self.tensor(rng.standard_normal(c) * 0.1, requires_grad=True)
        mean, var = self.tensor(numpy.zeros(c)), self.tensor(numpy.ones(c))

        def forward():
            return self.functional.batch_norm(x, mean, var, w, b, training=True)
        y = forward()
        grad = self.tensor(rng.standard_normal(tuple(y.shape)))
        return self._pair(forward, y, grad, (x, w, b))

    def layer_steps(self, batch, seed=0):
        """{block: run() -> (forward s, backward s)} for each of DCGAN-32's layer blocks (a
        convolution with the batch norm and activation after it, G1..G4 and D1..D4), each doing
        the calls that one training step makes of it, with only the gradients the step needs:

        - G's blocks: one forward and one backward with weight gradients; G1's input (the
          noise) takes no gradient.
        - D's blocks, D update: two forwards (real and fake images) and their backwards with
          weight gradients; D1's inputs take no gradient (the real batch, the detached fake).
        - D's blocks, G update: one forward and one backward through the frozen D, for the
          input gradient only.

        Each block's input is what the layers before it make of a fixed batch (G: noise, D:
        uniform images); each backward is seeded with a fixed random gradient. As in the step,
        each of D's two passes has its own backward call."""
        rng = numpy.random.default_rng(seed)
        G, D = self.models()
        steps = {}
        for prefix, model, x in (("G", G, rng.standard_normal((batch, NZ, 1, 1))),
                                 ("D", D, rng.uniform(-1, 1, (batch, NC, IMAGE, IMAGE)))):
            for i, layers in enumerate(blocks(model)):
                first = i == 0
                passes = ([[(not first, True)]] if prefix == "G" else
                          [[(not first, True), (not first, True)], [(True, False)]])
                name = f"{prefix}{i + 1} " + "+".join(type(layer).__name__ for layer in layers)
                steps[name] = self.block_step(layers, x, passes, rng)
                with self.no_grad():
                    x = self.numpy(layers(self.tensor(x)))
        return steps

    def block_step(self, layers, x, passes, rng):
        """run() -> (forward s, backward s) of layers (a Sequential) over passes: phases (one update each) of
        [(the input takes a gradient, the weights take gradients)], all forwards of a phase first."""
        params = list(layers.parameters())
        inputs = {needs: self.tensor(x, requires_grad=needs) for needs in (False, True)}
        with self.no_grad():
            out_shape = tuple(layers(inputs[False]).shape)
        seed = self.tensor(rng.standard_normal(out_shape))

        def run():
            forward = backward = 0.0
            for phase in passes:
                self.set_requires_grad(params, phase[0][1])
                for t in (*inputs.values(), *params):
                    t.grad = None
                start = time.perf_counter()
                outputs = [layers(inputs[input_grad]) for input_grad, _ in phase]
                self.sync()
                middle = time.perf_counter()
                for y in outputs:
                    y.backward(seed)
                self.sync()
                forward, backward = forward + middle - start, backward + time.perf_counter() - middle
            self.set_requires_grad(params, True)
            return forward, backward
        return run

    def _pair(self, forward, y, grad, leaves):
        def run_forward():
            forward()
            self.sync()

        def run_backward():
            for t in leaves:
                t.grad = None
            self.backward(y, grad)
            self.sync()
        return run_forward, run_backward


# --- minigan -------------------------------------------------------------------
class Minigan(Workloads):
    """Builds minigan workloads on one backend (numpy or cupy) and float dtype."""

    name = "minigan"

    def __init__(self, backend_name="numpy", dtype="float32"):
        self.xp = require_backend(backend_name)
        self.device = "cuda" if backend_name == "cupy" else "cpu"
        self.dtype = numpy.dtype(dtype)

    def sync(self):
        sync(self.xp)

    def tensor(self, array, requires_grad=False):
        """A Tensor of array; a 4-D one laid out batch-innermost, as the engine keeps its images
        (minigan/functional/layout.py), so that a block's time holds no layout copy that the
        step does not make."""
        data = self.xp.asarray(array.astype(self.dtype))
        if data.ndim == 4:
            data = as_nchw(batch_innermost(data))
        return minigan.Tensor(data, requires_grad=requires_grad)

    @staticmethod
    def numpy(t):
        return t.numpy()

    functional = F

    @staticmethod
    def backward(y, grad):
        y.backward(grad, retain_graph=True)  # timed again and again on one graph, as torch's

    def layer_steps(self, batch, seed=0):
        """Workloads.layer_steps, with glibc's malloc set as the Trainer sets it for its steps
        (minigan/training/malloc.py), which the step's figures include."""
        from minigan.training.malloc import keep_freed_memory
        self.malloc = keep_freed_memory()
        return super().layer_steps(batch, seed)

    def trainer(self, batch, seed=0, **config):
        """A minigan.training.Trainer of DCGAN-32 at batch on fake data (it writes nothing until run)."""
        from minigan.training import Config, Trainer
        if self.dtype != numpy.float32:
            raise ValueError(f"the Trainer trains in float32, not {self.dtype}")
        return Trainer(Config(backend="cupy" if self.device == "cuda" else "numpy", dataset="fake",
                              batch_size=batch, nz=NZ, ngf=NGF, ndf=NDF, seed=seed,
                              out=os.path.join(tempfile.gettempdir(), "minigan-bench"), **config))

    def step(self, batch, seed=0):
        """One DCGAN-32 training step: Trainer.train_step itself (D on real and on fake, the D
        update, G's loss through the updated D, the G update, Adam) on one fixed real batch."""
        trainer = self.trainer(batch, seed)
        real = trainer.real_batch(0)

        def run():
            trainer.train_step(real)
            self.sync()
        run.G, run.D, run.optimizers = trainer.G, trainer.D, (trainer.opt_D, trainer.opt_G)
        run.malloc = trainer.malloc_setting
        return run

    def trainer_step(self, batch, cuda_graph=False, matmul="auto", seed=0):
        """One step of minigan.training.Trainer on the GPU, with its --cuda-graph and --matmul.

        Each call trains on the next batch of a fake data set, which run_step copies into
        place on the device (in graph mode, into the graph's static input). The first call
        runs eagerly and the second captures the graph: warm up with 2 calls or more.
        """
        trainer = self.trainer(batch, seed, cuda_graph=cuda_graph, matmul=matmul)
        steps = itertools.count()

        def run():
            trainer.run_step(next(steps))
            self.sync()
        run.trainer = trainer
        return run

    def models(self):
        rng = numpy.random.default_rng(0)
        return (init_weights(Generator(NZ, NGF, NC, IMAGE), rng).to(self.device, self.dtype).main,
                init_weights(Discriminator(NDF, NC, IMAGE), rng).to(self.device, self.dtype).main)

    no_grad = staticmethod(minigan.no_grad)

    @staticmethod
    def set_requires_grad(params, flag):
        for p in params:
            p.requires_grad = flag


# --- PyTorch -------------------------------------------------------------------
class Torch(Workloads):
    """The same workloads in PyTorch, on cpu or cuda."""

    name = "torch"

    def __init__(self, backend_name="numpy", dtype="float32"):
        self.torch = import_torch()
        if self.torch is None:
            raise ImportError(TORCH_MISSING)
        self.device = "cuda" if backend_name == "cupy" else "cpu"
        self.dtype = getattr(self.torch, dtype)

    def sync(self):
        if self.device == "cuda":
            self.torch.cuda.synchronize()

    def tensor(self, array, requires_grad=False):
        return self.torch.tensor(array, dtype=self.dtype, device=self.device,
                                 requires_grad=requires_grad)

    @staticmethod
    def numpy(t):
        return t.cpu().numpy()

    def no_grad(self):
        return self.torch.no_grad()

    @staticmethod
    def set_requires_grad(params, flag):
        for p in params:
            p.requires_grad_(flag)

    @property
    def functional(self):
        return self.torch.nn.functional

    @staticmethod
    def backward(y, grad):
        y.backward(grad, retain_graph=True)  # timed again and again on one graph

    def models(self):
        nn = self.torch.nn
        g, d = [nn.ConvTranspose2d(NZ, 4 * NGF, 4, 1, 0, bias=False), nn.BatchNorm2d(4 * NGF), nn.ReLU()], []
        for cin in (4 * NGF, 2 * NGF):
            g += [nn.ConvTranspose2d(cin, cin // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(cin // 2), nn.ReLU()]
        g += [nn.ConvTranspose2d(NGF, NC, 4, 2, 1, bias=False), nn.Tanh()]
        d = [nn.Conv2d(NC, NDF, 4, 2, 1, bias=False), nn.LeakyReLU(0.2)]
        for cin in (NDF, 2 * NDF):
            d += [nn.Conv2d(cin, 2 * cin, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * cin), nn.LeakyReLU(0.2)]
        d += [nn.Conv2d(4 * NDF, 1, 4, 1, 0, bias=False)]
        return (nn.Sequential(*g).to(self.device, self.dtype), nn.Sequential(*d).to(self.device, self.dtype))

    def step(self, batch, seed=0):
        train, _, real = self.gan(batch, seed)

        def run():
            train(real)
            self.sync()
        return run

    def graph_step(self, batch, seed=0, warmup=3):
        """step() captured whole as one CUDA graph, as PyTorch's CUDA semantics notes show it
        ("Whole-network capture"); each call copies a new batch into the graph's static input,
        replays and synchronizes."""
        torch = self.torch
        train, optimizers, static_real = self.gan(batch, seed, capturable=True)
        side = torch.cuda.Stream()  # warm up off the default stream, before capture, as the notes ask
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(warmup):  # creates Adam's state and cuDNN's and cuBLAS's handles
                train(static_real)
        torch.cuda.current_stream().wait_stream(side)
        for opt in optimizers:  # backward then allocates every .grad from the graph's private pool;
            opt.zero_grad(set_to_none=True)  # train()'s own zero_grad() calls find them None
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):  # G's noise: torch.randn on the default generator, graph-safe
            train(static_real)
        rng = numpy.random.default_rng(seed + 1)
        batches = itertools.cycle([self.tensor(rng.uniform(-1, 1, tuple(static_real.shape))) for _ in range(4)])

        def run():
            static_real.copy_(next(batches))  # a device-to-device copy, as minigan's run_step makes
            graph.replay()
            self.sync()
        run.train = train  # the models, optimizers and targets whose memory the graph uses: keep them alive
        return run

    def gan(self, batch, seed=0, capturable=False):
        """(train(real): one D and one G update, without a sync; the optimizers; a real batch)
        of a freshly initialized DCGAN-32."""
        torch = self.torch
        torch.manual_seed(seed)
        G, D = self.models()
        opt_G = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999), capturable=capturable)
        opt_D = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999), capturable=capturable)
        rng = numpy.random.default_rng(seed)
        real = self.tensor(rng.uniform(-1, 1, (batch, NC, IMAGE, IMAGE)))
        ones = torch.ones(batch, dtype=self.dtype, device=self.device)
        zeros = torch.zeros(batch, dtype=self.dtype, device=self.device)
        bce = torch.nn.functional.binary_cross_entropy_with_logits

        def train(real):
            z = torch.randn(batch, NZ, 1, 1, dtype=self.dtype, device=self.device)
            fake = G(z)
            # As pytorch/examples' dcgan and minigan's Trainer: each term of D's loss is
            # backpropagated as soon as it is computed, the second adding into the first's gradients.
            opt_D.zero_grad()
            bce(D(real).view(-1), ones).backward()
            bce(D(fake.detach()).view(-1), zeros).backward()
            opt_D.step()
            D.requires_grad_(False)
            loss_G = bce(D(fake).view(-1), ones)
            opt_G.zero_grad()
            loss_G.backward()
            D.requires_grad_(True)
            opt_G.step()
        return train, (opt_D, opt_G), real


def blocks(model):
    """A Sequential's layers in blocks, each a convolution and the layers after it up to the next,
    as Sequentials of the model's own class (minigan's fuses a batchnorm with its activation, as
    in the model)."""
    found = []
    for layer in model:
        if type(layer).__name__.startswith("Conv") or not found:
            found.append([])
        found[-1].append(layer)
    return [type(model)(*layers) for layers in found]


def frameworks(backend_name="numpy", dtype="float32"):
    """[Minigan, Torch] (Torch left out, with the reason, where it is not installed)."""
    found = [Minigan(backend_name, dtype)]
    try:
        found.append(Torch(backend_name, dtype))
    except ImportError as error:
        return found, str(error)
    return found, None
