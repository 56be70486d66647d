r"""``LogisticRegression``: a scikit-learn-compatible estimator built on :func:`nsolve.minimize`.

The estimator minimises scikit-learn's L2-penalised objective (times :math:`\sum_i s_i`,
which leaves the minimiser unchanged) with the compiled objective of
:func:`nsolve.models.logistic_objective`, so ``coef_`` and ``intercept_`` are directly
comparable with :class:`sklearn.linear_model.LogisticRegression`'s.  scikit-learn is not
needed to use it; when it is installed the estimator passes its
``sklearn.utils.estimator_checks`` and works in pipelines, grid searches and ``clone``.

Choice of method (``method="auto"``)
-----------------------------------
Newton with the full Hessian (formed by compiled loops, or with BLAS for large ones;
Cholesky solve) converges from zero to machine precision in 5-12 iterations whatever the
conditioning; L-BFGS costs one pass over the data per iteration but needs a number of
iterations that grows with the conditioning (about 12 on ``make_classification`` data, 50
on standardised breast cancer, 4 900 on the raw digits).  With :math:`q` parameters,
:math:`n` samples and :math:`q_1` columns of :math:`[X, 1]`, ``"auto"`` takes

* binary: ``"newton"`` when :math:`q \le 1000` and the Hessian costs
  :math:`n q^2 / 2 \le 3 \cdot 10^7` multiply-adds (about a millisecond), else ``"lbfgs"``:
  on large data sets a Hessian costs :math:`q/2` passes over the data, several L-BFGS runs;
* multinomial (:math:`K` classes): ``"newton"`` when :math:`q \le 1000` and the Hessian
  (:math:`n \cdot q_1(q_1+1)/2 \cdot K(K+1)/2` multiply-adds) costs at
  most :math:`3 \cdot 10^8`, else ``"lbfgs"``: softmax models of separable classes are badly
  conditioned, which L-BFGS pays in iterations, but on well-conditioned data L-BFGS needs
  some 20-30 passes, and with a Hessian of :math:`8 \cdot 10^8` multiply-adds (40 000 x 50,
  5 classes) Newton took 1.2 s against 0.14 s for L-BFGS on one core.  The
  raw digits (:math:`2 \cdot 10^8`, 4 900 L-BFGS iterations) stay with Newton.

Stopping: ``tol`` bounds the gradient of scikit-learn's (mean) objective,
:math:`\|\nabla F\|_\infty \le \mathrm{tol} \sum_i s_i`.  The default ``1e-7`` (scikit-learn's
is ``1e-4``) leaves the objective within :math:`10^{-11}` relative of its minimum and the
coefficients within :math:`3 \cdot 10^{-6}` relative on the benchmark data (see
``docs/logistic-regression.md``).
"""

from __future__ import annotations

import functools
import math
import numbers
import warnings

import numpy as np
import scipy.sparse as _sp

from nsolve._objective import NotFiniteAtStart
from nsolve._validation import all_finite_array, check_int, check_positive
from nsolve.models.logistic import (
    NOT_FINITE_X,
    LogisticObjective,
    _build_objective,
    check_regularization,
)

__all__ = ["LogisticRegression"]

#: ``method="auto"`` picks Newton with the full Hessian below these sizes (see the module notes).
AUTO_NEWTON_MAX_PARAMS = 1000
AUTO_NEWTON_MAX_WORK_BINARY = 3e7
AUTO_NEWTON_MAX_WORK_MULTINOMIAL = 3e8

_FIRST_ORDER_DEFAULTS = {"batch_size": 256, "epochs": 50}


class NotFittedError(ValueError, AttributeError):
    """Raised by prediction methods of an estimator that has not been fitted (used when
    scikit-learn is not installed; otherwise scikit-learn's ``NotFittedError`` is raised)."""


class DataConversionWarning(UserWarning):
    """A column-vector ``y`` was converted to 1-D (scikit-learn's class when installed)."""


def _not_fitted_error(msg: str) -> Exception:
    try:
        from sklearn.exceptions import NotFittedError as SkNotFittedError
    except ImportError:  # pragma: no cover - scikit-learn is a test dependency
        return NotFittedError(msg)
    return SkNotFittedError(msg)


def _data_conversion_warning():
    try:
        from sklearn.exceptions import DataConversionWarning as SkDataConversionWarning
    except ImportError:  # pragma: no cover
        return DataConversionWarning
    return SkDataConversionWarning


class ConvergenceWarning(RuntimeWarning):
    """A fit stopped before its convergence test held (used when scikit-learn is not
    installed; otherwise a subclass of scikit-learn's ``ConvergenceWarning`` and of
    ``RuntimeWarning`` is used, so either filter applies)."""


@functools.lru_cache(maxsize=1)
def _convergence_warning():
    """scikit-learn's ``ConvergenceWarning`` made a ``RuntimeWarning`` too (built once), or
    :class:`ConvergenceWarning` without scikit-learn."""
    try:
        from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning
    except ImportError:  # pragma: no cover
        return ConvergenceWarning
    return type("ConvergenceWarning", (SkConvergenceWarning, RuntimeWarning),
                {"__module__": __name__, "__doc__": ConvergenceWarning.__doc__})


def _largest_abs(X) -> float:
    data = X.data if _sp.issparse(X) else X
    return float(np.max(np.abs(data))) if data.size else 0.0


def _reject_complex(X, name: str = "X") -> None:
    if np.iscomplexobj(X.dtype.type(0) if _sp.issparse(X) else X):
        raise ValueError(f"{name} must be real: Complex data not supported")


def _as_labels(y) -> np.ndarray:
    """Validate ``y`` as class labels (before any compilation); warn for a column vector."""
    if y is None:
        raise ValueError("LogisticRegression requires y to be passed, but the target y is None")
    if _sp.issparse(y):
        raise TypeError("y must be a dense 1-D array of class labels; got a sparse matrix")
    _reject_complex(np.asarray(y), "y")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected; y is used as y.ravel().",
            _data_conversion_warning(),
            stacklevel=3,
        )
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (n_samples,); got an array of shape {y.shape}")
    if y.dtype == object and y.size and all(
        isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in y
    ):
        y_num = y.astype(np.float64)  # numbers held as objects (a pandas object column, say)
        if np.any(y_num != np.round(y_num)) or not np.all(np.isfinite(y_num)):
            raise ValueError(
                "Unknown label type: continuous. y must hold class labels (integers, strings, ...), "
                "not continuous values"
            )
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)):
            raise ValueError("y must not contain NaN or inf")
        if np.any(y != np.round(y)):
            raise ValueError(
                "Unknown label type: continuous. y must hold class labels (integers, strings, ...), "
                "not continuous values"
            )
    return y


class LogisticRegression:
    r"""L2-penalised logistic regression (binary or multinomial) fitted with :func:`nsolve.minimize`.

    Minimises scikit-learn's objective (times :math:`\sum_i s_i`)

    .. math::

        F(w, b) = \sum_i s_i\, \ell(y_i, x_i^T w + b) + \frac{1}{2C}\|w\|_2^2 ,

    with :math:`\ell` the binary log-loss (two classes) or the softmax cross-entropy
    (``K > 2`` classes, one weight vector per class); intercepts are not penalised.  So
    ``coef_`` and ``intercept_`` match scikit-learn's ``LogisticRegression(C=C)``
    (``penalty="l2"``) at convergence.

    Parameters
    ----------
    C : float, default 1.0
        Inverse regularisation strength, ``> 0`` (``np.inf``: no penalty).
    fit_intercept : bool, default True
        Fit unpenalised intercept(s).
    method : str, default "auto"
        ``"auto"`` (Newton with the full Hessian when it is cheap enough, else L-BFGS; see
        the module notes), or any :func:`nsolve.available_methods` name: ``"newton"`` (full
        Hessian), ``"newton-cg"`` (Hessian-vector products), ``"lbfgs"``, ``"bfgs"``, or a
        first-order method (``"adam"``, ``"sgd"``, ...), which trains on mini-batches
        (``batch_size=256``, ``epochs=50`` unless ``options`` says otherwise).
    tol : float, default 1e-7
        Stop when :math:`\|\nabla F\|_\infty \le \mathrm{tol} \sum_i s_i`, i.e. when the
        gradient of scikit-learn's mean objective is at most ``tol`` (first-order methods:
        the test runs once per epoch on the exact gradient).
    max_iter : int or None, default None
        Iteration limit (None: the method's default, 1000 for ``"newton"`` /
        ``"newton-cg"``, ``15000`` for ``"lbfgs"``).
    multinomial : bool or None, default None
        None: binary for two classes, softmax for more; True: softmax even for two classes.
    warm_start : bool, default False
        Start from the previous fit's coefficients when the shapes agree.
    options : dict or None, default None
        Further options for :func:`nsolve.minimize` (e.g. ``{"m": 20}`` for L-BFGS, or
        ``{"lr": 1e-2, "batch_size": 64, "epochs": 20}`` for Adam).
    verbose : bool, default False
        Print the solver's iterations.
    class_weight : None, "balanced" or dict, default None
        Weights per class, multiplied into the sample weights, as scikit-learn's
        ``class_weight``: a dict maps class labels to weights (classes missing from it
        weigh 1); ``"balanced"`` weighs class :math:`k` by :math:`\sum_i s_i / (K
        \sum_{i: y_i = k} s_i)`, so that every class carries the same total weight.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Sorted class labels (any type ``np.unique`` sorts).
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Zeros when ``fit_intercept=False``.
    n_iter_ : ndarray of shape (1,)
        Iterations of the solver.
    n_features_in_ : int
    method_ : str
        The method used (``"auto"`` resolved).
    result_ : scipy.optimize.OptimizeResult
        The :func:`nsolve.minimize` result (status, message, evaluation counts, ...); its
        ``fun`` is :math:`F` in the sum convention above.
    objective_ : float
        :math:`F` at the solution divided by :math:`\sum_i s_i`: scikit-learn's objective.

    Examples
    --------
    >>> import numpy as np
    >>> from nsolve import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 3)); y = np.where(X[:, 0] > 0, "yes", "no")
    >>> clf = LogisticRegression(C=1.0).fit(X, y)
    >>> clf.classes_.tolist(), clf.coef_.shape, clf.method_
    (['no', 'yes'], (1, 3), 'newton')
    >>> float(clf.score(X, y)) > 0.95
    True
    """

    def __init__(
        self,
        C: float = 1.0,
        *,
        fit_intercept: bool = True,
        method: str = "auto",
        tol: float = 1e-7,
        max_iter: int | None = None,
        multinomial: bool | None = None,
        warm_start: bool = False,
        options: dict | None = None,
        verbose: bool = False,
        class_weight: dict | str | None = None,
    ) -> None:
        self.C = C
        self.fit_intercept = fit_intercept
        self.method = method
        self.tol = tol
        self.max_iter = max_iter
        self.multinomial = multinomial
        self.warm_start = warm_start
        self.options = options
        self.verbose = verbose
        self.class_weight = class_weight

    # ------------------------------------------------------------------ sklearn protocol
    _PARAMS = ("C", "fit_intercept", "method", "tol", "max_iter", "multinomial", "warm_start", "options", "verbose",
               "class_weight")

    def get_params(self, deep: bool = True) -> dict:
        """Return the constructor parameters (scikit-learn protocol)."""
        return {k: getattr(self, k) for k in self._PARAMS}

    def set_params(self, **params) -> LogisticRegression:
        """Set constructor parameters (scikit-learn protocol); returns ``self``."""
        for k, v in params.items():
            if k not in self._PARAMS:
                raise ValueError(f"invalid parameter {k!r} for LogisticRegression; valid: {', '.join(self._PARAMS)}")
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        defaults = LogisticRegression().get_params()
        args = [f"{k}={v!r}" for k, v in self.get_params().items() if not _same(v, defaults[k])]
        return f"LogisticRegression({', '.join(args)})"

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags

        return Tags(
            estimator_type="classifier",
            target_tags=TargetTags(required=True),
            classifier_tags=ClassifierTags(),
            input_tags=InputTags(sparse=True),
        )

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "coef_")

    # ------------------------------------------------------------------ fitting
    def _check_params(self) -> None:
        check_regularization(self.C)
        check_positive(self.tol, "tol")
        if not isinstance(self.fit_intercept, bool | np.bool_):
            raise TypeError(f"fit_intercept must be a bool; got {type(self.fit_intercept).__name__}")
        if self.max_iter is not None and (
            isinstance(self.max_iter, bool) or not isinstance(self.max_iter, numbers.Integral) or self.max_iter < 0
        ):
            raise ValueError(f"max_iter must be None or an integer >= 0; got {self.max_iter!r}")
        if self.options is not None and not isinstance(self.options, dict):
            raise TypeError(f"options must be None or a dict; got {type(self.options).__name__}")
        if not isinstance(self.method, str):
            raise TypeError(f"method must be a string; got {type(self.method).__name__}")
        if self.method != "auto":
            from nsolve._registry import get_method

            get_method(self.method)  # raises naming the valid methods

    def _resolve_method(self, obj: LogisticObjective) -> str:
        if self.method != "auto":
            from nsolve._registry import get_method

            return get_method(self.method).name
        q, n = obj.n_params, obj.n_samples
        if q > AUTO_NEWTON_MAX_PARAMS:
            return "lbfgs"
        if obj.multinomial:
            q1, K = obj.n_features + int(obj.fit_intercept), obj.n_classes
            work = n * (q1 * (q1 + 1) / 2) * (K * (K + 1) / 2)
            return "newton" if work <= AUTO_NEWTON_MAX_WORK_MULTINOMIAL else "lbfgs"
        return "newton" if n * q * q / 2 <= AUTO_NEWTON_MAX_WORK_BINARY else "lbfgs"

    def fit(self, X, y, sample_weight=None) -> LogisticRegression:
        """Fit the model to ``X`` (dense or sparse, ``(n_samples, n_features)``) and labels ``y``.

        ``sample_weight``: None, a number or an array of ``n_samples`` non-negative weights
        (at least two classes must keep positive total weight).  Returns ``self``.
        """
        from nsolve import minimize
        from nsolve._registry import get_method

        self._check_params()
        if X is None:
            raise ValueError("X must be a 2-D array or sparse matrix; got None")
        _reject_complex(X if _sp.issparse(X) else np.asarray(X))
        y = _as_labels(y)
        Xa = X if _sp.issparse(X) else np.asarray(X)
        if Xa.ndim == 2 and Xa.shape[1] == 0:
            raise ValueError(
                f"Found array with 0 feature(s) (shape={Xa.shape}) while a minimum of 1 is required."
            )
        # a full-batch method's first evaluation sees every entry of X: a dense X is checked for
        # inf/NaN only if that evaluation fails (when its kernel is compiled already)
        full_batch = self.method == "auto" or not get_method(self.method).minibatch
        obj = _build_objective(
            Xa, y, self.C, fit_intercept=bool(self.fit_intercept), sample_weight=sample_weight,
            multinomial=self.multinomial, class_weight=self.class_weight, defer_finite_check=full_batch,
        )
        # without weights every class of y has weight (logistic_objective checked that there
        # are two); the weighted count is a pass over n labels (2.6 ms at n = 10^6)
        if sample_weight is not None or self.class_weight is not None:
            present = np.bincount(obj.y_encoded, weights=obj.sample_weight, minlength=obj.n_classes) > 0
            if present.sum() < 2:
                raise ValueError(
                    "y must contain at least two classes with positive weight (sample_weight times class_weight); "
                    "only one "
                    f"class ({obj.classes_[present].tolist()!r}) has positive weight"
                )
        method = self._resolve_method(obj)
        spec = get_method(method)
        sw_sum = obj.weight_sum

        x0 = obj.x0()
        if (
            self.warm_start
            and hasattr(self, "coef_")
            and self.coef_.size == obj.n_coef
            and self.intercept_.size == obj.n_params - obj.n_coef + (0 if obj.fit_intercept else self.intercept_.size)
        ):
            x0 = obj.pack(self.coef_, self.intercept_ if obj.fit_intercept else None)

        opts: dict = {"gtol": float(self.tol) * sw_sum}
        if self.max_iter is not None:
            opts["maxiter"] = int(self.max_iter)
        elif method in ("newton", "newton-cg"):
            opts["maxiter"] = 1000
        kwargs: dict = {}
        f, grad = obj.fg, True
        if method == "newton":
            kwargs["hess"] = _newton_hessian(obj)
        elif method == "newton-cg":
            kwargs["hessp"] = obj.hessp
        if spec.minibatch:
            opts.update(_FIRST_ORDER_DEFAULTS)
            opts["n_samples"] = obj.n_samples
            f = _DataSetFG(obj)
        if self.options:
            opts.update(self.options)
        if spec.minibatch and opts.get("batch_size") is not None:
            # validated under its own name first (int() would take True, 32.5 or "64")
            opts["batch_size"] = min(check_int(opts["batch_size"], "batch_size", minimum=1), obj.n_samples)
        try:
            res = minimize(f, grad, x0, method=method, disp=bool(self.verbose), **kwargs, **opts)
        except NotFiniteAtStart as e:
            if not _sp.issparse(obj.X) and not all_finite_array(obj.X):
                raise ValueError(NOT_FINITE_X) from None
            # finite X whose products overflow float64 (|x| ~ 1e77 and up squared in a
            # Hessian): say so in the user's terms, not the solver's (f, hessp, x0)
            what = {"f": "value", "grad": "gradient", "hess": "Hessian", "hessp": "Hessian-vector product"}
            role = str(e).split(" must be", 1)[0]
            raise ValueError(
                f"X is too large for float64 arithmetic (largest |x| = {_largest_abs(obj.X):.3g}): the "
                f"objective's {what.get(role, role)} overflows at the start; rescale X (e.g. with "
                "sklearn.preprocessing.StandardScaler)"
            ) from e

        self.classes_ = obj.classes_
        self.coef_, self.intercept_ = obj.unpack(res.x)
        self.n_features_in_ = obj.n_features
        self.n_iter_ = np.array([res.nit], dtype=np.int64)
        self.method_ = method
        self.result_ = res
        self.objective_ = float(res.fun) / sw_sum
        self._multinomial = obj.multinomial
        if not res.success:
            gmax = float(np.max(np.abs(res.jac))) / sw_sum
            if not (gmax <= math.sqrt(float(self.tol))):
                warnings.warn(
                    f"LogisticRegression ({method}) did not converge: {res.message} "
                    f"(mean-objective gradient {gmax:.2e}, tol {self.tol:g}); increase max_iter or tol",
                    _convergence_warning(),
                    stacklevel=2,
                )
        return self

    # ------------------------------------------------------------------ prediction
    def _check_X(self, X):
        if not hasattr(self, "coef_"):
            raise _not_fitted_error(
                "This LogisticRegression instance is not fitted yet; call 'fit' with appropriate arguments first."
            )
        if X is None:
            raise ValueError("X must be a 2-D array or sparse matrix; got None")
        if _sp.issparse(X):
            _reject_complex(X)
            Xa = X.tocsr()
            data = Xa.data
        else:
            Xa = np.asarray(X)
            _reject_complex(Xa)
            if Xa.dtype == object:
                try:
                    Xa = Xa.astype(np.float64)
                except (TypeError, ValueError) as exc:
                    raise ValueError(f"X must contain real numbers only: {exc}") from None
            if Xa.dtype.kind not in "biuf":
                raise ValueError(f"X must be a 2-D array of real numbers; got dtype {Xa.dtype}")
            data = Xa
        if Xa.ndim != 2:
            raise ValueError(
                f"X must be 2-D (n_samples, n_features); got an array of shape {Xa.shape}. Reshape your data "
                "with X.reshape(-1, 1) for a single feature or X.reshape(1, -1) for a single sample."
            )
        if Xa.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {Xa.shape[1]} features, but LogisticRegression is expecting "
                f"{self.n_features_in_} features as input"
            )
        if Xa.shape[0] == 0:
            raise ValueError("X must have at least one sample; got 0 rows")
        if not all_finite_array(data):
            raise ValueError("X must be finite; it contains inf or NaN")
        return Xa

    def decision_function(self, X) -> np.ndarray:
        """Margins :math:`X w + b`: shape ``(n_samples,)`` (binary, positive class ``classes_[1]``)
        or ``(n_samples, n_classes)``."""
        Xa = self._check_X(X)
        z = np.asarray(Xa @ self.coef_.T, dtype=np.float64) + self.intercept_
        return z[:, 0] if z.shape[1] == 1 else z

    def predict_log_proba(self, X) -> np.ndarray:
        """Log class probabilities, shape ``(n_samples, n_classes)``, computed stably
        (:math:`\\log\\sigma(z) = -\\log(1 + e^{-z})`; log-softmax with the max shift)."""
        z = self.decision_function(X)
        if z.ndim == 1:
            return np.column_stack([-np.logaddexp(0.0, z), -np.logaddexp(0.0, -z)])
        zmax = z.max(axis=1, keepdims=True)
        return z - (zmax + np.log(np.exp(z - zmax).sum(axis=1, keepdims=True)))

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape ``(n_samples, n_classes)`` (rows sum to one)."""
        return np.exp(self.predict_log_proba(X))

    def predict(self, X) -> np.ndarray:
        """Most probable class of each sample (ties: the first class)."""
        z = self.decision_function(X)
        idx = (z > 0).astype(np.intp) if z.ndim == 1 else np.argmax(z, axis=1)
        return self.classes_[idx]

    def score(self, X, y, sample_weight=None) -> float:
        """Mean accuracy of :meth:`predict` on ``(X, y)`` (weighted by ``sample_weight``)."""
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.ravel()
        pred = self.predict(X)
        if y.shape != pred.shape:
            raise ValueError(f"y must have shape {pred.shape}; got {y.shape}")
        hit = (pred == y).astype(np.float64)
        if sample_weight is None:
            return float(hit.mean())
        sw = np.asarray(sample_weight, dtype=np.float64)
        if sw.shape != hit.shape:
            raise ValueError(f"sample_weight must have shape {hit.shape}; got {sw.shape}")
        return float(np.average(hit, weights=sw))


def _same(a, b) -> bool:
    if a is b:
        return True
    try:
        return bool(a == b) and type(a) is type(b)
    except (TypeError, ValueError):
        return False


def _newton_hessian(obj: LogisticObjective):
    """``hess(w)`` for ``method="newton"``.

    Multinomial with intercepts: :math:`F` is constant along :math:`u = (0, \\mathbf 1_K) /
    \\sqrt K` (shifting every intercept by one constant), so the Hessian is singular there
    while the gradient is always orthogonal to :math:`u`.  Adding :math:`\\sigma u u^T`
    (:math:`\\sigma` the mean diagonal) makes it positive definite without changing the
    Newton step, which stays orthogonal to :math:`u`.
    """
    if not (obj.multinomial and obj.fit_intercept):
        return obj.hess
    K = obj.n_classes
    idx = np.arange(obj.n_coef, obj.n_params)

    def hess(w):
        H = obj.hess(w)
        sigma = max(float(np.trace(H)) / H.shape[0], 1e-12)
        H[np.ix_(idx, idx)] += sigma / K
        return H

    return hess


class _DataSetFG:
    """``f(w, idx) -> (F_hat, g_hat)`` for mini-batch methods (:mod:`nsolve._minibatch`):
    the exact fused pass when ``idx`` is every row, else :meth:`LogisticObjective.batch_fg`."""

    def __init__(self, obj: LogisticObjective):
        self.obj = obj

    def __call__(self, w, idx):
        n = self.obj.n_samples
        if idx.shape[0] == n and idx[0] == 0 and idx[-1] == n - 1 and np.all(np.diff(idx) == 1):
            return self.obj.fg(w)
        return self.obj.batch_fg(w, idx)
