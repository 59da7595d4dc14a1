"""Per-op rows: each DCGAN-32 layer's forward and backward against torch's, and the backend's
im2col/col2im kernels against the plain-NumPy reference."""
import numpy

import workloads
from harness import interleaved, ms, sync
from minigan.backend import kernels
from minigan.functional.conv import conv_output_size
from minigan.kernels.convolution import col2im_reference, im2col_reference


def bench_ops(fws, batch, rounds, table, raw):
    for kind, specs in (("layer", workloads.LAYERS), ("batch_norm", workloads.BATCH_NORMS)):
        for spec in specs:
            pairs = {fw.name: getattr(fw, kind)(spec, batch, numpy.random.default_rng(0)) for fw in fws}
            fwd = interleaved({name: p[0] for name, p in pairs.items()}, rounds)
            bwd = interleaved({name: p[1] for name, p in pairs.items()}, rounds)
            label = spec[0] if kind == "batch_norm" else f"{spec[0]} {spec[1]}"
            raw[label] = {"forward": fwd, "backward": bwd}
            other = [fw.name for fw in fws[1:]]
            for what, s in (("forward", fwd), ("backward", bwd)):
                table.add(label, what, ms(s["minigan"]), ms(s[other[0]]) if other else None)
            table.add(label, "forward+backward", ms(fwd["minigan"]) + ms(bwd["minigan"]),
                      ms(fwd[other[0]]) + ms(bwd[other[0]]) if other else None)


def bench_kernels(xp, batch, rounds, table, raw):
    """im2col (conv forward) and col2im (transposed-conv forward): the backend's kernel vs NumPy's."""
    fast = kernels(xp)
    rng = numpy.random.default_rng(0)
    for name, op, cin, cout, k, s, p, size in workloads.LAYERS:
        if op == "conv2d":
            x = rng.standard_normal((cin, size, size, batch)).astype(numpy.float32)  # batch-innermost
            out = conv_output_size(op, (size, size), (k, k), (s, s), (p, p))
            args = (k, k, (s, s), (p, p), out)
            x_dev = xp.asarray(x)
            calls = {"fast": lambda: fast.im2col(x_dev, *args) is None or sync(xp),
                     "reference": lambda: im2col_reference(x, *args)}
            what = f"im2col {name} {tuple(x.shape)}"
        else:
            out = ((size - 1) * s - 2 * p + k,) * 2
            shape = (cout, *out, batch)  # batch-innermost
            col = rng.standard_normal((cout * k * k, batch * size * size)).astype(numpy.float32)
            args = (shape, k, k, (s, s), (p, p), (size, size))
            col_dev = xp.asarray(col)
            calls = {"fast": lambda: fast.col2im(col_dev, *args) is None or sync(xp),
                     "reference": lambda: col2im_reference(col, *args)}
            what = f"col2im {name} {tuple(col.shape)}"
        samples = interleaved(calls, rounds)
        raw[what] = samples
        table.add("kernel", what, ms(samples["fast"]), ms(samples["reference"]))
