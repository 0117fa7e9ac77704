"""Lowering graphs to source code: gc.lower (one function) and gc.export (a training file).

The path, one file per stage:

    graph -> specialize + gc.optimize (emit.prepare)
          -> decompose.py   every op rewritten into primitive ops (OpDef.decompose builders),
                            then the lowering-only fusions of passes/fusion.py (sum(x*x) ->
                            vdot, PReLU's slope factored out), CSE (what decomposed ops
                            share) and dead nodes; which op each primitive stood for
                            follows it through these passes (ir.track_moves)
          -> plan.py        one statement per primitive node, in order, target-independent
          -> a renderer:    render_fast.py (NumPy with `out=` buffers, planned by buffers.py),
                            render_readable.py (NumPy to read), render_jax.py (pure jnp)
          -> module.py      the generated module: imports, copied helper modules
                            (runtime.py, pool.py), constants, functions

export.py (fast NumPy), readable_module.py (NumPy to read: it renders graph nodes, with
readable.py, so that each backward line can carry its chain-rule step) and export_jax.py
assemble the training modules around them, from the parts in module_parts.py.

How to add a renderer (readable NumPy, JAX, ...): write one module that turns a `Plan`
into source, touching nothing upstream. Call `plan_function(outputs, args, namer, ...)`
and render each `Statement` of `plan.statements` as `target = <call>`:
- `call` is an array-API function that NumPy and jax.numpy spell alike ("add", "exp",
  "sum", "max", "matmul", "where", "transpose", "reshape", "broadcast_to", "take",
  "asarray", "vdot", "copy", ...): write your module's prefix and the call, with the
  positional operands `args` and the keyword literals `kwargs` (Python values; render
  them with `names.literal`);
- when `helper` is set, `call` names a function your renderer's own runtime provides
  (today "dropout_mask"(x, rate=, seed=): random draws differ per target);
- an operand is ("var", name), ("lit", value), ("shape", name) for `name.shape`, or
  ("size", name, axes) for the product of `name.shape[a]` over the axes;
- `plan.constants` maps the variables of module-level constants to their arrays;
  `plan.results` are the variables to return; `comment` is the op and the user's line.
Nothing in a plan assumes mutation: a pure-function target ignores `view` and renders
the final "copy" statements as plain assignments if it likes.
"""

from .build_numpy import build_module, export
from .hyper import GridResult, grid_search
from .lowering import Lowered, lower

__all__ = ["GridResult", "Lowered", "build_module", "export", "grid_search", "lower"]
