"""Run every benchmark script and assemble docs/benchmarks.md from their sections.

Usage: ``python benchmarks/run_all.py [--only NAME ...] [--quick]`` (also ``nsolve bench``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOCS = HERE.parent / "docs" / "benchmarks.md"

INTRO = """# Benchmarks

Every figure here comes from a script in `benchmarks/`; each section gives the command that
produced it.  Speed claims are ratios against the competitor measured in the same run
(median of interleaved repeats).  Small problems are timed with BLAS pinned to one thread
(threadpoolctl) unless a table says otherwise: OpenBLAS threads on a small shared machine
make small-problem timings erratic.  Numba compile time is reported separately; solves are
timed with the on-disk cache warm.  Regenerate everything with `python benchmarks/run_all.py`.
"""


#: Scripts run more than once, with these extra arguments each further time (their sections
#: are written under their own names).
EXTRA_RUNS = {"core_correctness": [["--gtol", "1e-06"]]}


def scripts() -> list[Path]:
    return sorted(HERE.glob("bench_*.py"))


def assemble() -> None:
    parts = [INTRO]
    for md in sorted((HERE / "results").glob("*.md")):
        parts.append(md.read_text())
    DOCS.write_text("\n".join(parts))
    print(f"wrote {DOCS}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--only", nargs="*", help="names of bench_<name>.py scripts to run")
    ap.add_argument("--quick", action="store_true", help="pass --quick to every script")
    ap.add_argument("--assemble-only", action="store_true", help="only rebuild docs/benchmarks.md")
    args = ap.parse_args(argv)
    names = [script.stem.removeprefix("bench_") for script in scripts()]
    unknown = sorted(set(args.only or ()) - set(names))
    if unknown:
        ap.error(f"--only: no benchmark named {', '.join(unknown)}; valid: {', '.join(names)}")
    if not args.assemble_only:
        for script in scripts():
            name = script.stem.removeprefix("bench_")
            if args.only and name not in args.only:
                continue
            for extra in [[], *EXTRA_RUNS.get(name, [])]:
                cmd = [sys.executable, str(script), *extra] + (["--quick"] if args.quick else [])
                print("$", " ".join(cmd), flush=True)
                subprocess.run(cmd, check=True)
    assemble()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
