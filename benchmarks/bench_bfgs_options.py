"""BFGS options against scipy's BFGS: function evaluations over the problem library.

For each combination of ``scale_h0`` (rescale H0 = I before the first update: True = "bb1",
gamma = s's / s'y; "bb2", gamma = s'y / y'y; False) and ``initial_step`` ("unit" or
"interpolate"), nsolve's ``bfgs`` and scipy's ``BFGS`` solve every
problem of ``nsolve.problems.library()`` from its standard start (gtol = 1e-5 on both sides);
the table gives the ratio of evaluations nsolve / scipy (median, geometric mean, problems more
than 10% worse).  It also reports the two cases the docs quote: extended Rosenbrock (n = 100)
and the ill-conditioned quadratic (n = 50, condition 1e4).  Counts only: no timing.

Usage: ``python benchmarks/bench_bfgs_options.py [--no-write]``.  The table in
``docs/quasi-newton.md`` comes from here.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import scipy.optimize as so

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import md_table, write_section  # noqa: E402

import nsolve  # noqa: E402
from nsolve import problems  # noqa: E402

SETTINGS = [(True, "unit"), (True, "interpolate"), ("bb2", "unit"), ("bb2", "interpolate"),
            (False, "unit"), (False, "interpolate")]


def scipy_bfgs(p):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return so.minimize(p.f, p.x0, jac=p.grad, method="BFGS", options={"gtol": 1e-5})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="the same run (it takes seconds)")
    ap.add_argument("--no-write", action="store_true", help="print only; do not write results/")
    args = ap.parse_args(argv)
    library = problems.library()
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = {p.label: scipy_bfgs(p) for p in library}
        rows, data = [], {}
        for scale, init in SETTINGS:
            ratios = {}
            for p in library:
                ours = nsolve.minimize(p.f, p.grad, p.x0, method="bfgs", scale_h0=scale, initial_step=init)
                ratios[p.label] = ours.nfev / theirs[p.label].nfev
            r = np.array(list(ratios.values()))
            worse = sorted(k for k, v in ratios.items() if v > 1.1)
            label = ({True: "True = bb1 (default)", "bb2": "bb2", False: "False"}[scale],
                     init + (" (default)" if init == "unit" else ""))
            rows.append([label[0], label[1], f"{np.median(r):.3f}", f"{np.exp(np.mean(np.log(r))):.3f}",
                         f"{len(worse)}: {', '.join(worse) if worse else '-'}"])
            data[f"{scale}/{init}"] = ratios
        cases = []
        for name, n in (("extended_rosenbrock", 100), ("quadratic", 50)):
            p = problems.get(name, n)
            sp = scipy_bfgs(p)
            ours = nsolve.minimize(p.f, p.grad, p.x0, method="bfgs")
            bb2 = nsolve.minimize(p.f, p.grad, p.x0, method="bfgs", scale_h0="bb2")
            cases.append([p.label, ours.nit, ours.nfev, bb2.nit, bb2.nfev, sp.nit, sp.nfev])
    body = (
        f"Every problem of `nsolve.problems.library()` ({len(library)} problems) from its standard start, "
        "gtol = 1e-5 on both sides; ratio = nsolve nfev / scipy nfev.\n\n"
        + md_table(["`scale_h0`", "`initial_step`", "median", "geometric mean", "problems > 10% worse"], rows)
        + "\n\nDefault options against scipy on two problems:\n\n"
        + md_table(["problem", "nsolve nit", "nsolve nfev", "`bb2` nit", "`bb2` nfev", "scipy nit", "scipy nfev"],
                   cases)
    )
    print(body)
    if not args.no_write:
        command = "python benchmarks/bench_bfgs_options.py" + (" --quick" if args.quick else "")
        write_section("bfgs_options", "BFGS options vs scipy BFGS: evaluations over the library", command, body,
                      {"ratios": data, "cases": cases})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
