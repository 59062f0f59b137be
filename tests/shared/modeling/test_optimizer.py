import numpy as np
import pytest
import tensorflow as tf

from shared.modeling.optimizer import DEFAULT_CLIPNORM, cosine_schedule, make_optimizer


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


def test_cosine_schedule_peaks_after_warmup_and_ends_at_zero():
    schedule = cosine_schedule(1e-3, steps_per_epoch=10, epochs=5, warmup_epochs=1)
    rate = lambda step: float(schedule(step))  # noqa: E731
    assert rate(0) == pytest.approx(0.0) and rate(5) == pytest.approx(5e-4)  # linear warm-up
    assert rate(10) == pytest.approx(1e-3)  # the peak after one epoch
    assert rate(10) > rate(20) > rate(30) > rate(49) > 0  # then a cosine down
    assert rate(30) == pytest.approx(5e-4, rel=1e-4)  # halfway along the 40 decay steps
    assert rate(50) == pytest.approx(0.0, abs=1e-12)  # zero at the end of the last epoch
    plain = cosine_schedule(1e-3, steps_per_epoch=10, epochs=4)  # no warm-up: starts at the peak
    assert float(plain(0)) == pytest.approx(1e-3) and float(plain(40)) == pytest.approx(0.0, abs=1e-12)


def test_cosine_schedule_drives_the_optimizer_and_rejects_bad_lengths():
    optimizer = make_optimizer(cosine_schedule(1.0, steps_per_epoch=1, epochs=2), clipnorm=0, algorithm="sgd")
    gradient = np.array([1.0], np.float32)
    variable = tf.Variable([0.0])
    optimizer.apply_gradients([(tf.constant(gradient), variable)])  # step 0: rate 1
    optimizer.apply_gradients([(tf.constant(gradient), variable)])  # step 1: rate cos(pi/2) = 0.5 (1+cos) / 2
    np.testing.assert_allclose(variable.numpy(), [-1.5], rtol=1e-5)
    for bad in ({"steps_per_epoch": 0, "epochs": 3}, {"steps_per_epoch": 5, "epochs": 0},
                {"steps_per_epoch": 5, "epochs": 3, "warmup_epochs": 3}):
        with pytest.raises(ValueError, match="cosine_schedule"):
            cosine_schedule(1e-3, **bad)
