"""compare.py's CPU run end to end on a tiny workload: each framework in its own processes, and
the output records the machine, the BLAS, the threads, memory and page faults."""
import json
import os
import subprocess
import sys

from sections import own_process

HERE = os.path.dirname(os.path.abspath(__file__))


def test_children_alternate_abba():
    assert own_process.alternating(4) == [("minigan", "torch"), ("torch", "minigan")] * 2


def test_tiny_cpu_run_records_machine_blas_threads_and_faults(tmp_path):
    tiny = ["--threads", "1", "--batches", "4", "--rounds", "1", "--steps", "1", "--warmup", "1",
            "--layer-batch", "2"]
    done = subprocess.run([sys.executable, os.path.join(HERE, "compare.py"), "--backend", "numpy", *tiny,
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    (folder,) = tmp_path.iterdir()
    assert folder.name.startswith("cpu-") and folder.name.endswith("-1threads")
    assert {p.name for p in folder.iterdir()} == {"compare.json", "table.md", "steps.png", "layers.png"}
    record = json.loads((folder / "compare.json").read_text())
    assert record["cpu"]["Model name"] and len(record["load_average_start"]) == 3
    assert record["versions"]["numpy"] and record["versions"]["numba"] and record["versions"]["torch"]

    children = [c for kind in record["children"].values() for results in kind.values() for c in results]
    assert len(children) == 4 and not [c["error"] for c in children if "error" in c]
    assert len({c["pid"] for c in children}) == 4, "two workloads shared a process"
    assert not any(c["torch_loaded"] for c in children if c["framework"] == "minigan"), \
        "torch was loaded in minigan's process"
    for c in children:
        threads = c["threads"]
        assert threads["numba"] == 1 and all(pool["num_threads"] == 1 for pool in threads["blas"]), threads
        blas = [pool for pool in threads["blas"] if pool["internal_api"] in ("openblas", "mkl", "blis")]
        assert blas and all(pool["version"] for pool in blas), threads["blas"]
        assert c["framework"] == "minigan" or threads["torch"] == 1

    for name in ("minigan", "torch"):
        step = record["steps"]["4"][name]
        assert step["step_ms"] > 0 and step["rounds"] == 1
        assert step["minor_faults_per_step"] >= 0 and step["major_faults_per_step"] >= 0
        assert step["steps_added_MiB"] >= 0 and step["system_s_per_step"] >= 0
        assert set(record["layers"][name]) == set(record["layers"]["minigan"])
    assert record["malloc"]["minigan"].startswith("glibc")
    table = (folder / "table.md").read_text()
    assert "own fresh process" in table and "page faults per steady step, batch 4" in table
