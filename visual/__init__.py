"""visual: pictures of graphc graphs (Graphviz) and of training (matplotlib).

import visual
picture = visual.render(loss, values, grads=True)   # shows as SVG in Jupyter
visual.save(picture, "loss.png")                     # .svg .png .pdf .dot
visual.save(visual.plot_history(history), "curves.png")
"""

import graphc.trainer as _trainer

from .backprop import render_backprop
from .backward import render_backward, render_combined
from .diagnosis import Reading, diagnose
from .diff import render_diff
from .output import GraphvizNotFoundError, Picture, save, side_by_side
from .page import step_through
from .plots import plot_eps_sweep, plot_forward_cost, plot_history, plot_swell
from .rendering import render
from .show import install as _install_display

# graphc never imports visual; once visual is here, nodes show as their graph in Jupyter
# and training results show their curves
_install_display()
_trainer.Trained.plot = staticmethod(plot_history)

__all__ = [
    "GraphvizNotFoundError",
    "Picture",
    "Reading",
    "diagnose",
    "plot_eps_sweep",
    "plot_forward_cost",
    "plot_history",
    "plot_swell",
    "render",
    "render_backprop",
    "render_backward",
    "render_combined",
    "render_diff",
    "save",
    "side_by_side",
    "step_through",
]
