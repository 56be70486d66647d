"""nsolve: Numba-compiled classical optimization.

``nsolve.minimize(f, grad, x0, method=...)`` minimizes a smooth function with BFGS, L-BFGS,
Newton, Newton-CG or a first-order method, returning a :class:`scipy.optimize.OptimizeResult`.
"""

from scipy.optimize import OptimizeResult

from nsolve import _parallel  # noqa: F401 - registers its fork hook from the first import
from nsolve._api import minimize, valid_options
from nsolve._registry import method_names
from nsolve._status import Status
from nsolve.compare import compare  # the function; the module stays importable as nsolve.compare

__version__ = "0.1.0"


def __getattr__(name):
    # Submodules that are not needed by minimize() load on first use (start-up time).
    if name in ("problems", "models", "optimize"):
        import importlib

        return importlib.import_module(f"nsolve.{name}")
    if name == "LogisticRegression":
        from nsolve.models.estimator import LogisticRegression

        return LogisticRegression
    if name in ("minimize_many", "multistart", "precompile", "compiled"):
        import importlib

        compiled = importlib.import_module("nsolve.compiled")
        return compiled if name == "compiled" else getattr(compiled, name)
    raise AttributeError(f"module 'nsolve' has no attribute {name!r}")


def available_methods() -> list[str]:
    """Names of every available method."""
    return method_names()


def method_options(method: str) -> dict:
    """Every option ``method`` accepts, with its default."""
    return valid_options(method)


__all__ = ["OptimizeResult", "Status", "compare", "minimize", "available_methods", "method_options", "problems",
           "__version__", "LogisticRegression", "minimize_many", "multistart", "precompile"]
