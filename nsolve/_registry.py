"""Method name -> :class:`~nsolve.methods._base.MethodSpec`."""

from __future__ import annotations

from nsolve.methods import bfgs, first_order, lbfgs, newton, newton_cg
from nsolve.methods._base import MethodSpec

METHODS: dict[str, MethodSpec] = {}
ALIASES: dict[str, str] = {"l-bfgs": "lbfgs", "newtoncg": "newton-cg", "newton_cg": "newton-cg"}


def register(spec: MethodSpec) -> None:
    """Add a method (its name must be new)."""
    if spec.name in METHODS:
        raise ValueError(f"method {spec.name!r} is already registered")
    METHODS[spec.name] = spec


for _module in (bfgs, lbfgs, newton, newton_cg):
    register(_module.SPEC)
for _spec in first_order.SPECS:
    register(_spec)


def get_method(name) -> MethodSpec:
    """Look a method up by name (case-insensitive); unknown names list the valid ones."""
    if not isinstance(name, str):
        raise TypeError(f"method must be a string; got {type(name).__name__}")
    key = name.lower()
    key = ALIASES.get(key, key)
    if key not in METHODS:
        raise ValueError(f"unknown method {name!r}; valid methods: {', '.join(sorted(METHODS))}")
    return METHODS[key]


def method_names() -> list[str]:
    return sorted(METHODS)
