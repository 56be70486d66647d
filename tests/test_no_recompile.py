"""Repeated solves reuse the compiled kernels: each kernel has exactly one signature."""

import numpy as np
import pytest

import nsolve
from nsolve._kernels import finite_diff, newton, quasi_newton, vector
from nsolve.problems import get

MODULES = (vector, quasi_newton, newton, finite_diff)


def _kernels():
    out = {}
    for mod in MODULES:
        for name in dir(mod):
            obj = getattr(mod, name)
            if hasattr(obj, "signatures") and hasattr(obj, "py_func") and obj.__module__ == mod.__name__:
                out[f"{mod.__name__}.{name}"] = obj
    return out


def _solve_all(n, x0_kind):
    p = get("extended_rosenbrock", n)
    x0 = p.x0
    if x0_kind == "int":
        x0 = np.round(x0).astype(np.int64)
    elif x0_kind == "list":
        x0 = x0.tolist()
    elif x0_kind == "strided":
        x0 = np.repeat(x0, 2)[::2]
    for method in ("bfgs", "lbfgs", "newton", "newton-cg"):
        kw = {"hess": p.hess} if method == "newton" else {}
        nsolve.minimize(p.f, p.grad, x0, method=method, maxiter=30, **kw)
    nsolve.minimize(p.f, None, x0, method="lbfgs", maxiter=5, fd_scheme="central")
    nsolve.minimize(p.f, p.grad, x0, method="newton", maxiter=3)
    nsolve.minimize(p.f, p.grad, x0, method="bfgs", maxiter=5, line_search="backtracking")


def test_repeated_solves_do_not_recompile():
    _solve_all(2, "float")
    before = {k: len(d.signatures) for k, d in _kernels().items()}
    used = {k for k, v in before.items() if v > 0}
    assert "nsolve._kernels.quasi_newton.bfgs_update_direction_inplace" in used
    assert "nsolve._kernels.quasi_newton.lbfgs_update_direction_inplace" in used
    for n, kind in [(2, "float"), (4, "int"), (10, "list"), (6, "strided")]:
        _solve_all(n, kind)
    after = {k: len(d.signatures) for k, d in _kernels().items()}
    grown = {k: (before[k], after[k]) for k in after if after[k] != before[k] and before[k] > 0}
    assert not grown, f"kernels compiled again for new inputs: {grown}"
    assert all(v <= 1 for v in after.values()), {k: v for k, v in after.items() if v > 1}


@pytest.mark.parametrize(
    "kernel", ["bfgs_update_direction_inplace", "lbfgs_update_direction_inplace", "lbfgs_gram_update_direction_inplace"]
)
def test_kernels_are_cached_on_disk(kernel):
    disp = getattr(quasi_newton, kernel)
    assert disp._cache.__class__.__name__ == "FunctionCache"


def test_no_writable_cache_directory_compiles_without_the_cache(monkeypatch):
    # a read-only install with no writable user cache directory: Numba raises "no locator
    # available" when asked for cache=True; nsolve warns once and compiles without the cache
    import warnings

    import numba

    from nsolve import _jit

    real_njit = numba.njit
    asked = []

    def njit(*args, **options):
        if args:  # Numba's own internal uses
            return real_njit(*args, **options)
        asked.append(options.get("cache"))
        if options.get("cache"):
            raise RuntimeError("cannot cache function 'f': no locator available for file '/ro/f.py'")
        return real_njit(**options)

    monkeypatch.setattr(numba, "njit", njit)
    monkeypatch.setattr(_jit, "_warned_no_cache", False)

    def twice(x):
        return 2.0 * x

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        k1 = _jit.kernel(twice)
        k2 = _jit.kernel(lambda x: x + 1.0)
    assert k1(3.0) == 6.0 and k2(1.0) == 2.0
    assert [str(w.message).count("NUMBA_CACHE_DIR") for w in caught] == [1]  # one warning
    assert asked == [True, False, False] and not _jit.cacheable()
    # any other error of Numba's propagates
    monkeypatch.setattr(_jit, "_warned_no_cache", False)
    monkeypatch.setattr(numba, "njit", lambda **o: (_ for _ in ()).throw(RuntimeError("something else")))
    import pytest

    with pytest.raises(RuntimeError, match="something else"):
        _jit.kernel(twice)
