"""Objectives of statistical models (logistic regression), ready for :func:`nsolve.minimize`."""

from nsolve.models.logistic import LogisticObjective, logistic_objective

__all__ = ["LogisticObjective", "logistic_objective"]
