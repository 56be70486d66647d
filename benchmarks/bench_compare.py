"""nsolve against scipy.optimize on the built-in problem library (``nsolve.compare``).

Every problem of :func:`nsolve.problems.library` is solved by each core method and its scipy
counterpart (bfgs/BFGS, lbfgs/L-BFGS-B, newton/Newton-CG with hess, newton-cg/Newton-CG with
hessp), both stopping at ||grad f||_inf <= 1e-5; times are medians of repeats (alternating blocks) with
BLAS pinned to one thread.  Writes the table, CSV, JSON and the performance-profile and
convergence PNGs to ``docs/img/compare*`` and this section to ``benchmarks/results/compare.md``.

Usage: ``python benchmarks/bench_compare.py [--quick] [--repeat R]`` (the same as
``nsolve compare --out docs/img``, plus the section for docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import write_section  # noqa: E402

import nsolve  # noqa: E402

IMG = Path(__file__).resolve().parents[1] / "docs" / "img"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="one timed repeat, problems with n <= 10")
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args(argv)
    repeat = 1 if args.quick else args.repeat
    cmp = nsolve.compare(repeat=repeat, max_n=10 if args.quick else None)
    print(cmp.table())
    written = cmp.save(IMG, traces=False)
    s = cmp.settings
    body = (
        "Each nsolve method against its scipy counterpart on the built-in problem library, from the standard "
        f"starting points, both stopping at ||grad f||_inf <= {s['gtol']:g} (scipy's Newton-CG, which has no "
        "gradient test, through a callback; L-BFGS-B with its ftol test off, as nsolve's). "
        f"Median of {s['repeat']} solves in alternating blocks of up to 3 per library; {s['blas']}; "
        f"load average {s['loadavg_start']} at the start, "
        f"{s['loadavg_end']} at the end. Versions: {s['versions']}. See docs/compare.md for the tool.\n\n"
        + cmp.to_markdown()
        + "\n![Performance profiles, time](img/compare_profile_time.png)\n\n"
        "![Performance profiles, evaluations](img/compare_profile_evals.png)\n\n"
        "![Convergence against time](img/compare_convergence_time.png)\n\n"
        "![Convergence against evaluations](img/compare_convergence_evals.png)\n\n"
        "Data: [CSV](img/compare.csv), [JSON](img/compare.json).\n"
    )
    cmd = "python benchmarks/bench_compare.py" + (" --quick" if args.quick else "")
    write_section("compare", "nsolve vs scipy.optimize on the problem library", cmd, body,
                  data={"settings": s, "summary": cmp.summary()})
    print("wrote", ", ".join(str(p) for p in written.values()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
