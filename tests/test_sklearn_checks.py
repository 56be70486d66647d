"""scikit-learn's estimator checks (``sklearn.utils.estimator_checks``) on nsolve.LogisticRegression.

scikit-learn is a test-only dependency: the module is skipped without it.  The estimator
does not inherit from ``sklearn.base.BaseEstimator`` (nsolve does not depend on
scikit-learn); it implements the protocol itself, and these checks are what holds it to it.
"""

from __future__ import annotations

import warnings

import pytest

pytest.importorskip("sklearn")
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from nsolve import LogisticRegression  # noqa: E402

with warnings.catch_warnings():
    # "does not inherit from sklearn.base.BaseEstimator": deliberate, see the module docstring
    warnings.simplefilter("ignore", UserWarning)
    _CHECKS = parametrize_with_checks(
        [LogisticRegression(), LogisticRegression(method="lbfgs"), LogisticRegression(method="newton-cg")]
    )


@_CHECKS
def test_sklearn_compatible_estimator(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        check(estimator)
