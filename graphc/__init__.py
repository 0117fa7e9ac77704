"""graphc: declare a neural network as a graph, differentiate it four ways, draw it, and
lower it to NumPy training code.

    import graphc as gc
    x = gc.input("x", (None, 4)); W = gc.param("W", (4, 3)); b = gc.param("b", (3,))
    loss = gc.softmax_cross_entropy(x @ W + b, gc.input("y", (None,), "int64"))
"""

from .codegen import Lowered, export, lower
from .diff import (
    check_grad,
    compare,
    cost_table,
    eps_sweep,
    forward_cost,
    forward_gradient,
    forward_jvp_count,
    grad,
    hessian,
    hvp,
    jvp,
    local_rule,
    numeric_grad,
    saturation,
    swell_study,
    symbolic_swell,
    to_sympy,
    vjp,
)
from .errors import (
    DtypeError,
    DuplicateNameError,
    EvaluationError,
    GraphError,
    LoadError,
    MissingValueError,
    ShapeError,
    UnknownOpError,
)
from .evaluation import evaluate, init_params, init_state, inputs, params
from .grid import GridResult, grid_search
from .ir import Node, leaves, scope, substitute, to_networkx, topological_order
from .montecarlo import mc_predict
from .nn import dense, named
from .ops.binary import equal, greater, leaky_relu, maximum, minimum, prelu, where
from .ops.elementwise import abs, exp, log, relu, sigmoid, sign, softplus, sqrt, tanh
from .ops.layers import batch_norm, dropout
from .ops.leaves import const, input, param, state
from .ops.losses import binary_cross_entropy_with_logits, l1, l2, mse, softmax_cross_entropy
from .ops.reductions import log_softmax, logsumexp, mean, softmax, sum
from .ops.registry import REGISTRY, OpDef
from .ops.shape import expand_dims, matmul, one_hot, reshape, transpose
from .passes import CostTable, OptimizeResult, optimize, specialize
from .serialize import load, save

__version__ = "0.1.0"
