"""Start-up: import nsolve and the first L-BFGS solve of 2-D Rosenbrock, in a fresh process.

Every figure comes from a fresh ``python -c`` subprocess that times itself with
``time.perf_counter`` (the interpreter's own start-up is reported separately, as the wall
time of ``python -c pass``):

* *import*: ``import nsolve``;
* *warm*: ``import nsolve`` + ``nsolve.minimize(rosen, rosen_der, [-1.2, 1], method="lbfgs")``
  with the Numba on-disk cache already populated (one untimed run first); target < 1 s;
* *cold*: the same with ``NUMBA_CACHE_DIR`` pointing at a fresh empty directory, so every
  kernel the solve uses is compiled (the cold compile time);
* reference floors, for the diagnosis: ``import numpy``, ``import scipy.optimize``,
  ``import numba``, and ``import numba`` + the first call of one trivial cached ``njit``
  function (Numba's one-off target initialisation, paid by any cached kernel).

The largest imports of ``import nsolve`` are listed from ``python -X importtime``.

Usage: ``python benchmarks/bench_startup.py [--quick] [--repeat R] [--no-write]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import md_table, write_section  # noqa: E402

SOLVE = textwrap.dedent("""
    import json, time
    t0 = time.perf_counter()
    import nsolve
    t1 = time.perf_counter()
    from nsolve.problems import rosen, rosen_der
    r = nsolve.minimize(rosen, rosen_der, [-1.2, 1.0], method="lbfgs")
    t2 = time.perf_counter()
    assert r.success and abs(r.fun) < 1e-8, r
    print(json.dumps({"import": t1 - t0, "solve": t2 - t1, "total": t2 - t0, "nit": int(r.nit)}))
""")

IMPORT_ONLY = textwrap.dedent("""
    import json, time
    t0 = time.perf_counter()
    import {module}
    print(json.dumps({{"import": time.perf_counter() - t0}}))
""")

NUMBA_FLOOR = textwrap.dedent("""
    import json, sys, time
    sys.path.insert(0, {dir!r})
    t0 = time.perf_counter()
    import numba
    t1 = time.perf_counter()
    import trivial_kernel
    trivial_kernel.add1(1.0)
    t2 = time.perf_counter()
    print(json.dumps({{"import": t1 - t0, "first_call": t2 - t1, "total": t2 - t0}}))
""")

TRIVIAL = textwrap.dedent("""
    import numba

    @numba.njit(cache=True)
    def add1(x):
        return x + 1.0
""")


def child(code: str, env: dict | None = None) -> dict:
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                         env=env if env is not None else dict(os.environ))
    wall = time.perf_counter() - t
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["process_wall"] = wall
    return res


def median_of(rows: list[dict], key: str) -> float:
    return float(np.median([r[key] for r in rows]))


def import_profile(top: int = 8) -> list[tuple[str, float]]:
    """Cumulative import time (s) of the largest top-level packages under ``import nsolve``."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import nsolve"], check=True,
                         capture_output=True, text=True).stderr
    rows = []
    for line in out.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = line[len("import time:"):].split("|")
        try:
            cum = int(parts[1])
        except ValueError:
            continue
        name = parts[2]
        depth = (len(name) - len(name.lstrip())) // 2
        rows.append((depth, name.strip(), cum / 1e6))
    # Direct children of the top (depth <= 1 under nsolve's own tree), largest first.
    seen = {}
    for depth, name, cum in rows:
        if depth <= 2:
            seen[name] = max(seen.get(name, 0.0), cum)
    return sorted(seen.items(), key=lambda kv: -kv[1])[:top]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repeats, no cold compile, no separate import runs")
    ap.add_argument("--repeat", type=int, default=None, help="fresh processes per figure (default 7, quick 2)")
    ap.add_argument("--cold", type=int, default=None, help="cold-compile runs (default 2, quick 0)")
    ap.add_argument("--no-refs", action="store_true", help="skip the reference floors and the import profile")
    ap.add_argument("--no-write", action="store_true", help="print only; do not write results/")
    args = ap.parse_args(argv)
    repeat = args.repeat or (2 if args.quick else 7)
    n_cold = args.cold if args.cold is not None else (0 if args.quick else 2)

    loads = [Path("/proc/loadavg").read_text().split()[0]]
    child(SOLVE)  # populate the on-disk cache
    interp = [child('import json; print(json.dumps({}))') for _ in range(repeat)]
    warm = [child(SOLVE) for _ in range(repeat)]
    # --quick: the import figure is the warm runs' import phase (one process fewer per repeat).
    imports = warm if args.quick else [child(IMPORT_ONLY.format(module="nsolve")) for _ in range(repeat)]
    refs, floor = {}, []
    if not args.no_refs:
        for mod in ("numpy", "scipy.optimize", "numba"):
            refs[mod] = [child(IMPORT_ONLY.format(module=mod)) for _ in range(repeat)]
        with tempfile.TemporaryDirectory() as tmp:
            Path(tmp, "trivial_kernel.py").write_text(TRIVIAL)
            child(NUMBA_FLOOR.format(dir=tmp))
            floor = [child(NUMBA_FLOOR.format(dir=tmp)) for _ in range(repeat)]
    cold = []
    for _ in range(n_cold):
        with tempfile.TemporaryDirectory() as cache:
            env = dict(os.environ, NUMBA_CACHE_DIR=cache)
            cold.append(child(SOLVE, env))
    prof = [] if args.no_refs else import_profile()
    loads.append(Path("/proc/loadavg").read_text().split()[0])

    w_total = median_of(warm, "total")
    rows = [
        ["interpreter start-up (`python -c pass`, process wall)", f"{median_of(interp, 'process_wall'):.3f}", ""],
        ["`import nsolve` alone", f"{median_of(imports, 'import'):.3f}", ""],
        ["warm cache: import nsolve", f"{median_of(warm, 'import'):.3f}", ""],
        ["warm cache: first L-BFGS solve of 2-D Rosenbrock", f"{median_of(warm, 'solve'):.3f}", ""],
        ["**warm cache: import + first solve**", f"**{w_total:.3f}**",
         "met (< 1 s)" if w_total < 1.0 else "**NOT met** (< 1 s)"],
        ["warm cache: whole process wall (interpreter + import + solve)", f"{median_of(warm, 'process_wall'):.3f}", ""],
    ]
    if cold:
        rows += [
            ["cold cache (fresh NUMBA_CACHE_DIR): import + first solve", f"{median_of(cold, 'total'):.2f}", ""],
            ["cold compile time (cold - warm, first solve)",
             f"{median_of(cold, 'solve') - median_of(warm, 'solve'):.2f}", ""],
        ]
    if refs:
        rows += [
            ["floor: `import numpy`", f"{median_of(refs['numpy'], 'import'):.3f}", ""],
            ["floor: `import scipy.optimize` (nsolve returns scipy's OptimizeResult)",
             f"{median_of(refs['scipy.optimize'], 'import'):.3f}", ""],
            ["floor: `import numba`", f"{median_of(refs['numba'], 'import'):.3f}", ""],
            ["floor: first call of one trivial cached njit function after `import numba` (target initialisation)",
             f"{median_of(floor, 'first_call'):.3f}", ""],
        ]
    table = md_table(["fresh process", "seconds (median)", "target"], rows)
    prof_table = md_table(["module (python -X importtime, import nsolve)", "cumulative s"],
                          [[name, f"{t:.3f}"] for name, t in prof])
    body = (
        f"Each figure is the median over {repeat} fresh processes (cold: {len(cold)} runs), timed inside the "
        f"process with perf_counter; the warm runs use the default on-disk Numba cache, populated by one untimed "
        f"run.  Load average {loads[0]} at start, {loads[1]} at end (2 cores shared): start-up is I/O- and "
        f"CPU-bound, so load inflates these figures.\n\n{table}\n"
    )
    if prof:
        body += f"\nLargest imports under `import nsolve` (one `-X importtime` run):\n\n{prof_table}\n"
    print(body)
    data = {"interp": interp, "import": imports, "warm": warm, "cold": cold, "refs": refs, "numba_floor": floor,
            "import_profile": prof, "loadavg": loads}
    cmd = "python benchmarks/bench_startup.py" + (" --quick" if args.quick else "")
    if not args.no_write:
        write_section("startup", "Start-up: import and first solve in a fresh process", cmd, body, data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
