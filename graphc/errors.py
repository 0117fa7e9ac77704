"""The one exception family of graphc: every user-facing error is a `GraphError`."""


class GraphError(Exception):
    """Base class of every error about a user's graph, its values or its files."""


class ShapeError(GraphError, ValueError):
    """Shapes that do not fit together (names the op, the shapes and where it was built)."""


class DtypeError(GraphError, TypeError):
    """An unsupported or mismatched dtype."""


class MissingValueError(GraphError, KeyError):
    """`evaluate` was not given a value for an input or param."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DuplicateNameError(GraphError):
    """Two different leaves of one graph share a name."""


class UnknownOpError(GraphError):
    """An op name that is not in the registry."""


class LoadError(GraphError):
    """A saved graph file that cannot be read back (bad JSON, cycle, dangling reference)."""


class EvaluationError(GraphError):
    """NumPy failed while running an op; the message names the op and where it was built."""


class ArgumentError(GraphError, ValueError):
    """An argument outside what it may be (a batch size of 0, a seed of "a", a NaN slope)."""
