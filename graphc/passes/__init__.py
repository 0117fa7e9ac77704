"""Passes on the IR, one small module each: dead-node elimination, common-subexpression
elimination, constant folding, algebraic simplification and fusion; `optimize` runs them
in order and records what each did; `specialize` resolves the training/inference ops;
`cost` counts FLOPs and bytes per node."""

from .cost import CostTable
from .cse import eliminate_common_subexpressions
from .dce import eliminate_dead_nodes
from .fold import fold_constants
from .fusion import fuse
from .pattern import P, Rule, graph_rewrite
from .pipeline import DEFAULT_PASSES, PASSES, OptimizeResult, PassStep, optimize
from .simplification import simplify
from .specialization import specialize
