"""The ``nsolve`` command line."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time


def _blas_one_thread():
    """Pin BLAS to one thread when threadpoolctl is installed (fair small-problem timings)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext(), "BLAS threads: library default (install threadpoolctl to pin)"
    return threadpool_limits(limits=1, user_api="blas"), "BLAS threads: pinned to 1 (threadpoolctl)"


def _demo(args) -> int:
    from nsolve.demo import run_demo

    if args.repeat < 1:
        print(f"nsolve demo: error: --repeat must be >= 1; got {args.repeat}", file=sys.stderr)
        return 2
    ctx, note = _blas_one_thread()
    with ctx:
        print(note)
        run_demo(repeat=args.repeat)
    return 0


def _methods(args) -> int:
    import nsolve
    from nsolve._registry import get_method

    for name in nsolve.available_methods():
        spec = get_method(name)
        print(f"{name}: {spec.summary}")
        for key, default in nsolve.method_options(name).items():
            print(f"    {key} = {default!r}")
    return 0


def _compare(args) -> int:
    from nsolve.compare import compare, load_array, load_callable

    def fail(message: str) -> int:
        print(f"nsolve compare: error: {message}", file=sys.stderr)
        return 2

    user = {}
    try:
        if args.fun is not None:
            user["f"] = load_callable(args.fun, "--f")
            for opt in ("grad", "hess", "hessp"):
                spec = getattr(args, opt)
                user[opt] = None if spec is None else load_callable(spec, f"--{opt}")
            if args.x0 is None:
                return fail("--x0 is required with --f (numbers separated by commas, or MODULE:NAME)")
            user["x0"] = load_array(args.x0, "--x0")
            user["f_star"] = args.f_star
            user["name"] = args.name
        elif any(getattr(args, k) is not None for k in ("grad", "hess", "hessp", "x0", "f_star")):
            return fail("--grad, --hess, --hessp, --x0 and --f-star describe a problem given with --f")
    except ValueError as exc:
        return fail(str(exc))
    try:
        cmp = compare(args.problems or None, methods=args.methods, gtol=args.gtol, maxiter=args.maxiter,
                      repeat=args.repeat, solve_tol=args.solve_tol, max_n=args.max_n,
                      progress=False if args.no_progress else None, **user)
    except (TypeError, ValueError) as exc:
        return fail(str(exc))
    print(cmp.table())
    if args.out is None:
        return 0
    try:
        written = cmp.save(args.out, plots=not args.no_plots)
    except ImportError as exc:  # matplotlib missing: everything but the figures is written
        cmp.save(args.out, plots=False)
        print(f"nsolve compare: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # the table above is printed; only the files could not be written
        return fail(f"--out {args.out}: cannot write there ({exc.strerror or exc})")
    print("\nwrote " + ", ".join(str(p) for p in written.values()))
    return 0


def _find_benchmarks():
    """benchmarks/run_all.py of the source tree (next to the package, or in the current directory)."""
    from pathlib import Path

    import nsolve

    for root in (Path(nsolve.__file__).resolve().parents[1], Path.cwd()):
        script = root / "benchmarks" / "run_all.py"
        if script.is_file():
            return script
    return None


def _bench(args) -> int:
    import subprocess

    script = _find_benchmarks()
    if script is None:
        print("nsolve bench: error: the benchmark suite (benchmarks/run_all.py) is part of the source repository, "
              "not of the installed package; clone the repository, install it with pip install -e '.[bench]' "
              "and run nsolve bench from its root", file=sys.stderr)
        return 2
    cmd = [sys.executable, str(script)]
    if args.only:
        cmd += ["--only", *args.only]
    if args.quick:
        cmd.append("--quick")
    if args.assemble_only:
        cmd.append("--assemble-only")
    print("$", " ".join(cmd), flush=True)
    return subprocess.run(cmd, cwd=script.parents[1]).returncode


def _precompile(args) -> int:
    from nsolve.compiled._bridge import precompile

    print("compiling nsolve's solvers (or loading them from Numba's on-disk cache)", flush=True)
    t0 = time.perf_counter()
    try:
        # none named (argparse gives []): all
        precompile(args.methods or None, many=not args.no_many, verbose=True, jobs=args.jobs)
    except ValueError as exc:
        print(f"nsolve precompile: error: {exc}", file=sys.stderr)
        return 2
    print(f"done in {time.perf_counter() - t0:.1f} s", flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nsolve", description="Numba-compiled classical optimization.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="solve the built-in problems with each method, next to scipy")
    p.add_argument("--repeat", type=int, default=5, help="timing repeats per solve (median)")
    p.set_defaults(func=_demo)
    p = sub.add_parser("methods", help="list every method with its options and defaults")
    p.set_defaults(func=_methods)
    p = sub.add_parser("compare", help="run nsolve and scipy.optimize on the same problems: table, CSV/JSON, "
                       "performance profiles, convergence curves",
                       description="Run each nsolve method and its scipy counterpart on the same problems with the "
                       "same stopping rule; print the table and write CSV, JSON, a Markdown table and PNG figures.")
    p.add_argument("problems", nargs="*", help="problem names, NAME or NAME-N (default: the built-in library, or "
                   "only the --f problem)")
    p.add_argument("--methods", nargs="+", default=["bfgs", "lbfgs", "newton", "newton-cg"],
                   help="nsolve methods to compare with their scipy counterparts")
    p.add_argument("--max-n", type=int, help="leave out problems with more variables")
    p.add_argument("--gtol", type=float, default=1e-5, help="common stopping rule ||grad f||_inf <= gtol")
    p.add_argument("--maxiter", type=int, help="iteration limit of both (default: each library's own)")
    p.add_argument("--repeat", type=int, default=5, help="timed solves per run (median)")
    p.add_argument("--solve-tol", type=float, default=1e-6,
                   help="solved when f - f* <= solve_tol * max(1, f(x0) - f*)")
    p.add_argument("--out", default="nsolve-compare", help="output directory (default: ./nsolve-compare)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar (shown on stderr when it is a terminal)")
    p.add_argument("--f", dest="fun", metavar="MODULE:FUNC", help="your objective f(x) (module or file.py)")
    p.add_argument("--grad", metavar="MODULE:FUNC",
                   help="its gradient (default: finite differences, for --methods without newton and newton-cg)")
    p.add_argument("--hess", metavar="MODULE:FUNC", help="its Hessian (for newton)")
    p.add_argument("--hessp", metavar="MODULE:FUNC", help="its Hessian-vector product (for newton-cg)")
    p.add_argument("--x0", metavar="X0", help="starting point: numbers separated by commas (write --x0=-1.2,1 "
                   "when the first is negative), or MODULE:NAME")
    p.add_argument("--f-star", type=float, help="the known minimum (default: the best value found)")
    p.add_argument("--name", help="the problem's name in the table")
    p.set_defaults(func=_compare)
    p = sub.add_parser("bench", help="run the benchmark suite (benchmarks/run_all.py) and write docs/benchmarks.md")
    p.add_argument("--only", nargs="+", metavar="NAME", help="run only benchmarks/bench_NAME.py")
    p.add_argument("--quick", action="store_true", help="short runs (fewer repeats, smaller problems)")
    p.add_argument("--assemble-only", action="store_true", help="only rebuild docs/benchmarks.md from the results")
    p.set_defaults(func=_bench)
    p = sub.add_parser("precompile", help="compile the solvers once per machine (Python objectives then run on them)")
    p.add_argument("methods", nargs="*", default=None, help="methods (default: every method with a compiled solver)")
    p.add_argument("--no-many", action="store_true", help="skip the parallel solvers of minimize_many")
    p.add_argument("--jobs", "-j", type=int, default=1,
                   help="processes compiling at once (one core and about 400 MB each; default 1)")
    p.set_defaults(func=_precompile)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
