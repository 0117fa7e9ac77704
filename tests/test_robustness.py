"""Properties: random valid graphs save and load back unchanged, and random corruptions of a
saved graph end in a one-line GraphError (or load as another valid graph), never in an
internal error."""

import json

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphc as gc
from graphc import cli
from graphc.serialize import from_json, to_json
from graphs import random_graphs

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# what a hostile or careless edit may put anywhere in the file
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.lists(st.integers(-3, 3), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


@SETTINGS
@given(case=random_graphs(max_ops=6))
def test_random_graphs_save_and_load_back_unchanged(case, tmp_path_factory):
    outputs, values = case
    path = tmp_path_factory.mktemp("saved") / "g.json"
    gc.save(outputs, path)
    loaded = gc.load(path)
    assert [n.shape for n in loaded] == [n.shape for n in outputs]
    for a, b in zip(gc.evaluate(loaded, values), gc.evaluate(outputs, values)):
        np.testing.assert_array_equal(a, b)


def _paths(value, prefix=()):
    """Every (container, key) position inside a JSON value."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield value, key
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield value, index
            yield from _paths(child, (*prefix, index))


@SETTINGS
@given(case=random_graphs(max_ops=4), data=st.data())
def test_corrupted_graph_files_never_give_an_internal_error(case, data):
    outputs, _ = case
    saved = to_json(outputs)
    positions = list(_paths(saved))
    for _ in range(data.draw(st.integers(1, 3))):
        container, key = data.draw(st.sampled_from(positions))
        if data.draw(st.booleans()) and isinstance(container, dict):
            container.pop(key, None)
        else:
            container[key] = data.draw(JUNK)
        positions = list(_paths(saved))
        if not positions:
            break
    try:
        from_json(json.loads(json.dumps(saved)), "g.json")
    except gc.GraphError as error:
        assert "\n" not in str(error).strip()


@settings(max_examples=15, deadline=None, derandomize=True)
@given(text=st.text(max_size=60))
def test_the_command_line_on_any_file_is_never_an_internal_error(text, tmp_path_factory):
    path = tmp_path_factory.mktemp("junk") / "g.json"
    path.write_text(text)
    assert cli.main(["show", str(path)]) in (0, 1)
