"""CUDA graphs: the emulator's model of stream capture, CudaGraph, and the --cuda-graph trainer.

`device_xp` runs each test on the emulated GPU (tests/support/emulated_device.py,
which records a capture and replays it, and refuses what CUDA and CuPy
refuse during one) and, marked gpu, on real CuPy.
"""
import gc
import io

import numpy
import pytest

from support import emulated_device
from minigan import backend, data
from minigan.cuda_graph import CudaGraph
from minigan.training import Config, Trainer
from minigan.training.config import parse_args
from minigan.training.progress import Progress
from support.device_reads import TINY, is_emulated, no_device_reads


def capture(emulated_cupy, fn):
    stream = emulated_cupy.cuda.Stream()
    with stream:
        stream.begin_capture()
        try:
            fn()
        finally:
            graph = stream.end_capture()
    return graph


# --- the emulator's model of capture (what the tests below rely on) ------------

def test_emulated_capture_executes_nothing_and_replays_with_the_captured_scalars(emulated_cupy):
    xp = emulated_cupy
    total, step = xp.zeros(3), xp.asarray(numpy.arange(3.0))
    made = []
    graph = capture(xp, lambda: (total.__iadd__(step * 2.0), made.append(total + 1.0)))
    assert backend.to_numpy(total).tolist() == [0, 0, 0], "a capture runs nothing"
    assert numpy.isnan(backend.to_numpy(made[0])).all(), "what it allocated is uninitialized"
    step[...] = 10.0  # a replay reads the arrays as they are then
    graph.launch()
    graph.launch()
    assert backend.to_numpy(total).tolist() == [40, 40, 40]
    assert backend.to_numpy(made[0]).tolist() == [41, 41, 41]


@pytest.mark.parametrize("refused, message", [
    (lambda xp, a: float(a.sum()), "reading a device array"),
    (lambda xp, a: xp.asnumpy(a), "device-to-host copy"),
    (lambda xp, a: xp.asarray(numpy.ones(3)), "host-to-device copy"),
    (lambda xp, a: a @ a, "matmul .cuBLAS."),
    (lambda xp, a: a.dot(a), "dot .cuBLAS."),
    (lambda xp, a: xp.cuda.Stream.null.synchronize(), "synchronizing"),
])
def test_emulated_capture_refuses_what_cuda_refuses(emulated_cupy, refused, message):
    a = emulated_cupy.ones((3, 3))
    with pytest.raises(emulated_device.CaptureUnsupported, match=message):
        capture(emulated_cupy, lambda: refused(emulated_cupy, a))


def test_emulated_capture_refuses_the_default_stream_and_work_on_it(emulated_cupy):
    xp = emulated_cupy
    with pytest.raises(RuntimeError, match="default .legacy. stream"):
        xp.cuda.Stream.null.begin_capture()
    stream, a = xp.cuda.Stream(), xp.ones(3)
    stream.begin_capture()  # without `with stream:`, work would go to the default stream
    with pytest.raises(emulated_device.CaptureUnsupported, match="another stream"):
        a += 1
    stream.end_capture()


# --- CudaGraph ---------------------------------------------------------------------

def test_a_graph_replays_on_new_inputs_into_the_same_outputs(device_xp):
    xp = device_xp
    static_input, bias = xp.zeros((4, 5), numpy.float32), xp.ones(5, numpy.float32)
    graph = CudaGraph(lambda: (xp.tanh(static_input * 2 + bias).sum(axis=0),), xp)
    for value in (0.25, -1.5):
        static_input[...] = xp.full((4, 5), value, numpy.float32)
        out = graph.replay()
        assert out is graph.outputs
        numpy.testing.assert_allclose(backend.to_numpy(out[0]), [4 * numpy.tanh(2 * value + 1)] * 5,
                                      rtol=1e-6)


def test_a_failed_capture_ends_and_says_why(emulated_cupy):
    xp = emulated_cupy
    a = xp.ones(3)
    with pytest.raises(emulated_device.CaptureUnsupported, match="reading a device array"):
        CudaGraph(lambda: float(a.sum()), xp)
    graph = CudaGraph(lambda: a * 3, xp)  # the stream is free to capture again
    numpy.testing.assert_array_equal(backend.to_numpy(graph.replay()), [3, 3, 3])


def test_no_garbage_is_collected_during_a_capture(emulated_cupy):
    """A collection could free an older graph's memory pool mid-capture (cudaFree is refused)."""
    enabled_within = []
    CudaGraph(lambda: enabled_within.append(gc.isenabled()) or emulated_cupy.ones(1), emulated_cupy)
    assert enabled_within == [True, False] and gc.isenabled()  # the warm-up, then the capture


def test_the_function_runs_once_eagerly_before_the_capture(device_xp):
    """Every kernel is compiled and loaded before the capture (a lazy load inside one fails on
    drivers before CUDA 12.3); warm_up=False for a caller that has just run it."""
    xp, calls = device_xp, []
    counter = xp.zeros(1, numpy.float32)

    def step():
        calls.append(xp.cuda.get_current_stream().is_capturing())
        counter[...] += 1
        return counter

    graph = CudaGraph(step, xp)
    assert calls == [False, True]
    assert backend.to_numpy(counter).tolist() == [1.0]  # the warm-up ran, the capture did not
    graph.replay()
    assert backend.to_numpy(counter).tolist() == [2.0]
    CudaGraph(step, xp, warm_up=False)
    assert calls == [False, True, True]


def test_replays_are_ordered_by_events_on_a_non_blocking_stream(emulated_cupy):
    """Not through the legacy default stream: each replay waits for an event on the caller's
    current stream (wherever the batch was copied), and that stream waits for the replay."""
    xp = emulated_cupy
    graph = CudaGraph(lambda: xp.ones(2) * 2, xp)
    assert graph.stream.non_blocking
    caller = xp.cuda.Stream()  # e.g. CUPY_CUDA_PER_THREAD_DEFAULT_STREAM's per-thread stream
    with caller:
        graph.replay()
    assert graph.stream.waited_for[-1].stream is caller
    assert caller.waited_for[-1].stream is graph.stream


def test_the_cublas_handle_is_bound_to_the_capture_stream_before_the_capture(emulated_cupy):
    """CuPy refuses to bind the handle to a capturing stream: it is bound before, and given
    back to its stream after."""
    xp = emulated_cupy
    cublas, handle = xp.cuda.cublas, xp.cuda.get_cublas_handle()
    cublas.setStream(handle, 12345)
    bound = []
    graph = CudaGraph(lambda: bound.append(cublas.getStream(handle)) or xp.ones(1), xp)
    assert bound == [12345, graph.stream.ptr]  # the warm-up, then the capture
    assert cublas.getStream(handle) == 12345
    with pytest.raises(NotImplementedError, match="during stream capture"):
        capture(xp, lambda: cublas.setStream(handle, xp.cuda.get_current_stream().ptr))


def test_replayed_noise_is_fresh_each_time_and_the_eager_stream(device_xp):
    """The Philox counter lives on the device: each replay draws the next numbers,
    exactly those eager draws from the same state give."""
    kernels = backend.kernels(device_xp)
    eager_state, graph_state = kernels.random_state(7), kernels.random_state(7)
    graph = CudaGraph(lambda: kernels.random_normal(graph_state, (5, 3), numpy.float32), device_xp)
    kernels.random_normal(eager_state, (5, 3), numpy.float32)  # what the graph's warm-up drew
    draws = [backend.to_numpy(graph.replay()).copy() for _ in range(3)]
    for index, draw in enumerate(draws):
        expected = backend.to_numpy(kernels.random_normal(eager_state, (5, 3), numpy.float32))
        numpy.testing.assert_array_equal(draw, expected, err_msg=f"replay {index + 1}")
    assert not numpy.array_equal(draws[0], draws[1]) and not numpy.array_equal(draws[1], draws[2])


# --- the --cuda-graph trainer -------------------------------------------------------

GRAPH = dict(TINY, cuda_graph=True)


def parameters(trainer):
    return {f"{name}.{key}": backend.to_numpy(value) for name, net in (("G", trainer.G), ("D", trainer.D))
            for key, value in net.state_dict().items()}


def test_graph_mode_trains_exactly_as_eager_mode_on_the_same_kernels(device_xp, tmp_path):
    """With the exact FP32 GEMM in both, N graph steps (one eager warm-up, then replays)
    leave every parameter, buffer and logged value bit-identical to N eager steps."""
    images = data.fake(n=16, channels=3)[0]
    trainers = {mode: Trainer(Config(**dict(TINY, cuda_graph=graph, matmul="exact"), out=str(tmp_path / mode)),
                              images=images) for mode, graph in (("eager", False), ("graph", True))}
    logged = {mode: [backend.to_numpy(t.run_step(step)) for step in range(5)] for mode, t in trainers.items()}
    assert trainers["graph"].graph is not None, "graph mode captured its step"
    if is_emulated(device_xp):
        assert trainers["graph"].graph.graph.launches == 4
    numpy.testing.assert_array_equal(numpy.array(logged["graph"]), numpy.array(logged["eager"]))
    eager, graph = parameters(trainers["eager"]), parameters(trainers["graph"])
    for key in eager:
        numpy.testing.assert_array_equal(graph[key], eager[key], err_msg=key)
    assert int(graph["D.main.3.num_batches_tracked"]) == 5 * 3  # D sees real, fake, fake per step


def test_graph_steps_never_read_the_device(device_xp, tmp_path):
    trainer = Trainer(Config(**GRAPH, out=str(tmp_path)), images=data.fake(n=16, channels=3)[0])
    pending = [trainer.run_step(0), trainer.run_step(1)]  # warm-up, capture
    with no_device_reads(device_xp):
        pending += [trainer.run_step(step) for step in range(2, 6)]
    trainer.step = 6
    trainer.log(pending, 1.0, Progress(6, 0, stream=io.StringIO()))
    assert [r["step"] for r in trainer.history] == list(range(1, 7))


def test_a_graph_run_resumes_exactly(emulated_cupy, tmp_path):
    """Six graph steps in one run log what three steps, a checkpoint and three resumed
    steps log (the resumed process warms up eagerly, then captures again)."""
    images = data.fake(n=16, channels=3)[0]
    straight = Trainer(Config(**GRAPH, max_steps=6, out=str(tmp_path / "straight")), images=images)
    straight.run()
    first = Trainer(Config(**GRAPH, max_steps=3, out=str(tmp_path / "resumed")), images=images)
    first.run()
    resumed = Trainer.resume(str(tmp_path / "resumed"), {"max_steps": 6})
    resumed.images = images  # the fake data set of Config is not the one given here
    resumed.batches = data.Batches(images, resumed.config.batch_size, resumed.config.seed, xp=resumed.xp)
    resumed.run()
    keys = ("loss_D", "loss_G", "D(x)", "D(G(z))")
    assert [[r[k] for k in keys] for r in resumed.history] == [[r[k] for k in keys] for r in straight.history]


def test_a_graph_run_resumes_on_the_cpu_and_back(emulated_cupy, tmp_path):
    """--cuda-graph and --matmul are GPU modes: resuming with --backend numpy leaves them
    behind, and --cuda-graph can be switched on or off at a resume."""
    Trainer(Config(**dict(GRAPH, matmul="exact"), max_steps=2, out=str(tmp_path))).run()
    on_cpu = Trainer.resume(str(tmp_path), {"backend": "numpy", "max_steps": 3})
    assert (on_cpu.config.cuda_graph, on_cpu.config.matmul) == (False, "auto")
    on_cpu.run()
    config = parse_args(["--resume", str(tmp_path), "--backend", "cupy", "--no-cuda-graph"])[0]
    assert config.cuda_graph is False
    again = Trainer.resume(str(tmp_path), {"backend": "cupy", "cuda_graph": True, "max_steps": 5})
    again.run()
    assert again.graph is not None and [r["step"] for r in again.history] == [1, 2, 3, 4, 5]


@pytest.mark.slow  # about 15 s: the emulator runs every mma.sync as a block-wide exchange
def test_tf32_graph_mode_stays_near_fp32(device_xp, tmp_path):
    """TF32 tensor cores (10-bit mantissas) against the exact FP32 GEMM: the logged
    values of the first steps (warm-up, capture, replays) agree to 1% (the tolerance
    README.md states), and TF32 does change them (it is in use)."""
    images = data.fake(n=64, channels=3)[0]
    logged = {}
    for matmul in ("exact", "tf32"):
        trainer = Trainer(Config(**dict(GRAPH, matmul=matmul), out=str(tmp_path / matmul)), images=images)
        logged[matmul] = numpy.array([backend.to_numpy(trainer.run_step(step)) for step in range(4)])
    numpy.testing.assert_allclose(logged["tf32"], logged["exact"], rtol=1e-2)
    assert not numpy.array_equal(logged["tf32"], logged["exact"])


@pytest.mark.parametrize("overrides, message", [
    (dict(backend="numpy", cuda_graph=True), "--cuda-graph and --matmul are for the GPU"),
    (dict(backend="numpy", matmul="exact"), "--cuda-graph and --matmul are for the GPU"),
    (dict(backend="cupy", matmul="fast"), "matmul must be one of"),
])
def test_graph_options_are_checked(overrides, message):
    with pytest.raises(ValueError, match=message):
        Config(**overrides)


@pytest.mark.parametrize("cuda_graph, matmul, engine", [(False, "auto", "cublas"), (True, "auto", "exact"),
                                                        (True, "tf32", "tf32"), (False, "exact", "exact")])
def test_auto_matmul_is_cublas_eager_and_exact_in_graph_mode(cuda_graph, matmul, engine):
    """In graph mode auto is the fastest engine that can run inside a capture (exact)."""
    assert Config(backend="cupy", cuda_graph=cuda_graph, matmul=matmul).matmul_engine == engine


def test_cublas_inside_a_graph_is_refused_in_one_line(capsys):
    """CuPy refuses cuBLAS calls during a capture (the test below shows it on the emulator), so
    the configuration says so before any training starts."""
    with pytest.raises(ValueError, match="--cuda-graph cannot use --matmul cublas yet"):
        Config(backend="cupy", cuda_graph=True, matmul="cublas")
    with pytest.raises(SystemExit):
        parse_args(["--help"])
    assert "cublas cannot run inside a graph yet" in " ".join(capsys.readouterr().out.split())


def test_cupys_own_products_are_still_refused_inside_a_capture(emulated_cupy):
    """Why the configuration refuses --cuda-graph --matmul cublas: binding the handle first is
    not enough for CuPy's `a @ b`, since each call binds the handle to the current stream again
    and refuses to while it captures (cupy_backends' cublas.pyx: every wrapper calls setStream).
    The emulator models that; a GPU run may yet show a way through."""
    xp = emulated_cupy
    a = xp.ones((4, 4), dtype=xp.float32)
    with pytest.raises(emulated_device.CaptureUnsupported, match="cuBLAS"):
        CudaGraph(lambda: a @ a, xp)
