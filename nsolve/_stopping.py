"""Stopping rules: pure functions of scalars, each a named and documented test.

They are written in the subset of Python that Numba compiles (floats, ints and booleans in,
an ``int`` status out), so the interpreted driver and a compiled solver share this one
source.  A test that is switched off has its tolerance at 0 (tolerances) or its limit at 0
or a negative number (limits).

Convergence tests (success):

* **gtol**: :math:`\\|g_k\\|_\\infty \\le \\mathrm{gtol}`;
* **ftol**: :math:`0 \\le (f_{k-1} - f_k) \\le \\mathrm{ftol} \\cdot \\max(|f_{k-1}|, |f_k|, 1)`,
  the relative reduction test of L-BFGS-B (a step that raises f never passes it);
* **xtol**: :math:`\\|x_k - x_{k-1}\\|_\\infty \\le \\mathrm{xtol} \\cdot (1 + \\|x_k\\|_\\infty)`.

Limits (no success; the best point seen is returned): ``maxiter``, ``maxfev`` (calls of f),
``time_limit`` (seconds of wall time).

Failures (the best point seen is returned): **divergence**, a checked f above ``f_max``;
**no progress**, ``patience`` checks in a row that do not lower the best f by more than
``min_delta`` (:func:`progress_update` keeps the count).
"""

from __future__ import annotations

from nsolve._status import CONTINUE, FTOL, GTOL, MAXFEV, MAXITER, TIME_LIMIT, XTOL


def gtol_test(gnorm_inf, gtol):
    """True when the gradient inf-norm is at most ``gtol`` (and finite)."""
    return gnorm_inf <= gtol


def ftol_test(f_prev, f, ftol):
    """True when f did not rise over the last step and its relative reduction is at most ``ftol``.

    A rise (possible with a fixed step or a first-order method) is not convergence."""
    if ftol <= 0.0 or f > f_prev:
        return False
    scale = max(abs(f_prev), abs(f), 1.0)
    return (f_prev - f) <= ftol * scale


def xtol_test(step_inf, x_inf, xtol):
    """True when the step inf-norm is at most ``xtol`` relative to ``1 + ||x||_inf``."""
    if xtol <= 0.0:
        return False
    return step_inf <= xtol * (1.0 + x_inf)


def convergence_status(gnorm_inf, f_prev, f, step_inf, x_inf, gtol, ftol, xtol):
    """Run the convergence tests in the order gtol, ftol, xtol; return the first that holds.

    Returns
    -------
    int
        ``GTOL``, ``FTOL``, ``XTOL`` or ``CONTINUE``.
    """
    if gtol_test(gnorm_inf, gtol):
        return GTOL
    if ftol_test(f_prev, f, ftol):
        return FTOL
    if xtol_test(step_inf, x_inf, xtol):
        return XTOL
    return CONTINUE


def converged(status):
    """True for a status of a convergence test (``GTOL``, ``FTOL``, ``XTOL``): the run returns
    the point that passed it; any other stop returns the best point seen."""
    return status == GTOL or status == FTOL or status == XTOL


def limit_status(nit, maxiter, nfev, maxfev, elapsed, time_limit):
    """Check the budgets before another iteration; return the first one spent.

    ``maxfev <= 0`` and ``time_limit <= 0`` mean no limit.

    Returns
    -------
    int
        ``MAXITER``, ``MAXFEV``, ``TIME_LIMIT`` or ``CONTINUE``.
    """
    if nit >= maxiter:
        return MAXITER
    if maxfev > 0 and nfev >= maxfev:
        return MAXFEV
    if time_limit > 0.0 and elapsed >= time_limit:
        return TIME_LIMIT
    return CONTINUE


def progress_update(f, f_record, stale, min_delta):
    """Update the no-progress count after a check that found the value ``f``.

    An improvement is :math:`f < f_{record} - \\mathrm{min\\_delta}`: it becomes the new
    record and the count restarts at 0; otherwise the count grows by one.

    Returns
    -------
    (float, int)
        The record and the number of checks in a row without an improvement.
    """
    if f < f_record - min_delta:
        return f, 0
    return f_record, stale + 1
