"""The interpreted rules the compiled solvers share, made callable from compiled code.

The line searches, the stopping tests and the step rules of the methods are plain Python
functions in the subset Numba compiles.  Registering them with
:func:`numba.extending.register_jitable` leaves them unchanged for the interpreted path and
lets compiled code call the very same functions (Numba compiles them into the caller).
"""

from __future__ import annotations

from numba.extending import register_jitable

from nsolve import _stopping
from nsolve._jit import KERNEL_OPTIONS
from nsolve.linesearch import backtracking, fixed_step, strong_wolfe
from nsolve.methods import _quasi_newton

_OPTIONS = {k: v for k, v in KERNEL_OPTIONS.items() if k not in ("cache", "nogil")}

SHARED = (
    _stopping.gtol_test,
    _stopping.ftol_test,
    _stopping.xtol_test,
    _stopping.convergence_status,
    _stopping.converged,
    _stopping.limit_status,
    _stopping.progress_update,
    _quasi_newton.first_step_length,
    _quasi_newton.interpolated_step,
    _quasi_newton.needs_reset,
    _quasi_newton.search_outcome,
    strong_wolfe,
    backtracking,
    fixed_step,
)

#: Compiled into each caller at Numba's IR level rather than called: the default line search
#: runs once per iteration, and a call passes its arrays (and the evaluator's, twice) as
#: dozens of scalar arguments.  Measured on 10^5 2-D Rosenbrock solves (``minimize_many``,
#: one thread, the same iterates): 6.5 -> 5.6 us per BFGS solve, 8.5 -> 7.4 us per L-BFGS
#: solve; a cold compile of a solver takes about 1.4 s longer (17.0 -> 18.3 s for BFGS).
#: ``needs_reset`` (one dot product) for the same reason: called out of line, passing its two
#: arrays cost about 3% of a 2-D BFGS solve.
INLINED = (strong_wolfe, _quasi_newton.needs_reset)

for _fn in SHARED:
    if _fn in INLINED:
        register_jitable(inline="always", **_OPTIONS)(_fn)
    else:
        register_jitable(**_OPTIONS)(_fn)
