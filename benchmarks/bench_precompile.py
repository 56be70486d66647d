"""Wall time of ``nsolve precompile`` from an empty Numba cache: one process against several.

Usage: ``python benchmarks/bench_precompile.py [--jobs 1 2] [--methods lbfgs bfgs ...] [--no-many]``

Each configuration runs ``python -m nsolve precompile --jobs J`` in a fresh process with its
own empty ``NUMBA_CACHE_DIR``, so every solver (and every kernel it is built from) is
compiled; the time is the wall time around that process.  The peak resident memory is the
largest of the processes that ran (``getrusage(RUSAGE_CHILDREN)`` of a wrapper process per
configuration: the biggest single process, not the sum).  A cold compile takes minutes, so
each configuration runs once; they run one after the other on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import md_table, write_section  # noqa: E402

#: Runs the CLI in a child process and reports its wall time and the peak memory of the
#: largest process below the wrapper.
WRAPPER = """
import json, resource, subprocess, sys, time
t = time.perf_counter()
out = subprocess.run([sys.executable, "-m", "nsolve", "precompile", *sys.argv[1:]], capture_output=True, text=True,
                     check=True)
wall = time.perf_counter() - t
rss_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"wall": wall, "max_rss_mb": rss_kb / 1024, "log": out.stdout}))
"""


def load() -> str:
    p = Path("/proc/loadavg")
    return " ".join(p.read_text().split()[:3]) if p.exists() else "n/a"


def run(jobs: int, methods: list[str], many: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="nsolve_precompile_") as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "PYTHONPATH": os.pathsep.join(
            p for p in (str(HERE.parent), os.environ.get("PYTHONPATH")) if p)}
        argv = ["--jobs", str(jobs), *methods] + ([] if many else ["--no-many"])
        out = subprocess.run([sys.executable, "-c", WRAPPER, *argv], capture_output=True, text=True, env=env,
                             check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="process counts to compare")
    ap.add_argument("--methods", nargs="*", default=[], help="methods (default: every method with a compiled solver)")
    ap.add_argument("--no-many", action="store_true", help="leave out the minimize_many solvers")
    args = ap.parse_args(argv)
    before = load()
    results = {}
    for jobs in args.jobs:
        t = time.strftime("%H:%M:%S", time.gmtime())
        results[jobs] = run(jobs, args.methods, not args.no_many)
        print(f"[{t}] jobs={jobs}: {results[jobs]['wall']:.1f} s, peak {results[jobs]['max_rss_mb']:.0f} MB",
              flush=True)
        print(results[jobs]["log"], flush=True)
    after = load()
    base = results[args.jobs[0]]["wall"]
    rows = [[f"`--jobs {j}`", f"{r['wall']:.1f}", f"{base / r['wall']:.2f}x", f"{r['max_rss_mb']:.0f}"]
            for j, r in results.items()]
    what = ", ".join(args.methods) if args.methods else "every method with a compiled solver"
    md = md_table(["nsolve precompile, empty cache", "wall time (s)", f"speed-up vs --jobs {args.jobs[0]}",
                   "largest process (MB)"], rows)
    md += (f"\n\nSolvers: {what}, {'with' if not args.no_many else 'without'} the `minimize_many` ones. "
           f"Each configuration once, in a fresh process with its own empty `NUMBA_CACHE_DIR`, one after the "
           f"other; os.cpu_count() = {os.cpu_count()}. Load average before: {before}, after: {after}.")
    command = "python benchmarks/bench_precompile.py" + (
        f" --jobs {' '.join(map(str, args.jobs))}" if args.jobs != [1, 2] else "") + (
        f" --methods {' '.join(args.methods)}" if args.methods else "") + (" --no-many" if args.no_many else "")
    write_section("precompile", "Compiling the solvers: nsolve precompile --jobs", command, md,
                  data={"results": {str(k): {kk: vv for kk, vv in v.items() if kk != "log"}
                                    for k, v in results.items()}, "load_before": before, "load_after": after})
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
