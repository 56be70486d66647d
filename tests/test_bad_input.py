"""Bad input: a clear error naming the argument, raised before any Numba compilation."""

import numpy as np
import pytest

import nsolve
from nsolve.problems import rosen, rosen_der, rosen_hess

X0 = np.array([-1.2, 1.0])


@pytest.mark.parametrize(
    "x0, exc, match",
    [
        (np.zeros((2, 2)), ValueError, "x0 must be 1-D"),
        (np.array([]), ValueError, "x0 must not be empty"),
        (["a", "b"], TypeError, "x0 must be a 1-D array of real numbers"),
        ([1.0, np.nan], ValueError, "x0 must be finite"),
        ([1.0, np.inf], ValueError, "x0 must be finite"),
        (np.array([1 + 1j, 2]), TypeError, "x0 must be real"),
        (3.0, ValueError, "x0 must be 1-D"),
    ],
)
def test_bad_x0(x0, exc, match):
    with pytest.raises(exc, match=match):
        nsolve.minimize(rosen, rosen_der, x0)


def test_not_callable():
    with pytest.raises(TypeError, match="f must be callable"):
        nsolve.minimize(3, rosen_der, X0)
    with pytest.raises(TypeError, match="grad must be callable, True or None"):
        nsolve.minimize(rosen, "x", X0)
    with pytest.raises(TypeError, match="hess must be callable"):
        nsolve.minimize(rosen, rosen_der, X0, method="newton", hess=np.eye(2))
    with pytest.raises(TypeError, match="callback must be callable"):
        nsolve.minimize(rosen, rosen_der, X0, callback=1)


def test_f_returning_non_scalar():
    with pytest.raises(TypeError, match="f must return a scalar"):
        nsolve.minimize(lambda x: x, rosen_der, X0)
    with pytest.raises(TypeError, match="f must return a real scalar"):
        nsolve.minimize(lambda x: "a", rosen_der, X0)


def test_huge_but_finite_values_are_accepted():
    """The finite checks of x0 and of the first gradient (entry by entry for short vectors,
    NumPy a chunk at a time for long ones) accept huge finite values and warn about nothing."""
    from nsolve._validation import FINITE_CHUNK, all_finite_vector

    for n in (3, 100, 2 * FINITE_CHUNK + 5):  # entry by entry, one chunk, several chunks
        a = np.full(n, 1e300)
        assert all_finite_vector(a)
        for bad in (np.nan, np.inf, -np.inf):
            b = a.copy()
            b[-1] = bad
            assert not all_finite_vector(b)
    res = nsolve.minimize(lambda x: float(np.sum(x)), lambda x: np.full(2, 1e200), [1e200, 1e200],
                          method="gd", maxiter=1, lr=1e-300)
    assert res.nfev >= 1 and np.all(np.isfinite(res.x))  # neither x0 nor its gradient was rejected


def test_f_nonfinite_at_x0():
    with pytest.raises(ValueError, match="f must be finite at x0"):
        nsolve.minimize(lambda x: np.nan, rosen_der, X0)


def test_grad_wrong_shape_or_nonfinite():
    with pytest.raises(ValueError, match=r"grad must return an array of shape \(2,\)"):
        nsolve.minimize(rosen, lambda x: np.zeros(3), X0)
    with pytest.raises(ValueError, match="grad must be finite at x0"):
        nsolve.minimize(rosen, lambda x: np.array([np.inf, 0.0]), X0)
    with pytest.raises(TypeError, match="grad=True, f must return a pair"):
        nsolve.minimize(rosen, True, X0)


def test_hess_wrong_shape():
    with pytest.raises(ValueError, match=r"hess must return an array of shape \(2, 2\)"):
        nsolve.minimize(rosen, rosen_der, X0, method="newton", hess=lambda x: np.eye(3))


def test_unknown_method_lists_valid():
    with pytest.raises(ValueError, match="unknown method 'foo'; valid methods: .*bfgs.*lbfgs"):
        nsolve.minimize(rosen, rosen_der, X0, method="foo")


def test_unknown_option_lists_valid():
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['mm'\] for method 'lbfgs'; valid options: .*gtol.*m"):
        nsolve.minimize(rosen, rosen_der, X0, method="lbfgs", mm=3)


@pytest.mark.parametrize(
    "opts, exc, match",
    [
        ({"gtol": -1.0}, ValueError, "gtol must be >= 0"),
        ({"ftol": -1e-3}, ValueError, "ftol must be >= 0"),
        ({"xtol": float("nan")}, ValueError, "xtol must not be NaN"),
        ({"maxiter": -1}, ValueError, "maxiter must be >= 0"),
        ({"maxiter": 2.5}, TypeError, "maxiter must be an integer"),
        ({"m": 0}, ValueError, "m must be >= 1"),
        ({"c1": 0.0}, ValueError, "c1"),
        ({"c1": 0.5, "c2": 0.4}, ValueError, "c2"),
        ({"c2": 1.0}, ValueError, "c2"),
        ({"time_limit": 0}, ValueError, "time_limit must be > 0"),
        ({"fd_scheme": "sideways"}, ValueError, "unknown fd_scheme"),
        ({"line_search": "nope"}, ValueError, "strong-wolfe"),
    ],
)
def test_bad_options(opts, exc, match):
    with pytest.raises(exc, match=match):
        nsolve.minimize(rosen, rosen_der, X0, method="lbfgs", **opts)


def test_errors_raised_before_numba_compilation(monkeypatch):
    """Validation must not touch any kernel: poison the dispatcher compile step."""
    import numba.core.dispatcher as disp

    def boom(*a, **k):
        raise AssertionError("Numba compilation started before validation")

    monkeypatch.setattr(disp.Dispatcher, "compile", boom)
    with pytest.raises(ValueError, match="x0 must be finite"):
        nsolve.minimize(rosen, rosen_der, [np.nan, 1.0])
    with pytest.raises(ValueError, match="unknown method"):
        nsolve.minimize(rosen, rosen_der, X0, method="bad")
    with pytest.raises(ValueError, match=r"grad must return an array of shape"):
        nsolve.minimize(rosen, lambda x: np.ones(5), X0)


# ---------------------------------------------------------------- found by review (each names the argument)


def test_line_search_options_are_checked_under_their_own_names():
    with pytest.raises(ValueError, match="max_ls must be >= 1"):
        nsolve.minimize(rosen, rosen_der, X0, method="bfgs", max_ls=0)
    with pytest.raises(TypeError, match="max_ls must be an integer"):
        nsolve.minimize(rosen, rosen_der, X0, method="bfgs", max_ls=2.5)
    with pytest.raises(ValueError, match=r"\['shrink'\] do not apply to line_search='strong-wolfe', which takes c1"):
        nsolve.minimize(rosen, rosen_der, X0, method="bfgs", shrink=0.5)
    with pytest.raises(ValueError, match=r"\['c2'\] do not apply to line_search='backtracking'"):
        nsolve.minimize(rosen, rosen_der, X0, method="lbfgs", line_search="backtracking", c2=0.5)
    res = nsolve.minimize(rosen, rosen_der, X0, method="lbfgs", line_search="backtracking", shrink=0.3, max_ls=40)
    assert res.success


@pytest.mark.parametrize("bad", [lambda x: "ab", lambda x: None, lambda x: np.eye(2) * 1j])
def test_hess_and_hessp_returning_non_real_values_are_named(bad):
    with pytest.raises(TypeError, match="hess must return an array of real numbers"):
        nsolve.minimize(rosen, rosen_der, X0, method="newton", hess=bad)
    with pytest.raises(TypeError, match="hessp must return an array of real numbers"):
        nsolve.minimize(rosen, rosen_der, X0, method="newton-cg", hessp=lambda x, p: bad(x))


def test_newton_cg_rejects_a_non_finite_hessian_at_x0_and_stops_on_one_later():
    nan_h = lambda x: np.full((2, 2), np.nan)  # noqa: E731
    with pytest.raises(ValueError, match="hess must be finite at x0"):
        nsolve.minimize(rosen, rosen_der, X0, method="newton-cg", hess=nan_h)
    with pytest.raises(ValueError, match="hessp must be finite at x0"):
        nsolve.minimize(rosen, rosen_der, X0, method="newton-cg", hessp=lambda x, p: np.full(2, np.nan))
    with pytest.raises(ValueError, match="hess must be finite at x0"):  # as newton does
        nsolve.minimize(rosen, rosen_der, X0, method="newton", hess=nan_h)
    # finite at x0, NaN from the third product on: the run stops NOT_FINITE at its best point
    calls = []

    def hessp(x, p):
        calls.append(1)
        return rosen_hess(x) @ p if len(calls) < 3 else np.full(2, np.nan)

    res = nsolve.minimize(rosen, rosen_der, X0, method="newton-cg", hessp=hessp)
    assert res.status == nsolve.Status.NOT_FINITE and not res.success
    assert res.fun == rosen(res.x) <= rosen(X0)


def test_numbers_too_large_for_float64_are_clear_errors():
    with pytest.raises(ValueError, match="x0 must be finite"):
        nsolve.minimize(rosen, rosen_der, [10**400, 1.0])
    with pytest.raises(ValueError, match="gtol is too large for a float64"):
        nsolve.minimize(rosen, rosen_der, X0, gtol=10**400)
    with pytest.raises(ValueError, match="f must be finite at x0"):
        nsolve.minimize(lambda x: 10**400, rosen_der, X0)
    with pytest.raises(ValueError, match="gtol must be >= 0 and finite; got inf"):
        nsolve.minimize(rosen, rosen_der, X0, gtol=float("inf"))


def test_complex_values_from_f_or_grad_are_rejected():
    with pytest.raises(TypeError, match="f must return a real scalar; got complex128"):
        nsolve.minimize(lambda x: np.complex128(rosen(x)), rosen_der, X0)
    with pytest.raises(TypeError, match="f must return a real scalar; got complex"):
        nsolve.minimize(lambda x: complex(rosen(x)), rosen_der, X0)
    with pytest.raises(TypeError, match="grad must return an array of real numbers"):
        nsolve.minimize(rosen, lambda x: rosen_der(x).astype(complex), X0)


def test_a_callback_returning_numpy_true_stops_the_run():
    res = nsolve.minimize(rosen, rosen_der, X0, method="bfgs", callback=lambda x: np.bool_(True))
    assert res.status == nsolve.Status.CALLBACK and res.nit == 1
    res = nsolve.minimize(rosen, rosen_der, X0, method="bfgs", callback=lambda x: np.bool_(False))
    assert res.success


def test_storage_beyond_the_machines_memory_names_the_method_and_the_cause(monkeypatch):
    # the machine's memory, made small so that the check is exercised without a huge n
    import nsolve._validation as validation

    monkeypatch.setattr(validation, "physical_memory", lambda: 1 << 20)  # 1 MiB

    def f(x):
        return float(x @ x)

    def g(x):
        return 2.0 * x

    # n x n doubles at n = 401: 1.23 MiB > 1 MiB
    with pytest.raises(MemoryError, match=r"method 'bfgs' at n = 401 needs 1.23 MiB for its n x n inverse-Hessian"):
        nsolve.minimize(f, g, np.ones(401), method="bfgs")
    with pytest.raises(MemoryError, match=r"method 'newton' at n = 401 .* use method='newton-cg'"):
        nsolve.minimize(f, g, np.ones(401), method="newton", hess=lambda x: 2.0 * np.eye(401))
    # 2 (m + 1) n doubles: m = 100 at n = 700 needs 1.08 MiB; m = 10 fits
    with pytest.raises(MemoryError, match=r"history of m = 100 pairs .* reduce m"):
        nsolve.minimize(f, g, np.ones(700), method="lbfgs", m=100)
    assert nsolve.minimize(f, g, np.ones(700), method="lbfgs", m=10).success
    # O(n) methods are not checked
    assert nsolve.minimize(f, g, np.ones(401), method="newton-cg").success
    monkeypatch.setattr(validation, "physical_memory", lambda: None)  # an OS that does not say
    assert nsolve.minimize(f, g, np.ones(402), method="bfgs").success


def test_quoted_numba_messages_lose_colour_codes_and_the_pipeline_header():
    from nsolve._validation import first_lines

    exc = Exception("\x1b[1mFailed in nopython mode pipeline (step: nopython frontend)\n\x1b[1m\n"
                    "\x1b[1mUnknown attribute 'foo' of type array(float64, 1d, C)\n\nFile \"x.py\", line 3:\nmore")
    assert first_lines(exc, 2) == "Unknown attribute 'foo' of type array(float64, 1d, C) File \"x.py\", line 3:"
    assert len(first_lines(Exception("y" * 1000))) == 400
