"""Tests of nsolve.models.logistic_objective against independent references.

References: central finite differences, plain NumPy/SciPy formulas written from the
definition, scikit-learn's ``log_loss`` and private ``LinearModelLoss`` (skipped if its API
moves), and scikit-learn's fitted ``LogisticRegression`` coefficients.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import minimize
from scipy.special import logsumexp

import nsolve.models.logistic as logistic_module
from nsolve._validation import FINITE_CHUNK, all_finite_array
from nsolve.models import LogisticObjective, logistic_objective

sklearn = pytest.importorskip("sklearn")
from sklearn.datasets import load_breast_cancer, load_iris  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import log_loss  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

LAYOUTS = ["C64", "F64", "C32", "F32", "CSR64", "CSR32"]


def make_data(n=80, p=5, n_classes=2, seed=0, density=None):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    if density is not None:
        X[rng.random((n, p)) > density] = 0.0
    W = rng.standard_normal((n_classes, p))
    logits = X @ W.T + 0.3 * rng.standard_normal((n, n_classes))
    y = logits.argmax(axis=1)
    y[:n_classes] = np.arange(n_classes)  # every class present
    return X, y


def as_layout(X, layout):
    dtype = np.float32 if layout.endswith("32") else np.float64
    if layout.startswith("CSR"):
        return sp.csr_matrix(X.astype(dtype))
    if layout.startswith("F"):
        return np.asfortranarray(X, dtype=dtype)
    return np.ascontiguousarray(X, dtype=dtype)


def dense_of(obj: LogisticObjective) -> np.ndarray:
    X = obj.X
    return np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float64)


def reference_f(obj: LogisticObjective, w) -> float:
    """Objective written directly from the formula with NumPy/SciPy."""
    X = dense_of(obj)
    coef, b = obj.unpack(w)
    Z = X @ coef.T + b
    s = obj.sample_weight
    y = obj.y_encoded
    if obj.multinomial:
        data = np.sum(s * (logsumexp(Z, axis=1) - Z[np.arange(len(y)), y]))
    else:
        z = Z[:, 0]
        data = np.sum(s * (np.logaddexp(0.0, z) - y * z))
    return data + 0.5 / obj.C * np.sum(coef**2)


def fd_grad(f, w, h=1e-6):
    g = np.empty_like(w)
    for j in range(w.size):
        e = np.zeros_like(w)
        e[j] = h
        g[j] = (f(w + e) - f(w - e)) / (2 * h)
    return g


def random_point(obj, seed=1, scale=0.5):
    return scale * np.random.default_rng(seed).standard_normal(obj.n_params)


def build(kind="binary", layout="C64", fit_intercept=True, weighted=False, C=0.7, n=80, p=5, seed=0):
    n_classes = 2 if kind in ("binary", "softmax2") else 3
    X, y = make_data(
        n=n, p=p, n_classes=n_classes, seed=seed, density=0.6 if layout.startswith("CSR") else None
    )
    sw = np.random.default_rng(seed + 7).uniform(0.0, 3.0, n) if weighted else None
    multinomial = True if kind == "softmax2" else None
    return logistic_objective(
        as_layout(X, layout), y, C, fit_intercept=fit_intercept, sample_weight=sw, multinomial=multinomial
    )


CASES = [
    (kind, layout, fi, wt)
    for kind in ("binary", "multinomial")
    for layout in LAYOUTS
    for fi in (True, False)
    for wt in (False, True)
    if layout in ("C64", "CSR64") or (fi and wt)
]


# --------------------------------------------------------------------------------------
# gradient, objective value, Hessian
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind,layout,fit_intercept,weighted", CASES)
def test_gradient_matches_finite_differences(kind, layout, fit_intercept, weighted):
    obj = build(kind, layout, fit_intercept, weighted)
    w = random_point(obj)
    f, g = obj.fg(w)
    g_fd = fd_grad(obj.f, w)
    np.testing.assert_allclose(g, g_fd, rtol=1e-6, atol=1e-6 * max(1.0, abs(f)) * 1e-2)
    np.testing.assert_array_equal(obj.grad(w), g)
    assert obj.f(w) == f


@pytest.mark.parametrize("kind,layout,fit_intercept,weighted", CASES)
def test_objective_matches_numpy_formula(kind, layout, fit_intercept, weighted):
    obj = build(kind, layout, fit_intercept, weighted)
    for seed in (1, 2):
        w = random_point(obj, seed=seed, scale=1.5)
        assert obj.f(w) == pytest.approx(reference_f(obj, w), rel=1e-12)


@pytest.mark.parametrize("kind", ["binary", "multinomial", "softmax2"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_hessp_matches_finite_difference_of_gradient(kind, layout):
    obj = build(kind, layout, fit_intercept=True, weighted=True)
    w = random_point(obj)
    rng = np.random.default_rng(3)
    H = obj.hess(w)
    np.testing.assert_allclose(H, H.T, rtol=0, atol=1e-12 * np.abs(H).max())
    for _ in range(2):
        v = rng.standard_normal(obj.n_params)
        h = 1e-5
        hv_fd = (obj.grad(w + h * v) - obj.grad(w - h * v)) / (2 * h)
        hv = obj.hessp(w, v)
        np.testing.assert_allclose(hv, hv_fd, rtol=1e-6, atol=1e-7 * np.abs(hv).max())
        np.testing.assert_allclose(H @ v, hv, rtol=1e-11, atol=1e-12 * np.abs(hv).max())


def reference_grad(obj: LogisticObjective, w) -> np.ndarray:
    """Gradient written from the formula: X~^T (s * (prob - onehot(y))) plus the penalty."""
    X = dense_of(obj)
    coef, b = obj.unpack(w)
    Z = X @ coef.T + b
    s, y = obj.sample_weight, obj.y_encoded
    if obj.multinomial:
        R = np.exp(Z - logsumexp(Z, axis=1, keepdims=True))
        R[np.arange(len(y)), y] -= 1.0
    else:
        R = (1.0 / (1.0 + np.exp(-Z[:, 0])) - y)[:, None]
    R *= s[:, None]
    G = R.T @ X + coef / obj.C
    return np.concatenate([G.ravel(), R.sum(axis=0)]) if obj.fit_intercept else G.ravel()


@pytest.mark.parametrize("p", [1, 3, 8, 13, 70, 130])
@pytest.mark.parametrize("layout", ["C64", "C32", "F64"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_dense_pass_every_row_length(p, layout, n_classes):
    # row lengths for both gradient sweeps of the C-order pass (eight rows per sweep; four-row
    # super-rows for 6 <= p <= 12) and a row count that is not a multiple of any block, sweep
    # or super-row size
    X, y = make_data(n=1237, p=p, n_classes=n_classes, seed=p)
    sw = np.random.default_rng(p).uniform(0.0, 2.0, X.shape[0])
    obj = logistic_objective(as_layout(X, layout), y, 0.9, sample_weight=sw)
    w = random_point(obj, seed=p, scale=0.3)
    f, g = obj.fg(w)
    assert f == pytest.approx(reference_f(obj, w), rel=1e-12)
    np.testing.assert_allclose(g, reference_grad(obj, w), rtol=1e-10, atol=1e-10 * np.abs(g).max())
    # Hessian products take the same row blocks and sweeps; the dense Hessian is another kernel
    v = random_point(obj, seed=p + 1)
    hv = obj.hessp(w, v)
    np.testing.assert_allclose(hv, obj.hess(w) @ v, rtol=1e-10, atol=1e-10 * np.abs(hv).max())
    rows = np.random.default_rng(1).integers(0, X.shape[0], 700)
    fb, gb = obj.batch_fg(w, rows)
    sub = logistic_objective(as_layout(X[rows], layout), y[rows], 0.9, sample_weight=sw[rows],
                             multinomial=obj.multinomial)
    scale = X.shape[0] / rows.shape[0]
    pen = 0.5 / obj.C * np.sum(obj.unpack(w)[0] ** 2)
    if sub.n_classes == obj.n_classes:
        assert fb == pytest.approx(scale * (reference_f(sub, w) - pen) + pen, rel=1e-12)
        coef = obj.unpack(w)[0].ravel() / obj.C
        g_pen = np.concatenate([coef, np.zeros(obj.n_params - obj.n_coef)])
        g_ref = scale * (reference_grad(sub, w) - g_pen) + g_pen
        np.testing.assert_allclose(gb, g_ref, rtol=1e-10, atol=1e-10 * np.abs(g_ref).max())


@pytest.mark.parametrize("layout", ["C64", "CSR64"])
def test_binary_hessian_equals_weighted_gram(layout):
    obj = build("binary", layout, fit_intercept=True, weighted=True)
    w = random_point(obj)
    X1 = np.hstack([dense_of(obj), np.ones((obj.n_samples, 1))])
    sig = 1.0 / (1.0 + np.exp(-(X1 @ w)))
    D = obj.sample_weight * sig * (1.0 - sig)
    ref = X1.T @ (D[:, None] * X1)
    ref[np.arange(obj.n_features), np.arange(obj.n_features)] += 1.0 / obj.C
    np.testing.assert_allclose(obj.hess(w), ref, rtol=1e-12, atol=1e-13 * np.abs(ref).max())


@pytest.mark.parametrize("kind", ["binary", "multinomial"])
@pytest.mark.parametrize("layout", ["C64", "F32"])
def test_hessian_compiled_and_blas_paths_agree(kind, layout, monkeypatch):
    obj = build(kind, layout, fit_intercept=True, weighted=True, n=83, p=6)
    w = random_point(obj)
    H_compiled = obj.hess(w)
    monkeypatch.setattr(logistic_module, "_HESS_COMPILED_MAX_WORK", 0)
    monkeypatch.setattr(logistic_module, "_HESS_BLOCK_ELEMS", 50)  # several row blocks
    H_blas = obj.hess(w)
    np.testing.assert_allclose(H_blas, H_compiled, rtol=1e-12, atol=1e-13 * np.abs(H_compiled).max())
    np.testing.assert_array_equal(H_blas, H_blas.T)


def test_csr_with_duplicate_and_unsorted_indices():
    X, y = make_data(n=30, p=4, n_classes=3)
    rng = np.random.default_rng(0)
    data, indices, indptr = [], [], [0]
    for i in range(X.shape[0]):
        cols = np.r_[np.arange(4), np.arange(4)]  # every entry split into two duplicates
        vals = np.r_[0.25 * X[i], 0.75 * X[i]]
        order = rng.permutation(8)
        data.extend(vals[order])
        indices.extend(cols[order])
        indptr.append(len(data))
    Xs = sp.csr_matrix((np.array(data), np.array(indices), np.array(indptr)), shape=X.shape)
    assert not Xs.has_canonical_format
    obj = logistic_objective(Xs, y, 0.7)
    ref = logistic_objective(X, y, 0.7)
    w = random_point(obj)
    np.testing.assert_allclose(obj.fg(w)[1], ref.fg(w)[1], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(obj.hess(w), ref.hess(w), rtol=1e-12, atol=1e-12)
    v = random_point(obj, seed=3)
    np.testing.assert_allclose(obj.hessp(w, v), ref.hessp(w, v), rtol=1e-12, atol=1e-12)
    yb = (y > 0).astype(int)
    ob, rb = logistic_objective(Xs, yb, 0.7), logistic_objective(X, yb, 0.7)
    wb = random_point(ob)
    np.testing.assert_allclose(ob.hess(wb), rb.hess(wb), rtol=1e-12, atol=1e-12)


def test_malformed_csr_is_rejected_before_the_kernels_read_it():
    """The kernels trust the CSR structure (int32 column indices are read as uint32, without
    bounds checks): a column index out of range or a decreasing indptr must be an error."""
    data, indptr = np.ones(3), np.array([0, 2, 3])
    bad = sp.csr_matrix((data, np.array([0, 1, 1]), indptr), shape=(2, 2))
    bad.indices[1] = 7  # past the last column, after construction
    with pytest.raises(ValueError, match="X is not a valid CSR matrix"):
        logistic_objective(bad, np.array([0, 1]))
    bad2 = sp.csr_matrix((data, np.array([0, 1, 1]), indptr), shape=(2, 2))
    bad2.indices[0] = -1
    with pytest.raises(ValueError, match="X is not a valid CSR matrix"):
        logistic_objective(bad2, np.array([0, 1]))


@pytest.mark.parametrize("layout", ["CSR64", "CSR32"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("n_classes", [3, 6])
def test_csr_multinomial_passes_equal_dense(layout, fit_intercept, n_classes):
    """The CSR multinomial kernels work in feature-major order and form the Hessian from its
    distinct entries; the dense kernels (class-major) are the reference."""
    X, y = make_data(n=90, p=7, n_classes=n_classes, seed=4, density=0.5)
    sw = np.random.default_rng(2).uniform(0.0, 2.0, X.shape[0])
    Xs = as_layout(X, layout)
    obj = logistic_objective(Xs, y, 0.9, fit_intercept=fit_intercept, sample_weight=sw)
    ref = logistic_objective(dense_of(obj), y, 0.9, fit_intercept=fit_intercept, sample_weight=sw)
    w = random_point(obj, scale=1.0)
    v = random_point(obj, seed=6)
    f, g = obj.fg(w)
    fr, gr = ref.fg(w)
    assert f == pytest.approx(fr, rel=1e-13)
    np.testing.assert_allclose(g, gr, rtol=1e-12, atol=1e-13 * np.abs(gr).max())
    np.testing.assert_allclose(obj.hessp(w, v), ref.hessp(w, v), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(obj.hess(w), ref.hess(w), rtol=1e-12, atol=1e-13)
    rows = np.array([5, 0, 5, 77, 31])
    fb, gb = obj.batch_fg(w, rows)
    fbr, gbr = ref.batch_fg(w, rows)
    assert fb == pytest.approx(fbr, rel=1e-13)
    np.testing.assert_allclose(gb, gbr, rtol=1e-12, atol=1e-13 * np.abs(gbr).max())


# --------------------------------------------------------------------------------------
# scikit-learn references
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("weighted", [False, True])
def test_value_at_sklearn_solution_equals_log_loss(n_classes, weighted):
    X, y = make_data(n=120, p=4, n_classes=n_classes, seed=5)
    sw = np.random.default_rng(1).uniform(0.5, 2.0, X.shape[0]) if weighted else None
    C = 0.5
    clf = LogisticRegression(C=C, tol=1e-10, max_iter=10000).fit(X, y, sample_weight=sw)
    obj = logistic_objective(X, y, C, sample_weight=sw)
    w = obj.pack(clf.coef_, clf.intercept_)
    expected = log_loss(y, clf.predict_proba(X), sample_weight=sw, normalize=False) + np.sum(clf.coef_**2) / (
        2 * C
    )
    assert obj.f(w) == pytest.approx(expected, rel=1e-10)
    # sklearn's solution is a stationary point of our objective (same minimiser)
    g = obj.grad(w)
    assert np.abs(g).max() < 1e-5 * max(1.0, obj.f(w))


@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_matches_sklearn_linear_model_loss(n_classes, fit_intercept):
    try:
        from sklearn._loss.loss import HalfBinomialLoss, HalfMultinomialLoss
        from sklearn.linear_model._linear_loss import LinearModelLoss
    except ImportError:  # private API moved
        pytest.skip("sklearn private LinearModelLoss not available")
    X, y = make_data(n=90, p=5, n_classes=n_classes, seed=2)
    sw = np.random.default_rng(4).uniform(0.1, 2.0, X.shape[0])
    C = 0.3
    obj = logistic_objective(X, y, C, fit_intercept=fit_intercept, sample_weight=sw)
    w = random_point(obj, scale=1.0)
    coef, b = obj.unpack(w)
    base = HalfBinomialLoss() if n_classes == 2 else HalfMultinomialLoss(n_classes=n_classes)
    lml = LinearModelLoss(base_loss=base, fit_intercept=fit_intercept)
    ck = np.hstack([coef, b[:, None]]) if fit_intercept else coef
    ck = ck.ravel() if n_classes == 2 else ck
    sw_sum = sw.sum()
    l2 = 1.0 / (C * sw_sum)
    yf = y.astype(np.float64)
    loss, grad = lml.loss_gradient(ck, X, yf, sample_weight=sw, l2_reg_strength=l2)
    grad = np.asarray(grad).reshape(obj._K, -1)
    our_g = np.concatenate([grad[:, : obj.n_features].ravel(), grad[:, obj.n_features :].ravel()])
    f, g = obj.fg(w)
    assert f == pytest.approx(loss * sw_sum, rel=1e-12)
    np.testing.assert_allclose(g, our_g * sw_sum, rtol=1e-10, atol=1e-12)
    _, hessp = lml.gradient_hessian_product(ck, X, yf, sample_weight=sw, l2_reg_strength=l2)[:2]
    v = np.random.default_rng(9).standard_normal(obj.n_params)
    vc, vb = obj.unpack(v)
    vk = np.hstack([vc, vb[:, None]]) if fit_intercept else vc
    vk = vk.ravel() if n_classes == 2 else vk
    hv = np.asarray(hessp(vk)).reshape(obj._K, -1)
    our_hv = np.concatenate([hv[:, : obj.n_features].ravel(), hv[:, obj.n_features :].ravel()])
    np.testing.assert_allclose(obj.hessp(w, v), our_hv * sw_sum, rtol=1e-10, atol=1e-11)


def _standardised(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def test_end_to_end_lbfgs_matches_sklearn_breast_cancer():
    X, y = _standardised(load_breast_cancer)
    obj = logistic_objective(X, y, 1.0)
    res = minimize(
        obj.fg,
        obj.x0(),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 10000, "ftol": 1e-15, "gtol": 1e-10},
    )
    clf = LogisticRegression(C=1.0, tol=1e-10, max_iter=10000).fit(X, y)
    coef, intercept = obj.unpack(res.x)
    ref = np.r_[clf.coef_.ravel(), clf.intercept_]
    np.testing.assert_allclose(np.r_[coef.ravel(), intercept], ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())


def test_newton_with_full_hessian_matches_sklearn_breast_cancer():
    X, y = _standardised(load_breast_cancer)
    obj = logistic_objective(np.asfortranarray(X), y, 1.0)
    w = obj.x0()
    for _ in range(30):
        f, g = obj.fg(w)
        if np.abs(g).max() < 1e-11 * max(1.0, f):
            break
        w = w - np.linalg.solve(obj.hess(w), g)
    clf = LogisticRegression(C=1.0, tol=1e-10, max_iter=10000).fit(X, y)
    ref = np.r_[clf.coef_.ravel(), clf.intercept_]
    np.testing.assert_allclose(w, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())


def test_end_to_end_multinomial_matches_sklearn_iris():
    X, y = _standardised(load_iris)
    obj = logistic_objective(X, y, 1.0)
    assert obj.multinomial and obj.n_params == 3 * 4 + 3
    res = minimize(
        obj.fg,
        obj.x0(),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 10000, "ftol": 1e-15, "gtol": 1e-10},
    )
    clf = LogisticRegression(C=1.0, tol=1e-10, max_iter=10000).fit(X, y)
    coef, intercept = obj.unpack(res.x)
    np.testing.assert_allclose(coef, clf.coef_, rtol=1e-5, atol=1e-5 * np.abs(clf.coef_).max())
    # intercepts are identified only up to a common shift
    np.testing.assert_allclose(
        intercept - intercept.mean(), clf.intercept_ - clf.intercept_.mean(), rtol=1e-5, atol=1e-5
    )


# --------------------------------------------------------------------------------------
# numerical stability
# --------------------------------------------------------------------------------------


def test_binary_stable_at_huge_margins():
    X = np.array([[1e4], [-1e4], [1e4], [-1e4]])
    y = np.array([1, 1, 0, 0])  # rows 0 and 3 right by margin 1e4, rows 1 and 2 wrong by 1e4
    obj = logistic_objective(X, y, np.inf, fit_intercept=False)
    f, g = obj.fg(np.array([1.0]))
    assert f == 2e4  # log(1 + e^{1e4}) = 1e4 to double precision; right rows add e^{-1e4} = 0
    # d/dw: wrong rows have residual sigma(z) - y = -1 (row 1, x=-1e4) and +1 (row 2, x=1e4)
    np.testing.assert_allclose(g, [2e4], rtol=1e-15)
    H = obj.hess(np.array([1.0]))
    assert np.all(np.isfinite(H)) and H[0, 0] == 0.0
    # small margins keep relative accuracy: log(1 + e^{-40})
    obj2 = logistic_objective(np.array([[40.0], [-40.0]]), np.array([1, 0]), np.inf, fit_intercept=False)
    f2, g2 = obj2.fg(np.array([1.0]))
    expected = 2 * math.log1p(math.exp(-40.0))
    assert f2 == pytest.approx(expected, rel=1e-14)
    assert g2[0] == pytest.approx(-2 * 40.0 * math.exp(-40.0) / (1 + math.exp(-40.0)), rel=1e-13)


def test_multinomial_stable_at_huge_margins():
    X = np.array([[1e4], [-1e4], [0.0], [0.0]])
    y = np.array([0, 0, 2, 1])
    obj = logistic_objective(X, y, np.inf, fit_intercept=False)
    W = np.array([1.0, 0.0, -1.0])  # z_i = x_i * W
    f, g = obj.fg(W)
    # row 0: z = (1e4, 0, -1e4), label 0 -> loss ~ e^{-1e4} = 0
    # row 1: z = (-1e4, 0, 1e4), label 0 -> loss = 2e4; rows 2, 3: z = 0 -> log 3 each
    assert f == pytest.approx(2e4 + 2 * math.log(3.0), rel=1e-15)
    assert np.all(np.isfinite(g)) and np.all(np.isfinite(obj.hess(W)))
    # row 1 gradient: (pi - e_0) * x = (0 - 1, 0, 1 - 0) * (-1e4)
    np.testing.assert_allclose(g, [1e4, 0.0, -1e4], rtol=1e-12)


# --------------------------------------------------------------------------------------
# mini-batches
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["binary", "multinomial"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_batch_over_all_rows_equals_full(kind, layout):
    obj = build(kind, layout, fit_intercept=True, weighted=True)
    w = random_point(obj)
    f, g = obj.fg(w)
    fb, gb = obj.batch_fg(w, np.arange(obj.n_samples))
    assert fb == pytest.approx(f, rel=1e-13)
    np.testing.assert_allclose(gb, g, rtol=1e-12, atol=1e-13 * np.abs(g).max())
    # shuffled order: same value to rounding
    perm = np.random.default_rng(0).permutation(obj.n_samples)
    fp, gp = obj.batch_fg(w, perm)
    assert fp == pytest.approx(f, rel=1e-12)
    np.testing.assert_allclose(gp, g, rtol=1e-10, atol=1e-12 * np.abs(g).max())


@pytest.mark.parametrize("kind", ["binary", "multinomial"])
@pytest.mark.parametrize("layout", ["C64", "F32", "CSR64"])
def test_batch_scaling_is_unbiased(kind, layout):
    obj = build(kind, layout, fit_intercept=True, weighted=True, n=80)
    w = random_point(obj)
    f, g = obj.fg(w)
    parts = np.random.default_rng(2).permutation(obj.n_samples).reshape(4, 20)
    ests = [obj.batch_fg(w, idx) for idx in parts]
    assert np.mean([e[0] for e in ests]) == pytest.approx(f, rel=1e-12)
    np.testing.assert_allclose(np.mean([e[1] for e in ests], axis=0), g, rtol=1e-10, atol=1e-12)
    # one batch against the formula: (n / m) * data term on the batch + full penalty
    idx = np.array([0, 1, 2, 2, 17, 40, 79])  # rows 0..2 cover every class (see make_data)
    sub = logistic_objective(
        dense_of(obj)[idx],
        obj.classes_[obj.y_encoded[idx]],
        obj.C,
        sample_weight=obj.sample_weight[idx],
        multinomial=obj.multinomial,
    )
    pen = 0.5 / obj.C * np.sum(w[: obj.n_coef] ** 2)
    fb, gb = obj.batch_fg(w, idx)
    fs, gs = sub.fg(w)
    scale = obj.n_samples / idx.size
    assert fb == pytest.approx(scale * (fs - pen) + pen, rel=1e-12)
    gpen = np.r_[w[: obj.n_coef] / obj.C, np.zeros(obj.n_params - obj.n_coef)]
    np.testing.assert_allclose(gb, scale * (gs - gpen) + gpen, rtol=1e-11, atol=1e-12)


# --------------------------------------------------------------------------------------
# parallel path, caching, encoding, conversions
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["binary", "multinomial"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_parallel_chunks_match_single_chunk(kind, layout, monkeypatch):
    obj = build(kind, layout, fit_intercept=True, weighted=True)
    w = random_point(obj)
    v = random_point(obj, seed=5)
    f1, g1 = obj.fg(w)
    hv1, H1 = obj.hessp(w, v), obj.hess(w)
    fb1, gb1 = obj.batch_fg(w, np.arange(0, obj.n_samples, 3))
    monkeypatch.setattr(logistic_module, "_WORK_PER_CHUNK", 1)
    obj2 = build(kind, layout, fit_intercept=True, weighted=True)
    f2, g2 = obj2.fg(w)
    assert f2 == pytest.approx(f1, rel=1e-13)
    np.testing.assert_allclose(g2, g1, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(obj2.hessp(w, v), hv1, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(obj2.hess(w), H1, rtol=1e-12, atol=1e-13)
    fb2, gb2 = obj2.batch_fg(w, np.arange(0, obj.n_samples, 3))
    assert fb2 == pytest.approx(fb1, rel=1e-13)
    np.testing.assert_allclose(gb2, gb1, rtol=1e-12, atol=1e-13)


def test_cache_is_per_point_and_returns_copies():
    obj = build("binary")
    w = random_point(obj)
    g = obj.grad(w)
    g[:] = 0.0
    assert np.abs(obj.grad(w)).max() > 0
    w2 = w + 0.1
    assert obj.f(w2) == pytest.approx(reference_f(obj, w2), rel=1e-12)
    # hessp at a point never evaluated before refreshes the curvature state
    obj.f(w)
    v = random_point(obj, seed=4)
    np.testing.assert_allclose(obj.hessp(w2, v), obj.hess(w2) @ v, rtol=1e-12)


@pytest.mark.parametrize("kind", ["binary", "multinomial"])
@pytest.mark.parametrize("layout", ["C64", "F32", "CSR64"])
def test_hessian_after_gradient_only_passes(kind, layout):
    # Gradient-only passes skip the per-row curvature; the first Hessian product or Hessian at
    # a point evaluated that way must compute it, and every later pass must keep it current.
    obj = build(kind, layout, fit_intercept=True, weighted=True)
    ref = build(kind, layout, fit_intercept=True, weighted=True)  # for finite differences only
    w1, w2 = random_point(obj, seed=1), random_point(obj, seed=2)
    v = random_point(obj, seed=5)

    def hv_fd(w):
        h = 1e-5
        return (ref.grad(w + h * v) - ref.grad(w - h * v)) / (2 * h)

    def close(hv, w):
        fd = hv_fd(w)
        np.testing.assert_allclose(hv, fd, rtol=1e-6, atol=1e-7 * np.abs(fd).max())

    obj.fg(w1)
    close(obj.hessp(w1, v), w1)
    obj.fg(w2)
    close(obj.hess(w2) @ v, w2)
    obj.f(w1)
    close(obj.hessp(w1, v), w1)
    fresh = build(kind, layout, fit_intercept=True, weighted=True)
    fresh.grad(w2)
    close(fresh.hess(w2) @ v, w2)


def test_label_encoding_any_type():
    X, y = make_data(n=40, p=3, n_classes=3, seed=3)
    names = np.array(["setosa", "versicolor", "virginica"], dtype=object)
    o_int = logistic_objective(X, y, 1.0)
    o_str = logistic_objective(X, names[y], 1.0)
    o_odd = logistic_objective(X, np.array([-7, 2, 11])[y], 1.0)
    w = random_point(o_int)
    assert o_str.f(w) == o_int.f(w) == o_odd.f(w)
    assert list(o_str.classes_) == list(names)
    np.testing.assert_array_equal(o_str.y_encoded, y)
    # binary: the larger label is the positive class (sklearn convention)
    Xb, yb = make_data(n=40, p=3, seed=3)
    o01 = logistic_objective(Xb, yb, 1.0)
    opm = logistic_objective(Xb, np.where(yb == 1, "yes", "no"), 1.0)
    wb = random_point(o01)
    assert not opm.multinomial and list(opm.classes_) == ["no", "yes"]
    assert opm.f(wb) == o01.f(wb)


_LABEL_CASES = [
    np.array([0, 1, 1, 0]),
    np.array([-3, -2, -2]),
    np.array([5, 9, 7, 5], dtype=np.uint8),
    np.array([0, 255], dtype=np.uint8),
    np.array([-128, 127], dtype=np.int8),
    np.array([3, 4, 3], dtype=np.uint64),
    np.array([2**63 + 5, 2**63 + 6], dtype=np.uint64),  # beyond int64: sorted instead
    np.array([np.iinfo(np.int64).min, np.iinfo(np.int64).max]),
    np.array([3, 3, 3]),
    np.array([0, 1000, 9000, 1000]),
    np.array([True, False, True]),
    np.array([True]),
    np.array([0.0, 1.0, 1.0], dtype=np.float32),
    np.array([2.5, -7.25, 2.5]),  # two non-integer values
    np.array([0.0, 2.0, 1.0]),  # three values
    np.array([0.5, 1.5, 0.5, 1.0]),
    np.array([-0.0, 0.0, 1.0]),
    np.array([1e300, -1e300]),
    np.array([1.0, 1.0]),
    np.array(["b", "a", "b"]),
]


@pytest.mark.parametrize("y", _LABEL_CASES, ids=lambda y: f"{y.dtype}-{y.size}")
def test_label_encoding_matches_numpy_unique(y):
    from nsolve.models.logistic import _encode_labels

    y_before = y.copy()
    classes, code = _encode_labels(y)
    ref_classes, ref_code = np.unique(y, return_inverse=True)
    assert classes.dtype == ref_classes.dtype
    np.testing.assert_array_equal(classes, ref_classes)
    assert code.dtype == np.int64
    np.testing.assert_array_equal(code, ref_code.reshape(-1))
    assert not np.shares_memory(code, y)  # the objective keeps it: never the caller's array
    np.testing.assert_array_equal(y, y_before)


def test_softmax_with_two_classes_and_binary_agree_at_the_optimum():
    X, y = make_data(n=60, p=3, seed=8)
    ob = logistic_objective(X, y, 1.0)
    om = logistic_objective(X, y, 1.0, multinomial=True)
    assert om.n_params == 2 * 3 + 2
    # softmax with (W, b) and -(W, b) halves equals binary with 2W, 2b (penalty differs by half)
    wb = random_point(ob)
    coef, b = ob.unpack(wb)
    wm = om.pack(np.vstack([-coef / 2, coef / 2]), np.r_[-b / 2, b / 2])
    pen_b = 0.5 * np.sum(coef**2)
    pen_m = 0.5 * 2 * np.sum((coef / 2) ** 2)
    assert om.f(wm) - pen_m == pytest.approx(ob.f(wb) - pen_b, rel=1e-12)


def test_integer_and_non_contiguous_inputs_are_converted():
    X, y = make_data(n=50, p=4, seed=2)
    Xi = np.round(3 * X).astype(np.int32)
    o_int = logistic_objective(Xi, y, 1.0)
    assert o_int.X.dtype == np.float64 and o_int.layout == "C"
    o_ref = logistic_objective(Xi.astype(np.float64), y, 1.0)
    wide = np.zeros((50, 8))
    wide[:, ::2] = X
    o_nc = logistic_objective(wide[:, ::2], y, 1.0)
    assert o_nc.layout == "C"
    w = random_point(o_int)
    assert o_int.f(w) == o_ref.f(w)
    assert o_nc.f(w) == logistic_objective(X, y, 1.0).f(w)
    # float32 is kept as float32 (no copy) and other sparse formats become CSR
    X32 = X.astype(np.float32)
    assert logistic_objective(X32, y).X is X32
    assert logistic_objective(sp.csc_matrix(X), y).layout == "csr"
    assert logistic_objective(np.asfortranarray(X), y).layout == "F"


def test_pack_unpack_roundtrip_and_shapes():
    obj = build("multinomial", fit_intercept=True)
    w = random_point(obj)
    coef, b = obj.unpack(w)
    assert coef.shape == (3, obj.n_features) and b.shape == (3,)
    np.testing.assert_array_equal(obj.pack(coef, b), w)
    ob = build("binary", fit_intercept=False)
    coef, b = ob.unpack(ob.x0())
    assert coef.shape == (1, ob.n_features) and b.shape == (1,) and ob.n_params == ob.n_features
    assert obj.x0().shape == (obj.n_params,) and not obj.x0().any()
    assert obj.n_samples == 80
    assert "multinomial" in repr(obj)


def test_inf_C_means_no_penalty():
    obj = build("binary", C=np.inf)
    w = random_point(obj)
    Xb = np.hstack([dense_of(obj), np.ones((obj.n_samples, 1))])
    z = Xb @ w
    assert obj.f(w) == pytest.approx(np.sum(np.logaddexp(0, z) - obj.y_encoded * z), rel=1e-12)


# --------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------


def _xy():
    X, y = make_data(n=20, p=3)
    return X, y


@pytest.mark.parametrize(
    "mutate,exc,match",
    [
        (lambda X, y: (X[:-1], y, {}), ValueError, "inconsistent numbers of samples"),
        (lambda X, y: (np.where(np.arange(3) == 1, np.nan, X), y, {}), ValueError, "X must be finite"),
        (lambda X, y: (np.where(np.arange(3) == 1, np.inf, X), y, {}), ValueError, "X must be finite"),
        (lambda X, y: (sp.csr_matrix(np.where(X > 1, np.nan, X)), y, {}), ValueError, "X must be finite"),
        (
            lambda X, y: (X, np.where(np.arange(20) == 3, np.nan, y.astype(float)), {}),
            ValueError,
            "y must not",
        ),
        (lambda X, y: (X, np.array([1.0, None] * 10, dtype=object), {}), ValueError, "y must not"),
        (lambda X, y: (X, np.zeros(20), {}), ValueError, "at least two classes"),
        (lambda X, y: (X, y, {"C": 0.0}), ValueError, "C must be > 0"),
        (lambda X, y: (X, y, {"C": -1.0}), ValueError, "C must be > 0"),
        (lambda X, y: (X, y, {"C": float("nan")}), ValueError, "C must not be NaN"),
        (lambda X, y: (X, y, {"C": "1"}), TypeError, "C must be a real number"),
        (lambda X, y: (X[:0], y[:0], {}), ValueError, "at least one sample"),
        (lambda X, y: (X[:, :0], y, {}), ValueError, "at least one feature"),
        (lambda X, y: (X[:, 0], y, {}), ValueError, "X must be 2-D"),
        (lambda X, y: (X + 1j, y, {}), TypeError, "X must be real"),
        (lambda X, y: (X.astype(str), y, {}), TypeError, "X must"),
        (lambda X, y: (X, y.reshape(4, 5), {}), ValueError, "y must be 1-D"),
        (lambda X, y: (X, y, {"sample_weight": np.ones(19)}), ValueError, "sample_weight has 19 entries"),
        (
            lambda X, y: (X, y, {"sample_weight": -np.ones(20)}),
            ValueError,
            "sample_weight must be non-negative",
        ),
        (lambda X, y: (X, y, {"sample_weight": np.zeros(20)}), ValueError, "at least one positive"),
        (
            lambda X, y: (X, y, {"sample_weight": np.full(20, np.nan)}),
            ValueError,
            "sample_weight must be finite",
        ),
        (lambda X, y: (X, y, {"fit_intercept": 1}), TypeError, "fit_intercept must be a bool"),
        (
            lambda X, y: (X, y % 3 + np.arange(20) % 3, {"multinomial": False}),
            ValueError,
            "exactly two classes",
        ),
        (lambda X, y: (None, y, {}), TypeError, "X must be"),
    ],
)
def test_validation_errors_name_the_argument(mutate, exc, match):
    X, y = _xy()
    Xm, ym, kw = mutate(X, y)
    kw = {"C": 1.0, **kw}
    C = kw.pop("C")
    with pytest.raises(exc, match=match):
        logistic_objective(Xm, ym, C, **kw)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
def test_finiteness_check_of_large_X_finds_every_bad_entry(dtype, order):
    """The chunked check of X against NumPy's whole-array one, around the chunk boundaries,
    and the error it gives through logistic_objective (before any kernel runs)."""
    chunk = FINITE_CHUNK
    rows, p = (2 * chunk + 7) // 3 + 1, 3  # more than two chunks, the last one partial
    X = np.asarray(np.random.default_rng(0).standard_normal((rows, p)), dtype=dtype, order=order)
    y = np.arange(rows) % 2
    assert all_finite_array(X)
    flat_positions = [0, chunk - 1, chunk, 2 * chunk - 1, 2 * chunk, X.size - 1]
    for pos in flat_positions:
        for bad in (np.nan, np.inf, -np.inf):
            Xb = X.copy(order=order)
            Xb.ravel(order="K")[pos] = bad  # memory order: position `pos` in the buffer
            assert np.shares_memory(Xb.ravel(order="K"), Xb)
            assert all_finite_array(Xb) == bool(np.isfinite(Xb).all()) is False
            with pytest.raises(ValueError, match="X must be finite"):
                logistic_objective(Xb, y, 1.0)
            # CSR: the same check on the stored values
            with pytest.raises(ValueError, match="X must be finite"):
                logistic_objective(sp.csr_matrix(Xb), y, 1.0)


def test_method_argument_validation():
    obj = build("binary")
    with pytest.raises(ValueError, match=r"w must have shape \(6,\)"):
        obj.f(np.zeros(5))
    with pytest.raises(ValueError, match=r"p must have shape"):
        obj.hessp(obj.x0(), np.zeros(2))
    with pytest.raises(ValueError, match="idx must lie in"):
        obj.batch_fg(obj.x0(), np.array([0, obj.n_samples]))
    with pytest.raises(ValueError, match="idx must lie in"):
        obj.batch_fg(obj.x0(), np.array([-1]))
    with pytest.raises(ValueError, match="non-empty"):
        obj.batch_fg(obj.x0(), np.array([], dtype=int))
    with pytest.raises(TypeError, match="idx must contain integers"):
        obj.batch_fg(obj.x0(), np.array([0.0, 1.0]))


@pytest.mark.parametrize("method,kw", [("Newton-CG", "hessp"), ("trust-exact", "hess")])
def test_usable_with_scipy_second_order_methods(method, kw):
    X, y = _standardised(load_breast_cancer)
    obj = logistic_objective(X, y, 1.0)
    res = minimize(obj.f, obj.x0(), jac=obj.grad, method=method, **{kw: getattr(obj, kw)}, tol=1e-12)
    clf = LogisticRegression(C=1.0, tol=1e-10, max_iter=10000).fit(X, y)
    ref = np.r_[clf.coef_.ravel(), clf.intercept_]
    np.testing.assert_allclose(res.x, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


@pytest.mark.parametrize("kind", ["binary", "multinomial"])
def test_decision_function(kind):
    obj = build(kind, "CSR64")
    w = random_point(obj)
    coef, b = obj.unpack(w)
    Z = dense_of(obj) @ coef.T + b
    expected = Z if obj.multinomial else Z[:, 0]
    np.testing.assert_allclose(obj.decision_function(w), expected, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(
        obj.decision_function(w, dense_of(obj)[:5]), expected[:5], rtol=1e-13, atol=1e-13
    )
