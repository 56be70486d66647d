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

for _fn in SHARED:
    register_jitable(**_OPTIONS)(_fn)
