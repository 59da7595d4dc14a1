"""The DCGAN trainer: it learns, resumes exactly, survives Ctrl-C and NaN, and its CLIs run."""
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy
import pytest

from minigan.training import Config, Trainer, TrainingDiverged
from minigan.training import checkpoint
from minigan.atomic import atomic_path

ROOT = Path(__file__).resolve().parents[2]
TINY = dict(dataset="fake", batch_size=8, ngf=4, ndf=4, nz=8, log_every=2, sample_every=1000,
            checkpoint_every=1000, plot_every=1000)


def tiny_config(tmp_path, **changes):
    return Config(**{**TINY, "out": str(tmp_path / "run"), **changes})


def read_checkpoint(path):
    with numpy.load(path, allow_pickle=False) as archive:
        return {k: archive[k] for k in archive.files}


def run_script(*args, timeout=120):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def test_dry_run_cli_writes_every_output(tmp_path):
    out = tmp_path / "dry"
    result = run_script("examples/train_cifar10.py", "--dataset", "fake", "--dry-run", "--out", str(out))
    assert result.returncode == 0, result.stderr
    for name in ("real_samples.png", "samples.png", "loss.png", "config.json", "checkpoint.npz"):
        assert (out / name).is_file(), name
    assert len(list((out / "samples").glob("step_*.png"))) == 1
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3]
    assert {"loss_D", "loss_G", "D(x)", "D(G(z))", "step_time", "images_per_s"} <= set(records[0])
    saved = read_checkpoint(out / "checkpoint.npz")  # allow_pickle=False must suffice
    assert int(saved["step"]) == 3
    assert any(k.startswith("opt_D/") and k.endswith("exp_avg_sq") for k in saved)
    assert json.loads(str(saved["config"]))["dataset"] == "fake"


def assert_resume_is_bit_exact(tmp_path, **options):
    """6 steps straight equal 3 steps, a checkpoint and 3 resumed steps, in every saved array
    and logged loss; returns the straight run's trainer and checkpoint."""
    straight = Trainer(tiny_config(tmp_path / "a", max_steps=6, **options))
    straight.run()
    first = Trainer(tiny_config(tmp_path / "b", max_steps=3, **options))
    first.run()
    resumed = Trainer.resume(first.config.out, {"max_steps": 6})
    assert resumed.step == 3
    resumed.run()
    a = read_checkpoint(Path(straight.config.out) / "checkpoint.npz")
    b = read_checkpoint(Path(resumed.config.out) / "checkpoint.npz")
    assert sorted(a) == sorted(b)
    for key in a:
        if key != "config":  # records max_steps and out, which differ by design
            assert numpy.array_equal(a[key], b[key]), key
    for name in ("loss_D", "loss_G"):
        assert [r[name] for r in straight.history] == [r[name] for r in resumed.history]
    # The sample-quality measurements (--eval-every) and the best step's checkpoint, too.
    assert [(r["step"], r["frechet_distance"]) for r in straight.evaluations] == \
        [(r["step"], r["frechet_distance"]) for r in resumed.evaluations]
    if straight.evaluations:
        best_a = read_checkpoint(Path(straight.config.out) / "best.npz")
        best_b = read_checkpoint(Path(resumed.config.out) / "best.npz")
        assert sorted(best_a) == sorted(best_b)
        for key in best_a:
            if key != "config":
                assert numpy.array_equal(best_a[key], best_b[key]), key
    return straight, a


def test_resume_is_bit_exact(tmp_path):
    assert_resume_is_bit_exact(tmp_path, ema=0.9)


def test_resume_refuses_to_change_what_is_trained(tmp_path):
    trainer = Trainer(tiny_config(tmp_path, max_steps=1))
    trainer.run()
    with pytest.raises(ValueError, match=r"cannot change \['lr'\].*'lr': 0.0002"):
        Trainer.resume(trainer.config.out, {"lr": 1e-3, "max_steps": 2})


def test_resume_refuses_a_checkpoint_without_the_noise_state(tmp_path):
    """Checkpoints of the NumPy-noise trainer cannot continue exactly: a clear error, not a wrong run."""
    trainer = Trainer(tiny_config(tmp_path, max_steps=1))
    trainer.run()
    path = Path(trainer.config.out) / "checkpoint.npz"
    arrays = read_checkpoint(path)
    del arrays["noise/philox_state"]
    numpy.savez(path, **arrays)
    with pytest.raises(ValueError, match="older minigan whose noise stream"):
        Trainer.resume(trainer.config.out)


class _DivergingTrainer(Trainer):
    """Its loss turns NaN at step 5, after a checkpoint at step 4."""

    def train_step(self, *reals, step=0):
        scalars = super().train_step(*reals, step=step)
        if self.step == 4:
            scalars[0] = numpy.nan
        return scalars


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    trainer = _DivergingTrainer(tiny_config(tmp_path, max_steps=10, log_every=1, checkpoint_every=4))
    with pytest.raises(TrainingDiverged, match="diverged at step 5: loss_D=nan"):
        trainer.run()
    assert int(read_checkpoint(Path(trainer.config.out) / "checkpoint.npz")["step"]) == 4


def test_ctrl_c_saves_a_checkpoint_and_exits_cleanly(tmp_path):
    out = tmp_path / "interrupted"
    process = subprocess.Popen(
        [sys.executable, "examples/train_cifar10.py", "--dataset", "fake", "--batch-size", "8",
         "--ngf", "4", "--ndf", "4", "--max-steps", "100000", "--log-every", "1", "--out", str(out)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = out / "metrics.jsonl"
    deadline = time.time() + 90
    while not (metrics.exists() and metrics.stat().st_size) and time.time() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    step = int(read_checkpoint(out / "checkpoint.npz")["step"])
    assert step >= 1
    logged = [json.loads(line)["step"] for line in metrics.read_text().splitlines()]
    assert logged == list(range(1, step + 1))  # nothing lost, nothing logged past the checkpoint


def test_offline_cifar10_says_what_to_do(tmp_path):
    result = run_script("examples/train_cifar10.py", "--data-dir", str(tmp_path / "empty"),
                        "--max-steps", "1", "--out", str(tmp_path / "run"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "--data-dir" in result.stderr and "--dataset fashion-mnist" in result.stderr


def test_missing_gpu_is_one_clear_line(tmp_path):
    try:
        import minigan.backend
        minigan.backend.require_cupy()
        pytest.skip("a GPU is present: the missing-GPU message cannot be shown here")
    except minigan.backend.BackendUnavailable:
        pass
    result = run_script("examples/train_cifar10.py", "--backend", "cupy", "--dry-run",
                        "--out", str(tmp_path / "run"))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "pip install -e .[cuda12]" in result.stderr


def test_sample_cli_grid_walks_and_npy(tmp_path):
    trainer = Trainer(tiny_config(tmp_path, max_steps=1))
    trainer.run()
    ckpt = str(Path(trainer.config.out) / "checkpoint.npz")
    result = run_script("examples/sample.py", "--checkpoint", ckpt, "--n", "12", "--out",
                        str(tmp_path / "grid.png"), "--save-npy", str(tmp_path / "raw.npy"))
    assert result.returncode == 0, result.stderr
    raw = numpy.load(tmp_path / "raw.npy", allow_pickle=False)
    assert raw.shape == (12, 3, 32, 32) and raw.min() >= -1 and raw.max() <= 1
    result = run_script("examples/sample.py", "--checkpoint", ckpt, "--interpolate", "--n", "16",
                        "--steps", "8", "--out", str(tmp_path / "walk.png"), "--save-npy",
                        str(tmp_path / "walk.npy"))
    assert result.returncode == 0, result.stderr
    walk = numpy.load(tmp_path / "walk.npy").reshape(2, 8, -1)
    # Points along a straight latent walk change smoothly: neighbours are closer than the ends.
    neighbour = numpy.abs(walk[:, 1:] - walk[:, :-1]).mean()
    assert neighbour < numpy.abs(walk[:, -1] - walk[:, 0]).mean()


def test_atomic_write_failure_keeps_the_old_file(tmp_path):
    target = tmp_path / "checkpoint.npz"
    checkpoint.save(target, {"G": {"w": numpy.ones(3)}}, {"step": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            Path(tmp).write_bytes(b"half a file")
            raise RuntimeError("crash mid-write")
    assert int(read_checkpoint(target)["step"]) == 1
    assert os.listdir(tmp_path) == ["checkpoint.npz"]


def _half_bright_images(n, seed):
    """Left half bright, right half dark, plus noise: easy to learn, invisible to an untrained G."""
    rng = numpy.random.default_rng(seed)
    images = numpy.empty((n, 1, 32, 32), dtype=numpy.uint8)
    images[..., :16] = 220
    images[..., 16:] = 35
    noise = rng.integers(-30, 31, size=images.shape)
    return numpy.clip(images + noise, 0, 255).astype(numpy.uint8)


def test_training_learns_the_data(tmp_path):
    # lr 1e-3: at the DCGAN default of 2e-4 these 8-channel nets need far more than 300 steps.
    config = tiny_config(tmp_path, batch_size=32, ngf=8, ndf=8, nz=16, lr=1e-3, max_steps=300,
                         log_every=10)
    trainer = Trainer(config, images=_half_bright_images(512, seed=1))
    before = trainer.generate(trainer.fixed_noise)
    history = trainer.run()
    after = trainer.generate(trainer.fixed_noise)

    def contrast(samples):  # data: about (220 - 35) / 127.5 = 1.45
        return samples[..., :16].mean() - samples[..., 16:].mean()

    assert abs(contrast(before)) < 0.2
    assert contrast(after) > 0.7, f"G did not learn the bright/dark halves: contrast {contrast(after)}"
    # D learned to tell real from fake at some point (it must, for G to get a signal).
    assert max(r["D(x)"] - r["D(G(z))"] for r in history) > 0.3


def test_image_size_64_adds_a_block_and_upsamples_the_data(tmp_path):
    trainer = Trainer(tiny_config(tmp_path, max_steps=1, image_size=64))
    assert trainer.real_batch(0).shape == (8, 3, 64, 64)
    convs = [name for name, p in trainer.D.named_parameters() if p.ndim == 4]
    assert len(convs) == 5  # 64 -> 32 -> 16 -> 8 -> 4 -> 1
    trainer.run()
    assert trainer.generate(trainer.fixed_noise[:2]).shape == (2, 3, 64, 64)


def test_atomic_writes_get_ordinary_permissions(tmp_path):
    target = tmp_path / "grid.png"
    with atomic_path(target) as tmp:
        Path(tmp).write_bytes(b"png")
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
