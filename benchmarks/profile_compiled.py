"""Where a compiled solve spends its time: ``perf`` with the JIT-compiled functions named.

Usage: ``python benchmarks/profile_compiled.py [--method bfgs] [--seconds 8] [--top 25]``
(Linux, needs ``perf`` and binutils' ``nm``; not part of ``run_all.py``).

``perf`` names machine code through the symbols of the files it was loaded from; Numba's
compiled functions live in anonymous memory, so a plain profile shows bare addresses.  perf
also reads ``/tmp/perf-<pid>.map`` (one line per function: start, size, name).  This script
writes that map for every function Numba loads from its on-disk cache: it keeps the object
code of each cached library as Numba loads it, lists the functions with ``nm``, finds where
the library was placed from the address of one of its exported functions, and adds the
offsets.  Then it records a profile of ``minimize_many`` on 10^5 2-D Rosenbrock problems (one
thread) and prints perf's table by function.

What is inlined into a solver shows as the solver's parallel region
(``__numba_parfor_gufunc_...``); what is called out of line (kernels, the evaluator's
``_fg``, the user's functions) under its own name.  ``RTSYS_NRT_incref`` covers Numba's
reference-count calls, compiled at start-up rather than cached.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np
from numba.core import codegen as _codegen

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

_LOADED: list = []  # (library, object code) as Numba loads them from its cache
_set_compiled_object = _codegen.CPUCodeLibrary._set_compiled_object


def _keep_object_code(self, value):
    _LOADED.append((self, value))
    return _set_compiled_object(self, value)


_codegen.CPUCodeLibrary._set_compiled_object = _keep_object_code

from bench_compiled import OBJ  # noqa: E402  (the 2-D Rosenbrock objective of the benchmarks)

import nsolve  # noqa: E402


def _functions(obj: bytes, workdir: str) -> list[tuple[int, int, str, str]]:
    """``(offset, size, name, nm type)`` of the functions defined in an object file."""
    path = os.path.join(workdir, f"lib{len(os.listdir(workdir))}.o")
    Path(path).write_bytes(obj)
    out = subprocess.run(["nm", "-S", "--defined-only", path], capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "TtWw":
            rows.append((int(parts[0], 16), int(parts[1], 16), parts[3], parts[2]))
    return rows


def write_perf_map() -> int:
    """Write ``/tmp/perf-<pid>.map`` for the libraries loaded so far; returns its line count."""
    lines = []
    with tempfile.TemporaryDirectory() as workdir:
        for lib, obj in _LOADED:
            rows = _functions(obj, workdir)
            base = None
            for off, _size, name, kind in rows:
                if kind == "T":  # exported, so the engine knows its address
                    addr = lib._codegen._engine.get_function_address(name)
                    if addr:
                        base = addr - off
                        break
            if base is not None:
                lines += [f"{base + off:x} {size:x} {name}" for off, size, name, _ in rows]
    from numba.core.runtime import rtsys

    for name in ("NRT_incref", "NRT_decref"):
        lines.append(f"{rtsys.library.get_pointer_to_function(name):x} 20 RTSYS_{name}")
    Path(f"/tmp/perf-{os.getpid()}.map").write_text("\n".join(lines) + "\n")
    return len(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--method", default="bfgs")
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args(argv)
    missing = [tool for tool in ("perf", "nm") if shutil.which(tool) is None]
    if missing:
        print(f"profile_compiled: needs {' and '.join(missing)} on PATH", file=sys.stderr)
        return 2
    starts = np.random.default_rng(0).uniform(-2.0, 2.0, size=(100_000, 2))

    def batch():
        nsolve.minimize_many(OBJ.rosen, OBJ.rosen_grad, starts, method=args.method, threads=1)

    nsolve.minimize_many(OBJ.rosen, OBJ.rosen_grad, starts[:10], method=args.method, threads=1)  # load
    print(f"{write_perf_map()} functions mapped; Numba {numba.__version__}", file=sys.stderr)
    data = os.path.join(tempfile.gettempdir(), f"nsolve_profile_{args.method}.data")
    rec = subprocess.Popen(["perf", "record", "-q", "-F", "2000", "-o", data, "-p", str(os.getpid())])
    time.sleep(1.0)
    t0 = time.perf_counter()
    runs = 0
    while time.perf_counter() - t0 < args.seconds:
        batch()
        runs += 1
    rec.terminate()
    rec.wait()
    print(f"{runs} batches of 100,000 ({args.method}, one thread); perf data in {data}", file=sys.stderr)
    report = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "symbol", "--stdio"],
                            capture_output=True, text=True).stdout
    rows = [ln for ln in report.splitlines() if ln.strip() and not ln.startswith("#")]
    for ln in rows[: args.top]:
        print(ln[:160])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
