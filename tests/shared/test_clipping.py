import numpy as np
import pytest
import tensorflow as tf

from shared.clipping import DEFAULT_CLIPNORM, make_optimizer


def _step(optimizer, gradient):
    variable = tf.Variable(np.zeros_like(gradient))
    optimizer.apply_gradients([(tf.constant(gradient), variable)])
    return variable.numpy()


def test_global_norm_clipping_caps_the_update():
    # Plain SGD with step 1 moves the weights by exactly the (clipped) gradient.
    gradient = np.array([60.0, 80.0], np.float32)  # norm 100
    update = _step(make_optimizer(1.0, clipnorm=2.0, algorithm="sgd"), gradient)
    assert np.linalg.norm(update) == pytest.approx(2.0, rel=1e-5)
    # Same direction: clipping rescales, it does not distort.
    np.testing.assert_allclose(update / np.linalg.norm(update), -gradient / 100.0, rtol=1e-5)


def test_small_gradients_pass_untouched_and_zero_turns_clipping_off():
    small = np.array([0.3, 0.4], np.float32)
    np.testing.assert_allclose(_step(make_optimizer(1.0, clipnorm=1.0, algorithm="sgd"), small), -small)
    big = np.array([60.0, 80.0], np.float32)
    np.testing.assert_allclose(_step(make_optimizer(1.0, clipnorm=0, algorithm="sgd"), big), -big)


def test_default_is_adam_with_the_suite_bound():
    optimizer = make_optimizer()
    assert type(optimizer).__name__ == "Adam" and optimizer.global_clipnorm == DEFAULT_CLIPNORM


def test_bad_arguments():
    with pytest.raises(ValueError):
        make_optimizer(clipnorm=-1)
    with pytest.raises(ValueError):
        make_optimizer(algorithm="lbfgs")


def test_ema_is_opt_in_and_bounded():
    assert not make_optimizer().use_ema
    optimizer = make_optimizer(ema_momentum=0.9)
    assert optimizer.use_ema and optimizer.ema_momentum == 0.9
    with pytest.raises(ValueError):
        make_optimizer(ema_momentum=1.0)
