"""The mutation check: plant each curated slip (tools/slips.py) in a copy of the tree and run the
tests that should catch it.

    python tools/mutation_check.py [--jobs 2] [--only NAME ...] [--report tools/mutation_check.md]

Each slip replaces one exact snippet of one file. The tree is copied (tracked and untracked,
not ignored files) once per job into a temporary directory, never touching the working tree;
for each slip the copy gets the slip, its tests run with a timeout, and the file is restored.
A slip is killed when its tests fail, survives when they pass, and is stale when its snippet is
no longer in the file (stale slips are not counted as killed). First the union of all the
selections runs on the unchanged copy: a selection that fails there would kill everything.
Exit status 0 only when every slip is killed.
"""
import argparse
import concurrent.futures
import datetime
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from slips import SLIPS  # noqa: E402  (tools/ is not a package)

TIMEOUT_S = 600


def copy_tree(destination):
    """The files git would commit (tracked, or untracked and not ignored), and the
    minigan/kernels link that makes minigan.kernels resolve to kernels/ without an install."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file() and not source.is_symlink():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    link = destination / "minigan" / "kernels"
    if not link.exists():
        link.symlink_to("../kernels")


def run_tests(tree, selection, timeout=TIMEOUT_S):
    """(pytest's exit status, seconds, the last lines of its output); 124 on timeout."""
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-n", "0", "-m", "not gpu",
               *selection]  # -n 0: the jobs are the parallelism, not pytest-xdist
    start = time.monotonic()
    try:
        result = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return 124, time.monotonic() - start, "timed out"
    tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-3:])
    return result.returncode, time.monotonic() - start, tail


def test_paths(selection):
    """The files and node ids of a selection, without its options (-k and its expression)."""
    paths, skip = [], False
    for argument in selection:
        if not skip and not argument.startswith("-"):
            paths.append(argument)
        skip = argument in ("-k", "-m")
    return paths


class Stamp:
    """A fresh modification time for each version of a file: Numba's cache and the emulator's
    builds are keyed on a file's time and size, and a slip may keep the size."""

    def __init__(self):
        self.next = time.time() + 10

    def touch(self, path):
        self.next += 1
        os.utime(path, (self.next, self.next))


def check(slip, tree, stamp):
    """Plant slip in tree, run its tests, restore the file: killed, survived or stale."""
    path = tree / slip.file
    original = path.read_text()
    if original.count(slip.original) != 1:
        return "stale", 0.0, f"the snippet occurs {original.count(slip.original)} times in {slip.file}"
    try:
        path.write_text(original.replace(slip.original, slip.replacement))
        stamp.touch(path)
        status, seconds, tail = run_tests(tree, slip.tests)
    finally:
        path.write_text(original)
        stamp.touch(path)
    if status == 5:
        return "error", seconds, f"the selection collects no test: {tail}"
    return ("killed" if status != 0 else "survived"), seconds, tail


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2, help="slips checked at once (one tree copy each)")
    parser.add_argument("--only", nargs="*", help="check only the slips with these names")
    parser.add_argument("--report", type=Path, help="append the result, as Markdown, to this file")
    args = parser.parse_args()
    unknown = set(args.only or ()) - {s.name for s in SLIPS}
    if unknown:
        parser.error(f"--only: no slip named {', '.join(sorted(unknown))} in tools/slips.py")
    slips = [s for s in SLIPS if not args.only or s.name in args.only]
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mutation_check.") as scratch:
        trees = [Path(scratch) / f"tree{i}" for i in range(max(1, args.jobs))]
        for tree in trees:
            copy_tree(tree)
        union = list(dict.fromkeys(path for s in slips for path in test_paths(s.tests)))
        status, seconds, tail = run_tests(trees[0], union)
        if status != 0:
            sys.exit(f"the selections fail on the unchanged tree ({seconds:.0f} s):\n{tail}")
        print(f"baseline: every selection passes on the unchanged tree ({seconds:.0f} s)", flush=True)
        free = list(trees)
        stamps = {tree: Stamp() for tree in trees}
        results = {}

        def one(slip):
            tree = free.pop()
            try:
                return check(slip, tree, stamps[tree])
            finally:
                free.append(tree)

        with concurrent.futures.ThreadPoolExecutor(len(trees)) as pool:
            futures = {pool.submit(one, slip): slip for slip in slips}
            for future in concurrent.futures.as_completed(futures):
                slip = futures[future]
                results[slip.name] = outcome = future.result()
                print(f"{outcome[0]:8s} {outcome[1]:5.0f} s  {slip.name}: {slip.description}", flush=True)
    elapsed = time.monotonic() - start
    counts = {kind: sum(r[0] == kind for r in results.values()) for kind in ("killed", "survived", "stale", "error")}
    counted = len(slips) - counts["stale"]
    summary = (f"{counts['killed']} of {counted} slips killed ({100 * counts['killed'] / max(counted, 1):.0f}%), "
               f"{counts['survived']} survived, {counts['stale']} stale, {counts['error']} errors; {elapsed:.0f} s")
    print(summary)
    for slip in slips:
        kind, _, tail = results[slip.name]
        if kind != "killed":
            print(f"  {kind}: {slip.name} ({slip.file}): {slip.description}\n    {tail}")
    if args.report:
        machine = f"{platform.node()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
        lines = [f"- {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {machine}, "
                 f"--jobs {args.jobs}: {summary}"]
        lines += [f"  - {results[s.name][0]}: `{s.name}` ({s.file})" for s in slips if results[s.name][0] != "killed"]
        with args.report.open("a") as report:
            report.write("\n".join(lines) + "\n")
    sys.exit(0 if counts["killed"] == len(slips) else 1)


if __name__ == "__main__":
    main()
