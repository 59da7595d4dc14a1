"""benchmarks/gpu_check.py's parts that run without a GPU: its arguments, the "no GPU" answer,
the summary it writes, and the eager launch count it reports (on the emulated GPU)."""
import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
import gpu_check  # noqa: E402
from sections import launches  # noqa: E402


def test_arguments_and_their_defaults():
    args = gpu_check.parse_args([])
    assert (args.batches, args.rounds, args.skip, args.out, args.child) == ([64, 128], 20, [], None, None)
    args = gpu_check.parse_args(["--batches", "32", "--rounds", "5", "--skip", "gemm", "steps", "--out", "x"])
    assert (args.batches, args.rounds, args.skip, args.out) == ([32], 5, ["gemm", "steps"], "x")


@pytest.mark.parametrize("argv", [["--batches", "0"], ["--rounds", "-1"], ["--skip", "everything"]])
def test_bad_arguments_are_refused(argv, capsys):
    with pytest.raises(SystemExit):
        gpu_check.parse_args(argv)
    assert "error" in capsys.readouterr().err


def test_without_a_gpu_it_says_what_is_missing_and_records_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(gpu_check, "environment", lambda: ({"cupy": None, "torch": "2.13.0", "nvcc": None},
                                                           ["CuPy is not installed: pip install -e .[cuda12]"]))
    assert gpu_check.main(["--out", str(tmp_path)]) == gpu_check.NO_GPU
    assert "needs an NVIDIA GPU with CuPy: CuPy is not installed" in capsys.readouterr().err
    record = json.loads((tmp_path / "gpu_check.json").read_text())
    assert "Nothing was measured" in record["no_gpu"]
    assert "Nothing was measured" in (tmp_path / "gpu_check.md").read_text()


def test_the_environment_check_names_a_missing_cupy(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy then raises ImportError
    found, missing = gpu_check.environment()
    assert found["cupy"] is None and any("CuPy is not installed" in m for m in missing)


def test_the_results_go_to_out_then_to_the_gpus_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("OUT", str(tmp_path))
    assert gpu_check.results_folder(gpu_check.parse_args([]), "NVIDIA H200") == str(tmp_path)
    assert gpu_check.results_folder(gpu_check.parse_args(["--out", "x"]), "NVIDIA H200") == "x"
    monkeypatch.delenv("OUT")
    assert gpu_check.results_folder(gpu_check.parse_args([]), "NVIDIA H200").endswith("results/gpu-nvidia-h200")


RECORD = {
    "date": "2026-11-30 12:00:00 UTC", "environment": {"cupy": "14.2.0", "torch": "2.13.0"},
    "gpu": {"name": "NVIDIA H200"},
    "tests": {"returncode": 0, "summary": "412 passed in 101.2s"},
    "launches": {"eager": {"total": 370, "target": 150, "by_site": {"functional/batchnorm.py BatchNormTrain.forward": 126}}},
    "gemm": {"b128 (64, 32768) @ (32768, 48)T": {
        "calls": 3, "slices": 128, "error": {"cublas": 1e-7, "exact": 2e-7}, "ms": {"cublas": 0.05, "exact": 0.08}}},
    "steps": {"minigan": {"128": {"modes": {"minigan eager": {"ms": 6.4, "graph_nodes": None},
                                            "minigan graph cublas": {"error": "NotImplementedError: cuBLAS"},
                                            "minigan graph exact": {"ms": 3.2, "graph_nodes": {"total": 301}}},
                                  "memory": {}}},
              "torch": {"error": ["timed out after 90 s"]}},
}


def test_the_summary_holds_every_part(tmp_path):
    json_path, md_path = gpu_check.write_summary(RECORD, str(tmp_path / "new"))
    assert json.loads(Path(json_path).read_text()) == json.loads(json.dumps(RECORD))
    text = Path(md_path).read_text()
    for expected in ["Device: NVIDIA H200", "412 passed in 101.2s (exit 0)", "**370** (target at most 150: not met)",
                     "| 126 | functional/batchnorm.py BatchNormTrain.forward |",
                     "| b128 (64, 32768) @ (32768, 48)T x3 | 128 | 0.050 (1.0e-07) | 0.080 (2.0e-07) |",
                     "| minigan eager | 6.40 ms (20000 img/s) |", "3.20 ms (40000 img/s), 301 graph nodes",
                     "failed: NotImplementedError: cuBLAS", "torch steps: failed: ['timed out after 90 s']"]:
        assert expected in text, expected
    assert not list((tmp_path / "new").glob("*.tmp*")), "written atomically, no temp file left"


def test_the_eager_launch_count_it_reports(tmp_path):
    """The same count as tests/training/test_launch_budget.py, with its breakdown."""
    counted = launches.eager_step_launches()
    assert "error" not in counted, counted
    assert counted["total"] == sum(counted["by_kernel"].values()) == sum(counted["by_site"].values())
    assert counted["by_kernel"]["bce_with_logits_mean<float>"] == 3 and counted["target"] == 150
