"""An ONNX file as a command-line model: its prediction read by gc.from_onnx, and a loss
given by flags (`--loss softmax_cross_entropy --labels y`), since an ONNX model carries no
training objective. graphc/modelfile.py turns the result into its Model."""

from __future__ import annotations

from ..errors import GraphError
from ..ir import leaves
from ..ops import losses
from ..ops.leaves import input as make_input
from .errors import OnnxError
from .importer import from_onnx

LOSSES = ("softmax_cross_entropy", "mse", "binary_cross_entropy_with_logits")


def onnx_outputs(
    path: str,
    loss: str | None = None,
    labels: str | None = None,
    prediction: str | None = None,
    need_loss: bool = True,
) -> list:
    """[loss, prediction], or [prediction] when no loss is asked for and none is needed
    (drawing the forward graph, exporting to ONNX); problems are one OnnxError."""
    try:
        (predicted,) = from_onnx(path, outputs=prediction) if prediction else from_onnx(path)[:1]
    except OnnxError as error:
        # a node's error may lie on the way to another output; a file's error may not
        at_node = ": node " in str(error)
        hint = " (--prediction OUTPUT reads another of its outputs)" if at_node else ""
        hint = "" if prediction else hint
        raise OnnxError(f"{error}{hint}") from None
    if loss is None:
        if need_loss:
            raise OnnxError(
                f"{path}: an ONNX model holds no loss; give one with --loss "
                f"{'|'.join(LOSSES)} (and --labels NAME, the input of the targets)"
            )
        return [predicted]
    if loss not in LOSSES:
        raise OnnxError(f"--loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    name = labels or "y"
    if name in {n.name for n in leaves(predicted)}:
        raise OnnxError(f"{path}: --labels {name!r} is already a name in the model")
    if loss == "softmax_cross_entropy":
        target = make_input(name, predicted.shape[:1], "int64")
    else:
        target = make_input(name, predicted.shape, predicted.dtype)
    try:
        objective = getattr(losses, loss)(predicted, target)
    except GraphError as error:  # shapes that do not fit the loss
        raise OnnxError(f"{path}: --loss {loss} on {predicted.shape}: {error}") from None
    return [objective, predicted]
