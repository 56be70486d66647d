"""Termination status codes.

The codes are plain module-level integers so that the line searches, stopping tests and
compiled solvers (Numba) can use them as constants; :class:`Status` gives the same codes
as an ``IntEnum`` carrying the human-readable message.
"""

from __future__ import annotations

from enum import IntEnum

# A run still going on (never reported in a result).
CONTINUE = -1
# Convergence tests: success.
GTOL = 0
FTOL = 1
XTOL = 2
# Limits: the best point seen is returned, success is False.
MAXITER = 3
MAXFEV = 4
TIME_LIMIT = 5
CALLBACK = 6
# Failures.
LINE_SEARCH_FAILED = 7
NOT_FINITE = 8
DIVERGED = 9
NO_PROGRESS = 10
# Ctrl-C (SIGINT) in a compiled solve, when Python's handler for it does not raise.
INTERRUPTED = 11

# Line-search outcomes (returned by every search in nsolve.linesearch).
LS_OK = 0
LS_MAXEVAL = 1  # evaluation budget spent; the best point satisfying sufficient decrease if any
LS_NO_DECREASE = 2  # no point with sufficient decrease found
LS_NOT_DESCENT = 3  # the direction is not a descent direction
LS_NOT_FINITE = 4  # only non-finite values found along the direction


class Status(IntEnum):
    """Why a run stopped; ``Status(code).message`` is the text put in the result."""

    GTOL = GTOL
    FTOL = FTOL
    XTOL = XTOL
    MAXITER = MAXITER
    MAXFEV = MAXFEV
    TIME_LIMIT = TIME_LIMIT
    CALLBACK = CALLBACK
    LINE_SEARCH_FAILED = LINE_SEARCH_FAILED
    NOT_FINITE = NOT_FINITE
    DIVERGED = DIVERGED
    NO_PROGRESS = NO_PROGRESS
    INTERRUPTED = INTERRUPTED

    @property
    def success(self) -> bool:
        """True for the convergence tests (gtol, ftol, xtol)."""
        return self.value in SUCCESS_CODES

    @property
    def message(self) -> str:
        return MESSAGES[self.value]


#: Codes of the convergence tests: the runs that end with ``success=True``.
SUCCESS_CODES = frozenset((GTOL, FTOL, XTOL))
#: Code -> the result's ``message``.
MESSAGES = {
    GTOL: "Converged: the gradient inf-norm is at most gtol.",
    FTOL: "Converged: the relative reduction of f is at most ftol.",
    XTOL: "Converged: the step inf-norm is at most xtol (relative to x).",
    MAXITER: "Stopped: the iteration budget (maxiter, or epochs for mini-batch runs) was reached.",
    MAXFEV: "Stopped: the maximum number of function evaluations (maxfev) was reached.",
    TIME_LIMIT: "Stopped: the wall-time limit (time_limit) was reached.",
    CALLBACK: "Stopped by the callback.",
    LINE_SEARCH_FAILED: "Stopped: the line search found no acceptable step (precision loss?).",
    NOT_FINITE: "Stopped: f or its gradient became inf or NaN; the best finite point is returned.",
    DIVERGED: "Stopped: f grew past the divergence bound; the best point is returned.",
    NO_PROGRESS: "Stopped: no improvement of f within the patience window.",
    INTERRUPTED: "Stopped: interrupted (SIGINT) during a compiled run; the best point is returned.",
}
