"""The whole DCGAN-32 training step: its time over batch sizes, minigan's against torch's, and
where minigan's step spends its time (the breakdown); their plots."""
import os
import time

from harness import interleaved, ms
from minigan.function_hooks import TimerHook


def bench_steps(fws, batches, rounds, table, raw, main_batch):
    """{batch: {framework: ms per step}}; the main batch's row into the table."""
    sweep = {}
    for batch in batches:
        steps = {fw.name: fw.step(batch) for fw in fws}
        samples = interleaved(steps, rounds if batch <= 64 else max(3, rounds // 2))
        raw[f"step batch {batch}"] = samples
        sweep[batch] = {name: ms(s) for name, s in samples.items()}
        if batch == main_batch or len(batches) == 1:
            other = [fw.name for fw in fws[1:]]
            table.add("step", f"DCGAN-32 train step, batch {batch}", sweep[batch]["minigan"],
                      sweep[batch][other[0]] if other else None)
    for b in sorted(sweep):
        print(f"  sweep      batch {b:<4d} " + "  ".join(f"{n} {t:8.1f} ms ({b / t * 1e3:6.1f} img/s)"
                                                        for n, t in sweep[b].items()))
    return sweep


def layer_labels(run):
    """label(function) for a TimerHook on the step run: the layer a Function belongs to, named as
    workloads.LAYERS does (G1..G4, D1..D4, then .bn / .act), else the Function's class.

    A convolution's or batch norm's Function is known by its weight among its inputs, an
    activation's by its input's maker, the layer before it."""
    by_weight, activation_after = {}, {}
    for prefix, model in (("G", run.G), ("D", run.D)):
        convs, previous = 0, None
        for layer in model.main.children():
            kind = type(layer).__name__
            convs += kind.startswith("Conv")
            suffix = "" if kind.startswith("Conv") else ".bn" if kind.startswith("Batch") else ".act"
            name = f"{prefix}{convs}{suffix} {kind}"
            if hasattr(layer, "weight"):
                by_weight[id(layer.weight)] = previous = name
            elif previous is not None:
                activation_after[previous] = name

    def weighted(function):  # inputs: those of a recorded call (every call of a training step)
        return next((by_weight[id(x)] for x in getattr(function, "inputs", ()) if id(x) in by_weight), None)

    def label(function):
        layer = weighted(function)
        if layer is None and getattr(function, "inputs", ()):
            maker = getattr(function.inputs[0], "creator", None)
            layer = activation_after.get(weighted(maker)) if maker is not None else None
        return layer or type(function).__name__
    return label


def breakdown(mg, batch, steps):
    """ms per step spent in each layer's forward and backward, and in Adam, of minigan's step:
    the layers' Functions timed by a TimerHook, the device synchronized around each call."""
    run = mg.step(batch)
    run()
    adam = 0.0
    for opt in run.optimizers:  # Adam's step is no Function: timed around the call
        step = opt.step

        def timed_step(_step=step):
            nonlocal adam
            start = time.perf_counter()
            _step()
            mg.sync()
            adam += time.perf_counter() - start
        opt.step = timed_step
    total = 0.0
    with TimerHook(synchronize=mg.sync, label=layer_labels(run)) as timer:
        for _ in range(steps):
            start = time.perf_counter()
            run()
            total += time.perf_counter() - start
    per_step = {f"{label} {direction}": t / steps * 1e3 for (label, direction), t in timer.seconds.items()}
    per_step["Adam update"] = adam / steps * 1e3
    per_step["other (autograd, losses, glue)"] = total / steps * 1e3 - sum(per_step.values())
    print("  minigan step breakdown (ms per step): " + ", ".join(
        f"{k} {v:.1f}" for k, v in sorted(per_step.items(), key=lambda kv: -kv[1])[:8]) + ", ...")
    return per_step


def plots(folder, sweep, per_step, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    batches = sorted(sweep)
    names = list(next(iter(sweep.values())))
    for filename, ylabel, value in (("step_vs_batch.png", "ms per train step", lambda b, n: sweep[b][n]),
                                    ("images_per_s.png", "images per second",
                                     lambda b, n: b / sweep[b][n] * 1e3)):
        fig, ax = plt.subplots(figsize=(6, 4))
        for name in names:
            ax.plot(batches, [value(b, name) for b in batches], marker="o", label=name)
        ax.set_xscale("log", base=2)
        ax.set_xticks(batches, [str(b) for b in batches])
        ax.set_xlabel("batch size")
        ax.set_ylabel(ylabel)
        ax.set_title(f"DCGAN-32 train step ({title})", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(folder, filename), dpi=120)
        plt.close(fig)
    labels = sorted(per_step, key=per_step.get)
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(labels) + 1.2))
    ax.barh(labels, [per_step[k] for k in labels])
    ax.set_xlabel("ms per train step")
    ax.set_title(f"minigan: where a step's time goes ({title})", fontsize=9)
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(folder, "breakdown.png"), dpi=120)
    plt.close(fig)
