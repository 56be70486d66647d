r"""L2-penalised logistic regression objectives (functional API).

:func:`logistic_objective` validates a data set once and returns a
:class:`LogisticObjective`: a callable bundle of the objective, its gradient (fused with
the objective in one pass over ``X``), Hessian-vector products, the full Hessian and
unbiased mini-batch estimates, ready for :func:`nsolve.minimize` or
:func:`scipy.optimize.minimize`.

The objective follows scikit-learn's ``LogisticRegression`` (``penalty="l2"``) up to a
constant factor (scikit-learn divides everything by :math:`\sum_i s_i`; the minimiser is
the same).  Binary (labels mapped to :math:`y_i \in \{0, 1\}`, the larger class being 1):

.. math::

    F(w, b) = \sum_{i=1}^n s_i \log\left(1 + e^{-(2 y_i - 1)(x_i^T w + b)}\right)
              + \frac{1}{2C} \|w\|_2^2 .

Multinomial with :math:`K` classes (``W`` of shape ``(K, p)``, intercepts :math:`b \in
\mathbb{R}^K`, :math:`z_i = W x_i + b`):

.. math::

    F(W, b) = \sum_{i=1}^n s_i \left[\log \sum_{k=1}^K e^{z_{ik}} - z_{i y_i}\right]
              + \frac{1}{2C} \|W\|_F^2 .

The intercepts are never penalised.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import sys
from collections.abc import Mapping

import numba
import numpy as np
import scipy.sparse as _sp

from nsolve._kernels.quasi_newton import symmetrize_from_upper_inplace
from nsolve._parallel import max_threads, parallel_region
from nsolve._validation import all_finite_array, check_positive
from nsolve.models import _logistic_kernels as _k

__all__ = ["LogisticObjective", "logistic_objective"]

#: Multiply-adds per parallel chunk: a pass with less work than this per thread stays
#: single-threaded (starting the thread pool costs tens of microseconds, far more when the
#: machine is busy).
_WORK_PER_CHUNK = 1 << 20


#: The error for a dense or sparse ``X`` holding inf or NaN.
NOT_FINITE_X = "X must be finite; it contains inf or NaN"

# (multinomial, layout) -> (single-chunk worker, chunked parallel driver)
_FG_KERNELS = {
    (False, "C"): (_k.binary_fg_dense, _k.binary_fg_dense_par),
    (False, "F"): (_k.binary_fg_fblock, _k.binary_fg_fblock_par),
    (False, "csr"): (_k.binary_fg_csr, _k.binary_fg_csr_par),
    (True, "C"): (_k.multi_fg_dense, _k.multi_fg_dense_par),
    (True, "F"): (_k.multi_fg_fblock, _k.multi_fg_fblock_par),
    (True, "csr"): (_k.multi_fg_csr, _k.multi_fg_csr_par),
}
_HESSP_KERNELS = {
    (False, "C"): (_k.binary_hessp_dense, _k.binary_hessp_dense_par),
    (False, "F"): (_k.binary_hessp_fblock, _k.binary_hessp_fblock_par),
    (False, "csr"): (_k.binary_hessp_csr, _k.binary_hessp_csr_par),
    (True, "C"): (_k.multi_hessp_dense, _k.multi_hessp_dense_par),
    (True, "F"): (_k.multi_hessp_fblock, _k.multi_hessp_fblock_par),
    (True, "csr"): (_k.multi_hessp_csr, _k.multi_hessp_csr_par),
}

#: Rows per block when a dense Hessian is formed with BLAS (bounds the scratch memory).
_HESS_BLOCK_ELEMS = 1 << 20
#: Dense Hessians with at most this many multiply-adds (binary n q^2, multinomial
#: n q1(q1+1)/2 K(K+1)/2) use a compiled loop instead of BLAS: below it the BLAS call (and
#: its threads, which stall on a busy machine) cost more than the flops.
_HESS_COMPILED_MAX_WORK = 5e8


def _n_chunks(work: int, m: int) -> int:
    """Number of row chunks for a pass of about ``work`` multiply-adds over ``m`` rows."""
    per_chunk = work // _WORK_PER_CHUNK
    if per_chunk <= 1:  # one chunk whatever the thread count (asking Numba costs ~3 us)
        return 1
    return int(max(1, min(max_threads(), m, per_chunk)))


def check_regularization(C) -> float:
    """``C`` as a float: > 0, ``inf`` (no penalty) allowed, and large enough that the
    penalty's :math:`1/C` is finite (below about 5.6e-309 it overflows to inf)."""
    if isinstance(C, bool):
        raise TypeError("C must be a real number; got bool")
    C = check_positive(C, "C", allow_inf=True)
    if math.isinf(1.0 / C):
        raise ValueError(f"C must be large enough that 1/C is finite (C >= {1.0 / sys.float_info.max:.3g}); got {C}")
    return C


def _check_csr_structure(X) -> None:
    """The kernels trust ``indptr`` and the column indices (read without bounds checks): check
    them once, in NumPy, without touching ``X`` (scipy's ``check_format`` may replace its arrays)."""
    m, p = X.shape
    indptr, indices = X.indptr, X.indices
    problem = None
    if indptr.shape != (m + 1,) or indptr[0] != 0 or indptr[-1] > indices.shape[0] or indptr[-1] > X.data.shape[0]:
        problem = "indptr must have n_rows + 1 entries from 0 to at most the number of stored entries"
    elif m and np.any(indptr[1:] < indptr[:-1]):
        problem = "indptr must not decrease"
    elif indptr[-1] and (indices[: indptr[-1]].min() < 0 or indices[: indptr[-1]].max() >= p):
        problem = f"column indices must lie in [0, {p})"
    if problem is not None:
        raise ValueError(f"X is not a valid CSR matrix: {problem}")


def _as_design(X, check_finite: bool = True):
    """Validate ``X`` and return ``(X, layout)`` with layout ``"C"``, ``"F"`` or ``"csr"``.

    ``check_finite=False`` leaves a dense ``X``'s finiteness to the caller (see
    :meth:`LogisticObjective._finite_check_deferred`); a CSR ``X`` is always checked."""
    if X is None:
        raise TypeError("X must be a 2-D array or scipy.sparse matrix; got None")
    if _sp.issparse(X):
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D; got a sparse array of shape {X.shape}")
        if X.dtype.kind == "c":
            raise TypeError("X must be real; got a complex sparse matrix")
        if X.format != "csr":
            X = X.tocsr()
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        if X.indptr.dtype != X.indices.dtype:
            X = X.copy()
            X.indices = X.indices.astype(np.int64)
            X.indptr = X.indptr.astype(np.int64)
        _check_csr_structure(X)
        if not all_finite_array(X.data):
            raise ValueError(NOT_FINITE_X)
        return X, "csr"
    try:
        Xa = np.asarray(X)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"X must be a 2-D array of real numbers; got {type(X).__name__}: {exc}") from None
    if Xa.dtype == object:
        try:
            Xa = Xa.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"X must contain real numbers only: {exc}") from None
    if np.iscomplexobj(Xa):
        raise TypeError("X must be real; got a complex array")
    if Xa.dtype.kind not in "biuf":
        raise TypeError(f"X must be a 2-D array of real numbers; got dtype {Xa.dtype}")
    if Xa.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features); got an array of shape {Xa.shape}")
    if Xa.dtype not in (np.float32, np.float64):
        Xa = Xa.astype(np.float64)
    if Xa.flags.c_contiguous:
        layout = "C"
    elif Xa.flags.f_contiguous:
        layout = "F"
    else:
        Xa = np.ascontiguousarray(Xa)
        layout = "C"
    if check_finite and Xa.size and not all_finite_array(Xa):
        raise ValueError(NOT_FINITE_X)
    return Xa, layout


def _check_labels(y, n_samples: int) -> np.ndarray:
    if y is None:
        raise TypeError("y must be a 1-D array of class labels; got None")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (n_samples,); got an array of shape {y.shape}")
    if y.shape[0] != n_samples:
        raise ValueError(
            f"X and y have inconsistent numbers of samples: X has {n_samples} rows, y has {y.shape[0]}"
        )
    if y.dtype.kind in "fc":
        if not np.all(np.isfinite(y)):
            raise ValueError("y must not contain NaN or inf")
    elif y.dtype == object:
        for v in y:
            if v is None or (isinstance(v, numbers.Real) and not math.isfinite(float(v))):
                raise ValueError(f"y must not contain None, NaN or inf; found {v!r}")
    return y


def _encode_labels(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(y, return_inverse=True)``, without the sort for the common label types.

    Integer and boolean labels of small range are counted in O(n); two adjacent values (the
    usual binary labels) need no counting, the minimum and the maximum being both present.
    Float labels taking exactly two values are recognised with two comparisons (at
    n = 10^6: 0.5 ms against 10 ms for ``np.unique``); other float labels are sorted.
    """
    if y.size and y.dtype.kind in "iub":
        yi = y.view(np.uint8) if y.dtype.kind == "b" else y
        lo, hi = int(yi.min()), int(yi.max())
        if -(2**62) <= lo and hi < 2**62 and hi - lo <= 4 * y.size + 1024:
            yy = yi.astype(np.int64, copy=False) - lo  # a fresh array
            if hi - lo <= 1:
                return np.arange(lo, hi + 1).astype(y.dtype), yy
            present = np.bincount(yy, minlength=hi - lo + 1) > 0
            classes = (np.flatnonzero(present) + lo).astype(y.dtype)
            code = np.cumsum(present) - 1
            return classes, code[yy]
    if y.size and y.dtype.kind == "f":
        lo_v, hi_v = y.min(), y.max()
        if lo_v != hi_v:
            is_hi = y == hi_v
            n_hi = np.count_nonzero(is_hi)
            if n_hi + np.count_nonzero(y == lo_v) == y.size:
                return np.array([lo_v, hi_v], dtype=y.dtype), is_hi.astype(np.int64)
    try:
        return np.unique(y, return_inverse=True)
    except TypeError as exc:
        raise TypeError(f"y labels must be mutually comparable (sortable): {exc}") from None


def _check_sample_weight(sample_weight, n_samples: int) -> np.ndarray | None:
    """The validated weights as a float64 array, or None (unit weights) for None."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Real) and not isinstance(sample_weight, bool):
        sw = np.full(n_samples, float(sample_weight))
    else:
        try:
            sw = np.array(sample_weight, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"sample_weight must be None, a number or a 1-D array of reals: {exc}") from None
        if sw.ndim != 1:
            raise ValueError(f"sample_weight must be 1-D; got an array of shape {sw.shape}")
        if sw.shape[0] != n_samples:
            raise ValueError(
                f"sample_weight has {sw.shape[0]} entries but X has {n_samples} rows; they must match"
            )
    if not np.all(np.isfinite(sw)):
        raise ValueError("sample_weight must be finite; it contains inf or NaN")
    if np.any(sw < 0):
        raise ValueError("sample_weight must be non-negative; it contains negative entries")
    if not np.any(sw > 0):
        raise ValueError("sample_weight must have at least one positive entry; all weights are zero")
    return np.ascontiguousarray(sw)


def class_weights(class_weight, classes: np.ndarray, y_encoded: np.ndarray, sw: np.ndarray | None) -> np.ndarray:
    """The weight of each class (aligned with ``classes``) for scikit-learn's ``class_weight``
    (``sw``: the sample weights, None for unit weights).

    ``"balanced"``: :math:`\\sum_i s_i / (K \\sum_{i: y_i = k} s_i)` (a class whose samples
    all weigh zero gets 0).  A dict maps labels to weights; a class absent from it weighs 1.
    As in scikit-learn, keys that are not classes are allowed when every class has a key (a
    cross-validation fold may lack a class), and are an error otherwise.
    """
    K = classes.shape[0]
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(f"class_weight must be None, 'balanced' or a dict; got {class_weight!r}")
        totals = np.bincount(y_encoded, weights=sw, minlength=K)
        out = np.zeros(K)
        np.divide(totals.sum(), K * totals, out=out, where=totals > 0)
        return out
    if not isinstance(class_weight, Mapping):
        raise TypeError(f"class_weight must be None, 'balanced' or a dict; got {type(class_weight).__name__}")
    labels = classes.tolist()
    out = np.ones(K)
    missing = []
    for k, c in enumerate(labels):
        key = c
        if key not in class_weight and isinstance(c, float) and c.is_integer():
            key = int(c)
        if key not in class_weight:
            missing.append(c)
            continue
        v = class_weight[key]
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not (math.isfinite(v) and v >= 0):
            raise ValueError(f"class_weight[{key!r}] must be a finite number >= 0; got {v!r}")
        out[k] = float(v)
    if missing and K - len(missing) != len(class_weight):
        known = set(labels)
        unknown = [key for key in class_weight if key not in known]
        raise ValueError(f"class_weight has keys that are not classes of y ({unknown!r}) while classes "
                         f"{missing!r} have no key; the classes are {labels!r}")
    return out


class LogisticObjective:
    r"""The L2-penalised logistic / multinomial objective on a fixed data set.

    Build it with :func:`logistic_objective`.  Parameters are a flat float64 vector:

    * binary: ``[w (n_features), b]`` (``b`` only when ``fit_intercept``);
    * multinomial: ``[W.ravel() (n_classes * n_features, C order), b (n_classes)]``.

    :meth:`unpack` / :meth:`pack` convert to and from scikit-learn's ``coef_`` (shape
    ``(1, p)`` or ``(K, p)``) and ``intercept_``.

    Every method that takes ``w`` accepts any array of length :attr:`n_params`; the last
    full-data pass is cached, so ``f(w)`` followed by ``grad(w)`` (or ``hessp(w, ...)``,
    ``hess(w)``) at the same ``w`` makes one pass over ``X``.  Instances are not thread-safe
    (the cache is shared); build one per thread.

    Attributes
    ----------
    X : ndarray or scipy.sparse.csr_matrix
        The data as used by the kernels (float32 or float64; C- or Fortran-ordered dense, or
        CSR).  It is the caller's array whenever no conversion was needed.
    layout : {"C", "F", "csr"}
        Which kernel family serves ``X``.
    classes_ : ndarray
        Sorted unique labels (``np.unique(y)``).
    y_encoded : ndarray of int64
        Index of each sample's label in :attr:`classes_`.
    multinomial : bool
        Softmax objective (``True``) or binary logistic (``False``).
    n_classes, n_samples, n_features, n_coef, n_params : int
        Sizes (``n_coef = K * n_features`` coefficients, ``K = n_classes`` if multinomial else
        1; ``n_params`` adds the ``K`` intercepts when ``fit_intercept``).
    C : float
        Inverse penalty strength (``inf`` for no penalty).
    fit_intercept : bool
        Whether intercepts are part of the parameters.
    sample_weight : ndarray of float64
        Per-sample weights (ones when none were given; that array is created on first use).
    weight_sum : float
        :math:`\sum_i s_i` (``n_samples`` for unit weights).
    """

    def __init__(self, X, layout, y_encoded, classes, C, fit_intercept, sample_weight, multinomial):
        self.X = X
        self.layout = layout
        self.classes_ = classes
        self.y_encoded = y_encoded
        self.n_classes = int(classes.shape[0])
        self.multinomial = bool(multinomial)
        self.n_samples, self.n_features = (int(s) for s in X.shape)
        self.C = float(C)
        self.fit_intercept = bool(fit_intercept)
        # None: unit weights, materialised by the sample_weight property only if asked for
        self._sample_weight = sample_weight
        self.weight_sum = float(self.n_samples if sample_weight is None else sample_weight.sum())
        self._inv_C = 0.0 if math.isinf(self.C) else 1.0 / self.C
        self._K = self.n_classes if self.multinomial else 1
        self.n_coef = self._K * self.n_features
        self.n_params = self.n_coef + (self._K if self.fit_intercept else 0)
        if self.multinomial:
            self._y = np.ascontiguousarray(y_encoded, dtype=np.int64)
            self._state = np.empty((self.n_samples, self._K))
            self._nostate = np.empty((0, self._K))
        else:
            # the binary kernels take labels and weights as one vector s_i (2 y_i - 1)
            self._ysw = 2.0 * y_encoded - 1.0
            if sample_weight is not None:
                self._ysw *= sample_weight
            self._state = np.empty(self.n_samples)
            self._nostate = np.empty(0)
        self._norows = np.empty(0, dtype=np.intp)
        if layout == "csr":
            # int32 column indices as uint32 (the same bytes, checked in range by _as_design): the
            # kernels' gathers then carry no negative-index wrap-around test (see _k._sdot)
            indices = X.indices.view(np.uint32) if X.indices.dtype == np.int32 else X.indices
            self._xargs = (X.indptr, indices, X.data)
            self._row_work = max(1, X.nnz // max(1, self.n_samples))
        else:
            self._xargs = (X,)
            self._row_work = max(1, self.n_features)
        # cache of the last full pass: w, f, g (and the curvature state in self._state when
        # _cache_state).  The state (one number per row, K for softmax) is written only once a
        # Hessian product or Hessian has been asked for: a gradient-only solve (lbfgs, bfgs,
        # first-order) then streams no per-row output besides reading X.
        self._want_state = False
        self._cache_state = False
        self._cache_w = None
        self._cache_f = 0.0
        self._cache_g = None

    @property
    def sample_weight(self) -> np.ndarray:
        """Per-sample weights (float64, ``n_samples``); ones, created on first use, when none
        were given."""
        if self._sample_weight is None:
            self._sample_weight = np.ones(self.n_samples)
        return self._sample_weight

    # ------------------------------------------------------------------ helpers
    def __repr__(self) -> str:
        kind = f"multinomial, {self.n_classes} classes" if self.multinomial else "binary"
        return (
            f"LogisticObjective({kind}, n_samples={self.n_samples}, n_features={self.n_features}, "
            f"C={self.C}, fit_intercept={self.fit_intercept}, layout={self.layout!r}, "
            f"dtype={self.X.dtype})"
        )

    def _check_w(self, w, name: str = "w") -> np.ndarray:
        w = np.ascontiguousarray(w, dtype=np.float64)
        if w.shape != (self.n_params,):
            raise ValueError(f"{name} must have shape ({self.n_params},); got {w.shape}")
        return w

    def x0(self) -> np.ndarray:
        """Return the zero starting point (length :attr:`n_params`)."""
        return np.zeros(self.n_params)

    def unpack(self, w) -> tuple[np.ndarray, np.ndarray]:
        """Split ``w`` into scikit-learn's ``coef_`` (``(1, p)`` or ``(K, p)``) and
        ``intercept_`` (``(1,)`` or ``(K,)``; zeros without an intercept)."""
        w = self._check_w(w)
        coef = w[: self.n_coef].reshape(self._K, self.n_features).copy()
        if self.fit_intercept:
            intercept = w[self.n_coef :].copy()
        else:
            intercept = np.zeros(self._K)
        return coef, intercept

    def pack(self, coef, intercept=None) -> np.ndarray:
        """Inverse of :meth:`unpack`: build the flat parameter vector."""
        coef = np.asarray(coef, dtype=np.float64).reshape(-1)
        if coef.shape[0] != self.n_coef:
            raise ValueError(f"coef must have {self.n_coef} entries; got {coef.shape[0]}")
        if not self.fit_intercept:
            return coef.copy()
        b = np.zeros(self._K) if intercept is None else np.asarray(intercept, dtype=np.float64).reshape(-1)
        if b.shape[0] != self._K:
            raise ValueError(f"intercept must have {self._K} entries; got {b.shape[0]}")
        return np.concatenate([coef, b])

    def _penalty(self, w) -> float:
        wc = w[: self.n_coef]
        return 0.5 * self._inv_C * float(wc @ wc)

    # ------------------------------------------------------------------ kernel passes
    def _kernel_order(self, v):
        """``v`` in the order of the kernels: feature-major for multinomial CSR (coefficient of
        feature ``j``, class ``c`` at ``j K + c``; see ``multi_fg_csr``), else ``v`` itself."""
        if not (self.multinomial and self.layout == "csr"):
            return v
        out = v.copy()
        out[: self.n_coef] = v[: self.n_coef].reshape(self._K, -1).T.ravel()
        return out

    def _model_order(self, g):
        """Inverse of :meth:`_kernel_order`, in place on the kernels' output ``g``."""
        if self.multinomial and self.layout == "csr":
            g[: self.n_coef] = g[: self.n_coef].reshape(-1, self._K).T.ravel()
        return g

    def _finite_check_deferred(self) -> bool:
        """True when the kernel of this objective's first full pass is compiled for its ``X``.

        Then a dense ``X`` holding inf or NaN makes the first full pass, at any ``w``, return a
        non-finite f or gradient (every entry enters a margin ``x_i^T w`` and a gradient term
        ``r_i x_ij``: ``0 * inf`` and ``0 * nan`` are NaN, zero weights included), and a fit can
        check ``X`` only when the start fails, instead of paying a pass over ``X`` up front
        (7% of an lbfgs fit of 10^5 x 100).  Otherwise the check must come first: the pass
        would compile a kernel before the error.
        """
        nc = _n_chunks(self.n_samples * self._row_work * self._K, self.n_samples)
        kernel = _FG_KERNELS[self.multinomial, self.layout][0 if nc == 1 else 1]
        t = numba.typeof(self._xargs[0])
        # (no signatures: NUMBA_DISABLE_JIT, the kernels are plain functions)
        return any(sig[0] == t for sig in getattr(kernel, "signatures", ()))

    def _fg_pass(self, w, rows, want_state):
        """Run the fused kernel; return (data loss, data gradient) over ``rows`` (all if None)."""
        use_rows = rows is not None
        m = rows.shape[0] if use_rows else self.n_samples
        rows_arr = rows if use_rows else self._norows
        state = self._state if want_state else self._nostate
        nc = _n_chunks(m * self._row_work * self._K, m)
        G = np.zeros((nc, self.n_params))
        worker, driver = _FG_KERNELS[self.multinomial, self.layout]
        if self.multinomial:
            head = (*self._xargs, self._y, self.sample_weight, self._kernel_order(w), self._K)
        else:
            head = (*self._xargs, self._ysw, w)
        head = (*head, self.fit_intercept, rows_arr, use_rows)
        if nc == 1:
            loss = worker(*head, 0, m, True, want_state, state, G[0])
            return float(loss), self._model_order(G[0])
        L = np.zeros(nc)
        with parallel_region():
            driver(*head, m, True, want_state, state, G, L)
        return float(L.sum()), self._model_order(G.sum(axis=0))

    def _full(self, w, need_state: bool = False):
        """Full pass at ``w`` unless cached; leaves f and g in the cache, and the curvature
        state in ``self._state`` when ``need_state`` or when any earlier call needed it (the
        first Hessian product of a run costs one extra pass; measured, writing the state
        costs 5% of a pass over a 10^6 x 20 ``X``)."""
        if need_state:
            self._want_state = True
        if (
            self._cache_w is not None
            and (self._cache_state or not need_state)
            and np.array_equal(w, self._cache_w)
        ):
            return
        self._cache_w = None
        loss, g = self._fg_pass(w, None, self._want_state)
        self._cache_state = self._want_state
        g[: self.n_coef] += self._inv_C * w[: self.n_coef]
        self._cache_f = loss + self._penalty(w)
        self._cache_g = g
        self._cache_w = w.copy()

    # ------------------------------------------------------------------ public API
    def fg(self, w) -> tuple[float, np.ndarray]:
        """Return ``(F(w), grad F(w))`` from one fused pass over ``X`` (cached per ``w``)."""
        w = self._check_w(w)
        self._full(w)
        return self._cache_f, self._cache_g.copy()

    def f(self, w) -> float:
        """Return the objective :math:`F(w)` (computed by the fused pass, so a following
        :meth:`grad` at the same ``w`` is free)."""
        w = self._check_w(w)
        self._full(w)
        return self._cache_f

    def grad(self, w) -> np.ndarray:
        """Return :math:`\\nabla F(w)` (length :attr:`n_params`)."""
        w = self._check_w(w)
        self._full(w)
        return self._cache_g.copy()

    __call__ = f

    def hessp(self, w, p) -> np.ndarray:
        r"""Return :math:`\nabla^2 F(w)\, v` for the direction ``v = p`` without forming the Hessian.

        ``p`` is named as in :func:`scipy.optimize.minimize`'s ``hessp(x, p)``.

        Binary: :math:`\tilde X^T D (\tilde X v) + [v_w / C, 0]`, with
        :math:`D = \mathrm{diag}(s_i \sigma_i (1 - \sigma_i))` and :math:`\tilde X = [X, 1]`.
        Multinomial: row ``i`` adds :math:`s_i (\mathrm{diag}(\pi_i) - \pi_i \pi_i^T) u_i
        \otimes \tilde x_i` with :math:`u_{ik} = \tilde x_i^T v_k`.  One pass over ``X``, plus
        one fused pass if ``w`` differs from the last evaluated point or if this is the
        objective's first Hessian product or Hessian (the fused pass then starts keeping the
        per-row curvature these need).
        """
        w = self._check_w(w)
        v = self._check_w(p, "p")
        self._full(w, need_state=True)
        nc = _n_chunks(self.n_samples * self._row_work * self._K, self.n_samples)
        G = np.zeros((nc, self.n_params))
        worker, driver = _HESSP_KERNELS[self.multinomial, self.layout]
        if self.multinomial:
            head = (*self._xargs, self.sample_weight, self._state, self._kernel_order(v), self.fit_intercept)
        else:
            head = (*self._xargs, self._state, v, self.fit_intercept)
        if nc == 1:
            worker(*head, 0, self.n_samples, G[0])
        else:
            with parallel_region():
                driver(*head, G)
        out = self._model_order(G.sum(axis=0))
        out[: self.n_coef] += self._inv_C * v[: self.n_coef]
        return out

    def hess(self, w) -> np.ndarray:
        r"""Return the dense Hessian :math:`\nabla^2 F(w)`, shape ``(n_params, n_params)``.

        Binary: :math:`\tilde X^T D \tilde X + \mathrm{diag}(1/C, \dots, 1/C, 0)`, formed with
        BLAS as :math:`A^T A`, :math:`A = D^{1/2} \tilde X` (blocks of rows, float64), cost
        :math:`O(n p^2)`.  Multinomial: blocks
        :math:`\sum_i s_i(\pi_{ik}\delta_{kl} - \pi_{ik}\pi_{il}) \tilde x_i \tilde x_i^T`
        plus :math:`I / C` on the ``W`` part, cost :math:`O(n K^2 p^2)`.  With intercepts, the
        multinomial Hessian is singular along :math:`(0, \mathbf 1_K)` (shifting every ``b_k``
        by one constant leaves ``F`` unchanged); with ``C = inf`` also along
        :math:`(\mathbf 1_K a^T, 0)`.  Sparse ``X``: a compiled pass over the nonzeros,
        :math:`O(K^2 \mathrm{nnz}_i^2 / 4)` per row.
        """
        w = self._check_w(w)
        self._full(w, need_state=True)
        if self.layout == "csr":
            H = self._hess_csr()
        elif self.multinomial:
            H = self._hess_dense_multi()
        else:
            H = self._hess_dense_binary()
        np.einsum("ii->i", H)[: self.n_coef] += self._inv_C  # a writeable view of the diagonal
        return H

    def _row_blocks(self, width: int):
        step = max(1, _HESS_BLOCK_ELEMS // max(1, width))
        for lo in range(0, self.n_samples, step):
            yield lo, min(self.n_samples, lo + step)

    def _design_block(self, lo: int, hi: int, scale=None) -> np.ndarray:
        """Rows ``lo:hi`` of :math:`[X, 1]` (or of ``X``) as float64, rows times ``scale``."""
        p = self.n_features
        q = p + (1 if self.fit_intercept else 0)
        A = np.empty((hi - lo, q))
        if scale is None:
            A[:, :p] = self.X[lo:hi]
            if self.fit_intercept:
                A[:, p] = 1.0
        else:
            np.multiply(self.X[lo:hi], scale[:, None], out=A[:, :p])
            if self.fit_intercept:
                A[:, p] = scale
        return A

    def _hess_dense_binary(self) -> np.ndarray:
        q = self.n_params
        work = self.n_samples * q * q / 2
        if work <= _HESS_COMPILED_MAX_WORK:
            U = np.zeros((q, q))
            nc = _n_chunks(int(work), q)
            if nc == 1:
                _k.binary_hess_dense(self.X, self._state, self.fit_intercept, 0, self.n_samples, U)
            else:
                with parallel_region():
                    _k.binary_hess_dense_par(self.X, self._state, self.fit_intercept, nc, U)
            symmetrize_from_upper_inplace(U)
            return U
        H = np.zeros((q, q))
        sd = np.sqrt(self._state)
        for lo, hi in self._row_blocks(q):
            A = self._design_block(lo, hi, sd[lo:hi])
            H += A.T @ A
        return H

    def _hess_dense_multi(self) -> np.ndarray:
        """Multinomial Hessian from its distinct entries ``HP`` (class pairs ``k <= l`` times
        column pairs ``a <= b``): a compiled loop for small problems, else one BLAS product
        ``Cm^T O`` of the class-pair coefficients (``n x K(K+1)/2``) and the rows'
        upper-triangle outer products (``n x q1(q1+1)/2``), half the work of one product per
        class pair."""
        K, p = self._K, self.n_features
        q1 = p + (1 if self.fit_intercept else 0)
        T = q1 * (q1 + 1) // 2
        n_pairs = K * (K + 1) // 2
        HP = np.zeros((n_pairs, T))
        work = self.n_samples * T * n_pairs
        if work <= _HESS_COMPILED_MAX_WORK:
            parallel = _n_chunks(work, n_pairs) > 1
            with parallel_region() if parallel else contextlib.nullcontext():
                _k.multi_hess_pairs_dense(self.X, self.sample_weight, self._state, self.fit_intercept, parallel, HP)
        else:
            for lo, hi in self._row_blocks(T + n_pairs):
                O = np.empty((hi - lo, T))
                _k.row_outer_upper(self.X, lo, hi, self.fit_intercept, O)
                Cm = np.empty((hi - lo, n_pairs))
                _k.multi_pair_coefficients(self.sample_weight, self._state, lo, hi, Cm)
                HP += Cm.T @ O
        H = np.empty((self.n_params, self.n_params))
        _k.multi_hess_scatter(HP, K, p, self.fit_intercept, H)
        return H

    def _hess_csr(self) -> np.ndarray:
        q = self.n_params
        if self.multinomial:
            return self._hess_csr_multi()
        work = self.n_samples * self._row_work * self._row_work
        nc = _n_chunks(work, self.n_samples)
        G = np.zeros((nc, q, q))
        head = (*self._xargs, self._state, self.fit_intercept)
        if nc == 1:
            _k.binary_hess_csr(*head, 0, self.n_samples, G[0])
        else:
            with parallel_region():
                _k.binary_hess_csr_par(*head, G)
        U = G.sum(axis=0)
        symmetrize_from_upper_inplace(U)
        return U

    def _hess_csr_multi(self) -> np.ndarray:
        """Distinct entries ``HT`` (column pairs times class pairs, ``multi_hess_csr``) summed
        over row chunks, then scattered into the full Hessian as on the dense path."""
        K, p = self._K, self.n_features
        q1 = p + (1 if self.fit_intercept else 0)
        n_pairs = K * (K + 1) // 2
        work = self.n_samples * self._row_work * self._row_work * n_pairs // 2
        nc = _n_chunks(work, self.n_samples)
        G = np.zeros((nc, q1 * (q1 + 1) // 2, n_pairs))
        head = (*self._xargs, self.sample_weight, self._state, p, self.fit_intercept)
        if nc == 1:
            _k.multi_hess_csr(*head, 0, self.n_samples, G[0])
        else:
            with parallel_region():
                _k.multi_hess_csr_par(*head, G)
        H = np.empty((self.n_params, self.n_params))
        _k.multi_hess_scatter(np.ascontiguousarray(G.sum(axis=0).T), K, p, self.fit_intercept, H)
        return H

    def batch_fg(self, w, idx) -> tuple[float, np.ndarray]:
        r"""Unbiased mini-batch estimate of ``(F(w), grad F(w))`` over the rows ``idx``.

        With :math:`B` the index multiset (duplicates count), :math:`m = |B|`, the estimate is

        .. math::

            \hat F(w) = \frac{n}{m} \sum_{i \in B} s_i \ell_i(w) + \frac{1}{2C}\|w\|^2,

        and :math:`\hat g` its gradient; for ``idx`` drawn uniformly (with or without
        replacement) :math:`E[\hat F] = F` and :math:`E[\hat g] = \nabla F`.  With
        ``idx = arange(n)`` it equals :meth:`fg` (to rounding).  The rows are read in place
        (``X`` is not copied) in one fused pass; the result is not cached.

        Parameters
        ----------
        w : array_like, shape (n_params,)
        idx : array_like of int, shape (m,)
            Row indices in ``[0, n_samples)``, ``m >= 1``.
        """
        w = self._check_w(w)
        rows = np.asarray(idx)
        if rows.ndim != 1 or rows.shape[0] == 0:
            raise ValueError(f"idx must be a non-empty 1-D array of row indices; got shape {rows.shape}")
        if rows.dtype.kind not in "iu":
            raise TypeError(f"idx must contain integers; got dtype {rows.dtype}")
        rows = np.ascontiguousarray(rows, dtype=np.intp)
        lo, hi = int(rows.min()), int(rows.max())
        if lo < 0 or hi >= self.n_samples:
            raise ValueError(f"idx must lie in [0, {self.n_samples}); got values in [{lo}, {hi}]")
        loss, g = self._fg_pass(w, rows, False)
        scale = self.n_samples / rows.shape[0]
        g *= scale
        g[: self.n_coef] += self._inv_C * w[: self.n_coef]
        return scale * loss + self._penalty(w), g

    def decision_function(self, w, X=None) -> np.ndarray:
        """Margins ``X @ coef.T + intercept`` (shape ``(n,)`` binary, ``(n, K)`` multinomial)."""
        coef, intercept = self.unpack(w)
        Xd = self.X if X is None else X
        z = Xd @ coef.T + intercept
        z = np.asarray(z, dtype=np.float64)
        return z[:, 0] if not self.multinomial else z


def logistic_objective(
    X,
    y,
    C: float = 1.0,
    *,
    fit_intercept: bool = True,
    sample_weight=None,
    multinomial: bool | None = None,
    class_weight=None,
) -> LogisticObjective:
    r"""Build the L2-penalised logistic regression objective for ``(X, y)``.

    .. math::

        \text{binary:}\quad F(w, b) = \sum_i s_i \log\left(1 + e^{-\tilde y_i (x_i^T w + b)}\right)
        + \frac{\|w\|^2}{2C}, \qquad \tilde y_i \in \{-1, +1\},

        \text{multinomial:}\quad F(W, b) = \sum_i s_i\left[\log\sum_k e^{w_k^T x_i + b_k}
        - (w_{y_i}^T x_i + b_{y_i})\right] + \frac{\|W\|_F^2}{2C}.

    This is scikit-learn's ``LogisticRegression(C=C)`` objective times :math:`\sum_i s_i`,
    so both have the same minimiser.

    Parameters
    ----------
    X : array_like or scipy.sparse matrix, shape (n_samples, n_features)
        Features.  float32 and float64 are used as given (C- or Fortran-ordered dense, or
        CSR).  Other real dtypes (int, bool, float16) are converted once to a C-ordered
        float64 copy, and non-contiguous float32/float64 arrays to a C-ordered copy of their
        own dtype; other sparse formats are converted once to CSR.
        All arithmetic is accumulated in float64.
    y : array_like, shape (n_samples,)
        Class labels of any type ``np.unique`` can sort (ints, strings, ...).
        In the binary case the larger label (``classes_[1]``) is the positive class.
    C : float, default 1.0
        Inverse regularisation strength, ``> 0``; ``np.inf`` means no penalty.
    fit_intercept : bool, default True
        Include unpenalised intercept(s) as the last parameter(s).
    sample_weight : None, float or array_like of shape (n_samples,), optional
        Non-negative weights :math:`s_i` (at least one positive); default all ones.
    multinomial : bool or None, default None
        ``None``: binary for two classes, softmax for more.  ``True``: softmax even for two
        classes (``K = 2`` weight vectors).  ``False`` with more than two classes is an error.
    class_weight : None, "balanced" or dict, default None
        Weights per class, multiplied into the sample weights (scikit-learn's
        ``class_weight``): a dict maps class labels to non-negative weights (classes
        missing from it weigh 1); ``"balanced"`` gives class :math:`k` the weight
        :math:`\sum_i s_i / (K \sum_{i: y_i = k} s_i)`, so that every class carries the
        same total weight.

    Returns
    -------
    LogisticObjective
        With ``f``, ``grad``, ``fg``, ``hessp``, ``hess``, ``batch_fg``, ``x0``,
        ``pack``/``unpack``, ``n_params``, ``n_samples``, ``classes_``, ``y_encoded``.

    Raises
    ------
    ValueError
        Empty data, mismatched lengths, NaN/inf in ``X``, ``y`` or ``sample_weight``, fewer
        than two classes, ``C <= 0``, negative or all-zero sample weights, or
        ``multinomial=False`` with more than two classes.
    TypeError
        Non-numeric or complex ``X``, non-integer-like arguments of the wrong type.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.optimize import minimize
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 3)); y = (X[:, 0] + 0.5 * rng.standard_normal(200) > 0)
    >>> obj = logistic_objective(X, y, C=1.0)
    >>> res = minimize(obj.fg, obj.x0(), jac=True, method="L-BFGS-B")
    >>> coef, intercept = obj.unpack(res.x)
    >>> coef.shape, intercept.shape
    ((1, 3), (1,))
    """
    return _build_objective(X, y, C, fit_intercept=fit_intercept, sample_weight=sample_weight,
                            multinomial=multinomial, class_weight=class_weight)


def _build_objective(X, y, C, *, fit_intercept, sample_weight, multinomial, class_weight,
                     defer_finite_check: bool = False) -> LogisticObjective:
    """:func:`logistic_objective`; with ``defer_finite_check`` a dense ``X`` is not checked for
    inf/NaN when its first full pass can run without compiling anything: the caller then
    owns the check (:meth:`LogisticObjective._finite_check_deferred`)."""
    C = check_regularization(C)
    if not isinstance(fit_intercept, bool | np.bool_):
        raise TypeError(f"fit_intercept must be a bool; got {type(fit_intercept).__name__}")
    if multinomial is not None and not isinstance(multinomial, bool | np.bool_):
        raise TypeError(f"multinomial must be None or a bool; got {type(multinomial).__name__}")
    Xc, layout = _as_design(X, check_finite=not defer_finite_check or _sp.issparse(X))
    n_samples, n_features = Xc.shape
    if n_samples == 0:
        raise ValueError("X must have at least one sample; got 0 rows")
    if n_features == 0:
        raise ValueError("X must have at least one feature; got 0 columns")
    y = _check_labels(y, n_samples)
    classes, y_encoded = _encode_labels(y)
    if classes.shape[0] < 2:
        raise ValueError(f"y must contain at least two classes; got one class: {classes.tolist()!r}")
    if multinomial is None:
        multinomial = classes.shape[0] > 2
    elif not multinomial and classes.shape[0] > 2:
        raise ValueError(
            f"multinomial=False needs exactly two classes; y has {classes.shape[0]}"
            " (use multinomial=True or None)"
        )
    sw = _check_sample_weight(sample_weight, n_samples)  # None: unit weights
    if class_weight is not None:
        per_sample = class_weights(class_weight, classes, y_encoded, sw)[y_encoded]
        sw = per_sample if sw is None else sw * per_sample
        if not np.any(sw > 0):
            raise ValueError("class_weight leaves every sample with weight zero")
    obj = LogisticObjective(
        Xc,
        layout,
        np.ascontiguousarray(y_encoded.reshape(-1), dtype=np.int64),
        classes,
        C,
        bool(fit_intercept),
        sw,
        bool(multinomial),
    )
    if defer_finite_check and layout != "csr" and Xc.size and not obj._finite_check_deferred():
        if not all_finite_array(Xc):
            raise ValueError(NOT_FINITE_X)
    return obj
