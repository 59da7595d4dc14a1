"""--eval-every: the sample-quality metric is measured at the right steps on a fixed sample,
best.npz holds the best-scoring step's weights, the history survives resume, and the classifier
feature space reads the classifier example's weights (as torch computes its features) or says in
one line what is wrong."""
import json
from pathlib import Path

import numpy
import pytest

import minigan
from minigan import nn
from minigan.models.dcgan import Generator
from minigan.models.fashion_classifier import make_classifier
from minigan.training import Config, Trainer
from minigan.training.evaluation import classifier_features
from minigan.training.sampling import load_generator, sample

from .test_trainer import assert_resume_is_bit_exact, read_checkpoint, run_script, tiny_config

EVAL = dict(eval_samples=32)


def eval_records(out):
    return [json.loads(line) for line in (Path(out) / "eval.jsonl").read_text().splitlines()]


@pytest.fixture
def no_inception_weights(tmp_path, monkeypatch):
    """Caches where pytorch-fid's Inception weights are not."""
    monkeypatch.setenv("MINIGAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "cache"


def test_the_metric_is_measured_every_n_steps(tmp_path, no_inception_weights):
    trainer = Trainer(tiny_config(tmp_path, max_steps=7, eval_every=3, **EVAL))
    trainer.run()
    records = eval_records(trainer.config.out)
    assert [r["step"] for r in records] == [3, 6]
    # auto is the random-feature distance where no Inception weights are present.
    assert {r["metric"] for r in records} == {"random"} and trainer.config.eval_metric == "random"
    assert all(numpy.isfinite(r["frechet_distance"]) and r["frechet_distance"] > 0 for r in records)
    assert (Path(trainer.config.out) / "metric.png").is_file()


def test_no_measurement_without_eval_every(tmp_path):
    trainer = Trainer(tiny_config(tmp_path, max_steps=2))
    trainer.run()
    for name in ("eval.jsonl", "best.npz", "metric.png"):
        assert not (Path(trainer.config.out) / name).exists(), name


def test_best_npz_holds_the_weights_of_the_best_step(tmp_path):
    """Re-measured from the files, best.npz's G scores the lowest recorded distance and the final
    checkpoint's G the last one. A large --lr makes the scores rise and fall, so that the best
    step is neither the first nor the last (a best.npz rewritten at every measurement would fail)."""
    trainer = Trainer(tiny_config(tmp_path, max_steps=5, eval_every=1, lr=2e-2, **EVAL))
    trainer.run()
    out = Path(trainer.config.out)
    records = eval_records(out)
    distances = [r["frechet_distance"] for r in records]
    best = int(numpy.argmin(distances))
    assert 0 < best < len(records) - 1, distances  # the premise of this test
    saved = read_checkpoint(out / "best.npz")
    assert int(saved["step"]) == records[best]["step"]
    assert json.loads(str(saved["evaluation"]))["frechet_distance"] == distances[best]
    for path, expected in ((out / "best.npz", distances[best]), (out / "checkpoint.npz", distances[-1])):
        G = load_generator(path)
        numpy.testing.assert_allclose(trainer.evaluator.score(lambda z: sample(G, z)), expected, rtol=1e-9)


def test_resume_keeps_the_measurements_and_best_npz(tmp_path):
    assert_resume_is_bit_exact(tmp_path, eval_every=2, **EVAL)


def test_resume_drops_measurements_after_the_checkpoint(tmp_path):
    """A measurement logged after the last checkpoint (a run killed before its next one) is
    cut off on resume, as the losses are, and measured again."""
    trainer = Trainer(tiny_config(tmp_path, max_steps=2, eval_every=1, **EVAL))
    trainer.run()
    log = Path(trainer.config.out) / "eval.jsonl"
    with open(log, "a") as f:
        f.write(json.dumps({"step": 3, "metric": "random", "frechet_distance": 0.0}) + "\n")
    resumed = Trainer.resume(trainer.config.out, {"max_steps": 3})
    assert [r["step"] for r in resumed.evaluations] == [1, 2]
    resumed.run()
    records = eval_records(trainer.config.out)
    assert [r["step"] for r in records] == [1, 2, 3] and records[-1]["frechet_distance"] > 0


def fashion_like(n, seed):
    """uint8 (n, 1, 32, 32): 28x28 images padded by 2 black pixels, as minigan.data.fashion_mnist."""
    images = numpy.zeros((n, 1, 32, 32), numpy.uint8)
    images[:, :, 2:30, 2:30] = numpy.random.default_rng(seed).integers(0, 256, (n, 1, 28, 28))
    return images


@pytest.fixture
def classifier_file(tmp_path):
    minigan.manual_seed(0)
    path = tmp_path / "classifier.pt"
    minigan.save(make_classifier(nn).state_dict(), path)
    return path


def test_classifier_features_are_the_penultimate_layer_as_torch_computes_it(classifier_file):
    torch = pytest.importorskip("torch", reason="PyTorch is the test oracle: pip install torch==2.13.0")
    images = fashion_like(6, seed=1) / 127.5 - 1
    reference = make_classifier(torch.nn)
    reference.load_state_dict({k: torch.from_numpy(v) for k, v in minigan.load(classifier_file).items()})
    with torch.no_grad():
        cropped = torch.from_numpy((images[:, :, 2:30, 2:30] + 1) / 2).float()
        expected = reference.eval()[:-2](cropped).double().numpy()  # up to the ReLU before the logits
    got = classifier_features(str(classifier_file), numpy)(images)
    assert got.shape == (6, 128)
    numpy.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    numpy.testing.assert_allclose(classifier_features(str(classifier_file), numpy)(images[:, :, 2:30, 2:30]),
                                  expected, rtol=1e-5, atol=1e-6)  # unpadded 28x28 images too


def test_the_trainer_measures_in_classifier_features(tmp_path, classifier_file):
    config = tiny_config(tmp_path, max_steps=2, eval_every=2, eval_metric=f"classifier:{classifier_file}", **EVAL)
    trainer = Trainer(config, images=fashion_like(64, seed=2))
    trainer.run()
    assert [(r["step"], r["metric"]) for r in trainer.evaluations] == [(2, f"classifier:{classifier_file}")]


def test_a_missing_classifier_file_is_one_line(tmp_path):
    missing = tmp_path / "nowhere.pt"
    result = run_script("examples/train_fashion_mnist.py", "--dry-run", "--out", str(tmp_path / "run"),
                        "--eval-every", "1", "--eval-metric", f"classifier:{missing}")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: --eval-metric classifier:{missing}: there is no classifier file at {missing}; "
        f"train one with python examples/train_fashion_mnist_classifier.py --out {missing}"]


def test_missing_inception_weights_are_one_line_saying_where_to_get_them(tmp_path, no_inception_weights):
    with pytest.raises(ValueError) as caught:
        Trainer(tiny_config(tmp_path, max_steps=1, eval_every=1, eval_metric="inception", **EVAL))
    message = str(caught.value)
    assert message.startswith(f"--eval-metric inception: the Inception weights are not at {no_inception_weights}")
    assert "curl -L" in message and "\n" not in message


def test_a_file_of_another_model_is_one_line(tmp_path):
    other = tmp_path / "generator.pt"
    minigan.save(Generator(8, 4, 1).state_dict(), other)
    with pytest.raises(ValueError, match=f"{other} does not hold the weights of examples/"
                                         f"train_fashion_mnist_classifier.py's classifier") as caught:
        classifier_features(str(other), numpy)
    assert "\n" not in str(caught.value)


def test_classifier_features_refuse_other_images(classifier_file):
    with pytest.raises(ValueError, match=r"got images of shape \(3, 32, 32\)"):
        classifier_features(str(classifier_file), numpy)(numpy.zeros((2, 3, 32, 32)))


@pytest.mark.parametrize("changes, message", [
    (dict(eval_metric="fid"), "eval_metric must be one of"),
    (dict(eval_metric="classifier:"), "eval_metric must be one of"),
    (dict(eval_samples=1), "eval_samples must be 2 or more"),
    (dict(eval_every=-1), "eval_every must be 0 or more"),
    (dict(eval_every=1, conditional=True), "cannot measure a --conditional run yet")])
def test_bad_eval_settings_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        Config(**changes)
