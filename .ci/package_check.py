"""CI's packaging check: a wheel built from this checkout installs and trains from outside it.

    python .ci/package_check.py

Builds the wheel from the checkout's files (git's view: tracked and untracked, not
ignored, so no stale build/ or local symlink gets in), checks that it holds every
module of minigan/ and kernels/ and every kernels/cuda file, installs it into a fresh
venv (no system site-packages, where an editable minigan could shadow it), makes that
venv and a HOME read-only, and runs the examples from a directory outside the
checkout. One PASS or FAIL line per check; exit status 1 on any failure.

Read-only as root: root ignores file modes, so the runs drop the capabilities that let
it (setpriv --bounding-set), which keeps the interpreter readable wherever it lives.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STARTED = time.perf_counter()
failures = []


def report(name, ok, detail="", since=None):
    took = f" ({time.perf_counter() - since:.0f} s)" if since is not None else ""
    print(f"{'PASS' if ok else 'FAIL'}  {name}{took}" + (f": {detail}" if detail else ""), flush=True)
    if not ok:
        failures.append(name)
    return ok


def run(cmd, timeout=300, **kwargs):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, **kwargs)


def tail(proc, lines=15):
    """The end of a command's output, on lines of its own below the verdict."""
    text = (proc.stdout + proc.stderr).strip().splitlines()
    return "".join("\n      " + line for line in text[-lines:])


def finish():
    verdict = f"FAIL ({len(failures)}: {', '.join(failures)})" if failures else "PASS"
    print(f"package check: {verdict} in {time.perf_counter() - STARTED:.0f} s", flush=True)
    return 1 if failures else 0


def checkout_files():
    """The checkout's files as a fresh clone of it would hold them (plus uncommitted edits)."""
    listed = run(["git", "-C", ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard"])
    if listed.returncode != 0:
        raise SystemExit(f"FAIL  list the checkout's files: not a git checkout?{tail(listed)}")
    return [p for p in listed.stdout.split("\0") if p and (ROOT / p).is_file()]


def expected_in_wheel(files):
    """Every module under minigan/ and kernels/ and every kernels/cuda file, at its installed path."""
    expected = set()
    for path in files:
        if path.startswith("minigan/") and path.endswith(".py"):
            expected.add(path)
        elif path.startswith("kernels/") and (path.endswith(".py") or path.startswith("kernels/cuda/")):
            expected.add("minigan/" + path)
    return expected


def restricted(cmd):
    """cmd unable to write where file modes say it cannot, root included."""
    if os.geteuid() != 0:
        return cmd
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner,-linux_immutable", "--", *cmd]


def main():
    tmp = Path(tempfile.mkdtemp(prefix="minigan-package-check-"))
    try:
        check(tmp)
    except (OSError, subprocess.SubprocessError) as error:  # a missing tool, a command past its timeout
        report("the check itself", False, f"{type(error).__name__}: {error}")
    finally:
        if os.geteuid() != 0:
            run(["chmod", "-R", "u+w", tmp])
        run(["rm", "-rf", tmp])
    return finish()


def check(tmp):
    src, dist, venv, home, work = (tmp / name for name in ("src", "dist", "venv", "home", "work"))
    # The venv's runs see no PYTHONPATH (nothing but the venv provides minigan) and no cache settings.
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME", "MPLCONFIGDIR", "PYTHONPATH")}
    files = checkout_files()
    for path in files:
        (src / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, src / path)

    # --- the wheel ---
    t = time.perf_counter()
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, src])
    wheels = sorted(dist.glob("minigan-*.whl"))
    if not report("build the wheel", built.returncode == 0 and len(wheels) == 1,
                  wheels[0].name if wheels else tail(built), since=t):
        return
    names = set(zipfile.ZipFile(wheels[0]).namelist())
    expected = expected_in_wheel(files)
    missing = sorted(expected - names)
    report(f"the wheel holds all {len(expected)} modules and CUDA sources of minigan/ and kernels/", not missing,
           f"missing {missing}" if missing else "")
    stray = sorted(n for n in names if not n.startswith(("minigan/", "minigan-")) or "__pycache__" in n
                   or n.endswith((".pyc", ".nbi", ".nbc")))
    report("the wheel holds nothing outside the minigan package and its metadata", not stray,
           f"also holds {stray}" if stray else "")
    report("the wheel holds the license", any(n.endswith(".dist-info/licenses/LICENSE") for n in names))

    # --- a fresh venv, non-editable ---
    t = time.perf_counter()
    made = run([sys.executable, "-m", "venv", venv])
    python = venv / "bin" / "python"
    installed = made if made.returncode else run([python, "-m", "pip", "install", "-q", wheels[0]],
                                                 env=env, timeout=600)
    if not report("install the wheel into a fresh venv", installed.returncode == 0,
                  "" if installed.returncode == 0 else tail(installed), since=t):
        return
    purelib = run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], env=env)
    site = Path(purelib.stdout.strip())
    work.mkdir()
    home.mkdir()
    where = run([python, "-c", "import minigan; print(minigan.__file__, minigan.__version__)"], cwd=work, env=env)
    version = wheels[0].name.split("-")[1]
    report("the venv imports the wheel's minigan", where.returncode == 0 and where.stdout.startswith(str(site))
           and where.stdout.split()[-1] == version, where.stdout.strip() or tail(where))

    # --- read-only from here on: the venv and HOME ---
    run(["chmod", "-R", "a-w", venv])
    home.chmod(0o555)
    env["HOME"] = str(home)
    probe = run(restricted([python, "-c", f"""
import sys
for d in {[str(site / "minigan" / "kernels"), str(home)]!r}:
    try:
        open(d + "/probe", "w")
        sys.exit(d + " is writable")
    except PermissionError:
        pass"""]), cwd=work, env=env)
    report("the venv's site-packages and HOME are read-only to the runs", probe.returncode == 0, tail(probe))

    # The first conv with no writable Numba cache anywhere.
    t = time.perf_counter()
    conv = run(restricted([python, "-c", """
import numpy, minigan, minigan.functional as F
rng = numpy.random.default_rng(0)
x = minigan.Tensor(rng.standard_normal((2, 3, 8, 8)).astype(numpy.float32))
w = minigan.Tensor(rng.standard_normal((4, 3, 3, 3)).astype(numpy.float32))
print(F.conv2d(x, w, padding=1).shape)"""]), cwd=work, env=env)
    lines = conv.stderr.strip().splitlines()
    report("the first conv with no writable Numba cache",
           conv.returncode == 0 and conv.stdout.strip() == "(2, 4, 8, 8)", "" if conv.returncode == 0 else tail(conv),
           since=t)
    report("its warning is one line naming NUMBA_CACHE_DIR", len(lines) == 1 and "NUMBA_CACHE_DIR" in lines[0],
           "".join("\n      " + line for line in lines))

    # The examples, from outside the checkout (a writable Numba cache, shared by both runs).
    env["NUMBA_CACHE_DIR"] = str(tmp / "numba-cache")
    t = time.perf_counter()
    train = run(restricted([python, src / "examples" / "train_cifar10.py", "--dataset", "fake", "--dry-run",
                            "--out", tmp / "run"]), cwd=work, env=env)
    written = [name for name in ("checkpoint.npz", "loss.png", "samples.png") if (tmp / "run" / name).is_file()]
    report("examples/train_cifar10.py --dataset fake --dry-run", train.returncode == 0 and len(written) == 3,
           f"wrote {written}" + ("" if train.returncode == 0 else tail(train)), since=t)
    t = time.perf_counter()
    sample = run(restricted([python, src / "examples" / "sample.py", "--checkpoint", tmp / "run" / "checkpoint.npz",
                             "--n", "16", "--out", tmp / "grid.png"]), cwd=work, env=env)
    report("examples/sample.py on its checkpoint", sample.returncode == 0 and (tmp / "grid.png").is_file(),
           "" if sample.returncode == 0 else tail(sample), since=t)

    # The checkout's own minigan/ shadowing the installed one.
    shadow = run([python, "-c", "import minigan"], cwd=src, env=env)
    last = shadow.stderr.strip().splitlines()[-1:] or [""]
    report("from the checkout's root, importing minigan says to `pip install -e .` in one line",
           shadow.returncode != 0 and "pip install -e ." in last[0], last[0])


if __name__ == "__main__":
    sys.exit(main())
