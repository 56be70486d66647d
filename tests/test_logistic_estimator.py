"""Tests of nsolve.LogisticRegression against scikit-learn and closed-form references.

scikit-learn is the oracle (a test-only dependency): its ``LogisticRegression`` run to a
tight tolerance gives the reference coefficients, and its ``log_loss`` the reference
objective.  Probabilities are checked against formulas written here from the definition.
"""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import nsolve
from nsolve import LogisticRegression
from nsolve.models import estimator as estimator_module

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_iris  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.linear_model import LogisticRegression as SkLR  # noqa: E402
from sklearn.metrics import log_loss  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def sk_tight(X, y, C=1.0, sample_weight=None, fit_intercept=True):
    return SkLR(C=C, solver="newton-cholesky", tol=1e-12, max_iter=1000, fit_intercept=fit_intercept).fit(
        X, y, sample_weight=sample_weight
    )


def params_of(m):
    return np.concatenate([m.coef_.ravel(), np.atleast_1d(m.intercept_).ravel()])


def sk_mean_objective(m, X, y, C, sample_weight=None):
    """scikit-learn's objective: weighted mean log-loss + ||W||^2 / (2 C sum(s))."""
    sw = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
    P = np.clip(m.predict_proba(X), 1e-300, 1.0)
    loss = log_loss(y, P, sample_weight=sw, labels=m.classes_)
    return loss + 0.5 * float(np.sum(m.coef_**2)) / (C * sw.sum())


# --------------------------------------------------------------------------------------
# agreement with scikit-learn
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["auto", "newton", "newton-cg", "lbfgs", "bfgs"])
def test_binary_matches_sklearn(cancer, method):
    X, y = cancer
    ref = sk_tight(X, y, C=0.5)
    ours = LogisticRegression(C=0.5, method=method, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(params_of(ours), params_of(ref), rtol=1e-5, atol=1e-6)
    assert ours.coef_.shape == (1, X.shape[1]) and ours.intercept_.shape == (1,)
    assert ours.objective_ == pytest.approx(sk_mean_objective(ref, X, y, 0.5), rel=1e-9)


@pytest.mark.parametrize("method", ["auto", "newton", "newton-cg", "lbfgs"])
def test_multinomial_matches_sklearn(iris, method):
    X, y = iris
    ref = sk_tight(X, y, C=2.0)
    ours = LogisticRegression(C=2.0, method=method, tol=1e-10).fit(X, y)
    assert ours.coef_.shape == (3, 4) and ours.intercept_.shape == (3,)
    # intercepts are defined up to a common shift: sklearn's and ours both have sum zero at the optimum
    np.testing.assert_allclose(params_of(ours), params_of(ref), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), rtol=1e-6, atol=1e-9)


def test_weights_and_no_intercept_match_sklearn(cancer):
    X, y = cancer
    sw = np.random.default_rng(0).uniform(0.1, 3.0, len(y))
    ref = sk_tight(X, y, C=0.3, sample_weight=sw, fit_intercept=False)
    ours = LogisticRegression(C=0.3, fit_intercept=False).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-6, atol=1e-8)
    np.testing.assert_array_equal(ours.intercept_, [0.0])


@pytest.mark.parametrize("class_weight", ["balanced", {0: 3.0, 1: 0.5}, {1: 2.5}, {0: 1.0, 1: 2.0, 2: 0.25}])
def test_class_weight_matches_sklearn(iris, cancer, class_weight):
    """scikit-learn's class_weight (tight fits): balanced, a dict, a dict missing a class
    (weight 1), and on iris a three-class dict."""
    X, y = iris if len(class_weight) == 3 else cancer
    ref = SkLR(C=0.7, class_weight=class_weight, solver="newton-cholesky", tol=1e-12, max_iter=1000).fit(X, y)
    ours = LogisticRegression(C=0.7, class_weight=class_weight, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(params_of(ours), params_of(ref), rtol=1e-5, atol=1e-6)


def test_class_weight_is_a_sample_weight_per_class(iris):
    """Closed form: balanced weights are sum(s) / (K sum_{y=k} s), multiplied into s; a dict
    equals the same per-sample weights passed as sample_weight."""
    X, y = iris
    keep = np.r_[0:50, 50:80, 100:150]  # imbalanced: 50 / 30 / 50
    X, y = X[keep], y[keep]
    sw = np.random.default_rng(2).uniform(0.5, 2.0, len(y))
    totals = np.bincount(y, weights=sw)
    expected = sw * (sw.sum() / (3 * totals))[y]
    a = LogisticRegression(class_weight="balanced").fit(X, y, sample_weight=sw)
    b = LogisticRegression().fit(X, y, sample_weight=expected)
    np.testing.assert_allclose(params_of(a), params_of(b), rtol=1e-9, atol=1e-11)
    c = LogisticRegression(class_weight={0: 2.0, 2: 0.5}).fit(X, y)
    d = LogisticRegression().fit(X, y, sample_weight=np.array([2.0, 1.0, 0.5])[y])
    np.testing.assert_allclose(params_of(c), params_of(d), rtol=1e-9, atol=1e-11)
    labels = np.array(["a", "b", "c"])[y]  # string labels: keys are the labels
    e = LogisticRegression(class_weight={"a": 2.0, "c": 0.5}).fit(X, labels)
    np.testing.assert_allclose(params_of(e), params_of(d), rtol=1e-9, atol=1e-11)
    # keys for classes a fold lacks are allowed once every present class has one
    f = LogisticRegression(class_weight={0: 2.0, 1: 1.0, 2: 0.5, 7: 9.0}).fit(X, y)
    np.testing.assert_allclose(params_of(f), params_of(d), rtol=1e-9, atol=1e-11)


def test_bad_class_weight(iris):
    X, y = iris
    with pytest.raises(ValueError, match="class_weight must be None, 'balanced' or a dict"):
        LogisticRegression(class_weight="auto").fit(X, y)
    with pytest.raises(TypeError, match="class_weight must be None, 'balanced' or a dict; got list"):
        LogisticRegression(class_weight=[1.0, 2.0, 3.0]).fit(X, y)
    with pytest.raises(ValueError, match=r"class_weight\[1\] must be a finite number >= 0; got -1.0"):
        LogisticRegression(class_weight={1: -1.0}).fit(X, y)
    with pytest.raises(ValueError, match=r"keys that are not classes of y \(\[5\]\)"):
        LogisticRegression(class_weight={0: 1.0, 5: 2.0}).fit(X, y)
    with pytest.raises(ValueError, match="two classes with positive weight"):
        LogisticRegression(class_weight={0: 0.0, 1: 0.0}).fit(X, y)
    assert "class_weight" in LogisticRegression().get_params()


def test_sample_weight_equals_repeated_rows(iris):
    X, y = iris
    rep = np.random.default_rng(1).integers(0, 3, len(y))
    a = LogisticRegression().fit(X, y, sample_weight=rep)
    b = LogisticRegression().fit(np.repeat(X, rep, axis=0), np.repeat(y, rep))
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-6, atol=1e-8)
    # softmax intercepts are defined up to one common shift
    np.testing.assert_allclose(a.intercept_ - a.intercept_.mean(), b.intercept_ - b.intercept_.mean(),
                               rtol=1e-6, atol=1e-8)


def test_sparse_equals_dense(iris):
    X, y = iris
    d = LogisticRegression(method="lbfgs", tol=1e-11).fit(X, y)
    s = LogisticRegression(method="lbfgs", tol=1e-11).fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(params_of(s), params_of(d), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(s.predict_proba(sp.csr_matrix(X)), d.predict_proba(X), atol=1e-8)


def test_softmax_with_two_classes_gives_binary_probabilities(cancer):
    X, y = cancer
    m = LogisticRegression(C=1.0, multinomial=True, tol=1e-12).fit(X, y)
    assert m.coef_.shape == (2, X.shape[1])
    # softmax margins depend on d = W_1 - W_0 only; for fixed d the penalty is smallest at
    # W_1 = -W_0 = d / 2, where (|W_0|^2 + |W_1|^2) / (2C) = |d|^2 / (2 (2C)): binary with C' = 2C
    b2 = LogisticRegression(C=2.0, tol=1e-12).fit(X, y)
    np.testing.assert_allclose(m.coef_[1] - m.coef_[0], b2.coef_[0], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(m.coef_[1], -m.coef_[0], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(m.predict_proba(X), b2.predict_proba(X), rtol=1e-7, atol=1e-10)


# --------------------------------------------------------------------------------------
# prediction methods
# --------------------------------------------------------------------------------------


def test_probabilities_follow_the_definitions(iris, cancer):
    X, y = cancer
    m = LogisticRegression().fit(X, y)
    z = X @ m.coef_[0] + m.intercept_[0]
    np.testing.assert_allclose(m.decision_function(X), z, rtol=1e-12, atol=1e-12)
    p1 = 1.0 / (1.0 + np.exp(-z))
    np.testing.assert_allclose(m.predict_proba(X), np.column_stack([1 - p1, p1]), rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(m.predict(X), m.classes_[(z > 0).astype(int)])
    X3, y3 = iris
    m3 = LogisticRegression().fit(X3, y3)
    Z = X3 @ m3.coef_.T + m3.intercept_
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(m3.predict_proba(X3), P, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(m3.predict_log_proba(X3), np.log(P), rtol=1e-12, atol=1e-12)
    assert m3.score(X3, y3) == pytest.approx(np.mean(m3.predict(X3) == y3))


def test_log_proba_is_stable_at_huge_margins():
    X = np.array([[-1.0], [1.0], [-2.0], [2.0]])
    y = np.array([0, 1, 0, 1])
    m = LogisticRegression(C=1.0).fit(X, y)
    Xb = np.array([[1e6], [-1e6]])
    lp = m.predict_log_proba(Xb)
    assert np.all(np.isfinite(lp))
    assert lp[0, 1] == 0.0 and lp[0, 0] < -1e5  # log(1 - sigma) ~ -margin, not -inf
    np.testing.assert_allclose(m.predict_proba(Xb).sum(axis=1), 1.0)


def test_any_label_type(cancer):
    X, y = cancer
    labels = np.where(y == 1, "benign", "malignant")
    m = LogisticRegression().fit(X, labels)
    assert m.classes_.tolist() == ["benign", "malignant"]
    assert set(m.predict(X)) <= {"benign", "malignant"}
    ref = LogisticRegression().fit(X, (labels == "malignant").astype(int))
    np.testing.assert_allclose(m.coef_, ref.coef_, rtol=1e-10)
    yb = LogisticRegression().fit(X, y.astype(bool))
    assert yb.classes_.tolist() == [False, True]
    yf = LogisticRegression().fit(X, np.where(y == 1, -3.0, 7.0))
    assert yf.classes_.tolist() == [-3.0, 7.0]


# --------------------------------------------------------------------------------------
# method choice, options, warm start, mini-batches
# --------------------------------------------------------------------------------------


def test_auto_rule():
    rng = np.random.default_rng(0)
    small = LogisticRegression().fit(rng.standard_normal((300, 5)), rng.integers(0, 2, 300))
    assert small.method_ == "newton"
    X = rng.standard_normal((1000, 250))  # n q^2 / 2 = 3.1e7 > 3e7
    wide = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
    assert wide.method_ == "lbfgs"
    assert wide.result_.success and wide.n_iter_[0] == wide.result_.nit
    # multinomial: the Hessian's n q1(q1+1)/2 K(K+1)/2 multiply-adds against 3e8
    X = rng.standard_normal((2000, 20))
    y = np.argmax(X[:, :4] + rng.gumbel(size=(2000, 4)), axis=1)
    assert LogisticRegression().fit(X, y).method_ == "newton"  # 2000 * 231 * 10 = 4.6e6
    X = rng.standard_normal((13000, 50))
    y = np.argmax(X[:, :5] + rng.gumbel(size=(13000, 5)), axis=1)
    m = LogisticRegression().fit(X, y)  # 13000 * 1326 * 15 = 2.6e8 <= 3e8
    assert m.method_ == "newton"
    m = LogisticRegression().fit(np.vstack([X, X[:3000]]), np.concatenate([y, y[:3000]]))  # 3.2e8 > 3e8
    assert m.method_ == "lbfgs" and m.result_.success


def test_warm_start_needs_fewer_iterations(cancer):
    X, y = cancer
    m = LogisticRegression(method="lbfgs", warm_start=True).fit(X, y)
    first = m.n_iter_[0]
    m.fit(X, y)
    assert m.n_iter_[0] < first


def test_options_reach_minimize(cancer):
    X, y = cancer
    m = LogisticRegression(method="lbfgs", options={"m": 3, "maxiter": 4}).fit
    with pytest.warns(RuntimeWarning, match="did not converge"):
        fitted = m(X, y)
    assert fitted.n_iter_[0] == 4


def test_adam_minibatch_approaches_the_optimum(cancer):
    X, y = cancer
    best = LogisticRegression().fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a fixed budget of epochs: not converged to tol
        adam = LogisticRegression(method="adam", options={"lr": 0.05, "batch_size": 64, "epochs": 60}).fit(X, y)
    assert adam.method_ == "adam"
    assert adam.objective_ >= best.objective_ * (1 - 1e-12)
    assert adam.objective_ <= best.objective_ * 1.05
    assert adam.score(X, y) > 0.95


# --------------------------------------------------------------------------------------
# scikit-learn protocol
# --------------------------------------------------------------------------------------


def test_params_clone_repr_pickle(iris):
    m = LogisticRegression(C=0.5, method="lbfgs")
    assert m.get_params()["C"] == 0.5
    assert repr(m) == "LogisticRegression(C=0.5, method='lbfgs')"
    c = clone(m)
    assert c.get_params() == m.get_params() and c is not m
    X, y = iris
    m.fit(X, y)
    m2 = pickle.loads(pickle.dumps(m))
    np.testing.assert_array_equal(m2.predict_proba(X), m.predict_proba(X))
    with pytest.raises(ValueError, match="invalid parameter 'gamma'"):
        m.set_params(gamma=1)
    assert nsolve.LogisticRegression is LogisticRegression


def test_not_fitted():
    with pytest.raises(NotFittedError, match="not fitted"):
        LogisticRegression().predict(np.zeros((2, 2)))


# --------------------------------------------------------------------------------------
# bad input: clear errors before any compilation
# --------------------------------------------------------------------------------------


def _xy():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 3))
    return X, (X[:, 0] > 0).astype(int)


@pytest.mark.parametrize(
    "case,exc,match",
    [
        (lambda X, y: ((X[:-1], y), {}, {}), ValueError, "inconsistent numbers of samples"),
        # (inf/NaN in a dense X: checked up front by mini-batch methods, here; a full-batch fit
        # whose first pass is compiled already lets that pass find it: see the tests at the end)
        (lambda X, y: ((np.where(X > 1, np.nan, X), y), {"method": "adam"}, {}), ValueError, "X must be finite"),
        (lambda X, y: ((np.where(X > 1, np.inf, X), y), {"method": "sgd"}, {}), ValueError, "X must be finite"),
        (lambda X, y: ((sp.csr_matrix(np.where(X > 1, np.inf, X)), y), {}, {}), ValueError, "X must be finite"),
        (lambda X, y: ((X, np.where(y == 1, np.nan, 0.0)), {}, {}), ValueError, "y must not contain NaN"),
        (lambda X, y: ((X, np.zeros(20)), {}, {}), ValueError, "at least two classes"),
        (lambda X, y: ((X, np.linspace(0, 1, 20)), {}, {}), ValueError, "Unknown label type: continuous"),
        (lambda X, y: ((X, None), {}, {}), ValueError, "requires y to be passed"),
        (lambda X, y: ((X, y), {"C": 0.0}, {}), ValueError, "C must be > 0"),
        (lambda X, y: ((X, y), {"C": -2}, {}), ValueError, "C must be > 0"),
        (lambda X, y: ((X, y), {"C": 1e-310}, {}), ValueError, "1/C is finite"),  # 1/C overflows
        (lambda X, y: ((X, y), {"method": "adam", "options": {"batch_size": True}}, {}), TypeError,
         "batch_size must be an integer; got bool"),
        (lambda X, y: ((X, y), {"method": "adam", "options": {"batch_size": 32.5}}, {}), TypeError,
         "batch_size must be an integer; got float"),
        (lambda X, y: ((X, y), {"tol": 0.0}, {}), ValueError, "tol must be > 0"),
        (lambda X, y: ((X, y), {"method": "simplex"}, {}), ValueError, "unknown method 'simplex'"),
        (lambda X, y: ((X, y), {"max_iter": -1}, {}), ValueError, "max_iter must be"),
        (lambda X, y: ((X[:0], y[:0]), {}, {}), ValueError, "at least one sample"),
        (lambda X, y: ((X[:, :0], y), {}, {}), ValueError, "0 feature"),
        (lambda X, y: ((X, y), {}, {"sample_weight": np.ones(19)}), ValueError, "sample_weight has 19 entries"),
        (lambda X, y: ((X, y), {}, {"sample_weight": -np.ones(20)}), ValueError, "non-negative"),
        (lambda X, y: ((X, y), {}, {"sample_weight": np.zeros(20)}), ValueError, "all weights are zero"),
        (lambda X, y: ((X, y), {}, {"sample_weight": y.astype(float)}), ValueError, "only one class"),
        (lambda X, y: ((X + 1j, y), {}, {}), ValueError, "Complex data not supported"),
        (lambda X, y: ((X[:, 0], y), {}, {}), ValueError, "X must be 2-D"),
    ],
)
def test_bad_input_is_rejected_before_solving(case, exc, match, monkeypatch):
    def no_solver(*args, **kwargs):  # the solver (and any Numba compilation) must not be reached
        raise AssertionError("minimize was called")

    monkeypatch.setattr(nsolve, "minimize", no_solver)
    X, y = _xy()
    (Xb, yb), params, fit_kw = case(X, y)
    with pytest.raises(exc, match=match):
        LogisticRegression(**params).fit(Xb, yb, **fit_kw)


def test_predict_input_checks():
    X, y = _xy()
    m = LogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="X has 2 features, but LogisticRegression is expecting 3"):
        m.predict(X[:, :2])
    with pytest.raises(ValueError, match="X must be finite"):
        m.predict_proba(np.full((1, 3), np.nan))
    with pytest.raises(ValueError, match="Reshape your data"):
        m.predict(X[0])


def test_column_vector_y_warns_and_works():
    X, y = _xy()
    with pytest.warns(UserWarning, match="column-vector y"):
        m = LogisticRegression().fit(X, y[:, None])
    np.testing.assert_array_equal(m.predict(X), LogisticRegression().fit(X, y).predict(X))


def test_integer_and_non_contiguous_X_are_converted():
    rng = np.random.default_rng(3)
    Xi = rng.integers(-3, 4, size=(60, 8))
    y = (Xi[:, 0] + Xi[:, 1] > 0).astype(int)
    a = LogisticRegression().fit(Xi[:, ::2], y)
    b = LogisticRegression().fit(np.ascontiguousarray(Xi[:, ::2], dtype=float), y)
    np.testing.assert_array_equal(a.coef_, b.coef_)


def test_auto_thresholds_are_documented():
    doc = estimator_module.__doc__
    assert str(estimator_module.AUTO_NEWTON_MAX_PARAMS) in doc


# --------------------------------------------------------------------------------------
# from scikit-learn's own test_logistic.py (ported review)
# --------------------------------------------------------------------------------------


def test_unpenalized_fit_stays_off_the_null_space():
    """C=inf with a duplicated column (binary) or the softmax's shift invariance
    (multinomial, no intercept): the Hessian is singular, and the fit must match
    scikit-learn's (equal weights on equal columns; coefficient columns summing to zero, as
    sklearn's test_multinomial_identifiability_on_iris), not drift along the null space."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=300, n_features=3, n_informative=3, n_redundant=0, random_state=12,
                               flip_y=0.3)
    X2 = np.c_[X, X[:, 0]]
    ours = LogisticRegression(C=np.inf).fit(X2, y)
    assert ours.method_ == "newton"
    ref = SkLR(C=np.inf, tol=1e-12, max_iter=10000).fit(X2, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-5)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-5, atol=1e-8)
    X, y = make_classification(n_samples=300, n_features=4, n_informative=3, n_redundant=0, n_classes=3,
                               random_state=11, flip_y=0.3)
    for fit_intercept in (False, True):
        m = LogisticRegression(C=np.inf, fit_intercept=fit_intercept).fit(X, y)
        assert m.method_ == "newton"
        np.testing.assert_allclose(m.coef_.sum(axis=0), 0.0, atol=1e-9 * np.abs(m.coef_).max())


def test_convergence_warning_is_sklearns_and_a_runtime_warning(cancer):
    from sklearn.exceptions import ConvergenceWarning

    X, y = cancer
    for category in (ConvergenceWarning, RuntimeWarning):
        with pytest.warns(category, match="did not converge"):
            LogisticRegression(max_iter=2, tol=1e-15).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ConvergenceWarning)  # the usual scikit-learn idiom silences it
        LogisticRegression(max_iter=2, tol=1e-15).fit(X, y)


def test_continuous_target_held_as_objects_is_rejected():
    X = np.arange(4.0).reshape(-1, 1)
    with pytest.raises(ValueError, match="continuous"):
        LogisticRegression().fit(X, np.array([0.1, 0.7, 0.2, 0.9], dtype=object))
    with pytest.raises(ValueError, match="continuous"):
        LogisticRegression().fit(X, np.array([0, 1, np.nan, 1], dtype=object))
    m = LogisticRegression().fit(X, np.array([0, 1, 0, 1.0], dtype=object))  # integer-valued numbers: labels
    assert list(m.classes_) == [0, 1]
    assert list(LogisticRegression().fit(X, ["a", 1, "a", 1]).classes_) == ["1", "a"]  # as NumPy (and sklearn)


def test_values_too_large_for_float64_name_x():
    X = np.array([[0.0], [1e80], [1.0], [2.0]])
    with pytest.raises(ValueError, match=r"X is too large for float64 .*1e\+80.*Hessian-vector product.*rescale"):
        LogisticRegression(method="newton-cg").fit(X, [0, 1, 0, 1])


# ---------------------------------------------------------------------------------------
# inf / NaN in a dense X: checked up front, or by the first full pass once its kernel is in
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("K", [2, 3])
@pytest.mark.parametrize("dtype, order", [(np.float64, "C"), (np.float64, "F"), (np.float32, "C")])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("warm", [False, True])
def test_non_finite_x_is_named_whether_or_not_the_check_is_deferred(K, dtype, order, bad, warm):
    from nsolve.models.logistic import _build_objective

    rng = np.random.default_rng(K)
    n, p = 300, 6
    X = np.asarray(rng.standard_normal((n, p)), dtype=dtype, order=order)
    y = np.arange(n) % K
    model = LogisticRegression()
    model.fit(X, y)  # the first pass's kernel is now compiled for this X
    Xbad = X.copy(order="A")
    Xbad[rng.integers(n), rng.integers(p)] = bad
    kw = {"fit_intercept": True, "sample_weight": None, "multinomial": None, "class_weight": None}
    # the deferral happens (no up-front error) ...
    assert _build_objective(Xbad, y, 1.0, **kw, defer_finite_check=True)._finite_check_deferred()
    with pytest.raises(ValueError, match="X must be finite"):
        _build_objective(Xbad, y, 1.0, **kw)
    # ... and the fit names X all the same, from the start (cold) or from a warm start
    if warm:
        model.set_params(warm_start=True)
    with pytest.raises(ValueError, match="X must be finite; it contains inf or NaN"):
        model.fit(Xbad, y)
    with pytest.raises(ValueError, match="X must be finite"):
        LogisticRegression(method="adam").fit(Xbad, y)  # mini-batch: always checked up front


def test_non_finite_x_is_named_before_any_kernel_is_compiled():
    """In a fresh interpreter the first full pass would compile (or load) its kernel: the
    check comes first, and no kernel gets a signature."""
    import subprocess
    import sys

    code = (
        "import numpy as np\n"
        "from nsolve import LogisticRegression\n"
        "from nsolve.models import _logistic_kernels as k\n"
        "X = np.random.default_rng(0).standard_normal((50, 3)); X[7, 1] = np.nan\n"
        "try:\n"
        "    LogisticRegression().fit(X, np.arange(50) % 2)\n"
        "except ValueError as e:\n"
        "    print(e)\n"
        "print(len(k.binary_fg_dense.signatures), len(k.binary_fg_dense_par.signatures))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.splitlines() == ["X must be finite; it contains inf or NaN", "0 0"], out.stdout
