"""examples/compare_gans.py end to end on a tiny Fashion-MNIST and budget: its table holds each
seed's measured distance, their mean ± sample std and the gap to the reference; the grids and the
raw results are written; a run is reused only under the same budget and settings; a
configuration the trainer cannot make yet is refused in one line."""
import importlib.util
import json
from pathlib import Path

import numpy
import pytest

import minigan
from minigan import nn
from minigan.models.fashion_classifier import make_classifier
from minigan.training.images import plt

from data.test_fashion_mnist import write_split

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "compare_gans.py"


@pytest.fixture
def example():
    spec = importlib.util.spec_from_file_location("compare_gans_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def tiny_fashion(tmp_path):
    rng = numpy.random.default_rng(0)
    for prefix in ("train", "t10k"):
        write_split(tmp_path, prefix, rng.integers(0, 256, (64, 28, 28), dtype=numpy.uint8),
                    rng.integers(0, 10, 64, dtype=numpy.uint8))
    minigan.manual_seed(0)
    minigan.save(make_classifier(nn).state_dict(), tmp_path / "classifier.pt")
    return tmp_path


def test_compare_gans_writes_the_table_grids_and_results(example, tiny_fashion, tmp_path, monkeypatch):
    # Two configurations the trainer has today: the reference and DCGAN with the hinge loss.
    monkeypatch.setitem(example.CONFIGS, "dcgan-hinge", ("DCGAN + hinge", dict(loss="hinge")))
    out = tmp_path / "out"
    arguments = ["--configs", "dcgan-bce", "dcgan-hinge", "--seeds", "0", "1", "--steps", "2", "--batch-size", "8",
                 "--ngf", "4", "--ndf", "4", "--samples", "16", "--data-dir", str(tiny_fashion),
                 "--metric", f"classifier:{tiny_fashion / 'classifier.pt'}", "--out", str(out)]
    assert example.main(arguments) == 0
    results = json.loads((out / "results.json").read_text())
    distances = {name: [results["runs"][name][seed]["frechet_distance"] for seed in ("0", "1")]
                 for name in ("dcgan-bce", "dcgan-hinge")}
    assert all(d > 0 for values in distances.values() for d in values)
    assert distances["dcgan-bce"] != distances["dcgan-hinge"]
    rows = {line.split(" | ")[0].lstrip("| "): line for line in (out / "table.md").read_text().splitlines()
            if line.startswith("| DCGAN")}
    bce, hinge = distances["dcgan-bce"], distances["dcgan-hinge"]
    assert rows["DCGAN + BCE"].startswith(f"| DCGAN + BCE | {(bce[0] + bce[1]) / 2:.2f} ± "
                                          f"{abs(bce[0] - bce[1]) / 2 ** 0.5:.2f} | {bce[0]:.2f}, {bce[1]:.2f} |  |")
    assert f"| {(hinge[0] + hinge[1] - bce[0] - bce[1]) / 2:+.2f} |" in rows["DCGAN + hinge"]
    assert rows["DCGAN + hinge"].endswith("| --lr 0.0002 --beta1 0.5 --loss hinge |")
    assert plt.imread(out / "samples.png").shape[:2] == (680, 640)  # a row of 340 px per seed, a column of 320 per configuration
    # Called again with the same budget, it trains nothing: each run's record is reused.
    first_table = (out / "table.md").read_text()
    monkeypatch.setattr(example, "train_and_measure", None)
    assert example.main(arguments) == 0
    assert (out / "table.md").read_text() == first_table
    # A configuration whose settings changed is trained again; the unchanged one is still reused.
    monkeypatch.setitem(example.CONFIGS, "dcgan-hinge", ("DCGAN + hinge", dict(loss="hinge", beta1=0.0)))
    trained = []
    monkeypatch.setattr(example, "train_and_measure", lambda args, shared, evaluator, name, seed: trained.append(
        (name, seed)) or {"frechet_distance": 1.0, "train_seconds": 1.0})
    assert example.main(arguments) == 0
    assert trained == [("dcgan-hinge", 0), ("dcgan-hinge", 1)]
    assert "| --lr 0.0002 --beta1 0.0 --loss hinge |" in (out / "table.md").read_text()


def test_a_configuration_the_trainer_cannot_make_is_refused(example, monkeypatch, capsys):
    monkeypatch.setitem(example.CONFIGS, "future", ("Future", dict(loss="hinge", no_such_setting=True)))
    assert example.main(["--configs", "dcgan-bce", "future"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "compare_gans.py: this minigan's trainer has no ['no_such_setting'] settings yet, which ['future'] "
        "need; choose other --configs"]
