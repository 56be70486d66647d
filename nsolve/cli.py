"""The ``nsolve`` command line."""

from __future__ import annotations

import argparse
import contextlib
import sys


def _blas_one_thread():
    """Pin BLAS to one thread when threadpoolctl is installed (fair small-problem timings)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext(), "BLAS threads: library default (install threadpoolctl to pin)"
    return threadpool_limits(limits=1, user_api="blas"), "BLAS threads: pinned to 1 (threadpoolctl)"


def _demo(args) -> int:
    from nsolve.demo import run_demo

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nsolve", description="Numba-compiled classical optimization.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="solve the built-in problems with each method, next to scipy")
    p.add_argument("--repeat", type=int, default=5, help="timing repeats per solve (median)")
    p.set_defaults(func=_demo)
    p = sub.add_parser("methods", help="list every method with its options and defaults")
    p.set_defaults(func=_methods)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
