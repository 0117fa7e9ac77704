"""gc.mc_predict: Monte Carlo dropout converges to the scaled inference pass like
1/sqrt(samples), draws fresh masks, and keeps batch norm in inference mode."""

import numpy as np
import pytest

import graphc as gc

SAMPLES = [16, 64, 256, 1024]


def linear_after_dropout(rows=200, rate=0.5):
    """x -> dense ReLU -> dropout -> dense: linear in the dropout's output."""
    x = gc.input("x", (None, 8))
    h = gc.dropout(gc.dense(x, 32, "relu"), rate, seed=3)
    logits = gc.dense(h, 3)
    values = gc.init_params(logits) | {"x": np.random.default_rng(1).normal(size=(rows, 8))}
    return logits, values


def test_mc_mean_converges_to_the_inference_pass_like_one_over_sqrt_samples():
    logits, values = linear_after_dropout()
    exact = gc.evaluate(logits, values)  # every unit on; inverted dropout needs no rescaling
    errors, spreads = [], []
    for samples in SAMPLES:
        mean, std = gc.mc_predict(logits, values, samples=samples, seed=0)
        errors.append(np.sqrt(np.mean((mean - exact) ** 2)))
        spreads.append(np.sqrt(np.mean(std**2)))
    slope = np.polyfit(np.log(SAMPLES), np.log(errors), 1)[0]
    # each error is an RMS over 600 outputs from 200 independent rows, so log(error) scatters
    # by about 1/sqrt(2 * 200) = 0.05 around its law; over a 64-fold range of samples that puts
    # the fitted slope's standard error near 0.016: +-0.1 is six of them
    assert abs(slope + 0.5) < 0.1, (slope, errors)
    # and the size of the error is the one the spread predicts: std / sqrt(samples)
    for samples, error, spread in zip(SAMPLES, errors, spreads):
        assert error * np.sqrt(samples) / spread == pytest.approx(1.0, abs=0.2)


def test_masks_are_fresh_per_sample_and_seeded():
    logits, values = linear_after_dropout(rows=4)
    mean, std = gc.mc_predict(logits, values, samples=50, seed=7)
    assert np.all(std > 0)  # samples differ: a fresh mask each time
    again, _ = gc.mc_predict(logits, values, samples=50, seed=7)
    other, _ = gc.mc_predict(logits, values, samples=50, seed=8)
    np.testing.assert_array_equal(mean, again)
    assert not np.allclose(mean, other)


def test_batch_norm_stays_in_inference_mode():
    from graphc.modelfile import import_model_file

    model = import_model_file("examples/batchnorm.py")
    loss, logits = model.model()
    batch = {k: v[:16] for k, v in model.data()["validation"].items()}
    values = gc.init_params(loss) | {
        "bn.running_mean": np.full(32, 0.3),
        "bn.running_var": np.full(32, 2.0),
        **batch,
    }
    (mean, loss_mean), (std, loss_std) = gc.mc_predict([logits, loss], values, samples=3)
    # no dropout in this network: every sample is the inference pass, with running statistics
    np.testing.assert_allclose(mean, gc.evaluate(logits, values), rtol=1e-12)
    assert np.all(std == 0) and loss_std == 0
    assert not np.allclose(mean, gc.evaluate(logits, values, training=True))


def test_float32_stays_float32():
    x = gc.input("x", (None, 4), "float32")
    out = gc.dense(gc.dropout(x, 0.2), 2)
    values = gc.init_params(out) | {"x": np.ones((3, 4), np.float32)}
    mean, std = gc.mc_predict(out, values, samples=5)
    assert mean.dtype == std.dtype == np.float32


@pytest.mark.parametrize("samples", [0, -1, 2.5, True])
def test_samples_must_be_a_positive_int(samples):
    logits, values = linear_after_dropout(rows=2)
    with pytest.raises(gc.GraphError, match="samples must be a positive int"):
        gc.mc_predict(logits, values, samples=samples)


def test_exported_predict_does_monte_carlo_dropout(tmp_path):
    from graphc.trainer import import_trainer

    logits, values = linear_after_dropout(rows=50)
    y = gc.input("y", (None,), "int64")
    loss = gc.softmax_cross_entropy(logits, y)
    module = import_trainer(gc.export(loss, tmp_path / "mc.py", "adam", predictions=logits))
    params, state = module["init_params"](0), module["init_state"](0)
    batch = {"x": values["x"], "y": np.zeros(50, np.int64)}
    single = module["predict"](params, state, batch)
    np.testing.assert_array_equal(single, module["forward"](params, batch, state))
    np.testing.assert_allclose(single, gc.evaluate(logits, params | batch), rtol=1e-12)
    mean, std = module["predict"](params, state, batch, mc_samples=400)
    assert np.all(std > 0)
    # the mean's error is std / sqrt(400) per element: within 5 of those everywhere
    assert np.all(np.abs(mean - single) < 5 * std / np.sqrt(400) + 1e-12)
    # the same spread as the interpreter's Monte Carlo (different masks, same law)
    _, gc_std = gc.mc_predict(logits, params | batch, samples=400)
    assert np.sqrt(np.mean(std**2)) == pytest.approx(np.sqrt(np.mean(gc_std**2)), rel=0.1)
