"""Pictures as the lecture draws them: composites as one box, the mode's branch only, no ∂
where no gradient flows, rounding noise as 0, a legend, and a width that fits a notebook."""

import numpy as np
import pytest

import graphc as gc
import visual
from graphc.demo import lecture_network
from graphc.modelfile import example_values, load_model
from test_visual_render import strokes, svg_groups, svg_of, texts


@pytest.fixture
def lecture(rng):
    loss, _ = lecture_network(n_in=4, n_classes=3, l2=1e-3)
    values = gc.init_params(loss) | {"x": rng.normal(size=(2, 4)), "y": np.array([0, 2])}
    return loss, values


def node_texts(root) -> dict[str, list[str]]:
    return {name: texts(g) for name, g in svg_groups(root, "node").items()}


def test_each_composite_is_one_box_by_default_and_opens_on_request(lecture):
    loss, values = lecture
    shown = node_texts(svg_of(visual.render(loss, values, grads=True)))
    titles = [lines[0] for lines in shown.values()]
    assert "softmax cross-entropy" in titles and "L2 penalty" in titles
    assert not any(t.startswith(("one_hot", "log_softmax", "sum")) for t in titles)
    box = next(lines for lines in shown.values() if lines[0] == "softmax cross-entropy")
    ce = gc.evaluate(gc.softmax_cross_entropy(*_logits_and_labels(loss)), values)
    assert f"= {ce:.4g}" in box and "∂ 1" in box  # the box shows its result's numbers
    opened = [v[0] for v in node_texts(svg_of(visual.render(loss, expand=["l2"]))).values()]
    assert "softmax cross-entropy" in opened and "L2 penalty" not in opened
    assert "sum(axis=(0, 1))" in opened
    every = node_texts(svg_of(visual.render(loss, expand=True)))
    assert len(every) == len(gc.topological_order(loss))
    with pytest.raises(gc.GraphError, match="not a composite; composites: .*batch_norm"):
        visual.render(loss, expand=["prelu"])


def _logits_and_labels(loss):
    order = gc.topological_order(loss)
    return next(n for n in order if n.name == "logits"), next(n for n in order if n.name == "y")


def test_a_users_scope_still_draws_as_a_cluster_around_a_composite():
    x = gc.input("x", (None, 3))
    with gc.scope("head"):
        out = gc.mse(x @ gc.param("W", (3, 2)), gc.input("t", (None, 2)))
    assert out.scope == "head/mse"
    root = svg_of(visual.render(out))
    clusters = svg_groups(root, "cluster")
    assert list(clusters) == ["cluster_head"]
    assert "mean squared error" in [v[0] for v in node_texts(root).values()]


def test_batch_norm_in_training_shows_batch_statistics_with_gradients_and_none_on_state():
    model = load_model("examples/batchnorm.py", with_data=True)
    values, _ = example_values(model, 4)
    order = gc.topological_order(model.loss)
    state = [n for n in order if n.op == "state"]
    batch_mean = next(n for n in order if n.scope == "batch_norm" and n.op == "div")
    source = visual.render(model.loss, values, grads=True, training=True, expand=["batch_norm"])
    shown = node_texts(svg_of(source))
    assert "training mode" in source.source
    for s in state:
        assert not any(t.startswith("∂") for t in shown[f"n{s.id}"]), shown[f"n{s.id}"]
    grad = next(t for t in shown[f"n{batch_mean.id}"] if t.startswith("∂"))
    assert grad != "∂ 0"
    assert "training branch" in [v[0] for v in shown.values()]
    # inference: the running statistics feed the output, the batch statistics are not drawn
    shown = node_texts(svg_of(visual.render(model.loss, values, grads=True, expand=True)))
    assert f"n{batch_mean.id}" not in shown
    assert all(f"n{s.id}" in shown for s in state)
    assert "inference branch" in [v[0] for v in shown.values()]


def test_dropout_shows_its_mask_only_in_training_and_never_a_gradient_on_it():
    model = load_model("examples/dropout.py", with_data=True)
    values, _ = example_values(model, 4)
    mask = next(n for n in gc.topological_order(model.loss) if n.op == "dropout_mask")
    train = node_texts(
        svg_of(visual.render(model.loss, values, grads=True, training=True, expand=True))
    )
    assert train[f"n{mask.id}"][0] == "mask p=0.3"
    assert not any(t.startswith("∂") for t in train[f"n{mask.id}"])
    infer = node_texts(svg_of(visual.render(model.loss, values, grads=True, expand=True)))
    assert f"n{mask.id}" not in infer


def test_no_gradient_on_labels_one_hot_or_the_batch_count(lecture):
    loss, values = lecture
    shown = node_texts(svg_of(visual.render(loss, values, grads=True, expand=True)))
    for node in gc.topological_order(loss):
        has_grad = any(t.startswith("∂") for t in shown[f"n{node.id}"])
        no_gradient = node.op in ("one_hot", "axis_size", "const") or node.dtype == "int64"
        assert has_grad != no_gradient, (node.op, shown[f"n{node.id}"])


def test_rounding_noise_shows_as_zero_and_a_legend_says_what_the_numbers_are(lecture):
    loss, values = lecture
    logits = _logits_and_labels(loss)[0]
    assert abs(np.array([0.1, 0.2, -0.3]).mean()) > 0  # 1.4e-17 of rounding
    assert visual.labels.summarize(np.array([0.1, 0.2, -0.3])) == "μ 0 [-0.3, 0.2]"
    assert visual.labels.summarize(np.array([1e-17, -2e-17]), floor=1e-14) == "μ 0 [0, 0]"
    assert visual.labels.summarize(np.float32(-0.0)) == "0"
    # softmax - one-hot sums to zero: the logits' gradient has mean 0, whatever the rounding
    root = svg_of(visual.render(loss, values, grads=True))
    line = next(t for t in node_texts(root)[f"n{logits.id}"] if t.startswith("∂"))
    assert line.startswith("∂ μ 0 [")
    legend = " ".join(node_texts(root)["legend"])
    assert "= value" in legend and "∂ gradient" in legend and "edge colour" in legend


def test_pictures_fit_a_notebook_column_unless_asked_for_natural_size():
    model = load_model("examples/batchnorm.py")
    wide = visual.render_combined(model.loss, gc.params(model.loss), raw=True)
    width_pt = float(svg_of(wide).get("width").removesuffix("pt"))
    assert width_pt <= 900 * 0.75 + 1  # 900 px at 96 px per inch is 675 pt
    natural = visual.render_combined(model.loss, gc.params(model.loss), raw=True, max_width=None)
    assert float(svg_of(natural).get("width").removesuffix("pt")) > 1.5 * width_pt
    grads = gc.grad(model.loss, gc.params(model.loss))
    diff = visual.render_diff(gc.optimize(grads))  # the optimizer's before and after, too
    assert float(svg_of(diff).get("width").removesuffix("pt")) <= 900 * 0.75 + 1


def test_values_go_by_keyword_and_the_message_says_so(lecture):
    loss, values = lecture
    with pytest.raises(gc.GraphError, match="takes the graph first, then values="):
        visual.render(loss, gc.params(loss))
    with pytest.raises(gc.GraphError, match="training must be True or False"):
        visual.render(loss, values, training="train")


def test_the_backward_graph_is_simplified_by_default_and_keeps_its_gradient_names(lecture):
    loss, values = lecture
    params = gc.params(loss)
    root = svg_of(visual.render_backward(loss, params, values=values))
    shown = node_texts(root)
    backward = {  # drawn in the backward style (red outline), forward context is faded
        name: texts(g) for name, g in svg_groups(root, "node").items() if "#be123c" in strokes(g)
    }
    ops = [t[0] for t in backward.values()]
    assert 8 <= len(backward) <= 12
    assert {"∂loss/∂W", "∂loss/∂b", "∂loss/∂alpha"} <= set(ops)
    assert "softmax - onehot" in ops and "prelu'(x)" in ops  # the lecture's fused rules
    assert not any(o.startswith(("broadcast", "expand_dims")) for o in ops)
    raw = node_texts(svg_of(visual.render_backward(loss, params, raw=True)))
    assert len(raw) > len(shown) + 15


def test_every_wrt_gets_its_gradient_box_even_when_two_share_a_node():
    x, y, z = (gc.param(n, ()) for n in "xyz")
    f = gc.named((x + y) * z, "f")
    grads = gc.grad(f, [x, y, z])
    assert grads[0] is grads[1]
    for draw in (visual.render_combined, visual.render_backward):
        titles = [t[0] for t in node_texts(svg_of(draw(f, [x, y, z]))).values()]
        assert {"∂f/∂x", "∂f/∂y", "∂f/∂z"} <= set(titles), titles
    with pytest.raises(gc.GraphError, match="values= by keyword"):
        visual.render_backward(f, {"x": 1.0, "y": 2.0, "z": 3.0})


def test_the_input_a_mode_does_not_run_gets_no_edge():
    h = gc.input("h", (None, 4))
    out = gc.sum(gc.dropout(h * gc.param("w", (4,), init=1.0), 0.5, seed=1))
    choice = next(n for n in gc.topological_order(out) if n.op == "select_mode")
    product = choice.inputs[1]  # inference passes h * w straight through
    values = {"h": np.ones((2, 4)), "w": np.ones(4)}
    for training, drawn in ((True, False), (False, True)):
        picture = visual.render(out, values, grads=True, training=training, expand=True)
        edges = {t for t in svg_groups(svg_of(picture), "edge")}
        assert (f"n{product.id}->n{choice.id}" in edges) is drawn
