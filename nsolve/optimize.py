"""A drop-in replacement for :func:`scipy.optimize.minimize`.

Existing scipy code runs on nsolve by changing one import::

    from scipy.optimize import minimize, rosen, rosen_der   # before
    from nsolve.optimize import minimize, rosen, rosen_der   # after

:func:`minimize` has scipy's signature, accepts scipy's method names (``"BFGS"``,
``"L-BFGS-B"`` without bounds, ``"Newton-CG"``) with scipy's option names, defaults and
``tol`` mapping, and every nsolve method name (``"lbfgs"``, ``"newton"``, ...) with nsolve's
options.  The result carries scipy's fields and scipy's status codes for the method
(``0`` success, ``1`` iteration or evaluation limit, ``2`` line-search failure, ``3`` NaN,
``99`` the callback raised :class:`StopIteration`); the nsolve status is kept in
``result.nsolve_status`` and nsolve's message in ``result.message``.

What nsolve does not do (bounds, constraints, derivative-free and trust-region methods)
raises :class:`NotImplementedError` saying which scipy method to use instead.  The
migration guide (``docs/scipy-migration.md``) lists every mapping and every difference.
"""

from __future__ import annotations

import inspect
import math
import numbers
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba.core.registry import CPUDispatcher
from scipy.optimize import OptimizeResult, OptimizeWarning

from nsolve._api import minimize as _nsolve_minimize
from nsolve._api import valid_options
from nsolve._objective import NotFiniteAtStart, is_matrix_operator
from nsolve._registry import get_method, method_names
from nsolve._result import build_result
from nsolve._status import Status
from nsolve._validation import as_float_vector, check_callable, check_nonnegative, check_positive
from nsolve.problems import rosen, rosen_der, rosen_hess, rosen_hess_prod

__all__ = [
    "OptimizeResult",
    "SCIPY_METHODS",
    "minimize",
    "rosen",
    "rosen_der",
    "rosen_hess",
    "rosen_hess_prod",
    "scipy_status",
    "supported_methods",
]

_MACHINE_EPS = float(np.finfo(np.float64).eps)

#: scipy method name (lower case) -> nsolve method run for it.
SCIPY_METHODS: dict[str, str] = {"bfgs": "bfgs", "l-bfgs-b": "lbfgs", "newton-cg": "newton-cg"}
_SCIPY_SPELLING = {"bfgs": "BFGS", "l-bfgs-b": "L-BFGS-B", "newton-cg": "Newton-CG"}

_DERIVATIVE_FREE = ("use scipy.optimize.minimize(..., method={m!r}) for a derivative-free search, or stay "
                    "with nsolve and finite-difference gradients: method='BFGS' with jac='2-point' (or jac=None)")
_TRUST_REGION = ("nsolve has line-search Newton methods instead of trust regions: use method='newton' (dense "
                 "Hessian, modified Cholesky) or method='Newton-CG' (Hessian-vector products), or "
                 "scipy.optimize.minimize(..., method={m!r})")
_CONSTRAINED = ("nsolve solves unconstrained problems only: use scipy.optimize.minimize(..., method={m!r}) "
                "for bounds and constraints")

#: scipy methods nsolve does not provide -> what to use instead.
UNSUPPORTED_SCIPY_METHODS: dict[str, str] = {
    "nelder-mead": _DERIVATIVE_FREE,
    "powell": _DERIVATIVE_FREE,
    "cobyla": _DERIVATIVE_FREE,
    "cobyqa": _DERIVATIVE_FREE,
    "cg": ("nsolve has no nonlinear conjugate gradient method: method='L-BFGS-B' (nsolve 'lbfgs') needs "
           "O(m n) memory too and usually fewer evaluations; or scipy.optimize.minimize(..., method={m!r})"),
    "tnc": ("nsolve has no bound constraints: for an unconstrained truncated Newton method use "
            "method='Newton-CG'; for bounds use scipy.optimize.minimize(..., method={m!r})"),
    "slsqp": _CONSTRAINED,
    "trust-constr": _CONSTRAINED,
    "dogleg": _TRUST_REGION,
    "trust-ncg": _TRUST_REGION,
    "trust-krylov": _TRUST_REGION,
    "trust-exact": _TRUST_REGION,
}

# scipy's options per method (scipy 1.17), and the options every nsolve method takes here.
_SCIPY_OPTIONS = {
    "bfgs": {"gtol", "norm", "eps", "maxiter", "disp", "return_all", "finite_diff_rel_step", "xrtol",
             "c1", "c2", "hess_inv0", "workers"},
    "l-bfgs-b": {"disp", "maxcor", "ftol", "gtol", "eps", "maxfun", "maxiter", "iprint", "maxls",
                 "finite_diff_rel_step", "workers"},
    "newton-cg": {"xtol", "eps", "maxiter", "disp", "return_all", "c1", "c2", "workers"},
}
#: scipy option names accepted with any nsolve method name (translated to nsolve's).
_GENERIC_SCIPY_OPTIONS = {"disp", "return_all", "eps", "finite_diff_rel_step", "maxfun", "maxcor", "maxls",
                          "workers"}

#: scipy's defaults that differ from nsolve's, applied when a scipy method name is used.
_SCIPY_DEFAULTS = {
    "bfgs": {"gtol": 1e-5},
    "l-bfgs-b": {"gtol": 1e-5, "ftol": 2.2204460492503131e-09, "maxiter": 15000, "maxfun": 15000, "maxcor": 10,
                 "maxls": 20},
    "newton-cg": {"xtol": 1e-5},
}
#: scipy's default finite-difference step ``eps`` (an absolute step in scipy) per method.
_SCIPY_EPS = {"bfgs": math.sqrt(_MACHINE_EPS), "l-bfgs-b": 1e-8, "newton-cg": math.sqrt(_MACHINE_EPS)}

#: scipy's ``tol`` -> the options it sets (``options.setdefault``), as scipy.optimize.minimize does.
_TOL_TARGETS = {"bfgs": ("gtol",), "l-bfgs-b": ("ftol", "gtol"), "newton-cg": ("xtol",)}

# nsolve status -> scipy status code.  scipy's BFGS and Newton-CG: 0 success, 1 maxiter,
# 2 precision loss (line search), 3 NaN; L-BFGS-B: 0 converged, 1 maxfun/maxiter, 2 abnormal.
_STATUS_CODES = {
    Status.GTOL: 0,
    Status.FTOL: 0,
    Status.XTOL: 0,
    Status.MAXITER: 1,
    Status.MAXFEV: 1,
    Status.TIME_LIMIT: 1,
    Status.CALLBACK: 99,
    Status.LINE_SEARCH_FAILED: 2,
    Status.NOT_FINITE: 3,
    Status.DIVERGED: 3,
    Status.NO_PROGRESS: 2,
    Status.INTERRUPTED: 99,
}

_CALLBACK_STOP = 99
#: scipy option -> the nsolve option of the same meaning.
_TWINS = (("maxls", "max_ls"), ("maxcor", "m"), ("maxfun", "maxfev"))


def scipy_status(status: int, method: str = "bfgs") -> int:
    """The scipy status code of an nsolve :class:`~nsolve.Status` for a scipy method.

    Parameters
    ----------
    status : int
        An nsolve status code.
    method : str
        The scipy method name (case-insensitive); nsolve method names use BFGS's codes.

    Returns
    -------
    int
        ``0`` converged; ``1`` an iteration, evaluation or time limit; ``2`` the line search
        failed (precision loss; L-BFGS-B's "abnormal termination", which also covers NaN),
        or no progress (first-order methods); ``3`` NaN or inf, or divergence (BFGS,
        Newton-CG and nsolve names); ``99`` stopped by the callback.
    """
    code = _STATUS_CODES[Status(status)]
    if code == 3 and str(method).lower() == "l-bfgs-b":
        return 2
    return code


def supported_methods() -> list[str]:
    """Method names :func:`minimize` accepts: scipy's spellings, then nsolve's names."""
    return [_SCIPY_SPELLING[k] for k in SCIPY_METHODS] + [m for m in method_names() if m not in SCIPY_METHODS]


# ---------------------------------------------------------------------------------- plan
@dataclass
class _Plan:
    """What :func:`minimize` hands to :func:`nsolve.minimize` after the translation."""

    scipy_key: str | None  # the scipy method (lower case), or None for an nsolve name
    method: str  # the nsolve method
    opts: dict = field(default_factory=dict)
    disp: bool = False
    return_all: bool = False
    stop_rule: Callable[[np.ndarray, np.ndarray], bool] | None = None
    stop_message: str = ""


def _resolve_method(method, bounds_given: bool) -> tuple[str | None, str]:
    if method is None:
        return ("l-bfgs-b", "lbfgs") if bounds_given else ("bfgs", "bfgs")
    if callable(method):
        raise NotImplementedError(
            "a callable method (a custom minimizer) is not supported by nsolve.optimize.minimize; "
            "call scipy.optimize.minimize with it")
    if not isinstance(method, str):
        raise TypeError(f"method must be a string; got {type(method).__name__}")
    key = method.lower()
    if key in SCIPY_METHODS:
        return key, SCIPY_METHODS[key]
    if key in UNSUPPORTED_SCIPY_METHODS:
        raise NotImplementedError(f"method {method!r} is not available in nsolve; "
                                  + UNSUPPORTED_SCIPY_METHODS[key].format(m=method))
    try:
        spec = get_method(method)
    except ValueError:
        raise ValueError(f"unknown method {method!r}; supported methods: {', '.join(supported_methods())}") from None
    return None, spec.name


def _check_bounds(bounds, n: int) -> None:
    """Accept only bounds that bound nothing (every lower -inf/None, every upper +inf/None)."""
    if bounds is None:
        return
    from scipy.optimize import Bounds

    try:
        if isinstance(bounds, Bounds):
            lb = np.broadcast_to(np.asarray(bounds.lb, dtype=float), (n,))
            ub = np.broadcast_to(np.asarray(bounds.ub, dtype=float), (n,))
        else:
            pairs = list(bounds)
            if len(pairs) != n:
                raise ValueError(f"bounds must have one (min, max) pair per variable ({n}); got {len(pairs)}")
            lb = np.array([-np.inf if lo is None else float(lo) for lo, _ in pairs])
            ub = np.array([np.inf if hi is None else float(hi) for _, hi in pairs])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"bounds must be None, a scipy.optimize.Bounds or a sequence of (min, max) pairs: "
                         f"{exc}") from None
    if np.all(np.isneginf(lb)) and np.all(np.isposinf(ub)):
        return
    raise NotImplementedError(
        "bounds are not supported: nsolve solves unconstrained problems only; use "
        "scipy.optimize.minimize(..., method='L-BFGS-B') (or 'TNC', 'trust-constr') for bound constraints")


def _check_constraints(constraints) -> None:
    if constraints is None:
        return
    if isinstance(constraints, list | tuple) and len(constraints) == 0:
        return
    raise NotImplementedError(
        "constraints are not supported: nsolve solves unconstrained problems only; use "
        "scipy.optimize.minimize(..., method='SLSQP') or method='trust-constr' "
        "(method='COBYQA' without derivatives)")


def _gradient_mode(jac) -> tuple[Any, str]:
    """``jac`` -> (nsolve ``grad`` argument, finite-difference mode)."""
    if callable(jac):
        return jac, "exact"
    if isinstance(jac, bool | np.bool_):
        return (True, "exact") if jac else (None, "none")
    if jac is None:
        return None, "none"
    if isinstance(jac, str):
        if jac in ("2-point", "3-point"):
            return None, jac
        if jac == "cs":
            raise NotImplementedError("jac='cs' (complex-step differences) is not supported; "
                                      "use jac='3-point' (central differences) or a gradient function")
        raise ValueError(f"jac must be callable, True, None, '2-point' or '3-point'; got {jac!r}")
    raise TypeError(f"jac must be callable, True, None, '2-point' or '3-point'; got {type(jac).__name__}")


def _hessian(hess):
    if hess is None or callable(hess):
        return hess
    if isinstance(hess, str):
        if hess in ("2-point", "3-point"):
            return None  # nsolve differences the gradient itself
        if hess == "cs":
            raise NotImplementedError("hess='cs' is not supported; use hess='2-point' or a Hessian function")
        raise ValueError(f"hess must be callable, None, '2-point' or '3-point'; got {hess!r}")
    raise NotImplementedError(
        f"hess of type {type(hess).__name__} (e.g. a HessianUpdateStrategy) is not supported; pass a "
        "callable, or use method='BFGS' for a quasi-Newton approximation of the Hessian")


def _float_option(value, name: str) -> float:
    if isinstance(value, np.ndarray) and value.ndim > 0:
        raise NotImplementedError(f"{name} as an array (one value per variable) is not supported; pass a float")
    return check_positive(value, name)


def _disp_flag(value) -> bool:
    if value is None:
        return False
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return value > 0
    return bool(value)


#: "No limit" for an infinite maxiter (nsolve counts with integers).
_NO_LIMIT = 2**62


def _scipy_count(value, name: str, minimum: int):
    """A count as scipy takes it: None kept, a float rounded up (scipy compares
    ``k < maxiter``), inf meaning no limit, values below ``minimum`` raised to it (scipy's
    maxiter=-1 stops at once, as 0 does); anything else is passed on for nsolve's own check."""
    if value is None or isinstance(value, bool) or not isinstance(value, numbers.Real):
        return value
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            raise ValueError(f"{name} must be a number; got nan")
        if math.isinf(value):
            return None if value > 0 and name == "maxfun" else (_NO_LIMIT if value > 0 else minimum)
        value = math.ceil(value)
    return max(int(value), minimum)


def _options_error(method_label: str, unknown: list[str], allowed_scipy: set, allowed_nsolve: set) -> ValueError:
    scipy_part = f"scipy options: {', '.join(sorted(allowed_scipy))}; " if allowed_scipy else ""
    return ValueError(
        f"unknown option(s) {unknown} for method {method_label!r}; supported: {scipy_part}"
        f"nsolve options: {', '.join(sorted(allowed_nsolve))}"
    )


def _plan(scipy_key, nsolve_method, method_label, options, tol, n, fd_mode) -> _Plan:
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise TypeError(f"options must be a dict; got {type(options).__name__}")
    options = dict(options)
    nsolve_valid = valid_options(nsolve_method)
    if scipy_key is not None:
        scipy_allowed = _SCIPY_OPTIONS[scipy_key]
    else:  # an nsolve name: its own options win (Adam's eps is its epsilon, not a difference step)
        scipy_allowed = _GENERIC_SCIPY_OPTIONS - set(nsolve_valid)
    allowed_nsolve = set(nsolve_valid) - scipy_allowed
    unknown = sorted(set(options) - scipy_allowed - allowed_nsolve)
    if unknown:
        raise _options_error(method_label, unknown, scipy_allowed, allowed_nsolve)

    if tol is not None:
        tol = check_nonnegative(tol, "tol")
        for name in _TOL_TARGETS.get(scipy_key, ("gtol",)):
            options.setdefault(name, tol)

    plan = _Plan(scipy_key=scipy_key, method=nsolve_method)
    opts = plan.opts
    # nsolve's own options pass through with nsolve's meaning.
    for name in allowed_nsolve & set(options):
        opts[name] = options.pop(name)

    # A scipy option and its nsolve twin: one or the other, and a given nsolve name beats
    # scipy's default.
    for scipy_name, ns_name in _TWINS:
        if ns_name in opts and scipy_name in options:
            raise TypeError(f"give either {scipy_name} (scipy's name) or {ns_name} (nsolve's), not both")
    if scipy_key is not None:
        for name, default in _SCIPY_DEFAULTS[scipy_key].items():
            twin = dict(_TWINS).get(name)
            if twin is None or twin not in opts:
                options.setdefault(name, default)

    # Options common to every method.
    plan.disp = _disp_flag(options.pop("disp", False))
    plan.return_all = bool(options.pop("return_all", False))
    options.pop("iprint", None)  # L-BFGS-B: deprecated in scipy, no effect
    workers = options.pop("workers", None)
    if workers is not None and workers != 1:
        raise NotImplementedError("workers (parallel finite differences) is not supported; nsolve evaluates "
                                  "finite differences serially: drop the option")
    if "maxiter" in options:
        opts["maxiter"] = _scipy_count(options.pop("maxiter"), "maxiter", minimum=0)
    for scipy_name, ns_name in (("c1", "c1"), ("c2", "c2"), *_TWINS[:2]):
        if scipy_name in options:
            value = options.pop(scipy_name)
            if ns_name not in nsolve_valid:
                raise ValueError(f"option {scipy_name!r} does not apply to method {method_label!r}")
            opts[ns_name] = value
    if "maxfun" in options:
        maxfun = _scipy_count(options.pop("maxfun"), "maxfun", minimum=0)
        # scipy stops once nfev > maxfun (checked after an iteration); nsolve stops before an
        # iteration once nfev >= maxfev.
        opts["maxfev"] = None if maxfun is None else maxfun + 1

    # Finite differences: scipy's eps is the step of jac=None, finite_diff_rel_step that of
    # jac='2-point'/'3-point'.  nsolve's step is relative: h_i = step * max(1, |x_i|).
    eps = options.pop("eps", None)
    rel_step = options.pop("finite_diff_rel_step", None)
    if fd_mode != "exact":
        opts.setdefault("fd_scheme", "central" if fd_mode == "3-point" else "forward")
        if fd_mode == "none":
            step = eps if eps is not None else _SCIPY_EPS.get(scipy_key)
            if step is not None:
                opts.setdefault("fd_step", _float_option(step, "eps"))
        elif rel_step is not None:
            opts.setdefault("fd_step", _float_option(rel_step, "finite_diff_rel_step"))

    if scipy_key == "bfgs":
        opts.setdefault("gtol", options.pop("gtol"))
        norm = options.pop("norm", np.inf)
        if not (isinstance(norm, numbers.Real) and math.isinf(norm) and norm > 0):
            raise NotImplementedError(f"norm={norm!r} is not supported: nsolve's gradient test uses the "
                                      "inf-norm (norm=np.inf, scipy's default)")
        if options.pop("hess_inv0", None) is not None:
            raise NotImplementedError("hess_inv0 (a starting inverse Hessian) is not supported; nsolve starts "
                                      "from the identity, rescaled after the first step")
        xrtol = check_nonnegative(options.pop("xrtol", 0.0), "xrtol")
        if xrtol > 0.0:
            plan.stop_rule = lambda x_prev, x: bool(np.linalg.norm(x - x_prev) <= xrtol * (xrtol + np.linalg.norm(x)))
            plan.stop_message = "Converged: the step 2-norm is at most xrtol * (xrtol + ||x||_2) (scipy's xrtol)."
    elif scipy_key == "l-bfgs-b":
        opts.setdefault("gtol", options.pop("gtol"))
        opts.setdefault("ftol", options.pop("ftol"))
    elif scipy_key == "newton-cg":
        # scipy's Newton-CG has no gradient test: it stops when the mean |step| is at most xtol.
        opts.setdefault("gtol", 0.0)
        xtol = check_nonnegative(options.pop("xtol"), "xtol")
        bound = n * xtol
        plan.stop_rule = lambda x_prev, x: bool(np.sum(np.abs(x - x_prev)) <= bound)
        plan.stop_message = "Converged: the mean absolute step is at most xtol (scipy's Newton-CG test)."
    if options:  # every allowed name is consumed above
        raise AssertionError(f"untranslated options {sorted(options)}")
    return plan


# ------------------------------------------------------------------------------ callback
class _CallbackAdapter:
    """Runs the user's callback with scipy's conventions, ``return_all`` and scipy's own stop tests.

    Receives every iterate as ``intermediate_result`` from nsolve's driver.  The user's
    callback is called as ``callback(intermediate_result)`` when that is its only parameter,
    else as ``callback(xk)``; its return value is ignored (as scipy does) and raising
    :class:`StopIteration` stops the run (``status`` 99).  Afterwards the method's scipy
    stopping test (Newton-CG's ``xtol``, BFGS's ``xrtol``) is applied to the step.
    """

    def __init__(self, user, x0: np.ndarray, plan: _Plan):
        self.user = user
        self.new_style = False
        if user is not None:
            try:
                self.new_style = set(inspect.signature(user).parameters) == {"intermediate_result"}
            except (TypeError, ValueError):
                self.new_style = False
        self.rule = plan.stop_rule
        self.x_prev = x0.copy()
        self.allvecs = [x0.copy()] if plan.return_all else None
        self.user_stopped = False
        self.rule_stopped = False

    def __call__(self, intermediate_result):
        x = intermediate_result.x
        if self.allvecs is not None:
            self.allvecs.append(x.copy())
        if self.user is not None:
            try:
                if self.new_style:
                    self.user(intermediate_result=intermediate_result)
                else:
                    self.user(x.copy())
            except StopIteration:
                self.user_stopped = True
                return True
        if self.rule is not None:
            stop = self.rule(self.x_prev, x)
            self.x_prev = x.copy()
            if stop:
                self.rule_stopped = True
                return True
        return False


def _as_scalar_objective(fun, fused: bool):
    """Wrap ``fun`` so that a one-element array value becomes a float (scipy accepts those)."""

    def scalar(v):
        return np.asarray(v).item() if np.size(v) == 1 else v

    if fused:
        def wrapped(x, *args):
            out = fun(x, *args)
            return (scalar(out[0]), out[1]) if isinstance(out, tuple | list) and len(out) == 2 else out
    else:
        def wrapped(x, *args):
            return scalar(fun(x, *args))
    return wrapped


def _one_variable(grad, hess, fun, fused: bool):
    """For n = 1, derivatives returned as scalars (scipy applies ``atleast_1d`` to the
    gradient and ``atleast_2d`` to the Hessian).  Numba functions are left as they are."""

    def python(func):
        return callable(func) and not isinstance(func, CPUDispatcher)

    if python(grad):
        user_grad = grad

        def grad(x, *args):
            return np.atleast_1d(user_grad(x, *args))
    if fused and python(fun):
        user_fun = fun

        def fun(x, *args):
            out = user_fun(x, *args)
            if isinstance(out, tuple | list) and len(out) == 2:
                return out[0], np.atleast_1d(out[1])
            return out
    if python(hess):
        user_hess = hess

        def hess(x, *args):
            H = user_hess(x, *args)
            return H if is_matrix_operator(H) else np.atleast_2d(H)
    return grad, hess, fun


def _failed_at_start(exc: NotFiniteAtStart, x0: np.ndarray, method: str) -> OptimizeResult:
    """scipy's result for f, the gradient or the Hessian not finite at x0: status NaN, no
    iteration (:func:`nsolve.minimize` raises instead)."""
    n = x0.shape[0]
    jac = exc.g if exc.g is not None else np.full(n, np.nan)
    extra = {"hess_inv": np.eye(n)} if method == "bfgs" else None
    res = build_result(x=x0, fun=exc.f, jac=jac, status=Status.NOT_FINITE, nit=0, nfev=exc.nfev, njev=exc.njev,
                       nhev=exc.nhev, method=method, elapsed=0.0, extra=extra)
    res["message"] = f"Stopped at x0: {exc}."
    return res


# ------------------------------------------------------------------------------ minimize
def minimize(
    fun: Callable[..., Any],
    x0,
    args: tuple = (),
    method: str | None = None,
    jac: Callable[..., np.ndarray] | str | bool | None = None,
    hess: Callable[..., np.ndarray] | str | None = None,
    hessp: Callable[..., np.ndarray] | None = None,
    bounds=None,
    constraints=(),
    tol: float | None = None,
    callback: Callable[..., Any] | None = None,
    options: dict[str, Any] | None = None,
) -> OptimizeResult:
    """Minimize a scalar function of several variables, with the signature of :func:`scipy.optimize.minimize`.

    Parameters
    ----------
    fun : callable
        ``fun(x, *args) -> float``; with ``jac=True``, ``fun(x, *args) -> (float, ndarray)``.
    x0 : array_like, shape (n,)
        Starting point (a scalar is treated as ``n = 1``).
    args : tuple
        Extra arguments passed to ``fun``, ``jac``, ``hess`` and ``hessp``.
    method : str, optional
        scipy's ``"BFGS"`` (default), ``"L-BFGS-B"`` (without bounds) or ``"Newton-CG"``
        (case-insensitive, with scipy's options and defaults), or an nsolve method name
        (``"lbfgs"``, ``"newton"``, ... with nsolve's options; see
        :func:`nsolve.available_methods`).  Other scipy methods raise
        :class:`NotImplementedError` naming what to use.
    jac : callable, True, "2-point", "3-point" or None
        The gradient ``jac(x, *args) -> ndarray``; True when ``fun`` returns it too;
        ``"2-point"``/``"3-point"`` for forward/central differences with the relative
        step ``finite_diff_rel_step``; None for forward differences with step ``eps``.
    hess : callable, "2-point", "3-point" or None
        ``hess(x, *args) -> (n, n)`` for ``"Newton-CG"`` and ``"newton"``; a string or None
        means differences of the gradient.
    hessp : callable, optional
        ``hessp(x, p, *args) -> (n,)``, the Hessian-vector product, for ``"Newton-CG"``.
    bounds : None
        Accepted only when nothing is bounded (every bound ``None`` or infinite); otherwise
        :class:`NotImplementedError` (use scipy's ``"L-BFGS-B"``).
    constraints : ()
        Must be empty; otherwise :class:`NotImplementedError` (use scipy's ``"SLSQP"`` or
        ``"trust-constr"``).
    tol : float, optional
        Set as scipy does: ``gtol`` for BFGS, ``ftol`` and ``gtol`` for L-BFGS-B, ``xtol``
        for Newton-CG, ``gtol`` for nsolve method names.  ``options`` take precedence.
    callback : callable, optional
        ``callback(intermediate_result)`` (an OptimizeResult with ``x``, ``fun``, ``jac``,
        ``nit``) when that is its only parameter, else ``callback(xk)``, after every
        iteration.  Raising :class:`StopIteration` stops the run with ``status`` 99; the
        return value is ignored, as in scipy.
    options : dict, optional
        scipy's options for the method: BFGS ``gtol, norm (inf only), eps, maxiter, disp,
        return_all, finite_diff_rel_step, xrtol, c1, c2``; L-BFGS-B ``maxcor, ftol, gtol,
        eps, maxfun, maxiter, maxls, finite_diff_rel_step, disp, iprint``; Newton-CG
        ``xtol, eps, maxiter, disp, return_all, c1, c2``; plus any nsolve option of the
        method not named by scipy (``time_limit``, ``line_search``, ``initial_step``, ...).
        An unknown option raises :class:`ValueError` listing the supported ones.

    Returns
    -------
    scipy.optimize.OptimizeResult
        ``x, fun, jac, nit, nfev, njev, nhev, status, success, message`` (plus
        ``hess_inv`` for BFGS, ``allvecs`` with ``return_all``).  ``status`` is scipy's
        code for the method (see :func:`scipy_status`), ``nsolve_status`` the
        :class:`nsolve.Status`, ``message`` nsolve's explanation.

    Raises
    ------
    NotImplementedError
        For bounds, constraints, and scipy methods or features nsolve does not provide.
    ValueError
        For an unknown method or option (the message lists the supported ones).

    Examples
    --------
    >>> from nsolve.optimize import minimize, rosen, rosen_der
    >>> res = minimize(rosen, [1.3, 0.7, 0.8, 1.9, 1.2], method="BFGS", jac=rosen_der,
    ...                options={"gtol": 1e-6})
    >>> res.status, res.x.round(5).tolist()
    (0, [1.0, 1.0, 1.0, 1.0, 1.0])
    """
    check_callable(fun, "fun")
    check_callable(callback, "callback", allow_none=True)
    if np.ndim(x0) == 0 and not np.iscomplexobj(x0):
        try:
            x0 = np.atleast_1d(np.asarray(x0, dtype=np.float64))
        except (TypeError, ValueError):
            raise TypeError(f"x0 must be an array of real numbers; got {type(x0).__name__}") from None
    x = as_float_vector(x0, "x0")
    n = x.shape[0]
    _check_bounds(bounds, n)
    _check_constraints(constraints)
    scipy_key, nsolve_method = _resolve_method(method, bounds is not None)
    label = method if isinstance(method, str) else _SCIPY_SPELLING.get(scipy_key, nsolve_method)
    grad, fd_mode = _gradient_mode(jac)
    hess = _hessian(hess)
    check_callable(hessp, "hessp", allow_none=True)
    if hess is not None and hessp is not None:
        hessp = None  # scipy's Newton-CG uses hess when both are given
    if n == 1:
        grad, hess, fun = _one_variable(grad, hess, fun, grad is True)
    if not isinstance(args, tuple):
        args = (args,)
    plan = _plan(scipy_key, nsolve_method, label, options, tol, n, fd_mode)

    adapter = None
    if callback is not None or plan.return_all or plan.stop_rule is not None:
        adapter = _CallbackAdapter(callback, x, plan)

        def driver_callback(intermediate_result):
            return adapter(intermediate_result)
    else:
        driver_callback = None

    def run(objective):
        try:
            return _nsolve_minimize(objective, grad, x, method=plan.method, hess=hess, hessp=hessp, args=args,
                                    callback=driver_callback, options=plan.opts, disp=plan.disp)
        except NotFiniteAtStart as exc:  # scipy returns a failed result
            return _failed_at_start(exc, x, plan.method)

    try:
        res = run(fun)
    except TypeError as exc:
        # scipy accepts an objective returning a one-element array; nsolve.minimize wants a
        # scalar.  Only then (found at x0, before any iteration) is fun wrapped.
        if "must return a scalar" not in str(exc) or "shape (1" not in str(exc):
            raise
        res = run(_as_scalar_objective(fun, grad is True))

    ns_status = Status(res.status)
    if adapter is not None and adapter.user_stopped:
        code = _CALLBACK_STOP
        res["message"] = Status.CALLBACK.message
    elif adapter is not None and adapter.rule_stopped and ns_status == Status.CALLBACK:
        ns_status = Status.XTOL
        code = 0
        res["message"] = plan.stop_message
    else:
        code = scipy_status(ns_status, scipy_key or "bfgs")
    res["status"] = code
    res["success"] = code == 0
    res["nsolve_status"] = ns_status
    if plan.return_all:
        res["allvecs"] = adapter.allvecs
    if plan.disp and code != 0 and scipy_key in ("bfgs", "newton-cg"):
        # scipy's BFGS and Newton-CG warn when disp is on and the run did not converge
        warnings.warn(res["message"], OptimizeWarning, stacklevel=2)
    return res
