"""Tests for :mod:`nsolve.problems`.

Every derivative is checked against finite differences, every ``f_star``/``x_star`` against
the literature (Moré, Garbow & Hillstrom 1981 tables, closed forms) and against an
independent optimizer (scipy.optimize.minimize), and the Rosenbrock helpers against
scipy.optimize.rosen*.
"""

from __future__ import annotations

import dataclasses

import numba
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import optimize

from nsolve import problems as P

LIBRARY = P.library()

EXTRA = [
    P.get("rosenbrock", 3),
    P.get("rosenbrock", 7),
    P.get("extended_rosenbrock", 2),
    P.get("extended_powell", 8),
    P.get("penalty1", 1),
    P.get("penalty1", 7),
    P.get("variably_dimensioned", 1),
    P.get("variably_dimensioned", 5),
    P.get("trigonometric", 1),
    P.get("trigonometric", 5),
    P.get("broyden_tridiagonal", 1),
    P.get("broyden_tridiagonal", 7),
    P.get("dixon_price", 2),
    P.get("dixon_price", 6),
    P.get("trid", 1),
    P.get("trid", 6),
    P.get("quadratic", 1),
    P.get("quadratic", 7, cond=1.0e2, seed=3),
]

ALL = LIBRARY + EXTRA


def _ids(problems):
    return [p.label for p in problems]


def _points(p):
    """x0, x_star (when known) and two seeded random points around x0."""
    rng = np.random.default_rng(1000 + 7 * p.n + len(p.name))
    x0 = p.x0
    pts = [x0]
    if p.x_star is not None:
        pts.append(p.x_star)
    for _ in range(2):
        pts.append(x0 + 0.3 * (1.0 + np.abs(x0)) * rng.standard_normal(p.n))
    return pts


def _fd_derivative(func, x, scale):
    """Five-point central differences of ``func`` (scalar- or vector-valued) along each e_i.

    Returns the difference quotients (row i = d func / d x_i) and the largest magnitude of
    ``func`` over the stencil (for the rounding-error bound).
    """
    h = scale * np.maximum(1.0, np.abs(x))
    rows = []
    mag = 0.0
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h[i]
        vals = [np.asarray(func(x + k * e), dtype=float) for k in (2, 1, -1, -2)]
        mag = max(mag, max(float(np.max(np.abs(v))) for v in vals))
        rows.append((-vals[0] + 8 * vals[1] - 8 * vals[2] + vals[3]) / (12 * h[i]))
    return np.array(rows), mag, float(np.min(h))


def _assert_matches_fd(func, x, analytic, what):
    """Check ``analytic`` (the derivative of ``func`` at ``x``) against finite differences.

    The tolerance is relative (1e-6) plus the observed truncation error (the change of the
    quotients when h is halved; the O(h^4) stencil makes the finer one ~16x closer) plus the
    rounding error eps * |func| / h with a safety factor.
    """
    analytic = np.asarray(analytic, dtype=float)
    coarse, _, _ = _fd_derivative(func, x, 2e-3)
    fine, mag, hmin = _fd_derivative(func, x, 1e-3)
    fine = fine.reshape(analytic.shape)
    truncation = np.linalg.norm(coarse.reshape(analytic.shape) - fine)
    rounding = 1e-13 * max(mag, 1e-300) / hmin * np.sqrt(fine.size)
    err = np.linalg.norm(analytic - fine)
    tol = 1e-6 * np.linalg.norm(analytic) + truncation + rounding
    assert err <= tol, f"{what} at x={x}: |analytic - fd| = {err:.3e} > {tol:.3e}"


# ---------------------------------------------------------------------------------------
# Derivatives
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("p", ALL, ids=_ids(ALL))
def test_gradient_matches_finite_differences(p):
    for x in _points(p):
        g = p.grad(x)
        _assert_matches_fd(p.f, x, g, f"{p.label} gradient")


@pytest.mark.parametrize("p", ALL, ids=_ids(ALL))
def test_hessian_matches_finite_differences_of_gradient(p):
    for x in _points(p):
        H = p.hess(x)
        assert H.shape == (p.n, p.n) and H.dtype == np.float64
        assert_array_equal(H, H.T)
        # Row i of the quotients is d grad / d x_i = column i of H (H symmetric).
        _assert_matches_fd(p.grad, x, H, f"{p.label} Hessian")


@pytest.mark.parametrize("p", ALL, ids=_ids(ALL))
def test_hessp_equals_hess_times_p(p):
    rng = np.random.default_rng(5)
    for x in _points(p):
        H = p.hess(x)
        for _ in range(2):
            v = rng.standard_normal(p.n)
            hv = p.hessp(x, v)
            assert hv.shape == (p.n,) and hv.dtype == np.float64
            assert_allclose(hv, H @ v, rtol=1e-12, atol=1e-12 * np.linalg.norm(H) * np.linalg.norm(v))


@pytest.mark.parametrize("p", ALL, ids=_ids(ALL))
def test_output_types_and_fresh_arrays(p):
    x = p.x0
    fx = p.f(x)
    assert isinstance(fx, float)  # numpy.float64 is a float subclass
    g = p.grad(x)
    assert g.shape == (p.n,) and g.dtype == np.float64
    g[:] = 12345.0
    assert not np.array_equal(p.grad(x), g)
    H = p.hess(x)
    H[:] = 12345.0
    assert not np.array_equal(p.hess(x), H)
    assert_array_equal(p.x0, x)  # the functions do not modify their argument
    fv, gv = p.fg(x)
    assert fv == p.f(x)
    assert_array_equal(gv, p.grad(x))


# ---------------------------------------------------------------------------------------
# Known minima
# ---------------------------------------------------------------------------------------

KNOWN_XSTAR = [p for p in ALL if p.x_star is not None]


@pytest.mark.parametrize("p", KNOWN_XSTAR, ids=_ids(KNOWN_XSTAR))
def test_f_at_x_star_is_f_star_and_x_star_is_a_minimizer(p):
    xs = p.x_star
    assert xs.shape == (p.n,)
    assert abs(float(p.f(xs)) - p.f_star) <= 1e-12 * max(1.0, abs(p.f_star))
    assert np.linalg.norm(p.grad(xs)) <= 1e-8 * max(1.0, float(np.linalg.norm(p.grad(p.x0))))
    # Second-order necessary condition: Hessian positive semidefinite at x_star.
    H = p.hess(xs)
    assert np.min(np.linalg.eigvalsh(H)) >= -1e-8 * max(1.0, np.max(np.abs(H)))


def test_every_library_problem_has_x_star():
    assert all(p.x_star is not None for p in LIBRARY)


# MGH (1981) standard starting points.
MGH_STARTS = {
    ("rosenbrock", 2): [-1.2, 1.0],
    ("freudenstein_roth", 2): [0.5, -2.0],
    ("powell_badly_scaled", 2): [0.0, 1.0],
    ("brown_badly_scaled", 2): [1.0, 1.0],
    ("beale", 2): [1.0, 1.0],
    ("jennrich_sampson", 2): [0.3, 0.4],
    ("helical_valley", 3): [-1.0, 0.0, 0.0],
    ("box3d", 3): [0.0, 10.0, 20.0],
    ("powell_singular", 4): [3.0, -1.0, 0.0, 1.0],
    ("wood", 4): [-3.0, -1.0, -3.0, -1.0],
    ("extended_rosenbrock", 6): [-1.2, 1.0, -1.2, 1.0, -1.2, 1.0],
    ("extended_powell", 8): [3.0, -1.0, 0.0, 1.0, 3.0, -1.0, 0.0, 1.0],
    ("penalty1", 4): [1.0, 2.0, 3.0, 4.0],
    ("variably_dimensioned", 4): [0.75, 0.5, 0.25, 0.0],
    ("trigonometric", 4): [0.25, 0.25, 0.25, 0.25],
    ("broyden_tridiagonal", 3): [-1.0, -1.0, -1.0],
}


@pytest.mark.parametrize("key", list(MGH_STARTS), ids=[f"{k[0]}-{k[1]}" for k in MGH_STARTS])
def test_standard_starting_points(key):
    name, n = key
    assert_array_equal(P.get(name, n).x0, np.array(MGH_STARTS[key]))


# f(x0) as tabulated by MGH (tolerance: one unit of their last printed digit, since
# some of their values are truncated rather than rounded) or
# worked out by hand (exact up to rounding).
F_AT_X0 = [
    ("rosenbrock", 2, 24.2, 1e-13),
    ("freudenstein_roth", 2, 400.5, 1e-12),
    ("powell_badly_scaled", 2, 1.13526, 1e-5),
    ("brown_badly_scaled", 2, 0.999998e12, 1e6),
    ("beale", 2, 14.203125, 1e-13),
    ("jennrich_sampson", 2, 4171.31, 1e-2),
    ("helical_valley", 3, 2500.0, 1e-12),
    ("box3d", 3, 1031.15, 1e-2),
    ("powell_singular", 4, 215.0, 1e-12),
    ("wood", 4, 19192.0, 1e-11),
    ("extended_rosenbrock", 10, 5 * 24.2, 1e-12),
    ("extended_powell", 20, 5 * 215.0, 1e-12),
    ("penalty1", 4, 885.063, 1e-3),
    ("penalty1", 10, 148032.565, 1e-3),
    # s = -sum(j^2)/n = -38.5:  sum (j/n)^2 + s^2 + s^4
    ("variably_dimensioned", 10, 3.85 + 38.5**2 + 38.5**4, 1e-8),
    # residuals -2, -1 (x8), -3
    ("broyden_tridiagonal", 10, 4.0 + 8.0 + 9.0, 1e-13),
    ("dixon_price", 4, 2 * 1 + 3 * 1 + 4 * 1, 1e-13),
    ("trid", 6, 6.0, 1e-13),
]


@pytest.mark.parametrize("name,n,value,atol", F_AT_X0, ids=[f"{r[0]}-{r[1]}" for r in F_AT_X0])
def test_f_at_standard_start(name, n, value, atol):
    p = P.get(name, n)
    assert abs(float(p.f(p.x0)) - value) <= atol


# f_star values that are not zero, from the literature (tolerance as above).
LITERATURE_FSTAR = [
    ("jennrich_sampson", 2, 124.362, 1e-3),
    ("penalty1", 4, 2.24997e-5, 1e-10),
    ("penalty1", 10, 7.08765e-5, 1e-10),
    ("trid", 6, -50.0, 1e-13),
    ("trid", 10, -210.0, 1e-13),
]


@pytest.mark.parametrize(
    "name,n,value,atol", LITERATURE_FSTAR, ids=[f"{r[0]}-{r[1]}" for r in LITERATURE_FSTAR]
)
def test_f_star_literature_values(name, n, value, atol):
    assert abs(P.get(name, n).f_star - value) <= atol


def test_jennrich_sampson_x_star_literature():
    assert_allclose(P.get("jennrich_sampson").x_star, [0.2578, 0.2578], atol=5e-5)


def test_powell_badly_scaled_x_star_literature():
    xs = P.get("powell_badly_scaled").x_star
    assert_allclose(xs, [1.098e-5, 9.106], rtol=2e-4)


def test_dixon_price_x_star_closed_form():
    p = P.get("dixon_price", 4)
    # x_i = 2^{-(2^i - 2)/2^i}: 1, 2^-1/2, 2^-3/4, 2^-7/8
    assert_allclose(p.x_star, [1.0, 2**-0.5, 2**-0.75, 2**-0.875], rtol=1e-15)


def test_quadratic_structure():
    p = P.get("quadratic", 20, cond=1.0e3, seed=7)
    H = p.hess(p.x0)
    eig = np.linalg.eigvalsh(H)
    assert_allclose(eig[0], 1.0, rtol=1e-10)
    assert_allclose(eig[-1], 1.0e3, rtol=1e-10)
    b = -p.grad(np.zeros(20))
    assert_allclose(p.x_star, np.linalg.solve(H, b), rtol=1e-10)
    assert_allclose(p.f_star, -0.5 * b @ np.linalg.solve(H, b), rtol=1e-12)
    # Same seed -> same problem; another seed -> another problem.
    assert_array_equal(P.get("quadratic", 20, cond=1.0e3, seed=7).hess(p.x0), H)
    assert not np.array_equal(P.get("quadratic", 20, cond=1.0e3, seed=8).hess(p.x0), H)
    # hess returns a fresh, writable array.
    H[0, 0] = -1.0
    assert p.hess(p.x0)[0, 0] > 0.0


def test_helical_valley_is_continuous_across_negative_x1_axis():
    # MGH's theta is continuous around the start (-1, 0, 0); atan2/(2 pi) would jump by 1.
    p = P.get("helical_valley")
    above = p.f(np.array([-1.0, 1e-12, 0.0]))
    below = p.f(np.array([-1.0, -1e-12, 0.0]))
    assert abs(above - below) < 1e-6
    assert_allclose(p.grad(np.array([-1.0, 1e-12, 0.0])), p.grad(np.array([-1.0, -1e-12, 0.0])), atol=1e-6)


# ---------------------------------------------------------------------------------------
# Independent optimizer as an oracle for f_star
# ---------------------------------------------------------------------------------------

# Known non-global local minima reached from the standard start (MGH 1981 report the
# Freudenstein-Roth one; the trigonometric value is a local minimum with a positive
# definite Hessian, confirmed to 50 digits).
KNOWN_LOCAL = {
    "freudenstein_roth-2": (48.9842, 1e-4),
    "trigonometric-10": (2.79506e-5, 1e-10),
}


def _reached(fun, p):
    return fun - p.f_star <= 1e-6 * max(1.0, abs(p.f_star))


@pytest.mark.parametrize("p", LIBRARY, ids=_ids(LIBRARY))
def test_scipy_bfgs_reaches_f_star(p):
    res = optimize.minimize(p.f, p.x0, jac=p.grad, method="BFGS", options={"gtol": 1e-10, "maxiter": 20000})
    # f_star is the global minimum: nothing may go below it.
    assert res.fun >= p.f_star - 1e-9 * max(1.0, abs(p.f_star))
    if _reached(res.fun, p):
        return
    assert p.has_local_minima, f"{p.label}: BFGS stopped at {res.fun!r}, f_star = {p.f_star!r}"
    # Then it must be a genuine non-global local minimizer.
    assert np.linalg.norm(p.grad(res.x)) <= 1e-5
    assert np.min(np.linalg.eigvalsh(p.hess(res.x))) > 0.0
    if p.label in KNOWN_LOCAL:
        value, atol = KNOWN_LOCAL[p.label]
        assert abs(res.fun - value) <= atol


def test_most_problems_reach_f_star_with_bfgs():
    hits = 0
    for p in LIBRARY:
        res = optimize.minimize(
            p.f, p.x0, jac=p.grad, method="BFGS", options={"gtol": 1e-10, "maxiter": 20000}
        )
        hits += _reached(res.fun, p)
    assert hits >= 0.8 * len(LIBRARY)


@pytest.mark.parametrize("p", [p for p in LIBRARY if p.n <= 10], ids=_ids([p for p in LIBRARY if p.n <= 10]))
def test_global_minimum_from_x_star_neighbourhood(p):
    # Started near x_star, a second-order method must come back to f_star (checks that
    # x_star/f_star describe a minimum of the coded function, also for multimodal ones).
    rng = np.random.default_rng(2)
    xs = p.x_star
    x = xs + 1e-3 * (1.0 + np.abs(xs)) * rng.standard_normal(p.n)
    res = optimize.minimize(
        p.f, x, jac=p.grad, hess=p.hess, method="trust-exact", options={"gtol": 1e-12, "maxiter": 2000}
    )
    assert _reached(res.fun, p)


# ---------------------------------------------------------------------------------------
# scipy-compatible Rosenbrock
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 3, 10, 51])
def test_rosen_helpers_match_scipy(n):
    rng = np.random.default_rng(n)
    for _ in range(3):
        x = rng.uniform(-2.0, 2.0, n)
        v = rng.standard_normal(n)
        assert_allclose(P.rosen(x), optimize.rosen(x), rtol=1e-15)
        assert_allclose(P.rosen_der(x), optimize.rosen_der(x), rtol=1e-13, atol=1e-12)
        assert_allclose(P.rosen_hess(x), optimize.rosen_hess(x), rtol=1e-14, atol=1e-12)
        assert_allclose(P.rosen_hess_prod(x, v), optimize.rosen_hess_prod(x, v), rtol=1e-12, atol=1e-10)
        p = P.get("rosenbrock", n)
        assert_allclose(p.f(x), optimize.rosen(x), rtol=1e-15)
    assert isinstance(P.rosen([1.0, 1.0]), float) and P.rosen([1.0, 1.0]) == 0.0
    with pytest.raises(ValueError):
        P.rosen(np.ones((2, 2)))


def test_rosenbrock_2_is_mgh_problem_1():
    p = P.get("rosenbrock")
    x = np.array([0.3, -0.7])
    assert p.n == 2
    # MGH: f1 = 10(x2 - x1^2), f2 = 1 - x1
    assert_allclose(p.f(x), (10 * (x[1] - x[0] ** 2)) ** 2 + (1 - x[0]) ** 2, rtol=1e-15)


def test_extended_forms_agree_with_small_problems():
    x = np.random.default_rng(0).standard_normal(8)
    ext = P.get("extended_rosenbrock", 8)
    r2 = P.get("rosenbrock", 2)
    assert_allclose(ext.f(x), sum(r2.f(x[i : i + 2]) for i in range(0, 8, 2)), rtol=1e-14)
    ep = P.get("extended_powell", 8)
    ps = P.get("powell_singular")
    assert_allclose(ep.f(x), ps.f(x[:4]) + ps.f(x[4:]), rtol=1e-14)


# ---------------------------------------------------------------------------------------
# jit()
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("p", ALL, ids=_ids(ALL))
def test_jit_versions_agree(p):
    q = p.jit()
    assert q.is_jitted and not p.is_jitted
    assert isinstance(q.f, numba.core.registry.CPUDispatcher)
    assert (q.name, q.n, q.f_star, q.reference, q.has_local_minima) == (
        p.name,
        p.n,
        p.f_star,
        p.reference,
        p.has_local_minima,
    )
    assert_array_equal(q.x0, p.x0)
    rng = np.random.default_rng(11)
    # Compiled and interpreted code may differ by rounding (summation order, libm): compare
    # with an absolute floor set by the problem's scale, not by the (possibly ~0) values.
    g_scale = float(np.max(np.abs(p.grad(p.x0)))) + 1.0
    h_scale = float(np.max(np.abs(p.hess(p.x0)))) + 1.0
    f_scale = abs(float(p.f(p.x0))) + 1.0
    for x in _points(p):
        v = rng.standard_normal(p.n)
        fp, fq = float(p.f(x)), float(q.f(x))
        assert abs(fp - fq) <= 1e-12 * abs(fp) + 1e-14 * f_scale
        assert_allclose(q.grad(x), p.grad(x), rtol=1e-12, atol=1e-14 * g_scale)
        assert_allclose(q.hess(x), p.hess(x), rtol=1e-12, atol=1e-14 * h_scale)
        assert_allclose(q.hessp(x, v), p.hessp(x, v), rtol=1e-12, atol=1e-14 * h_scale * np.max(np.abs(v)))
        fv, gv = q.fg(x)
        assert fv == q.f(x)
        assert_array_equal(gv, q.grad(x))


def test_jit_is_memoized_and_idempotent():
    p = P.get("wood")
    q1, q2 = p.jit(), P.get("wood").jit()
    assert q1.f is q2.f and q1.hessp is q2.hessp
    assert q1.jit().grad is q1.grad
    a = P.get("quadratic", 4, cond=10.0, seed=1).jit()
    b = P.get("quadratic", 4, cond=10.0, seed=1).jit()
    assert a.f is b.f


def test_jitted_functions_can_be_passed_to_njit_code():
    @numba.njit
    def steepest_descent_value(f, grad, x, alpha, iters):
        for _ in range(iters):
            x = x - alpha * grad(x)
        return f(x)

    for name in ("rosenbrock", "quadratic", "helical_valley"):
        p = P.get(name, **({"n": 6, "cond": 10.0} if name == "quadratic" else {}))
        q = p.jit()
        expected = p.x0
        for _ in range(5):
            expected = expected - 1e-4 * p.grad(expected)
        got = steepest_descent_value(q.f, q.grad, q.x0, 1e-4, 5)
        assert_allclose(got, p.f(expected), rtol=1e-12)


# ---------------------------------------------------------------------------------------
# Registry and record behaviour
# ---------------------------------------------------------------------------------------


def test_names_and_library():
    ns = P.names()
    assert ns == sorted(ns)
    required = {
        "rosenbrock",
        "extended_rosenbrock",
        "beale",
        "powell_singular",
        "extended_powell",
        "wood",
        "helical_valley",
        "brown_badly_scaled",
        "quadratic",
    }
    assert required <= set(ns)
    assert {p.name for p in LIBRARY} == set(ns)
    small = P.library(max_n=10)
    assert small and all(p.n <= 10 for p in small)
    assert len(small) < len(LIBRARY)
    assert any(p.name == "quadratic" and p.n == 50 for p in LIBRARY)
    assert {p.n for p in LIBRARY if p.name == "extended_rosenbrock"} == {10, 100}


def test_get_unknown_name_lists_valid_names():
    with pytest.raises(ValueError) as info:
        P.get("no_such_problem")
    msg = str(info.value)
    assert "no_such_problem" in msg
    for name in P.names():
        assert name in msg


@pytest.mark.parametrize(
    "name,n",
    [("beale", 3), ("wood", 5), ("extended_rosenbrock", 7), ("extended_powell", 6), ("rosenbrock", 1)],
)
def test_get_invalid_dimension(name, n):
    with pytest.raises(ValueError, match=name):
        P.get(name, n)


def test_get_invalid_options():
    with pytest.raises(ValueError):
        P.get("quadratic", 5, cond=0.5)
    with pytest.raises(TypeError):
        P.get("rosenbrock", 2.0)
    with pytest.raises(TypeError):
        P.get("beale", cond=3.0)


def test_default_sizes():
    assert P.get("rosenbrock").n == 2
    assert P.get("powell_singular").n == 4
    assert P.get("helical_valley").n == 3
    assert P.get("quadratic").n == 50


def test_arrays_are_copies_and_record_is_frozen():
    p = P.get("wood")
    x0 = p.x0
    x0[:] = 0.0
    assert_array_equal(p.x0, [-3.0, -1.0, -3.0, -1.0])
    xs = p.x_star
    xs[0] = 7.0
    assert_array_equal(p.x_star, np.ones(4))
    assert p.x0 is not p.x0
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.x0 = np.zeros(4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.f_star = 1.0


def test_constructing_a_problem_copies_inputs():
    x0 = np.array([1.0, 2.0])
    r = P.get("rosenbrock")
    p = P.Problem(
        name="mine",
        n=2,
        f=r.f,
        grad=r.grad,
        hess=r.hess,
        hessp=r.hessp,
        x0=x0,
        f_star=0.0,
        x_star=None,
        reference="test",
    )
    x0[0] = 99.0
    assert_array_equal(p.x0, [1.0, 2.0])
    assert p.x_star is None and p.has_local_minima is False
    assert "mine" in repr(p)
    assert p.jit().x_star is None


# ---------------------------------------------------------------------------------------
# Symbolic oracle: the MGH definitions differentiated by SymPy
# ---------------------------------------------------------------------------------------


def _symbolic_objectives(sp, x1_negative):
    """SymPy expressions for f, written straight from the published definitions."""
    X = sp.symbols("x1:9", real=True)

    def v(n):
        return X[:n]

    def sumsq(res):
        return sum(r**2 for r in res)

    out = {}
    x = v(4)
    out[("rosenbrock", 4)] = (x, sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(3)))
    out[("extended_rosenbrock", 4)] = (
        x,
        sumsq([10 * (x[1] - x[0] ** 2), 1 - x[0], 10 * (x[3] - x[2] ** 2), 1 - x[2]]),
    )
    x = v(8)
    powell = []
    for k in (0, 4):
        a, b, c, d = x[k : k + 4]
        powell += [a + 10 * b, sp.sqrt(5) * (c - d), (b - 2 * c) ** 2, sp.sqrt(10) * (a - d) ** 2]
    out[("extended_powell", 8)] = (x, sumsq(powell))
    x = v(2)
    y = [sp.Rational(3, 2), sp.Rational(9, 4), sp.Rational(21, 8)]
    out[("beale", 2)] = (x, sumsq([y[i] - x[0] * (1 - x[1] ** (i + 1)) for i in range(3)]))
    out[("brown_badly_scaled", 2)] = (
        x,
        sumsq([x[0] - 10**6, x[1] - sp.Rational(2, 10**6), x[0] * x[1] - 2]),
    )
    out[("powell_badly_scaled", 2)] = (
        x,
        sumsq([10**4 * x[0] * x[1] - 1, sp.exp(-x[0]) + sp.exp(-x[1]) - sp.Rational(10001, 10000)]),
    )
    out[("freudenstein_roth", 2)] = (
        x,
        sumsq(
            [
                -13 + x[0] + ((5 - x[1]) * x[1] - 2) * x[1],
                -29 + x[0] + ((x[1] + 1) * x[1] - 14) * x[1],
            ]
        ),
    )
    out[("jennrich_sampson", 2)] = (
        x,
        sumsq([2 + 2 * i - sp.exp(i * x[0]) - sp.exp(i * x[1]) for i in range(1, 11)]),
    )
    x = v(3)
    theta = sp.atan(x[1] / x[0]) / (2 * sp.pi) + (sp.Rational(1, 2) if x1_negative else 0)
    out[("helical_valley", 3)] = (
        x,
        sumsq([10 * (x[2] - 10 * theta), 10 * (sp.sqrt(x[0] ** 2 + x[1] ** 2) - 1), x[2]]),
    )
    t = [sp.Rational(i, 10) for i in range(1, 11)]
    out[("box3d", 3)] = (
        x,
        sumsq(
            [sp.exp(-ti * x[0]) - sp.exp(-ti * x[1]) - x[2] * (sp.exp(-ti) - sp.exp(-10 * ti)) for ti in t]
        ),
    )
    out[("penalty1", 3)] = (
        x,
        sumsq(
            [sp.sqrt(sp.Rational(1, 10**5)) * (xi - 1) for xi in x]
            + [sum(xi**2 for xi in x) - sp.Rational(1, 4)]
        ),
    )
    x = v(4)
    out[("wood", 4)] = (
        x,
        sumsq(
            [
                10 * (x[1] - x[0] ** 2),
                1 - x[0],
                sp.sqrt(90) * (x[3] - x[2] ** 2),
                1 - x[2],
                sp.sqrt(10) * (x[1] + x[3] - 2),
                (x[1] - x[3]) / sp.sqrt(10),
            ]
        ),
    )
    s = sum((j + 1) * (x[j] - 1) for j in range(4))
    out[("variably_dimensioned", 4)] = (x, sumsq([xj - 1 for xj in x] + [s, s**2]))
    csum = sum(sp.cos(xj) for xj in x)
    out[("trigonometric", 4)] = (
        x,
        sumsq([4 - csum + (i + 1) * (1 - sp.cos(x[i])) - sp.sin(x[i]) for i in range(4)]),
    )
    xe = [0, *x, 0]
    out[("broyden_tridiagonal", 4)] = (
        x,
        sumsq([(3 - 2 * xe[i]) * xe[i] - xe[i - 1] - 2 * xe[i + 1] + 1 for i in range(1, 5)]),
    )
    out[("dixon_price", 4)] = (
        x,
        (x[0] - 1) ** 2 + sum((i + 1) * (2 * x[i] ** 2 - x[i - 1]) ** 2 for i in range(1, 4)),
    )
    out[("trid", 4)] = (x, sum((xi - 1) ** 2 for xi in x) - sum(x[i] * x[i - 1] for i in range(1, 4)))
    return out


SYMBOLIC_CASES = [
    ("rosenbrock", 4),
    ("extended_rosenbrock", 4),
    ("extended_powell", 8),
    ("beale", 2),
    ("brown_badly_scaled", 2),
    ("powell_badly_scaled", 2),
    ("freudenstein_roth", 2),
    ("jennrich_sampson", 2),
    ("helical_valley", 3),
    ("box3d", 3),
    ("penalty1", 3),
    ("wood", 4),
    ("variably_dimensioned", 4),
    ("trigonometric", 4),
    ("broyden_tridiagonal", 4),
    ("dixon_price", 4),
    ("trid", 4),
]


@pytest.mark.parametrize("key", SYMBOLIC_CASES, ids=[f"{k[0]}-{k[1]}" for k in SYMBOLIC_CASES])
def test_matches_symbolic_derivatives(key):
    sp = pytest.importorskip("sympy")
    p = P.get(*key)
    rng = np.random.default_rng(17)
    points = [p.x0] + [p.x0 + 0.3 * (1.0 + np.abs(p.x0)) * rng.standard_normal(p.n) for _ in range(2)]
    if key[0] == "helical_valley":
        points.append(np.array([0.7, -0.4, 0.3]))  # the x1 > 0 branch
    for x in points:
        xs, expr = _symbolic_objectives(sp, x1_negative=bool(x[0] < 0))[key]
        grad = [sp.diff(expr, xi) for xi in xs]
        subs = {xi: sp.Float(float(val), 40) for xi, val in zip(xs, x, strict=True)}
        f_ref = float(expr.evalf(40, subs=subs))
        g_ref = np.array([float(gi.evalf(40, subs=subs)) for gi in grad])
        H_ref = np.array([[float(sp.diff(gi, xj).evalf(40, subs=subs)) for xj in xs] for gi in grad])
        assert_allclose(p.f(x), f_ref, rtol=1e-12)
        # Component-wise: catches errors in components that are tiny next to the norm
        # (e.g. Brown badly scaled), which finite differences cannot resolve.
        assert_allclose(p.grad(x), g_ref, rtol=1e-9, atol=1e-9)
        assert_allclose(p.hess(x), H_ref, rtol=1e-9, atol=1e-9)


def test_jit_compiles_loop_twins_of_array_expression_functions():
    # Array expressions allocate temporaries on every compiled call; these families' f and
    # grad compile from loop-written twins (their values: test_jit_versions_agree).
    names = ("rosenbrock", "extended_rosenbrock", "powell_singular", "extended_powell", "penalty1",
             "variably_dimensioned", "trigonometric", "broyden_tridiagonal", "dixon_price", "trid")
    for name in names:
        p = P.get(name)
        q = p.jit()
        assert q.f.py_func is P._LOOP_TWINS[p.f] and q.grad.py_func is P._LOOP_TWINS[p.grad], name
        assert q.hess.py_func is p.hess  # Hessians compile unchanged
