"""Fully compiled solves for Numba objectives, and many solves at once across cores.

* :func:`nsolve.minimize` runs the whole solve compiled when ``f`` and ``grad`` (and
  ``hess``) are Numba functions (see ``docs/compiled.md`` for the rules);
* :func:`minimize_many` solves K independent problems in parallel;
* :func:`multistart` minimizes one function from many starts and returns the best run;
* Python objectives run on the same compiled solvers once they are compiled
  (:func:`precompile`, see :mod:`nsolve.compiled._bridge`).

The solvers are compiled once per machine, cached on disk, and shared by every objective:
the user's functions reach them as addresses of compiled code, not as Numba types.
"""

from nsolve.compiled._bridge import precompile
from nsolve.compiled._many import minimize_many, multistart

__all__ = ["minimize_many", "multistart", "precompile"]
