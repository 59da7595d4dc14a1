"""A corpus of damaged checkpoints (issue 12, item 6): each is refused by --resume and by
sample.py with the same one sentence naming the file, exit status 2, no traceback; one that
still loads must give exactly the original arrays (no silent wrong result)."""
import io
import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy
import pytest

from minigan.training import Config, Trainer, main
from minigan.training import checkpoint, sampling

TINY = dict(dataset="fake", batch_size=8, ngf=4, ndf=4, nz=8, log_every=1, sample_every=1000,
            checkpoint_every=1000, plot_every=1000, ema=0.9)


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus") / "run"
    Trainer(Config(**TINY, max_steps=2, out=str(out))).run()
    return out / "checkpoint.npz"


def arrays_of(path):
    with numpy.load(path, allow_pickle=False) as archive:
        return {k: archive[k] for k in archive.files}


def rewritten(arrays, **changes):
    """An .npz's bytes with keys changed (None: removed)."""
    arrays = {**arrays, **changes}
    buffer = io.BytesIO()
    numpy.savez(buffer, **{k: v for k, v in arrays.items() if v is not None})
    return buffer.getvalue()


def corpus(original):
    """{name: bytes} of damaged checkpoints."""
    data = original.read_bytes()
    arrays = arrays_of(original)
    config = json.loads(str(arrays["config"]))
    rng = numpy.random.default_rng(12)
    weight = arrays["G/main.0.weight"]
    variants = {f"truncated to {n} bytes": data[:n]
                for n in (0, 1, 4, 30, 100, 1000, len(data) // 2, len(data) - 22, len(data) - 1)}
    for offset in sorted(rng.integers(0, len(data), 24)):
        flipped = bytearray(data)
        flipped[offset] ^= 1 << int(rng.integers(8))
        variants[f"bit flip at byte {offset}"] = bytes(flipped)
    variants.update({
        "a text file": b"step,loss\n1,0.5\n",
        "a pickle": b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x01.",
        "an empty zip": rewritten({}),
        "no G section": rewritten(arrays, **{k: None for k in arrays if k.startswith("G/")}),
        "no D weight": rewritten(arrays, **{"D/main.0.weight": None}),
        "no optimizer moment": rewritten(arrays, **{"opt_G/0.exp_avg": None}),
        "no G_ema although ema is set": rewritten(arrays, **{k: None for k in arrays if k.startswith("G_ema/")}),
        "no config": rewritten(arrays, config=None),
        "no step": rewritten(arrays, step=None),
        "an extra section": rewritten(arrays, **{"X/y": numpy.zeros(2)}),
        "an extra array in G": rewritten(arrays, **{"G/extra": numpy.zeros(2)}),
        "a wrong weight shape": rewritten(arrays, **{"G/main.0.weight": weight[:, :2]}),
        "a wrong moment shape": rewritten(arrays, **{"opt_D/0.exp_avg": numpy.zeros(1, numpy.float32)}),
        "integer weights": rewritten(arrays, **{"G/main.0.weight": weight.astype(numpy.int32)}),
        "a NaN weight": rewritten(arrays, **{"G/main.0.weight": numpy.where(weight > 0.03, numpy.nan, weight)}),
        "an infinite moment": rewritten(arrays, **{"opt_G/1.exp_avg_sq": numpy.full_like(arrays["opt_G/1.exp_avg_sq"], numpy.inf)}),
        "a negative running_var": rewritten(arrays, **{"G/main.1.running_var": -arrays["G/main.1.running_var"]}),
        "a NaN running_var in G_ema": rewritten(arrays, **{"G_ema/main.1.running_var": arrays["G/main.1.running_var"] * numpy.nan}),
        "a wrong noise state": rewritten(arrays, **{"noise/philox_state": numpy.zeros(3, numpy.uint64)}),
        "an unknown config key": rewritten(arrays, config=numpy.asarray(json.dumps({**config, "bogus": 1}))),
        "an invalid config value": rewritten(arrays, config=numpy.asarray(json.dumps({**config, "ngf": -1}))),
        "a config that is not an object": rewritten(arrays, config=numpy.asarray("[1, 2]")),
        "a config that is not JSON": rewritten(arrays, config=numpy.asarray("{not json")),
        "a negative step": rewritten(arrays, step=numpy.asarray(-3)),
        "a newer format": rewritten(arrays, format=numpy.asarray(99)),
        "a pickled object array": rewritten(arrays, step=numpy.asarray([{"a": 1}], dtype=object)),
    })
    return variants


def run_both(path, capsys):
    """(status, stderr) of --resume path and of sample.py --checkpoint path, in this process."""
    results = []
    for run in (lambda: main(["--resume", str(path), "--max-steps", "3"]),
                lambda: sampling.main(["--checkpoint", str(path), "--out", str(path.parent / "s.png")])):
        status = run()
        results.append((status, capsys.readouterr().err))
    return results


@pytest.mark.slow
def test_damaged_checkpoints_are_refused_clearly_by_resume_and_sample(original, tmp_path, capsys):
    variants = corpus(original)
    refused = loaded = 0
    for name, data in variants.items():
        folder = tmp_path / name.replace(" ", "_")
        folder.mkdir()
        path = folder / "checkpoint.npz"
        path.write_bytes(data)
        try:
            intact = checkpoint.load(str(path))
        except checkpoint.CheckpointError:
            intact = None
        (resume_status, resume_err), (sample_status, sample_err) = run_both(path, capsys)
        for status, err in ((resume_status, resume_err), (sample_status, sample_err)):
            assert "Traceback" not in err, (name, err)
        if resume_status == 0:  # a flip in a byte no reader uses: it must still be the original
            assert name.startswith("bit flip") and intact is not None, name
            got = checkpoint.load(str(original))
            assert sample_status == 0, (name, sample_err)
            for key in ("G", "D", "opt_G", "opt_D", "G_ema", "noise"):
                for array, value in intact[0][key].items():
                    assert numpy.array_equal(value, got[0][key][array]), (name, key, array)
            loaded += 1
            continue
        refused += 1
        assert resume_status == 2 and sample_status == 2, (name, resume_err, sample_err)
        resume_line = [line for line in resume_err.splitlines() if line.startswith("error: ")]
        sample_line = [line for line in sample_err.splitlines() if line.startswith("error: ")]
        assert len(resume_line) == 1 and str(path) in resume_line[0], (name, resume_err)
        if not resume_line[0].startswith(f"error: {path} was written by an older minigan"):
            assert sample_line == resume_line, (name, resume_err, sample_err)  # one loader, one message
        assert not list(folder.glob("metrics.jsonl")), name  # refused before anything was written
    print(f"{len(variants)} damaged checkpoints: {refused} refused, {loaded} still exact")
    assert refused + loaded == len(variants) >= 55 and refused >= 50


def test_missing_folder_and_fifo_checkpoints_are_refused(tmp_path, capsys):
    fifo = tmp_path / "fifo.npz"
    os.mkfifo(fifo)
    for path, phrase in ((tmp_path / "none.npz", "there is no checkpoint at"),
                         (fifo, "is not a regular file"), (tmp_path, "there is no checkpoint at")):
        for (status, err) in run_both(path, capsys):
            assert status == 2 and phrase in err and "Traceback" not in err, err


def test_a_checkpoint_without_a_format_number_still_loads(original, tmp_path):
    """Checkpoints from before the format number are format 1."""
    shutil.copytree(original.parent, tmp_path / "old")
    arrays = arrays_of(original)
    del arrays["format"]
    numpy.savez(tmp_path / "old" / "checkpoint.npz", **arrays)
    assert Trainer.resume(str(tmp_path / "old")).step == 2
    sampling.load_generator(str(tmp_path / "old" / "checkpoint.npz"))
