"""Nonsense on the command lines (issue 12, item 10): each is one sentence on stderr naming
the flag or file, a non-zero exit status, no traceback."""
import subprocess
import sys
from pathlib import Path

import pytest

from minigan.training import main, sampling

ROOT = Path(__file__).resolve().parents[2]
FAKE = ["--dataset", "fake", "--batch-size", "8", "--ngf", "4", "--ndf", "4", "--nz", "8"]


def status_and_stderr(run, capsys):
    try:
        status = run()
    except SystemExit as exit_:  # argparse's own errors
        status = exit_.code
    return status, capsys.readouterr().err


@pytest.mark.parametrize("flags, phrase", [
    (["--lr", "nan"], "lr must be a number in (0, 10000], got nan"),
    (["--lr", "inf"], "got inf"),
    (["--lr", "1e20"], "got 1e+20"),
    (["--lr", "-1"], "got -1.0"),
    (["--beta1", "nan"], "beta1 must be in [0, 1)"),
    (["--max-steps", "-5"], "max_steps must be 0 or more, got -5"),
    (["--epochs", "-1", "--max-steps", "3"], "epochs must be 0 or more"),
    (["--seed", "-1"], "seed must be 0 or more"),
    (["--out", ""], "out must not be empty"),
    (["--data-dir", ""], "data_dir must not be empty"),
    (["--image-size", "40"], "image_size must be 32 or 64, got 40"),
    (["--n-critic", "0"], "n_critic must be positive, got 0"),
    (["--lr-g", "-1"], "lr_g must be 0 (use --lr) or a number in (0, 10000], got -1.0"),
    (["--lr-d", "nan"], "lr_d must be 0 (use --lr) or a number in (0, 10000], got nan"),
    (["--loss", "wasserstein"], "loss must be one of ('bce', 'hinge', 'wgan-gp'), got 'wasserstein'"),
    (["--loss", "wgan-gp", "--gp-weight", "0"], "gp_weight must be positive, got 0.0"),
    (["--r1", "-1"], "r1 (gamma) must be 0 (off) or positive, got -1.0"),
    (["--r1", "nan"], "r1 (gamma) must be 0 (off) or positive, got nan"),
    (["--r1", "1", "--r1-every", "0"], "r1_every must be positive, got 0"),
])
def test_nonsense_flags_are_refused_at_parse_time(flags, phrase, capsys, tmp_path):
    status, err = status_and_stderr(lambda: main([*FAKE, "--out", str(tmp_path / "run"), *flags]), capsys)
    assert status == 2 and phrase in err and "Traceback" not in err, err
    assert not (tmp_path / "run").exists()


def test_an_out_or_data_dir_that_is_a_file_is_refused(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    for flag in ("--out", "--data-dir"):
        status, err = status_and_stderr(lambda: main([*FAKE, "--max-steps", "1", flag, str(afile)]), capsys)
        assert status == 2 and f"error: {flag} {afile} is a file, not a folder" in err, err
    assert afile.read_text() == "x"


def test_a_diverging_lr_is_stopped_with_a_message_naming_a_real_checkpoint(tmp_path):
    out = tmp_path / "run"
    result = subprocess.run([sys.executable, "examples/train_cifar10.py", *FAKE, "--lr", "1e4",
                             "--max-steps", "40", "--log-every", "1", "--checkpoint-every", "1000",
                             "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "training diverged at step" in result.stderr
    assert "No checkpoint was saved before it; start again with a lower --lr" in result.stderr
    assert not (out / "checkpoint.npz").exists()


@pytest.mark.parametrize("name", ["grid", "grid.txt", "folder"])
def test_sample_out_must_be_an_image_file(tmp_path, capsys, name):
    (tmp_path / "folder").mkdir()
    out = tmp_path / name
    status, err = status_and_stderr(lambda: sampling.main(["--checkpoint", str(tmp_path / "none.npz"),
                                                          "--out", str(out)]), capsys)
    assert status == 2 and f"--out '{out}' is not an image file name" in err, err


def test_minigan_debug_shows_the_traceback(tmp_path, capsys, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("x")
    monkeypatch.setenv("MINIGAN_DEBUG", "1")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        main([*FAKE, "--max-steps", "1", "--out", str(afile)])
