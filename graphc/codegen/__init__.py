"""Code generation: gc.lower (one function) and gc.export (a training file).

The stages, one file each, in the order a graph goes through them:

    prepare.py        specialize for the mode, then gc.optimize (the ordinary passes)
    decompose.py      every op rewritten into primitive ops (OpDef.decompose builders), then
                      the lowering passes: passes/fusion.py's lowering-only fusions (sum(x*x)
                      -> vdot, PReLU's slope factored out), CSE and dead nodes; which op each
                      primitive stood for follows it (ir.track_moves)
    plan.py           one statement per primitive node, in order, target-independent
    buffers.py        (fast NumPy only) where each statement writes: reused buffers, in place
    render_fast.py    NumPy with `out=` buffers (what gc.export and graphc train run)
    render_readable.py  plain NumPy, one line per statement
    render_jax.py     pure jax.numpy
    module.py         the generated module: imports, copied helpers, constants, functions

gc.lower(outputs, target="fast" | "readable" | "jax") runs them for one function.
gc.export builds the training program once (program.py: the training step, gradients,
evaluation, forward and Monte Carlo graphs, with the optimizer's update as graph ops from
optimizers.py) and assembles a module around it: build_numpy.py (fast), build_jax.py and
build_readable.py (whose model function readable.py writes node by node, the backward pass
as reverse.vjp's trace with a chain-rule comment per line, the steps of an unrolled cell as
one loop each way (readable_loop.py, readable_loop_backward.py), and whose update() spells
the optimizer's graph ops), from the tables and signature of module_parts.py. The generated
files carry copies of training.py (the loop and command line), runtime.py, pool.py,
step_size.py and, for JAX, jax_runtime.py.

How to add an optimizer: one entry in optimizers.OPTIMIZERS (see its docstring).
How to add a renderer: write one module that turns a `Plan` into source, touching nothing
upstream (renderers import only plan, spell, names, module and buffers; a test checks it).
Render each `Statement` of `plan.statements` as `target = <call>`:
- `call` is an array-API function that NumPy and jax.numpy spell alike ("add", "exp",
  "sum", "max", "matmul", "where", "transpose", "reshape", "broadcast_to", "take",
  "asarray", "vdot", "copy", ...): spell.expression writes it with a module prefix, an
  operator or a method, from the positional operands `args` and keyword literals `kwargs`;
- when `helper` is set, `call` names a function your renderer's own runtime provides
  (today "dropout_mask"(x, rate=, seed=): random draws differ per target);
- an operand is ("var", name), ("lit", value), ("shape", name) for `name.shape`, or
  ("size", name, axes) for the product of `name.shape[a]` over the axes (spell.operand);
- `plan.constants` maps the variables of module-level constants to their arrays;
  `plan.results` are the variables to return; `plan.donated` maps results to the argument
  whose memory they replace (a mutating target writes them there); `comment` is the op
  and the user's line.
Nothing in a plan assumes mutation: a pure-function target ignores `view` and `donated`
and renders the final "copy" statements as plain assignments.
"""

from .build_numpy import build_module, export
from .lowering import Lowered, lower

__all__ = ["Lowered", "build_module", "export", "lower"]
