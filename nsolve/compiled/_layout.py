"""Where each option sits in the float64 (``fo``) and int64 (``io``) arrays a solver receives.

One flat pair of arrays gives every compiled solver the same signature (so one cached
machine code serves every option value).  The common slots come first, the method's own
from ``FO_METHOD`` / ``IO_METHOD`` on (each method documents its layout).
"""

# ---- float64 options
FO_GTOL = 0
FO_FTOL = 1
FO_XTOL = 2
FO_TIME_LIMIT = 3
FO_MIN_DELTA = 4
FO_F_MAX = 5
#: The line search's float parameters after ``alpha0``, in order (3 slots).
FO_LS = 6
FO_METHOD = 9

# ---- int64 options
IO_MAXITER = 0
IO_MAXFEV = 1
IO_PATIENCE = 2
IO_LS_KIND = 3
IO_LS_MAX_EVALS = 4
#: Rows of the history buffer (0: no history).
IO_HISTORY = 5
#: Address of ``clock_gettime`` and the clock id (read only when ``IO_TIMED`` is 1).
IO_CLOCK = 6
IO_CLOCK_ID = 7
IO_TIMED = 8
#: Address of the Ctrl-C block (:data:`._interrupt.BLOCK`: the flag the solvers poll once per
#: iteration and what they need to install and restore the SIGINT handler).
IO_INTERRUPT = 9
IO_METHOD = 10

#: Line-search kinds (``io[IO_LS_KIND]``).
LS_STRONG_WOLFE = 0
LS_BACKTRACKING = 1
LS_FIXED = 2

#: Columns of the history buffer (those of the interpreted driver's ``result.history``).
HISTORY_COLUMNS = ("nit", "f", "gnorm", "alpha", "nfev", "njev", "nhev", "time")

#: Slots of the per-run int64 report.
INFO_NIT = 0
INFO_NFEV = 1
INFO_NJEV = 2
INFO_NHEV = 3
INFO_ERR = 4
INFO_ERR_SHAPE0 = 5
INFO_ERR_SHAPE1 = 6
INFO_NHIST = 7
INFO_STATUS = 8
INFO_SLOTS = 9

#: Start failures (negative: never a :class:`nsolve.Status`); the caller raises the error
#: the interpreted path raises, or (many problems) reports ``NOT_FINITE`` for that problem.
START_F_NOT_FINITE = -20
START_G_NOT_FINITE = -21
START_H_NOT_FINITE = -22
EVALUATION_ERROR = -23
#: A batch problem's status before its run reports (``minimize_many`` sets it; a run that
#: finishes always overwrites it, so a problem still marked was cut short by an exception
#: that the threading layer did not pass on).
NOT_RUN = -24
