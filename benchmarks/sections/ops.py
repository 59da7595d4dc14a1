"""Per-op rows (GPU run): each DCGAN-32 layer's forward and backward against torch's, both in one
process, interleaved. (The kernels against their plain-NumPy references: benchmarks/test_bench.py.)"""
import numpy

import workloads
from harness import interleaved, ms


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
