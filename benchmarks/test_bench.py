"""Per-op, per-kernel and per-step benchmarks, minigan and PyTorch at DCGAN-32's shapes (batch 64).

Each case runs once per framework; group by `group` to see the two side by side.
"""
import numpy
import pytest

import workloads

BATCH = 64
LAYERS = {spec[0]: spec for spec in workloads.LAYERS}
NORMS = {spec[0]: spec for spec in workloads.BATCH_NORMS}


@pytest.mark.parametrize("direction", ["forward", "backward"])
@pytest.mark.parametrize("layer", list(LAYERS))
def test_conv_layer(benchmark, framework, layer, direction):
    """conv2d (D1..D4) and conv_transpose2d (G1..G4); backward re-runs one forward's graph."""
    forward, backward = framework.layer(LAYERS[layer], BATCH, numpy.random.default_rng(0))
    benchmark.group = f"{layer} {LAYERS[layer][1]} {direction}"
    benchmark(forward if direction == "forward" else backward)


@pytest.mark.parametrize("direction", ["forward", "backward"])
@pytest.mark.parametrize("norm", list(NORMS))
def test_batch_norm(benchmark, framework, norm, direction):
    forward, backward = framework.batch_norm(NORMS[norm], BATCH, numpy.random.default_rng(0))
    benchmark.group = f"{norm} batch_norm {direction}"
    benchmark(forward if direction == "forward" else backward)


@pytest.mark.parametrize("implementation", ["numba", "numpy-reference"])
@pytest.mark.parametrize("kernel", ["im2col", "col2im"])
@pytest.mark.parametrize("layer", ["G2", "G3", "D2", "D3"])
def test_im2col_col2im(benchmark, kernel, layer, implementation):
    """The Numba kernels against the plain-NumPy reference, at the layer's column shape."""
    from minigan.functional.conv import conv_output_size
    from minigan.kernels import convolution
    suffix = "cpu" if implementation == "numba" else "reference"
    _, op, cin, cout, k, s, p, size = LAYERS[layer]
    rng = numpy.random.default_rng(0)
    # The image side of the layer's im2col/col2im: its input for conv2d, its output for conv_transpose2d.
    channels, image = (cin, size) if op == "conv2d" else (cout, (size - 1) * s - 2 * p + k)
    out = conv_output_size(op, (image, image), (k, k), (s, s), (p, p))
    x = rng.standard_normal((channels, image, image, BATCH)).astype(numpy.float32)  # batch-innermost
    args = (k, k, (s, s), (p, p), out)
    benchmark.group = f"{kernel} {layer} {tuple(x.shape)}"
    if kernel == "im2col":
        benchmark(getattr(convolution, f"im2col_{suffix}"), x, *args)
    else:
        col = convolution.im2col_cpu(x, *args)
        benchmark(getattr(convolution, f"col2im_{suffix}"), col, x.shape, *args)


def test_train_step(benchmark, framework):
    """One whole DCGAN-32 step: G forward, D on real and fake, both backwards, both Adam updates."""
    run = framework.step(BATCH)
    benchmark.group = f"DCGAN-32 train step, batch {BATCH}"
    benchmark.pedantic(run, rounds=5, warmup_rounds=1)


def test_graph_section_records_a_failure_and_times_the_rest(monkeypatch):
    """compare.py's GPU graph section, on stand-in workloads: a workload that fails (as a first
    capture on a new GPU may) leaves its error in the record, and the others are still timed and
    compared."""
    from harness import Table
    from sections import graphs

    def capture_fails(fw, batch):
        raise RuntimeError("capture failed\nthe whole log")
    monkeypatch.setattr(graphs, "GRAPH_MODES", {"minigan eager": lambda fw, batch: lambda: None,
                                                 "minigan graph": capture_fails,
                                                 "torch eager": lambda fw, batch: lambda: None})
    frameworks = [type("Stand-in", (), {"name": name}) for name in ("minigan", "torch")]
    table, record = Table("torch"), {"samples_s": {}}
    graphs.bench_graph_modes(frameworks, [8], 3, table, record)
    assert record["graph_modes_errors"] == {8: {"minigan graph": "RuntimeError: capture failed\nthe whole log"}}
    assert set(record["graph_modes_ms"][8]) == {"minigan eager", "torch eager"}
    assert set(record["graph_modes_ratios"][8]) == {"minigan eager / torch eager"}
    assert [row["what"] for row in table.rows] == ["eager vs torch eager, b8"]


def test_step_products_are_what_the_convolutions_multiply():
    """compare.py's GEMM section times the step's own products: recorded from kernels.matmul,
    they are the DCGAN-32 layers' (checked here at D2's forward, by hand) and the wrapper is gone after."""
    from sections import gemm
    from minigan.kernels.table import cpu
    matmul = cpu.matmul
    products = gemm.step_products(workloads.Minigan("numpy"), 4)
    assert cpu.matmul is matmul
    # D2: weight (128, 64*4*4) @ col (64*4*4, 4 images * 8*8 pixels), once per D pass on real and fake.
    assert products[((2 * workloads.NDF, workloads.NDF * 16), (workloads.NDF * 16, 4 * 8 * 8), False, False)] >= 2
    # D4 (the whole 4x4 image): col is x's batch-innermost (C, H, W, N) buffer itself, C-contiguous.
    assert products[((1, 4 * workloads.NDF * 16), (4 * workloads.NDF * 16, 4), False, False)] >= 2
