"""The GPU step eager and as one CUDA graph, minigan's and torch's, interleaved; the ratios
that issues 4 and 6 set targets for."""
from harness import interleaved, ms

GRAPH_BATCHES = (64, 128)
GRAPH_WARMUP = 3  # steps before timing: minigan's first runs eagerly, its second captures the graph
# The workloads, each framework's name first. minigan's run minigan.training.Trainer.run_step,
# which copies each step's batch into place on the device; torch's graph copies a new batch into
# its static input too, so the graph modes compare like with like. (torch eager trains on one
# batch that stays put, as in the sweep: it skips a copy of microseconds.)
GRAPH_MODES = {
    "minigan eager": lambda fw, batch: fw.trainer_step(batch),  # matmul auto: cuBLAS
    "minigan graph": lambda fw, batch: fw.trainer_step(batch, cuda_graph=True, matmul="exact"),
    "minigan graph tf32": lambda fw, batch: fw.trainer_step(batch, cuda_graph=True, matmul="tf32"),
    "torch eager": lambda fw, batch: fw.step(batch),  # cuDNN
    "torch graph": lambda fw, batch: fw.graph_step(batch, warmup=GRAPH_WARMUP),
}
# (numerator, denominator, a ratio under which the target is met, the target) of the table's ratios
GRAPH_RATIOS = [("minigan graph", "torch eager", 1.0, "issue 6: below 1 at batches 64 and 128"),
                ("minigan eager", "torch eager", 1.5, "issue 4: within 1.5 at batch 128"),
                ("minigan graph", "torch graph", None, "none")]


def warmed_up(name, fws, batch, errors):
    """GRAPH_MODES[name]'s step at batch, run GRAPH_WARMUP times; None, the reason in errors, if that fails."""
    fw = fws.get(name.split()[0])
    if fw is None:
        errors[name] = "PyTorch left out (see torch_missing)"
        return None
    try:
        step = GRAPH_MODES[name](fw, batch)
        for _ in range(GRAPH_WARMUP):
            step()
    except Exception as error:  # first runs on a GPU: keep the other workloads' numbers
        errors[name] = f"{type(error).__name__}: {error}"
        return None
    return step


def bench_graph_modes(fws, batches, rounds, table, record):
    """Each GRAPH_MODES workload's step at each batch, timed interleaved; the issues' ratios into the table."""
    fws = {fw.name: fw for fw in fws}
    times, errors, targets = {}, {}, {}
    for batch in batches:
        failed = {}
        steps = {name: warmed_up(name, fws, batch, failed) for name in GRAPH_MODES}
        try:
            samples = interleaved({name: step for name, step in steps.items() if step}, rounds, warmup=0)
        except Exception as error:  # e.g. a CUDA error: the batch's timings are lost, not the run's
            failed["timing"], samples = f"{type(error).__name__}: {error}", {}
        del steps  # frees this batch's models and graphs before the next batch's
        record["samples_s"][f"graph modes batch {batch}"] = samples
        times[batch] = {name: ms(s) for name, s in samples.items()}
        errors[batch] = failed
        for name, t in times[batch].items():
            print(f"  graph      batch {batch:<4d} {name:18s} {t:8.2f} ms {batch / t * 1e3:9.0f} img/s", flush=True)
        for name, error in failed.items():
            print(f"  graph      batch {batch}: {name} failed: {error.splitlines()[0]}")
        targets[batch] = graph_ratios(times[batch], batch, table)
    record["graph_modes_ms"] = times
    record["graph_modes_images_per_s"] = {b: {n: b / t * 1e3 for n, t in ts.items()} for b, ts in times.items()}
    record["graph_modes_errors"] = errors
    record["graph_modes_ratios"] = targets
    record["graph_modes_method"] = (
        f"one process; per batch, every workload built and run {GRAPH_WARMUP} steps (minigan's graph is "
        f"captured by then), then timed in {rounds} rounds that alternate the workloads, one step per "
        "sample, each synchronizing the device before the clock stops; medians. minigan: "
        "Trainer.run_step on fake data (batch copied into place each step); torch graph: a new batch "
        "copied into the static input, then replay; torch eager: one fixed batch.")


def graph_ratios(times, batch, table):
    """The ratios of GRAPH_RATIOS at one batch, into the table (section "graph") and returned."""
    ratios = {}
    for mine, theirs, limit, target in GRAPH_RATIOS:
        if mine not in times:
            continue
        what = f"{mine.removeprefix('minigan ')} vs {theirs}, b{batch}"  # the columns say minigan, torch
        table.add("graph", what, times[mine], times.get(theirs))
        if theirs in times:
            ratio = times[mine] / times[theirs]
            ratios[f"{mine} / {theirs}"] = {"ratio": ratio, "target": target,
                                            "below_target": ratio < limit if limit else None}
    return ratios


def graph_markdown(times):
    """graph_modes_ms as a Markdown table: ms and images/s of each workload at each batch."""
    names = [n for n in GRAPH_MODES if any(n in t for t in times.values())]
    lines = ["| batch | " + " | ".join(names) + " |", "|---:|" + "---:|" * len(names)]
    for batch, t in times.items():
        lines.append(f"| {batch} | " + " | ".join(f"{t[n]:.2f} ms ({batch / t[n] * 1e3:.0f} img/s)" if n in t
                                                  else "failed" for n in names) + " |")
    return "\n".join(lines) + "\n"
