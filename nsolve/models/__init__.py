"""Statistical models on top of :func:`nsolve.minimize`: logistic regression.

:func:`logistic_objective` builds the compiled L2-penalised logistic / multinomial objective
of a data set (functional API); :class:`LogisticRegression` is the scikit-learn-compatible
estimator built on it.
"""

from nsolve.models.estimator import LogisticRegression
from nsolve.models.logistic import LogisticObjective, logistic_objective

__all__ = ["LogisticObjective", "LogisticRegression", "logistic_objective"]
