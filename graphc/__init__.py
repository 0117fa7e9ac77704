"""graphc: declare a neural network as a graph, differentiate it four ways, draw it, and
lower it to NumPy training code.

    import graphc as gc
    x = gc.input("x", (None, 4)); W = gc.param("W", (4, 3)); b = gc.param("b", (3,))
    loss = gc.softmax_cross_entropy(x @ W + b, gc.input("y", (None,), "int64"))
"""

from .codegen import Lowered, lower
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
    ArgumentError,
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
from .exporting import export
from .grid import GridResult, grid_search
from .ir import Node, leaves, scope, substitute, to_networkx, topological_order
from .limits import set_limits
from .montecarlo import mc_predict
from .nn import conv, dense, named
from .onnx import from_onnx, to_onnx
from .ops.activations import elu, erf, expm1, gelu, silu
from .ops.attention import attention, attention_weights
from .ops.binary import equal, greater, leaky_relu, masked_fill, maximum, minimum, prelu, where
from .ops.cast import cast
from .ops.conv import conv1d, conv2d
from .ops.elementwise import abs, exp, log, relu, sigmoid, sign, softplus, sqrt, tanh
from .ops.gather import embedding, take
from .ops.layers import batch_norm, dropout
from .ops.leaves import const, input, param, state
from .ops.losses import binary_cross_entropy_with_logits, l1, l2, mse, softmax_cross_entropy
from .ops.norm import layer_norm
from .ops.pooling import avg_pool2d, flatten, max_pool2d
from .ops.reductions import log_softmax, logsumexp, mean, softmax, sum
from .ops.registry import REGISTRY, OpDef
from .ops.sequence import concat, split, stack
from .ops.shape import expand_dims, matmul, one_hot, reshape, transpose
from .ops.stats import max, min, std, var
from .passes import CostTable, OptimizeResult, optimize, specialize
from .recurrent import gru_cell, lstm_cell, rnn_cell, unroll
from .serialize import load, save

__version__ = "0.1.0"
