"""The activations of transformers and modern nets, as torch.nn.functional defines them:
gelu (exact, through erf), silu and elu, with the erf and expm1 they are made of.

NumPy has no erf, so erf is written once (`_erf_steps`) with operations that arrays and
graph nodes both have: the kernel runs it on arrays, lowering runs it on nodes, and the two
give the same bits. It is fdlibm's rational approximation (s_erf.c), within 5e-16 relative
of the true erf.
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from ..checks import real_number
from ..ir import Node
from .binary import maximum, minimum, where
from .elementwise import exp
from .registry import F, OpDef, apply, float_like, register, sample_inputs, scalar_sympy

_ERX = 8.45062911510467529297e-01
_PP = (1.28379167095512558561e-01, -3.25042107247001499370e-01, -2.84817495755985104766e-02)
_PP += (-5.77027029648944159157e-03, -2.37630166566501626084e-05)
_QQ = (1.0, 3.97917223959155352819e-01, 6.50222499887672944485e-02, 5.08130628187576562776e-03)
_QQ += (1.32494738004321644526e-04, -3.96022827877536812320e-06)
_PA = (-2.36211856075265944077e-03, 4.14856118683748331666e-01, -3.72207876035701323847e-01)
_PA += (3.18346619901161753674e-01, -1.10894694282396677476e-01, 3.54783043256182359371e-02)
_PA += (-2.16637559486879084300e-03,)
_QA = (1.0, 1.06420880400844228286e-01, 5.40397917702171048937e-01, 7.18286544141962662868e-02)
_QA += (1.26171219808761642112e-01, 1.36370839120290507362e-02, 1.19844998467991074170e-02)
_RA = (-9.86494403484714822705e-03, -6.93858572707181764372e-01, -1.05586262253232909814e01)
_RA += (-6.23753324503260060396e01, -1.62396669462573470355e02, -1.84605092906711035994e02)
_RA += (-8.12874355063065934246e01, -9.81432934416914548592e00)
_SA = (1.0, 1.96512716674392571292e01, 1.37657754143519042600e02, 4.34565877475229228821e02)
_SA += (6.45387271733267880336e02, 4.29008140027567833386e02, 1.08635005541779435134e02)
_SA += (6.57024977031928170135e00, -6.04244152148580987438e-02)
_RB = (-9.86494292470009928597e-03, -7.99283237680523006574e-01, -1.77579549177547519889e01)
_RB += (-1.60636384855821916062e02, -6.37566443368389627722e02, -1.02509513161107724954e03)
_RB += (-4.83519191608651397019e02,)
_SB = (1.0, 3.03380607434824582924e01, 3.25792512996573918826e02, 1.53672958608443695994e03)
_SB += (3.19985821950859553908e03, 2.55305040643316442583e03, 4.74528541206955367215e02)
_SB += (-2.24409524465858183362e01,)


def _poly(coefficients: tuple, z):
    """c0 + z (c1 + z (c2 + ...)), Horner's order."""
    result = coefficients[-1]
    for c in coefficients[-2::-1]:
        result = c + z * result
    return result


def _erf_steps(x, absolute, lower, upper, exponential, select):
    """erf(x) by fdlibm's four ranges of |x|, each range computed on |x| clipped into it
    (so no range overflows or divides by zero where it is not chosen)."""
    a = absolute(x)
    small = lower(a, 0.84375)
    z = small * small
    near_one = lower(upper(a, 0.84375), 1.25) - 1.0
    tail = lower(upper(a, 1.25), 6.0)
    s = 1.0 / (tail * tail)
    ratio = select(tail < 1 / 0.35, _poly(_RA, s) / _poly(_SA, s), _poly(_RB, s) / _poly(_SB, s))
    y = select(
        a < 0.84375,
        small + small * (_poly(_PP, z) / _poly(_QQ, z)),
        select(
            a < 1.25,
            _ERX + _poly(_PA, near_one) / _poly(_QA, near_one),
            select(a >= 6.0, 1.0, 1.0 - exponential(-tail * tail - 0.5625 + ratio) / tail),
        ),
    )
    return select(x < 0, -y, y)


def erf_kernel(x):
    return _erf_steps(np.asarray(x), np.abs, np.minimum, np.maximum, np.exp, np.where)


def _erf_parts(n: Node) -> Node:
    return _erf_steps(n.inputs[0], F.abs, minimum, maximum, exp, where)


_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SQRT1_2 = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

register(
    OpDef(
        "erf",
        1,
        float_like,
        kernel=erf_kernel,
        decompose=_erf_parts,
        sympy=scalar_sympy(sp.erf),
        sympy_head=sp.erf,
        board=lambda x: (f"2/√π · exp(−{x}²)",),
        vjp=(lambda g, n: g * (_TWO_OVER_SQRT_PI * F.exp(-(n.inputs[0] * n.inputs[0]))),),
        jvp=(lambda t, n: t * (_TWO_OVER_SQRT_PI * F.exp(-(n.inputs[0] * n.inputs[0]))),),
        samples=lambda rng: [((rng.uniform(-7, 7, size=(4, 5)),), {})],
        elementwise=True,
        flops=40,
        saturates=True,
        doc="the error function, 2/√π ∫₀ˣ exp(−t²) dt",
    )
)

register(
    OpDef(
        "expm1",
        1,
        float_like,
        kernel=np.expm1,
        array_fn="expm1",
        sympy=scalar_sympy(lambda x: sp.exp(x) - 1),
        board=lambda x: (f"exp({x})",),
        vjp=(lambda g, n: g * (n + 1.0),),
        jvp=(lambda t, n: t * (n + 1.0),),
        samples=sample_inputs((3, 4)),
        elementwise=True,
        complex_step=True,
        doc="exp(x) − 1, exact near 0",
    )
)


def gelu_kernel(x):
    return x * 0.5 * (1.0 + erf_kernel(x * _SQRT1_2))


def _gelu_slope(n: Node) -> Node:
    """Φ(x) + x φ(x): the normal distribution function and density at x."""
    x = n.inputs[0]
    return 0.5 * (1.0 + F.erf(x * _SQRT1_2)) + x * (_INV_SQRT_2PI * F.exp(-0.5 * (x * x)))


register(
    OpDef(
        "gelu",
        1,
        float_like,
        kernel=gelu_kernel,
        decompose=lambda n: n.inputs[0] * 0.5 * (1.0 + F.erf(n.inputs[0] * _SQRT1_2)),
        sympy=scalar_sympy(lambda x: x * sp.Rational(1, 2) * (1 + sp.erf(x / sp.sqrt(2)))),
        board=lambda x: (f"Φ({x}) + {x}·φ({x})",),
        vjp=(lambda g, n: g * _gelu_slope(n),),
        jvp=(lambda t, n: t * _gelu_slope(n),),
        samples=sample_inputs((3, 4)),
        elementwise=True,
        flops=45,
        doc="x Φ(x), Φ the standard normal distribution function (torch's exact gelu)",
    )
)


def silu_kernel(x):
    e = np.exp(-np.abs(x))
    return x * np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _silu_slope(n: Node) -> Node:
    s = F.sigmoid(n.inputs[0])
    return s * (1.0 + n.inputs[0] * (1.0 - s))


register(
    OpDef(
        "silu",
        1,
        float_like,
        kernel=silu_kernel,
        decompose=lambda n: n.inputs[0] * F.sigmoid(n.inputs[0]),
        sympy=scalar_sympy(lambda x: x / (1 + sp.exp(-x))),
        board=lambda x: (f"σ({x})(1 + {x}(1 − σ({x})))",),
        vjp=(lambda g, n: g * _silu_slope(n),),
        jvp=(lambda t, n: t * _silu_slope(n),),
        samples=sample_inputs((3, 4)),
        elementwise=True,
        flops=5,
        doc="x σ(x), the sigmoid-weighted linear unit (swish)",
    )
)


def elu_kernel(x, alpha):
    return np.where(x > 0, x, alpha * np.expm1(x))


def _elu_slope(n: Node) -> Node:
    x, alpha = n.inputs[0], n.attrs["alpha"]
    return F.where(F.greater(x, 0.0), 1.0, alpha * F.exp(x))


register(
    OpDef(
        "elu",
        1,
        float_like,
        kernel=elu_kernel,
        decompose=lambda n: F.where(
            F.greater(n.inputs[0], 0.0), n.inputs[0], n.attrs["alpha"] * F.expm1(n.inputs[0])
        ),
        normalize=lambda attrs, x: {"alpha": real_number(attrs.get("alpha", 1.0), "alpha")},
        sympy=lambda x, alpha: np.vectorize(
            lambda v: sp.Piecewise((v, v > 0), (alpha * (sp.exp(v) - 1), True)), otypes=[object]
        )(x),
        board=lambda x: (f"1 if {x} > 0 else α·exp({x})",),
        vjp=(lambda g, n: g * _elu_slope(n),),
        jvp=(lambda t, n: t * _elu_slope(n),),
        kink=lambda x: x,
        label=lambda n: "elu" if n.attrs["alpha"] == 1.0 else f"elu(α={n.attrs['alpha']})",
        samples=sample_inputs((3, 4), alpha=1.5),
        elementwise=True,
        flops=3,
        saturates=True,
        doc="x where x > 0, α (exp(x) − 1) elsewhere",
    )
)


def erf(x) -> Node:
    """The error function elementwise."""
    return apply("erf", x)


def expm1(x) -> Node:
    """exp(x) − 1 elementwise, exact near 0."""
    return apply("expm1", x)


def gelu(x) -> Node:
    """GELU, exact: x Φ(x) = x/2 (1 + erf(x/√2)) (torch.nn.functional.gelu)."""
    return apply("gelu", x)


def silu(x) -> Node:
    """SiLU (swish): x σ(x) (torch.nn.functional.silu)."""
    return apply("silu", x)


def elu(x, alpha: float = 1.0) -> Node:
    """ELU: x where x > 0, alpha (exp(x) − 1) elsewhere (torch.nn.functional.elu)."""
    return apply("elu", x, alpha=alpha)
