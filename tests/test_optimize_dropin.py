"""nsolve.optimize.minimize as a drop-in for scipy.optimize.minimize.

scipy's documented examples (examples/scipy_dropin.py) run unchanged but for the import and
must agree with scipy: same status, minimizers within the accuracy the stopping tolerance
guarantees (computed from the true Hessian at x*), one callback call per iteration.  The
rest checks the translation one feature at a time, always against scipy or a closed form.
"""

import importlib.util
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.optimize as so

import nsolve
from nsolve.optimize import minimize, scipy_status, supported_methods

X0 = np.array([1.3, 0.7, 0.8, 1.9, 1.2])


def _load_examples():
    path = Path(__file__).resolve().parents[1] / "examples" / "scipy_dropin.py"
    spec = importlib.util.spec_from_file_location("scipy_dropin_examples", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


EX = _load_examples()


@pytest.mark.parametrize("example", EX.EXAMPLES, ids=lambda e: e.name)
def test_scipy_documented_example_runs_unchanged_and_agrees(example):
    assert EX.SCIPY_IMPORT in example.code
    ref = EX.run(example, "scipy")
    ours = EX.run(example, "nsolve")
    assert type(ours["res"]).__module__.startswith("scipy.optimize")  # an OptimizeResult
    assert EX.check(example, ref, ours) == []


def test_docstring_example_hess_inv_is_an_inverse_hessian_estimate():
    ours = EX.run(EX.EXAMPLES[0], "nsolve")
    H = ours["hess_inv"]
    assert H.shape == (5, 5)
    np.testing.assert_allclose(H, H.T, atol=1e-12)
    assert np.all(np.linalg.eigvalsh(H) > 0)
    # B = inv(H) approximates the true Hessian along the last steps: check its scale.
    true_h = so.rosen_hess(np.ones(5))
    ratio = np.linalg.norm(np.linalg.inv(H), 2) / np.linalg.norm(true_h, 2)
    assert 0.1 < ratio < 10


def test_example_script_main_reports_agreement(capsys):
    assert EX.main() == 0
    out = capsys.readouterr().out
    assert "NO:" not in out and "from nsolve.optimize import" in out


def test_rosen_helpers_match_scipy():
    from nsolve.optimize import rosen, rosen_der, rosen_hess, rosen_hess_prod

    p = np.array([0.3, -1.0, 2.0, 0.5, 1.0])
    assert rosen(X0) == pytest.approx(so.rosen(X0), rel=1e-14)
    np.testing.assert_allclose(rosen_der(X0), so.rosen_der(X0), rtol=1e-14)
    np.testing.assert_allclose(rosen_hess(X0), so.rosen_hess(X0), rtol=1e-14)
    np.testing.assert_allclose(rosen_hess_prod(X0, p), so.rosen_hess_prod(X0, p), rtol=1e-14)


# ----------------------------------------------------------------------------- status
def _both(**kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = so.minimize(so.rosen, X0, **kw)
        ours = minimize(so.rosen, X0, **kw)
    return ref, ours


@pytest.mark.parametrize("method", ["BFGS", "L-BFGS-B", "Newton-CG"])
def test_maxiter_gives_scipy_status_1(method):
    ref, ours = _both(method=method, jac=so.rosen_der, options={"maxiter": 3})
    assert ref.status == ours.status == 1
    assert not ours.success and ours.nit == ref.nit == 3
    assert ours.nsolve_status == nsolve.Status.MAXITER


def test_lbfgsb_maxfun_gives_status_1_after_the_same_evaluation_count():
    ref, ours = _both(method="L-BFGS-B", jac=so.rosen_der, options={"maxfun": 10})
    assert ref.status == ours.status == 1
    # scipy stops once nfev > maxfun, after the iteration that crossed it
    assert ours.nfev > 10 and ref.nfev > 10


@pytest.mark.parametrize("method", ["BFGS", "L-BFGS-B", "Newton-CG"])
def test_wrong_gradient_gives_line_search_status_2(method):
    def bad_grad(x):
        return -so.rosen_der(x)  # an ascent direction: no step decreases f

    kw = {"hess": so.rosen_hess} if method == "Newton-CG" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = so.minimize(so.rosen, X0, method=method, jac=bad_grad, **kw)
        ours = minimize(so.rosen, X0, method=method, jac=bad_grad, **kw)
    assert ref.status == ours.status == 2
    assert ours.fun == pytest.approx(so.rosen(X0))  # the best point seen: x0


@pytest.mark.parametrize("method", ["BFGS", "L-BFGS-B", "Newton-CG"])
def test_stop_iteration_gives_status_99_at_the_same_iteration(method):
    def make_cb():
        calls = []

        def cb(xk):
            calls.append(xk)
            if len(calls) == 4:
                raise StopIteration

        return cb

    ref = so.minimize(so.rosen, X0, method=method, jac=so.rosen_der, callback=make_cb())
    ours = minimize(so.rosen, X0, method=method, jac=so.rosen_der, callback=make_cb())
    assert ref.status == ours.status == 99
    assert ref.nit == ours.nit == 4
    assert not ours.success


def test_callback_return_value_is_ignored_as_in_scipy():
    ref = so.minimize(so.rosen, X0, method="BFGS", jac=so.rosen_der, callback=lambda xk: True)
    ours = minimize(so.rosen, X0, method="BFGS", jac=so.rosen_der, callback=lambda xk: True)
    assert ref.status == ours.status == 0


def test_intermediate_result_fields():
    seen = []

    def cb(intermediate_result):
        seen.append(intermediate_result)

    res = minimize(so.rosen, X0, method="BFGS", jac=so.rosen_der, callback=cb)
    assert len(seen) == res.nit
    last = seen[-1]
    np.testing.assert_array_equal(last.x, res.x)
    assert last.fun == res.fun == pytest.approx(so.rosen(last.x))


def test_status_map():
    S = nsolve.Status
    assert [scipy_status(s, "BFGS") for s in (S.GTOL, S.FTOL, S.XTOL)] == [0, 0, 0]
    assert [scipy_status(s, "BFGS") for s in (S.MAXITER, S.MAXFEV, S.TIME_LIMIT)] == [1, 1, 1]
    assert scipy_status(S.LINE_SEARCH_FAILED, "Newton-CG") == 2
    assert scipy_status(S.NOT_FINITE, "BFGS") == 3
    assert scipy_status(S.NOT_FINITE, "L-BFGS-B") == 2  # L-BFGS-B's "abnormal termination"
    assert scipy_status(S.CALLBACK, "L-BFGS-B") == 99


def test_nan_gives_status_3_with_the_best_finite_point():
    def f(x):
        return np.nan if x[0] > 2.0 else float((x[0] - 3.0) ** 2)

    res = minimize(f, [0.0], method="BFGS", jac=lambda x: np.array([2.0 * (x[0] - 3.0)]))
    assert res.status in (2, 3) and not res.success
    assert np.isfinite(res.fun) and res.x[0] <= 2.0


# ----------------------------------------------------------------------------- tol, options
def test_tol_maps_like_scipy():
    """scipy: tol -> gtol (BFGS), ftol and gtol (L-BFGS-B), xtol (Newton-CG)."""
    cases = [("BFGS", {"gtol": 1e-9}), ("L-BFGS-B", {"ftol": 1e-9, "gtol": 1e-9}), ("Newton-CG", {"xtol": 1e-9})]
    for method, explicit in cases:
        a = minimize(so.rosen, X0, method=method, jac=so.rosen_der, tol=1e-9)
        b = minimize(so.rosen, X0, method=method, jac=so.rosen_der, options=explicit)
        assert (a.nit, a.nfev) == (b.nit, b.nfev), method
        ref = so.minimize(so.rosen, X0, method=method, jac=so.rosen_der, tol=1e-9)
        assert a.status == ref.status == 0
        # L-BFGS-B stops on ftol first: the agreement bound follows from f - f* (see the examples)
        bound = EX.Example("", "", ftol_stop=True).x_tolerance(5, a.fun, ref.fun) if method == "L-BFGS-B" else 1e-6
        assert np.max(np.abs(a.x - ref.x)) < bound


def test_options_override_tol():
    a = minimize(so.rosen, X0, method="BFGS", jac=so.rosen_der, tol=1e-2, options={"gtol": 1e-8})
    assert np.max(np.abs(a.jac)) <= 1e-8


def test_lbfgsb_defaults_are_scipys():
    """Without options L-BFGS-B stops on scipy's ftol = 2.2e-9 (nsolve's lbfgs has ftol off)."""
    ours = minimize(so.rosen, X0, method="L-BFGS-B", jac=so.rosen_der)
    ref = so.minimize(so.rosen, X0, method="L-BFGS-B", jac=so.rosen_der)
    assert ours.nsolve_status == nsolve.Status.FTOL
    assert "REDUCTION" in ref.message.upper() and "F" in ref.message  # scipy's text varies by version
    native = nsolve.minimize(so.rosen, so.rosen_der, X0, method="lbfgs")
    assert native.status == nsolve.Status.GTOL


def test_maxcor_is_the_lbfgs_memory():
    a = minimize(so.rosen, X0, method="L-BFGS-B", jac=so.rosen_der, options={"maxcor": 3})
    b = nsolve.minimize(so.rosen, so.rosen_der, X0, method="lbfgs", m=3, ftol=2.2204460492503131e-09,
                        maxfev=15001, maxiter=15000)
    assert (a.nit, a.nfev, a.fun) == (b.nit, b.nfev, b.fun)
    with pytest.raises(TypeError, match="maxcor"):
        minimize(so.rosen, X0, method="L-BFGS-B", jac=so.rosen_der, options={"maxcor": 3, "m": 4})


def test_nsolve_options_pass_through():
    res = minimize(so.rosen, X0, method="BFGS", jac=so.rosen_der,
                   options={"scale_h0": False, "initial_step": "interpolate"})
    ref = so.minimize(so.rosen, X0, method="BFGS", jac=so.rosen_der)
    # scale_h0=False, initial_step="interpolate" is scipy's BFGS iteration: same path.
    assert abs(res.nit - ref.nit) <= 2
    assert np.max(np.abs(res.x - ref.x)) < 1e-4


def test_return_all():
    ref = so.minimize(so.rosen, X0, method="BFGS", jac=so.rosen_der, options={"return_all": True})
    ours = minimize(so.rosen, X0, method="BFGS", jac=so.rosen_der, options={"return_all": True})
    assert len(ours.allvecs) == ours.nit + 1 and len(ref.allvecs) == ref.nit + 1
    np.testing.assert_array_equal(ours.allvecs[0], X0)
    np.testing.assert_array_equal(ours.allvecs[-1], ours.x)


def test_disp_prints(capsys):
    minimize(so.rosen, X0, method="BFGS", jac=so.rosen_der, options={"disp": True})
    assert "Converged" in capsys.readouterr().out


def test_newton_cg_xtol_is_scipys_mean_step_test():
    steps = []

    def cb(intermediate_result):
        steps.append(intermediate_result.x.copy())

    res = minimize(so.rosen, X0, method="Newton-CG", jac=so.rosen_der, hess=so.rosen_hess,
                   callback=cb, options={"xtol": 1e-3})
    path = [X0] + steps
    mean_steps = [np.mean(np.abs(b - a)) for a, b in zip(path[:-1], path[1:], strict=True)]
    assert res.status == 0 and "mean absolute step" in res.message
    assert mean_steps[-1] <= 1e-3 and all(s > 1e-3 for s in mean_steps[:-1])


def test_bfgs_xrtol():
    res = minimize(so.rosen, X0, method="BFGS", jac=so.rosen_der, options={"xrtol": 1e-2, "gtol": 1e-12})
    assert res.status == 0 and "xrtol" in res.message


# ----------------------------------------------------------------------------- jac forms
@pytest.mark.parametrize("jac", [None, "2-point", "3-point", True])
def test_jac_forms_agree_with_scipy(jac):
    fun = (lambda x: (so.rosen(x), so.rosen_der(x))) if jac is True else so.rosen
    ref = so.minimize(fun, X0, method="BFGS", jac=jac)
    ours = minimize(fun, X0, method="BFGS", jac=jac)
    assert ref.status == ours.status == 0
    # gtol 1e-5 on a difference gradient: x within ~1e-4 of x* for both
    assert np.max(np.abs(ours.x - 1.0)) < 1e-4 and np.max(np.abs(ours.x - ref.x)) < 1e-4


def test_central_differences_are_more_accurate_than_forward():
    fwd = minimize(so.rosen, X0, method="BFGS", jac="2-point", options={"gtol": 1e-7})
    ctr = minimize(so.rosen, X0, method="BFGS", jac="3-point", options={"gtol": 1e-7})
    assert ctr.fun <= fwd.fun * 10 + 1e-18
    assert ctr.nfev > fwd.nfev  # two evaluations per coordinate


def test_args_and_scalar_x0():
    ref = so.minimize(lambda x, a: (x[0] - a) ** 2, 0.0, args=(2.5,), jac=lambda x, a: 2 * (x - a))
    ours = minimize(lambda x, a: (x[0] - a) ** 2, 0.0, args=(2.5,), jac=lambda x, a: 2 * (x - a))
    assert ours.x.shape == (1,) and ours.x[0] == pytest.approx(2.5) and ref.x[0] == pytest.approx(2.5)
    res = minimize(lambda x, a: float(np.sum((x - a) ** 2)), [0.0, 0.0], args=3.0, method="lbfgs")
    np.testing.assert_allclose(res.x, [3.0, 3.0], atol=1e-5)


@pytest.mark.parametrize("jac", [so.rosen_der, True])
def test_objective_returning_a_one_element_array_is_accepted_as_in_scipy(jac):
    if jac is True:
        def fun(x):
            return np.array([so.rosen(x)]), so.rosen_der(x)
    else:
        def fun(x):
            return np.array([so.rosen(x)])
    ref = so.minimize(fun, X0, method="BFGS", jac=jac)
    ours = minimize(fun, X0, method="BFGS", jac=jac)
    assert ref.status == ours.status == 0 and isinstance(ours.fun, float)
    assert np.max(np.abs(ours.x - ref.x)) < 1e-4
    with pytest.raises(TypeError, match="scalar"):
        minimize(lambda x: np.ones(2), X0)


def test_nsolve_method_names():
    for method in ("lbfgs", "newton", "newton-cg"):
        hess = so.rosen_hess if method == "newton" else None
        res = minimize(so.rosen, X0, method=method, jac=so.rosen_der, hess=hess)
        assert res.status == 0, method
        np.testing.assert_allclose(res.x, np.ones(5), atol=1e-4)


def test_nsolve_method_keeps_its_own_option_names():
    """Adam's ``eps`` is its epsilon, not scipy's difference step; ``lr`` passes through."""
    a = minimize(so.rosen, [1.3, 0.7], method="adam", jac=so.rosen_der, options={"lr": 1e-2, "maxiter": 200})
    b = nsolve.minimize(so.rosen, so.rosen_der, [1.3, 0.7], method="adam", lr=1e-2, maxiter=200)
    c = minimize(so.rosen, [1.3, 0.7], method="adam", jac=so.rosen_der,
                 options={"lr": 1e-2, "maxiter": 200, "eps": 1e-1})
    assert a.fun == b.fun and c.fun != a.fun
    assert a.status == 1 and a.nsolve_status == nsolve.Status.MAXITER


def test_unbounded_bounds_are_accepted_and_select_lbfgsb():
    bounds = [(None, None)] * 5
    ref = so.minimize(so.rosen, X0, jac=so.rosen_der, bounds=bounds)
    ours = minimize(so.rosen, X0, jac=so.rosen_der, bounds=bounds)
    assert ours.method == "lbfgs" and ref.status == ours.status == 0
    ours2 = minimize(so.rosen, X0, jac=so.rosen_der, bounds=so.Bounds(-np.inf, np.inf))
    assert ours2.status == 0


def test_hess_for_bfgs_warns_like_scipy():
    with pytest.warns(RuntimeWarning, match="hess"):
        so.minimize(so.rosen, X0, method="BFGS", jac=so.rosen_der, hess=so.rosen_hess)
    with pytest.warns(RuntimeWarning, match="hess"):
        minimize(so.rosen, X0, method="BFGS", jac=so.rosen_der, hess=so.rosen_hess)


# ----------------------------------------------------------------------------- bad input
def test_bounds_raise_not_implemented_naming_lbfgsb():
    with pytest.raises(NotImplementedError, match="L-BFGS-B"):
        minimize(so.rosen, X0, jac=so.rosen_der, bounds=[(0, 2)] * 5)
    with pytest.raises(NotImplementedError, match="L-BFGS-B"):
        minimize(so.rosen, X0, method="L-BFGS-B", bounds=so.Bounds(0, 2))
    with pytest.raises(ValueError, match="bounds"):
        minimize(so.rosen, X0, bounds=[(0, 1)] * 3)


@pytest.mark.parametrize("constraints", [{"type": "ineq", "fun": lambda x: x[0]},
                                         [so.LinearConstraint(np.eye(5), 0, 1)]])
def test_constraints_raise_not_implemented_naming_slsqp(constraints):
    with pytest.raises(NotImplementedError, match="SLSQP"):
        minimize(so.rosen, X0, constraints=constraints)


@pytest.mark.parametrize("method", ["Nelder-Mead", "Powell", "COBYLA", "COBYQA"])
def test_derivative_free_methods_raise_not_implemented(method):
    with pytest.raises(NotImplementedError, match=f"method='{method}'.*jac='2-point'"):
        minimize(so.rosen, X0, method=method)


@pytest.mark.parametrize("method, hint", [("CG", "L-BFGS-B"), ("TNC", "Newton-CG"), ("trust-ncg", "newton"),
                                          ("SLSQP", "SLSQP"), ("trust-exact", "newton")])
def test_other_scipy_methods_name_an_alternative(method, hint):
    with pytest.raises(NotImplementedError, match=hint):
        minimize(so.rosen, X0, method=method)


def test_unknown_method_lists_supported():
    with pytest.raises(ValueError, match="supported methods: BFGS, L-BFGS-B, Newton-CG, .*lbfgs"):
        minimize(so.rosen, X0, method="quasi-newton")
    assert supported_methods()[:3] == ["BFGS", "L-BFGS-B", "Newton-CG"]


def test_unknown_option_lists_supported_instead_of_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scipy only warns; nsolve raises
        with pytest.raises(ValueError, match=r"unknown option\(s\) \['gtoll'\].*scipy options: .*gtol"):
            minimize(so.rosen, X0, method="BFGS", options={"gtoll": 1e-3})
        with pytest.raises(ValueError, match="unknown option.*'xrtol'"):
            minimize(so.rosen, X0, method="L-BFGS-B", options={"xrtol": 1e-3})


@pytest.mark.parametrize("options, match", [
    ({"norm": 2}, "inf-norm"),
    ({"hess_inv0": np.eye(5)}, "hess_inv0"),
    ({"workers": 4}, "workers"),
    ({"eps": np.full(5, 1e-8)}, "eps as an array"),
])
def test_unsupported_scipy_option_values(options, match):
    with pytest.raises(NotImplementedError, match=match):
        minimize(so.rosen, X0, method="BFGS", options=options)


def test_bad_jac_and_hess_forms():
    with pytest.raises(NotImplementedError, match="3-point"):
        minimize(so.rosen, X0, jac="cs")
    with pytest.raises(ValueError, match="jac must be"):
        minimize(so.rosen, X0, jac="4-point")
    with pytest.raises(TypeError, match="jac must be"):
        minimize(so.rosen, X0, jac=3)
    with pytest.raises(NotImplementedError, match="HessianUpdateStrategy"):
        minimize(so.rosen, X0, method="Newton-CG", jac=so.rosen_der, hess=so.BFGS())
    res = minimize(so.rosen, X0, method="Newton-CG", jac=so.rosen_der, hess="2-point")
    assert res.status == 0


def test_bad_basic_arguments():
    with pytest.raises(TypeError, match="fun must be callable"):
        minimize(3.0, X0)
    with pytest.raises(TypeError, match="callback must be callable"):
        minimize(so.rosen, X0, callback=1)
    with pytest.raises(ValueError, match="x0 must be 1-D"):
        minimize(so.rosen, np.ones((2, 2)))
    with pytest.raises(TypeError, match="options must be a dict"):
        minimize(so.rosen, X0, options=[("gtol", 1)])
    with pytest.raises(NotImplementedError, match="callable method"):
        minimize(so.rosen, X0, method=lambda *a, **k: None)


# ------------------------------------------------------------ cases from scipy's own tests


@pytest.mark.parametrize("method", ["BFGS", "L-BFGS-B", "Newton-CG"])
@pytest.mark.parametrize("bad", ["f", "grad"])
def test_not_finite_at_x0_gives_scipys_failed_result(method, bad):
    def f(x):
        return np.nan if bad == "f" else float(x @ x)

    def g(x):
        return np.full(2, np.nan) if bad == "grad" else 2.0 * x

    x0 = np.array([1.0, 2.0])
    kw = {"hess": lambda x: 2.0 * np.eye(2)} if method == "Newton-CG" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = so.minimize(f, x0, jac=g, method=method, **kw)
    ours = minimize(f, x0, jac=g, method=method, **kw)
    assert ours.nit == 0 and np.array_equal(ours.x, x0) and not ours.success
    if method == "L-BFGS-B":
        # scipy's L-BFGS-B reports NaN at x0 inconsistently here (status 0 "CONVERGENCE" with
        # fun NaN for f; fun NaN for the gradient); its code for NaN is 2 ("ABNORMAL")
        assert ours.status == 2
    else:
        assert ours.status == ref.status == 3 and not ref.success
        assert ours.fun == pytest.approx(ref.fun, nan_ok=True)
    assert bad in ours.message and ours.nsolve_status == nsolve.Status.NOT_FINITE
    with pytest.raises(ValueError, match=f"{bad} must be finite at x0"):  # nsolve's own API raises
        nsolve.minimize(f, g, x0)


@pytest.mark.parametrize("method", ["BFGS", "L-BFGS-B", "Newton-CG"])
def test_one_variable_derivatives_may_be_scalars(method):
    def f(x):
        return float(x[0] ** 4 - 3.0 * x[0] ** 2 + x[0])

    def g(x):
        return 4.0 * x[0] ** 3 - 6.0 * x[0] + 1.0  # a float, as scipy allows for n = 1

    kw = {"hess": lambda x: 12.0 * x[0] ** 2 - 6.0} if method == "Newton-CG" else {}
    ref = so.minimize(f, [2.0], jac=g, method=method, **kw)
    ours = minimize(f, [2.0], jac=g, method=method, **kw)
    assert ref.success and ours.success
    assert ours.x[0] == pytest.approx(ref.x[0], abs=1e-5)


@pytest.mark.parametrize("kind", ["csr_matrix", "csc_array", "LinearOperator"])
def test_newton_cg_takes_sparse_and_operator_hessians(kind):
    import scipy.sparse as sp
    from scipy.sparse.linalg import LinearOperator

    def hess(x):
        H = so.rosen_hess(x)
        if kind == "LinearOperator":
            return LinearOperator(H.shape, matvec=lambda p: H @ p, dtype=np.float64)
        return getattr(sp, kind)(H)

    ref = minimize(so.rosen, X0, jac=so.rosen_der, hess=so.rosen_hess, method="Newton-CG")
    ours = minimize(so.rosen, X0, jac=so.rosen_der, hess=hess, method="Newton-CG")
    sc = so.minimize(so.rosen, X0, jac=so.rosen_der, hess=hess, method="Newton-CG")
    assert ours.success and sc.success and ours.nhev == ours.nit
    assert np.allclose(ours.x, ref.x, atol=1e-8) and abs(ours.nit - ref.nit) <= 1
    # nsolve's newton factors the matrix: a sparse Hessian is made dense, an operator refused
    if kind == "LinearOperator":
        with pytest.raises(TypeError, match="hess returned a LinearOperator.*newton-cg"):
            nsolve.minimize(so.rosen, so.rosen_der, X0, method="newton", hess=hess)
    else:
        dense = nsolve.minimize(so.rosen, so.rosen_der, X0, method="newton", hess=so.rosen_hess)
        res = nsolve.minimize(so.rosen, so.rosen_der, X0, method="newton", hess=hess)
        assert res.nit == dense.nit and np.allclose(res.x, dense.x, rtol=0, atol=1e-12)


@pytest.mark.parametrize(("method", "options"), [
    ("Newton-CG", {"maxiter": -1}), ("BFGS", {"maxiter": -1}), ("BFGS", {"maxiter": 100.7}),
    ("BFGS", {"maxiter": np.inf}), ("L-BFGS-B", {"maxfun": np.inf}), ("L-BFGS-B", {"maxfun": -1}),
    ("BFGS", {"maxiter": 3.9}),
])
def test_iteration_and_evaluation_limits_take_scipys_forms(method, options):
    kw = {"hess": so.rosen_hess} if method == "Newton-CG" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = so.minimize(so.rosen, X0, jac=so.rosen_der, method=method, options=options, **kw)
    ours = minimize(so.rosen, X0, jac=so.rosen_der, method=method, options=options, **kw)
    assert ours.status == ref.status
    if options.get("maxiter") == 3.9:  # k < 3.9: four iterations in both
        assert ours.nit == ref.nit == 4


def test_disp_warns_when_the_run_does_not_converge_as_scipy_does():
    for method in ("BFGS", "Newton-CG"):
        kw = {"hess": so.rosen_hess} if method == "Newton-CG" else {}
        with pytest.warns(so.OptimizeWarning):
            so.minimize(so.rosen, X0, jac=so.rosen_der, method=method, options={"maxiter": 2, "disp": True}, **kw)
        with pytest.warns(so.OptimizeWarning, match="iteration budget"):
            minimize(so.rosen, X0, jac=so.rosen_der, method=method, options={"maxiter": 2, "disp": True}, **kw)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            minimize(so.rosen, X0, jac=so.rosen_der, method=method, options={"disp": True}, **kw)


def test_hess_wins_over_hessp_as_in_scipy():
    calls = {"hess": 0, "hessp": 0}

    def hess(x):
        calls["hess"] += 1
        return so.rosen_hess(x)

    def hessp(x, p):
        calls["hessp"] += 1
        return so.rosen_hess_prod(x, p)

    res = minimize(so.rosen, X0, jac=so.rosen_der, hess=hess, hessp=hessp, method="Newton-CG")
    assert res.success and calls["hessp"] == 0 and calls["hess"] == res.nhev > 0


def test_a_vector_valued_objective_raises_the_value_error_scipy_raises():
    for mod in (so, nsolve.optimize):
        with pytest.raises(ValueError):
            mod.minimize(lambda x: x, X0, method="BFGS")
    with pytest.raises(TypeError, match="f must return a scalar"):  # and a TypeError, as before
        minimize(lambda x: x, X0, method="BFGS")
