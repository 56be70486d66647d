"""The logistic kernels' own exp and log1p against the correctly rounded values.

``nsolve.models._elementary`` promises about one ulp: at most 1 ulp from the correctly
rounded result for ``exp_nonpos`` and 2 for ``log1p_unit`` over their whole domains,
subnormal results and the ends of the domains included, with the FMA contraction they are
compiled with.  The reference is mpmath at 100 bits (a dependency of sympy, in the test
extra), not NumPy, whose own exp differs between versions (1.26's by 2 ulp here).
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from numba import njit

from nsolve.models._elementary import exp_nonpos, log1p_unit, pow2_int


@njit(cache=False)
def _exp_all(x, out):
    # called from a loop, as the kernels call it (inlined, vectorised)
    for i in range(x.shape[0]):
        out[i] = exp_nonpos(x[i])


@njit(cache=False)
def _log1p_all(e, out):
    for i in range(e.shape[0]):
        out[i] = log1p_unit(e[i])


def _ulps(got, ref):
    """|got - ref| in units of the last place of ref (the spacing of the smallest subnormal
    for ref == 0)."""
    return np.abs(got - ref) / np.spacing(np.maximum(np.abs(ref), 5e-324))


def _exact(func, values) -> np.ndarray:
    """``func`` of every value, correctly rounded to float64 (mpmath at 100 bits)."""
    with mpmath.workprec(100):
        return np.array([float(func(mpmath.mpf(float(v)))) for v in values])


def _subsample(values, k, n_special, seed):
    """``k`` random values and the last ``n_special`` (the hand-picked points) of ``values``."""
    rng = np.random.default_rng(seed)
    body = values[: values.size - n_special]
    return np.concatenate([rng.choice(body, k, replace=False), values[values.size - n_special :]])


def _exp_points():
    rng = np.random.default_rng(20261121)
    log_uniform = -np.exp(rng.uniform(-40.0, np.log(745.0), 600_000))
    return np.concatenate(
        [
            log_uniform,  # every scale from 4e-18 to 745
            -np.abs(rng.standard_normal(200_000)),  # where the logistic margins live
            rng.uniform(-745.2, -700.0, 100_000),  # subnormal and tiny results
            -np.arange(0, 746) * np.log(2.0),  # reduction boundaries k ln 2
            [0.0, -0.0, -5e-324, -1e-300, -708.39, -744.44, -745.13, -745.1332191019412, -745.2, -746.0, -800.0],
        ]
    )


def test_exp_nonpos_is_within_one_ulp_down_to_subnormals():
    x = _subsample(_exp_points(), 80_000, 746 + 11, seed=1)
    got = np.empty_like(x)
    _exp_all(x, got)
    ref = _exact(mpmath.exp, x)
    assert np.all(np.isfinite(got))
    assert np.all(got >= 0.0)
    ulps = _ulps(got, ref)
    assert ulps.max() <= 1.0, f"worst {ulps.max()} ulp at x = {x[np.argmax(ulps)]!r}"
    # mostly correctly rounded, not merely close
    assert np.mean(got == ref) > 0.85
    # subnormal results are produced (not flushed to zero), and underflow is exact zero
    sub = (ref > 0.0) & (ref < np.finfo(float).tiny)
    assert sub.sum() > 100 and np.all(got[sub] > 0.0)
    assert np.all(got[x < -745.2] == 0.0)
    assert np.all(got[x == 0.0] == 1.0)


def test_exp_nonpos_is_monotone_on_a_fine_grid():
    x = np.linspace(-50.0, 0.0, 500_001)
    got = np.empty_like(x)
    _exp_all(x, got)
    assert np.all(np.diff(got) >= 0.0)


def test_log1p_unit_is_within_two_ulps_on_its_domain():
    rng = np.random.default_rng(7)
    half = 0.5
    e = np.concatenate(
        [
            rng.random(600_000),
            np.exp(rng.uniform(np.log(5e-324), 0.0, 300_000)),  # every scale down to subnormal
            np.nextafter(half, [0.0, 1.0]),  # the switch between the two branches
            [0.0, 5e-324, 1e-300, 1e-17, half, 1.0, np.nextafter(1.0, 0.0)],
        ]
    )
    e = _subsample(e, 80_000, 2 + 7, seed=2)
    got = np.empty_like(e)
    _log1p_all(e, got)
    ref = _exact(mpmath.log1p, e)
    ulps = _ulps(got, ref)
    assert ulps.max() <= 2.0, f"worst {ulps.max()} ulp at e = {e[np.argmax(ulps)]!r}"
    assert np.mean(got == ref) > 0.6
    assert got[e == 0.0].tolist() == [0.0]
    tiny = (e > 1e-300) & (e < 1e-17)  # log1p(e) = e to the last bit (normal numbers)
    assert np.array_equal(got[tiny], e[tiny])


@pytest.mark.parametrize("k", [-1022, -1000, -1, 0, 1, 52, 1023])
def test_pow2_int_is_exact(k):
    assert pow2_int(k) == 2.0**k
