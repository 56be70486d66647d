"""Builds the :class:`scipy.optimize.OptimizeResult` of a run, in one place."""

from __future__ import annotations

import numpy as np
from scipy.optimize import OptimizeResult

from nsolve._status import LINE_SEARCH_FAILED, MESSAGES, SUCCESS_CODES, Status

#: A run whose line search fails with f below this value most likely has an f that is
#: unbounded below (a sign error, say): its message then says so.  The run itself stops as it
#: would anyway; nothing stops at this value (MATLAB's ``fminunc`` uses the same figure as its
#: default ``ObjectiveLimit``, at which it does stop).
UNBOUNDED_HINT_F = -1e20


def result_message(status: int, fun: float) -> str:
    """The message of a run that stopped with ``status`` at ``fun``: the status's text, and for
    a failed line search below :data:`UNBOUNDED_HINT_F`, the hint that f may be unbounded below."""
    message = MESSAGES[status]
    if status == LINE_SEARCH_FAILED and fun < UNBOUNDED_HINT_F:
        message = f"{message} f fell to {fun:.3g}: check that f is bounded below."
    return message


def build_result(*, x, fun, jac, status: int, nit: int, nfev: int, njev: int, nhev: int, method: str,
                 elapsed: float, extra: dict | None = None, history: dict | None = None,
                 fresh: bool = False) -> OptimizeResult:
    """Assemble the result with scipy's field names.

    Fields: ``x, fun, jac, nit, nfev, njev, nhev, status, success, message`` (scipy's
    meaning), plus ``method``, ``elapsed`` (seconds of wall time), ``history`` when asked
    and method extras (``hess_inv`` for BFGS).  ``x``, ``fun`` and ``jac`` are the best
    point seen, never a worse last one.  A ``LINE_SEARCH_FAILED`` run that ends with ``fun``
    below :data:`UNBOUNDED_HINT_F` adds to its message that f may be unbounded below.
    ``fresh=True``: ``x`` and ``jac`` are arrays made for this result, returned without a copy.
    """
    status = int(status)
    if status not in MESSAGES:
        Status(status)  # raises ValueError for an unknown code
    fun = float(fun)
    res = OptimizeResult(
        x=x if fresh else np.array(x, copy=True),
        fun=fun,
        jac=jac if (fresh or jac is None) else np.array(jac, copy=True),
        nit=int(nit),
        nfev=int(nfev),
        njev=int(njev),
        nhev=int(nhev),
        status=status,
        success=status in SUCCESS_CODES,
        message=result_message(status, fun),
        method=method,
        elapsed=float(elapsed),
    )
    if extra:
        res.update(extra)
    if history is not None:
        res["history"] = history
    return res
