"""Differentiation four ways: reverse, forward, symbolic (SymPy) and numeric."""

from .check import check_grad
from .comparison import compare
from .costs import cost_table
from .forward import forward_gradient, forward_jvp_count, jvp
from .gradient import grad
from .numeric import numeric_grad
from .reverse import vjp
from .saturation_report import saturation
from .second_order import hessian, hvp
from .studies import eps_sweep, forward_cost, swell_study
from .symbolic import symbolic_swell, to_sympy
from .teaching import local_rule

__all__ = [
    "grad",
    "vjp",
    "jvp",
    "forward_gradient",
    "forward_jvp_count",
    "symbolic_swell",
    "to_sympy",
    "hvp",
    "hessian",
    "numeric_grad",
    "check_grad",
    "compare",
    "eps_sweep",
    "forward_cost",
    "swell_study",
    "local_rule",
    "saturation",
    "cost_table",
]
