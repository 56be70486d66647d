"""Builds the :class:`scipy.optimize.OptimizeResult` of a run, in one place."""

from __future__ import annotations

import numpy as np
from scipy.optimize import OptimizeResult

from nsolve._status import MESSAGES, SUCCESS_CODES, Status


def build_result(*, x, fun, jac, status: int, nit: int, nfev: int, njev: int, nhev: int, method: str,
                 elapsed: float, extra: dict | None = None, history: dict | None = None,
                 fresh: bool = False) -> OptimizeResult:
    """Assemble the result with scipy's field names.

    Fields: ``x, fun, jac, nit, nfev, njev, nhev, status, success, message`` (scipy's
    meaning), plus ``method``, ``elapsed`` (seconds of wall time), ``history`` when asked
    and method extras (``hess_inv`` for BFGS).  ``x``, ``fun`` and ``jac`` are the best
    point seen, never a worse last one.  ``fresh=True``: ``x`` and ``jac`` are arrays made for
    this result, returned without a copy.
    """
    status = int(status)
    if status not in MESSAGES:
        Status(status)  # raises ValueError for an unknown code
    res = OptimizeResult(
        x=x if fresh else np.array(x, copy=True),
        fun=float(fun),
        jac=jac if (fresh or jac is None) else np.array(jac, copy=True),
        nit=int(nit),
        nfev=int(nfev),
        njev=int(njev),
        nhev=int(nhev),
        status=status,
        success=status in SUCCESS_CODES,
        message=MESSAGES[status],
        method=method,
        elapsed=float(elapsed),
    )
    if extra:
        res.update(extra)
    if history is not None:
        res["history"] = history
    return res
