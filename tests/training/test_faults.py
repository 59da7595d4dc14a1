"""Faults injected for real into trainer processes (issue 12): signals, kill -9, a full disk,
two trainers on one run directory, corrupt checkpoints. Each checks: no traceback, the exit
status and a message naming the fault, and nothing lost that the last checkpoint covers."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy
import pytest

ROOT = Path(__file__).resolve().parents[2]
TRAIN = [sys.executable, "examples/train_cifar10.py", "--dataset", "fake", "--batch-size", "8",
         "--ngf", "4", "--ndf", "4", "--nz", "8"]


def train(*args, timeout=120):
    return subprocess.run([*TRAIN, *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def start(*args):
    return subprocess.Popen([*TRAIN, *map(str, args)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def wait_for_steps(out, timeout=60, name="metrics.jsonl"):
    written = Path(out) / name
    deadline = time.time() + timeout
    while not (written.exists() and written.stat().st_size) and time.time() < deadline:
        time.sleep(0.05)
    assert time.time() < deadline, f"the trainer wrote no {name}"


def checkpoint_step(out):
    with numpy.load(Path(out) / "checkpoint.npz", allow_pickle=False) as archive:
        return int(archive["step"])


def logged_steps(out):
    return [json.loads(line)["step"] for line in (Path(out) / "metrics.jsonl").read_text().splitlines()]


def assert_clean_failure(result, status, *phrases):
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == status, (result.returncode, result.stderr)
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_stop_signal_finishes_the_step_saves_and_exits_128_plus_it(tmp_path, signum):
    out = tmp_path / "run"
    process = start("--max-steps", 100000, "--log-every", 1, "--out", out)
    wait_for_steps(out)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    name = signal.Signals(signum).name
    assert_clean_failure(subprocess.CompletedProcess([], process.returncode, "", stderr), 128 + signum,
                         f"{name}: saved {out / 'checkpoint.npz'}")
    step = checkpoint_step(out)
    assert logged_steps(out) == list(range(1, step + 1))
    assert not (out / ".lock").exists()
    if signum == signal.SIGTERM:
        result = train("--resume", out, "--max-steps", step + 2)
        assert result.returncode == 0, result.stderr
        assert logged_steps(out) == list(range(1, step + 3))


# --- the run directory: where a resumed run writes, its one owner, its metrics and temp files ---

def tiny(tmp_path, name, **changes):
    from minigan.training import Config
    return Config(dataset="fake", batch_size=8, ngf=4, ndf=4, nz=8, log_every=1, sample_every=1000,
                  checkpoint_every=2, plot_every=1000, out=str(tmp_path / name), **changes)


def test_resume_continues_in_the_directory_it_is_given_not_the_saved_out(tmp_path):
    import shutil
    from minigan.training import Trainer
    Trainer(tiny(tmp_path, "live", max_steps=4)).run()
    shutil.copytree(tmp_path / "live", tmp_path / "backup")
    Trainer.resume(str(tmp_path / "live"), {"max_steps": 8}).run()
    resumed = Trainer.resume(str(tmp_path / "backup" / "checkpoint.npz"), {"max_steps": 6})
    resumed.run()
    assert Path(resumed.config.out) == tmp_path / "backup"
    assert checkpoint_step(tmp_path / "live") == 8 and logged_steps(tmp_path / "live") == list(range(1, 9))
    assert checkpoint_step(tmp_path / "backup") == 6 and logged_steps(tmp_path / "backup") == list(range(1, 7))
    elsewhere = Trainer.resume(str(tmp_path / "backup"), {"max_steps": 7, "out": str(tmp_path / "fork")})
    elsewhere.run()
    assert checkpoint_step(tmp_path / "fork") == 7 and checkpoint_step(tmp_path / "backup") == 6


def test_resume_with_epochs_replaces_the_saved_max_steps(tmp_path):
    from minigan.training import Trainer
    Trainer(tiny(tmp_path, "run", max_steps=2)).run()
    resumed = Trainer.resume(str(tmp_path / "run"), {"epochs": 1})
    assert resumed.total_steps == len(resumed.batches)


def test_a_second_trainer_on_a_live_run_directory_is_refused(tmp_path):
    out = tmp_path / "run"
    first = start("--max-steps", 100000, "--log-every", 1, "--checkpoint-every", 1, "--out", out, "--seed", 1)
    try:
        wait_for_steps(out)
        second = train("--max-steps", 3, "--out", out, "--seed", 2)
        assert_clean_failure(second, 2, f"{out} is in use by another trainer (PID {first.pid}")
        resumed = train("--resume", out, "--max-steps", 3)
        assert_clean_failure(resumed, 2, "is in use by another trainer")
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    assert first.returncode == 128 + signal.SIGTERM
    steps = logged_steps(out)
    assert steps == list(range(1, checkpoint_step(out) + 1))  # one run's steps, each once


def test_a_stale_lock_is_taken_over_with_a_warning(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    import socket
    (out / ".lock").write_text(f"{gone} {socket.gethostname()}\n")
    result = train("--max-steps", 2, "--out", out)
    assert result.returncode == 0, result.stderr
    assert f"warning: taking over {out / '.lock'}, left by PID {gone}, which is gone" in result.stderr
    assert not (out / ".lock").exists()


def test_resume_drops_a_torn_line_and_the_temp_files_of_a_killed_run(tmp_path):
    from minigan.training import Trainer
    Trainer(tiny(tmp_path, "run", max_steps=4)).run()
    out = tmp_path / "run"
    good = (out / "metrics.jsonl").read_text()
    after = [json.dumps({"step": s, "loss_D": 1.0}) + "\n" for s in (5, 6)]
    (out / "metrics.jsonl").write_text(good + "".join(after) + '{"step": 7, "loss_D": 0.')
    temps = [out / ".checkpoint.npz.a1b2c3d4.tmp.npz", out / "samples" / ".samples.png.zz_9x8y7.tmp.png",
             out / ".loss.png.k2j3h4g5.tmp.png", out / ".metrics.jsonl.qwertyui.tmp.jsonl"]
    (out / "samples").mkdir(exist_ok=True)
    for temp in temps:
        temp.write_bytes(b"partial")
    (out / ".keep.me").write_text("not ours")
    from minigan.training import rundir
    assert rundir.read_metrics(str(out / "metrics.jsonl"), 4)  # before the fix: a JSON error
    resumed = Trainer.resume(str(out), {"max_steps": 6})
    resumed.run()
    assert logged_steps(out) == list(range(1, 7))
    assert (out / "metrics.jsonl").read_text().startswith(good)  # what the checkpoint covers is kept
    assert not any(temp.exists() for temp in temps)
    assert (out / ".keep.me").exists()


# --- a full disk: a real, small tmpfs (the tmpfs fixture is in tests/conftest.py) ---

def fill(folder):
    """Write a filler file in folder until the disk is full; returns its path."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


def assert_whole_lines(out):
    text = (Path(out) / "metrics.jsonl").read_text()
    assert text.endswith("\n") or not text
    steps = [json.loads(line)["step"] for line in text.splitlines()]
    assert steps == list(range(1, len(steps) + 1))
    return steps


@pytest.mark.slow
def test_a_disk_that_fills_up_mid_run_is_one_line_and_loses_nothing(tmpfs):
    disk = tmpfs("disk", "3m")
    out = disk / "run"
    process = start("--max-steps", 100000, "--log-every", 1, "--checkpoint-every", 3, "--out", out)
    wait_for_steps(out, name="checkpoint.npz")
    filler = fill(disk)
    _, stderr = process.communicate(timeout=60)
    result = subprocess.CompletedProcess([], process.returncode, "", stderr)
    assert_clean_failure(result, 1, "error: the disk is full: could not write " + str(out),
                         f"continue with --resume {out}")
    steps = assert_whole_lines(out)  # no half line from the failed append
    saved = checkpoint_step(out)  # the last good checkpoint is whole
    assert saved <= len(steps)
    filler.unlink()
    result = train("--resume", out, "--max-steps", saved + 2, "--sample-every", 1000)
    assert result.returncode == 0, result.stderr
    assert assert_whole_lines(out) == list(range(1, saved + 3))


@pytest.mark.slow
def test_resuming_onto_a_full_disk_changes_nothing(tmpfs):
    disk = tmpfs("disk", "2m")
    out = disk / "run"
    assert train("--max-steps", 4, "--checkpoint-every", 2, "--log-every", 1, "--out", out).returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    filler = fill(disk)
    result = train("--resume", out, "--max-steps", 8)
    assert_clean_failure(result, 1, "error: the disk is full: could not write " + str(out))
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    filler.unlink()
    assert train("--resume", out, "--max-steps", 6).returncode == 0
    assert assert_whole_lines(out) == list(range(1, 7))


def test_an_out_folder_on_a_read_only_disk_is_one_line(tmpfs):
    disk = tmpfs("ro", "1m", "ro")
    result = train("--max-steps", 2, "--out", disk / "run")
    assert_clean_failure(result, 1, f"error: Read-only file system: {disk / 'run'}")


def test_a_metrics_append_cut_short_by_a_full_disk_leaves_no_half_line(tmpfs):
    from minigan.training import rundir
    disk = tmpfs("disk", "1m")
    metrics = disk / "metrics.jsonl"
    metrics.write_text("x" * 4000 + "\n")  # 95 bytes left in its last page
    fill(disk)
    with pytest.raises(OSError) as raised:
        rundir.append_lines(str(metrics), ['{"step": 1, "padding": "' + "y" * 300 + '"}\n'])
    assert raised.value.filename == str(metrics)
    assert metrics.read_text() == "x" * 4000 + "\n"


# --- kill -9 at seeded random moments, checkpoint and plot writes included ---

KILL_RUN = ["--log-every", 1, "--checkpoint-every", 1, "--sample-every", 1, "--plot-every", 5]


def wait_for_owner(out, process, timeout=60):
    """Until process holds out's lock: it has loaded everything and is about to train."""
    lock, deadline = out / ".lock", time.time() + timeout
    while time.time() < deadline:
        try:
            if lock.read_text().split()[0] == str(process.pid):
                return
        except (FileNotFoundError, IndexError):
            pass
        time.sleep(0.02)
    raise AssertionError(f"trainer {process.pid} never took {lock}")


def wait_for_temp(out, prefix, timeout=5):
    deadline = time.time() + timeout
    while time.time() < deadline and not any(n.startswith(prefix) for n in os.listdir(out)):
        pass  # polled without sleeping: a checkpoint write lasts milliseconds


def snapshot(out):
    """What the last checkpoint covers: its step, and the metrics lines and sample files up to it."""
    step = checkpoint_step(out)
    lines = (out / "metrics.jsonl").read_text().splitlines(keepends=True)[:step]
    samples = {p.name: p.read_bytes() for p in (out / "samples").glob("step_*.png")
               if int(p.stem[5:]) <= step}
    return step, lines, samples


@pytest.mark.slow
def test_kill_9_at_random_moments_loses_nothing_and_resumes_exactly(tmp_path):
    rng = numpy.random.default_rng(2026)
    out = tmp_path / "run"
    kills, mid_write, mid_checkpoint, covered = 0, 0, 0, (0, [], {})
    while kills < 20:
        args = ["--resume", out] if (out / "checkpoint.npz").exists() else ["--out", out]
        process = start(*args, "--max-steps", 100000, *KILL_RUN)
        wait_for_owner(out, process)
        time.sleep(rng.uniform(0.3, 1.5))  # its first step takes ~1 s, then ~0.1 s a step
        if kills % 2:  # every other kill lands in a checkpoint write, as soon as one starts
            wait_for_temp(out, ".checkpoint.npz.")
        process.kill()
        _, stderr = process.communicate(timeout=30)
        assert "Traceback" not in stderr, stderr
        kills += 1
        temps = [p for p in [*out.iterdir(), *(out / "samples").iterdir()] if ".tmp" in p.name]
        mid_write += bool(temps)  # a kill mid-write leaves its temp file (removed on resume)
        mid_checkpoint += any(p.name.startswith(".checkpoint.npz.") for p in temps)
        if not (out / "checkpoint.npz").exists():
            continue
        now = snapshot(out)  # the checkpoint is whole: it loads
        step, lines, samples = covered
        assert now[0] >= step
        assert now[1][:step] == lines, "a metrics line the checkpoint covered changed"
        assert {k: v for k, v in now[2].items() if k in samples} == samples, "a sample changed"
        covered = now
    final = covered[0] + 2
    result = train("--resume", out, "--max-steps", final, *KILL_RUN)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert f"warning: taking over {out / '.lock'}" in result.stderr  # the last kill's stale lock
    assert not [p for p in [*out.iterdir(), *(out / "samples").iterdir()] if ".tmp" in p.name or p.name == ".lock"]
    straight = tmp_path / "straight"
    assert train("--out", straight, "--max-steps", final, *KILL_RUN).returncode == 0
    from minigan.training import checkpoint
    killed, uninterrupted = checkpoint.load(str(out / "checkpoint.npz")), checkpoint.load(str(straight / "checkpoint.npz"))
    for section in uninterrupted[0]:
        for name, value in uninterrupted[0][section].items():
            assert numpy.array_equal(killed[0][section][name], value), (section, name)
    losses = [(r["loss_D"], r["loss_G"]) for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines())]
    assert losses == [(r["loss_D"], r["loss_G"]) for r in map(json.loads, (straight / "metrics.jsonl").read_text().splitlines())]
    print(f"{kills} kills, {mid_write} of them mid-write ({mid_checkpoint} mid-checkpoint); "
          f"resumed exactly at step {final}")
    assert mid_checkpoint >= 5


def test_a_damaged_metrics_line_before_the_last_is_refused_naming_the_file(tmp_path, capsys):
    from minigan.training import Trainer, main
    Trainer(tiny(tmp_path, "run", max_steps=2)).run()
    metrics = tmp_path / "run" / "metrics.jsonl"
    lines = metrics.read_text().splitlines(keepends=True)
    metrics.write_text(lines[0][:50] + "\n" + lines[1])
    assert main(["--resume", str(tmp_path / "run"), "--max-steps", "3"]) == 2
    err = capsys.readouterr().err
    assert f"error: {metrics} line 1 is not a metrics record" in err and "Traceback" not in err
    assert metrics.read_text() == lines[0][:50] + "\n" + lines[1]
