"""A PyTorch training script ports to minigan by changing its one import line.

cnn_classifier.py is a plain torch script (conv, relu, max pooling, dropout, linear,
cross-entropy, Adam, a StepLR schedule, a DataLoader, save/load, argmax accuracy). It runs
here as it is on torch, and with `import torch` replaced by `import minigan as torch`, for the
same seeds, each run in its own process. minigan must run it to the end, restore the saved
weights exactly, follow the same learning-rate schedule, and reach torch's test accuracy
within the spread that the seeds themselves show.
"""
import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("cnn_classifier.py")
SEEDS = (0, 1, 2)
STEPS = 300
IMPORT = "import torch\n"


def minigan_script(tmp_path):
    source = SCRIPT.read_text()
    assert source.count(IMPORT) == 1 and "minigan" not in source, \
        "the script must stay a torch script with exactly one `import torch` line"
    ported = tmp_path / "cnn_classifier_minigan.py"
    ported.write_text(source.replace(IMPORT, "import minigan as torch\n"))
    return ported


def run(script, seed, out):
    completed = subprocess.run([sys.executable, str(script), "--seed", str(seed), "--steps", str(STEPS),
                                "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, f"{script.name} seed {seed} failed:\n{completed.stderr[-3000:]}"
    return json.loads((out / "result.json").read_text())


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    pytest.importorskip("torch", reason="PyTorch is the test oracle: pip install torch==2.13.0")
    tmp = tmp_path_factory.mktemp("porting")
    ported = minigan_script(tmp)
    return {name: [run(script, seed, tmp / f"{name}-{seed}") for seed in SEEDS]
            for name, script in (("torch", SCRIPT), ("minigan", ported))}


def test_the_script_is_torch_code_but_for_one_line(tmp_path):
    ported = minigan_script(tmp_path).read_text()
    original = SCRIPT.read_text()
    changed = [(a, b) for a, b in zip(original.splitlines(), ported.splitlines()) if a != b]
    assert changed == [("import torch", "import minigan as torch")]


def test_minigan_reaches_torch_accuracy_within_the_seed_spread(results):
    accuracy = {name: [r["accuracy"] for r in runs] for name, runs in results.items()}
    spread = max(max(a) - min(a) for a in accuracy.values())
    gap = abs(statistics.mean(accuracy["minigan"]) - statistics.mean(accuracy["torch"]))
    assert gap <= max(spread, 0.01), f"accuracy over seeds {SEEDS}: {accuracy}"
    assert min(accuracy["minigan"]) > 0.75, f"minigan learnt too little: {accuracy['minigan']}"


def test_saved_weights_restore_exactly_and_the_schedule_matches(results):
    for torch_run, minigan_run in zip(results["torch"], results["minigan"]):
        assert minigan_run["restored_accuracy"] == minigan_run["accuracy"]
        assert minigan_run["lr"] == pytest.approx(torch_run["lr"], rel=1e-12)
