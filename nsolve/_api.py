"""``minimize``: validate the inputs, look the method up, run the driver."""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from numba.core.registry import CPUDispatcher
from scipy.optimize import OptimizeResult

from nsolve._driver import StopRules, run
from nsolve._minibatch import MINIBATCH_OPTIONS, make_sampler
from nsolve._objective import FD_SCHEMES, Objective
from nsolve._registry import get_method
from nsolve._validation import (
    as_float_vector,
    check_callable,
    check_choice,
    check_int,
    check_nonnegative,
    check_positive,
    check_real,
    check_storage,
)
from nsolve.compiled._bridge import bridge_reason, minimize_bridged
from nsolve.linesearch import make_line_search

#: Options every method accepts (stopping rules, finite differences, line search).
COMMON_OPTIONS: dict[str, Any] = {
    "gtol": 1e-5,
    "ftol": 0.0,
    "xtol": 0.0,
    "maxiter": None,
    "maxfev": None,
    "time_limit": None,
    "fd_scheme": "forward",
    "fd_step": None,
    "patience": None,
    "min_delta": 0.0,
    "f_max": None,
    "n_samples": None,
}

#: Line-search options (None: the search's own default).  ``max_ls`` caps the evaluations
#: of one search; ``shrink`` is the backtracking factor.
LINE_SEARCH_OPTIONS: dict[str, Any] = {"c1": None, "c2": None, "max_ls": None, "shrink": None}
_LS_PARAM = {"c1": "c1", "c2": "c2", "max_ls": "max_evals", "shrink": "shrink"}


def valid_options(method: str) -> dict[str, Any]:
    """All option names ``method`` accepts, with their defaults."""
    spec = get_method(method)
    out = dict(COMMON_OPTIONS)
    if spec.line_search is not None:
        out["line_search"] = spec.line_search
        out.update(LINE_SEARCH_OPTIONS)
    if spec.minibatch:
        out.update(MINIBATCH_OPTIONS)
    out.update(spec.option_defaults())
    return out


def _stop_rules(opts: dict, n: int, spec, steps_per_epoch: int = 1) -> StopRules:
    gtol = check_nonnegative(opts["gtol"], "gtol")
    ftol = check_nonnegative(opts["ftol"], "ftol")
    xtol = check_nonnegative(opts["xtol"], "xtol")
    maxiter = opts["maxiter"]
    epochs = check_int(opts.get("epochs"), "epochs", minimum=1, allow_none=True)
    if maxiter is not None:
        maxiter = check_int(maxiter, "maxiter", minimum=0)
    elif epochs is None:
        maxiter = spec.default_maxiter(n)
    if epochs is not None:
        # an epoch is one pass over the data: steps_per_epoch updates (1 in full-batch runs)
        maxiter = epochs * steps_per_epoch if maxiter is None else min(maxiter, epochs * steps_per_epoch)
    maxfev = check_int(opts["maxfev"], "maxfev", minimum=1, allow_none=True) or 0
    tl = opts["time_limit"]
    time_limit = 0.0 if tl is None else check_positive(tl, "time_limit", allow_inf=True)
    if math.isinf(time_limit):
        time_limit = 0.0
    check_every = opts.get("check_every")
    check_every = steps_per_epoch if check_every is None else check_int(check_every, "check_every", minimum=0)
    patience = check_int(opts["patience"], "patience", minimum=1, allow_none=True) or 0
    min_delta = check_nonnegative(opts["min_delta"], "min_delta")
    f_max = math.inf if opts["f_max"] is None else check_real(opts["f_max"], "f_max")
    return StopRules(gtol=gtol, ftol=ftol, xtol=xtol, maxiter=maxiter, maxfev=maxfev, time_limit=time_limit,
                     check_every=check_every, patience=patience, min_delta=min_delta, f_max=f_max)


def _merge_options(options, kwargs) -> dict:
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise TypeError(f"options must be a dict; got {type(options).__name__}")
    both = set(options) & set(kwargs)
    if both:
        raise TypeError(f"option(s) {sorted(both)} given both as keyword arguments and in options")
    return {**options, **kwargs}


#: Validated configurations of full-batch runs whose options are plain values (see _configure).
_CONFIGURED: dict = {}
_PLAIN = (int, float, str, bool, type(None))


def _plain(value) -> bool:
    return isinstance(value, _PLAIN) or (isinstance(value, tuple) and all(isinstance(v, _PLAIN) for v in value))


def _check_search_options(given: list, opts: dict, search) -> None:
    """Errors in the user's names: ``max_ls`` out of range, or an option the run's line search
    does not take (``shrink`` with the strong Wolfe search, ...)."""
    if "max_ls" in given:
        check_int(opts["max_ls"], "max_ls", minimum=1)
    fields = {f.name for f in dataclasses.fields(search)}
    takes = [k for k in LINE_SEARCH_OPTIONS if _LS_PARAM[k] in fields]
    wrong = [k for k in given if k not in takes]
    if wrong:
        raise ValueError(
            f"option(s) {wrong} do not apply to line_search={search.name!r}, which takes "
            f"{', '.join(takes) if takes else 'no options'}"
        )


def _configure(method, n: int, opts: dict):
    """Validate the method and options: ``(spec, merged, n_samples, sampler, rules, method_opts, search)``.

    Deterministic in its inputs, so a full-batch run whose options are all plain values
    (numbers, strings, None, tuples of those) reuses the validated configuration of an
    earlier call with the same method, n and options (the options objects are immutable);
    anything else (a schedule object, a mini-batch sampler with its random state) is built
    anew.  A configuration that fails validation is never stored.
    """
    key = None
    if isinstance(method, str) and not opts:  # the defaults: no key to build
        key = (method, n, ())
        hit = _CONFIGURED.get(key)
        if hit is not None:
            return hit
    elif isinstance(method, str) and all(_plain(v) for v in opts.values()):
        try:
            # the types too: True == 1 and 1 == 1.0 as keys, but validation may tell them apart
            key = (method, n, tuple(sorted((k, type(v), v) for k, v in opts.items())))
            hit = _CONFIGURED.get(key)
        except TypeError:
            key = hit = None
        if hit is not None:
            return hit
    spec = get_method(method)
    valid = valid_options(spec.name)
    unknown = sorted(set(opts) - set(valid))
    if unknown:
        raise ValueError(
            f"unknown option(s) {unknown} for method {spec.name!r}; valid options: {', '.join(sorted(valid))}"
        )
    merged = {**valid, **opts}
    n_samples = check_int(merged["n_samples"], "n_samples", minimum=1, allow_none=True)
    sampler = make_sampler(merged, n_samples) if spec.minibatch else None
    steps_per_epoch = 1 if sampler is None else sampler.steps_per_epoch
    rules = _stop_rules(merged, n, spec, steps_per_epoch)
    check_choice(merged["fd_scheme"], "fd_scheme", FD_SCHEMES)
    if merged["fd_step"] is not None:
        check_positive(merged["fd_step"], "fd_step")
    method_opts = spec.options(**{k: merged[k] for k in spec.option_names()})
    if spec.configure is not None:
        method_opts = spec.configure(method_opts, steps_per_epoch, rules.maxiter)
    if spec.storage is not None:
        check_storage(spec.name, n, *spec.storage(n, method_opts))
    search = None
    if spec.line_search is not None:
        given = [k for k in LINE_SEARCH_OPTIONS if opts.get(k) is not None]
        if given:
            _check_search_options(given, opts, make_line_search(merged["line_search"]))
        search = make_line_search(merged["line_search"], **{_LS_PARAM[k]: opts[k] for k in given})
    out = (spec, merged, n_samples, sampler, rules, method_opts, search)
    if key is not None and sampler is None and n_samples is None:
        if len(_CONFIGURED) > 512:
            _CONFIGURED.clear()
        _CONFIGURED[key] = out
    return out


def minimize(
    f: Callable[..., Any],
    grad: Callable[..., np.ndarray] | bool | None,
    x0,
    method: str = "lbfgs",
    *,
    hess: Callable[..., np.ndarray] | None = None,
    hessp: Callable[..., np.ndarray] | None = None,
    args: tuple = (),
    callback: Callable[..., Any] | None = None,
    options: dict[str, Any] | None = None,
    history: bool = False,
    disp: bool = False,
    **kwargs: Any,
) -> OptimizeResult:
    """Minimize a smooth function of several variables.

    Parameters
    ----------
    f : callable
        ``f(x, *args) -> float``; with ``grad=True``, ``f(x, *args) -> (float, ndarray)``.
        With ``n_samples=N`` (a data-set objective), ``f(x, idx, *args)`` evaluated on the
        samples ``idx`` (an int64 index array; all ``N`` of them for the objective itself),
        and likewise ``grad(x, idx, *args)``: see ``docs/training.md``.  When ``f`` and
        ``grad`` (and ``hess``) are Numba functions the whole solve runs compiled, with the
        same result (``docs/compiled.md``; a Python ``callback`` or ``disp`` keeps it
        interpreted).
    grad : callable, True or None
        ``grad(x, *args) -> ndarray`` of shape ``(n,)``; True when ``f`` returns the
        gradient too; None for finite differences (``fd_scheme="forward"`` or
        ``"central"``, relative step ``fd_step``).
    x0 : array_like, shape (n,)
        Starting point (converted to float64; never modified).
    method : str, default "lbfgs"
        One of ``nsolve.available_methods()``: ``"bfgs"``, ``"lbfgs"``, ``"newton"``,
        ``"newton-cg"``, and the first-order methods.
    hess : callable, optional
        ``hess(x, *args) -> (n, n)``, used by ``"newton"`` and ``"newton-cg"``; finite
        differences of ``grad`` when omitted.  An array or a scipy.sparse matrix/array
        (``"newton"`` makes it dense); ``"newton-cg"`` also takes a
        :class:`~scipy.sparse.linalg.LinearOperator` and only multiplies by it.
    hessp : callable, optional
        ``hessp(x, p, *args) -> (n,)``, used by ``"newton-cg"``.
    args : tuple
        Extra arguments passed to ``f``, ``grad``, ``hess`` and ``hessp``.
    callback : callable, optional
        Called after every iteration, as ``callback(intermediate_result)`` when its only
        parameter has that name (an OptimizeResult with ``x``, ``fun``, ``jac``, ``nit``),
        else as ``callback(xk)``.  Returning True or raising StopIteration stops the run.
    options : dict, optional
        Options as a dict (scipy style); the same names may be given as keyword arguments.
    history : bool
        Record f, gradient norm, step length, evaluations and time per iteration in
        ``result.history`` (a dict of arrays).
    disp : bool
        Print one row per iteration and the stop reason.
    **kwargs
        Options: stopping rules ``gtol`` (1e-5, gradient inf-norm), ``ftol`` (0, off),
        ``xtol`` (0, off), ``maxiter``, ``maxfev``, ``time_limit`` (seconds); line search
        ``line_search`` ("strong-wolfe", "backtracking", "fixed"), ``c1``, ``c2``,
        ``max_ls``; finite differences ``fd_scheme``, ``fd_step``; ``patience`` (stop
        after that many checks without lowering the best f by more than ``min_delta``),
        ``f_max`` (stop when f exceeds it); ``n_samples`` (f is a data-set objective);
        for the mini-batch methods ``batch_size``, ``epochs``, ``shuffle``, ``seed``,
        ``check_every``; and the method's own (``m`` for L-BFGS, ``lr``, ``betas`` and
        ``schedule`` for Adam, ...).  ``nsolve.method_options(method)`` lists them.

    Returns
    -------
    scipy.optimize.OptimizeResult
        ``x, fun, jac, nit, nfev, njev, nhev, status, success, message`` with scipy's
        meaning (``x``/``fun``/``jac`` the point that passed the convergence test, or the best
        point seen when the run stopped early), ``hess_inv`` for BFGS,
        ``history`` when asked.  ``status`` is a :class:`nsolve.Status` code.

    Examples
    --------
    >>> import nsolve
    >>> from nsolve.problems import rosen, rosen_der
    >>> res = nsolve.minimize(rosen, rosen_der, [-1.2, 1.0], method="bfgs")
    >>> bool(res.success), res.x.round(6).tolist()
    (True, [1.0, 1.0])
    """
    check_callable(f, "f")
    if not (grad is None or grad is True or callable(grad)):
        raise TypeError(f"grad must be callable, True or None; got {type(grad).__name__}")
    check_callable(hess, "hess", allow_none=True)
    check_callable(hessp, "hessp", allow_none=True)
    check_callable(callback, "callback", allow_none=True)
    if not isinstance(args, tuple):
        args = (args,)
    x = as_float_vector(x0, "x0")
    n = x.shape[0]
    opts = _merge_options(options, kwargs)
    spec, merged, n_samples, sampler, rules, method_opts, search = _configure(method, n, opts)
    if n_samples is not None and grad is None:
        raise ValueError("a data-set objective (n_samples given) needs its gradient: grad=callable "
                         "grad(x, idx) or grad=True with f(x, idx) returning (value, gradient)")
    if (hess is not None or hessp is not None) and not spec.uses_hessian:
        warnings.warn(f"method {spec.name!r} does not use hess or hessp; they are ignored",
                      RuntimeWarning, stacklevel=2)

    if n_samples is None and isinstance(f, CPUDispatcher):
        # Numba objective: the whole run compiled (None when something needs the interpreted driver)
        from nsolve.compiled._dispatch import minimize_compiled

        res = minimize_compiled(spec, method_opts, search, rules, f, grad, hess, hessp, args, x,
                                callback=callback, disp=disp, history=history)
        if res is not None:
            return res
    obj = Objective(f, grad, n, hess=hess, hessp=hessp, args=args,
                    fd_scheme=merged["fd_scheme"], fd_step=merged["fd_step"], n_samples=n_samples, sampler=sampler)
    if bridge_reason(spec.name, n, grad, hess, hessp, callback, disp, n_samples, rules, history,
                     method_opts) is None:
        # Python functions on the compiled solver (None while that solver is not compiled yet)
        res = minimize_bridged(spec, method_opts, search, rules, obj, x, history=history)
        if res is not None:
            return res
    return run(spec, method_opts, obj, x, search=search, rules=rules, callback=callback,
               history=history, disp=disp)
