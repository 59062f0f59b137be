"""The optimizer every app trains with: Adam (or SGD), gradient clipping and learning-rate schedules.

Home of: making the optimizer (`make_optimizer`, the one place every app's optimizer is made), the clipping
bound every app starts from (`DEFAULT_CLIPNORM`, `--clipnorm`), weight averaging (`ema_momentum`) and the
learning-rate schedule (`cosine_schedule`, with warm-up). Three things, one module: all three decide how a
gradient becomes a step (the second example below asks for all of them at once).

Why clip: backpropagation through time multiplies one Jacobian per time step, so on a long sequence a
gradient can grow by orders of magnitude in a single step (exploding gradients) and one bad batch can wreck
the weights. Clipping by the *global* norm rescales all gradients together when their joint norm exceeds a
bound, which keeps the update's direction and caps its size. It does nothing for vanishing gradients; gated
cells (LSTM, GRU) are the answer to those.

    optimizer = make_optimizer(learning_rate=1e-3, clipnorm=1.0)   # Adam, clipped to global norm 1.0
    optimizer = make_optimizer(cosine_schedule(1e-3, steps_per_epoch=100, epochs=10), clipnorm=1.0)
"""

from __future__ import annotations

import keras

# The bound every train.py uses unless `--clipnorm` says otherwise. 1.0 is the usual choice for RNNs
# trained with Adam: large enough that ordinary steps pass untouched, small enough to stop an explosion.
DEFAULT_CLIPNORM = 1.0

_ALGORITHMS = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD}


def make_optimizer(learning_rate: float = 1e-3, clipnorm: float = DEFAULT_CLIPNORM,
                   algorithm: str = "adam", ema_momentum: float = 0.0) -> keras.optimizers.Optimizer:
    """An optimizer whose gradients are clipped to `clipnorm` by global norm (0 or None: no clipping).

    Args:
        learning_rate: the step size.
        clipnorm: the largest global L2 norm a step's gradients may have; larger ones are rescaled.
        algorithm: "adam" (every app) or "sgd" (plain steps, which make the clipping visible in tests).
        ema_momentum: when > 0, the optimizer also keeps an exponential moving average of the weights
            (Polyak averaging); `shared.runtime.training.fit` validates, checkpoints and exports that average,
            which is smoother than the last step's weights. 0 turns it off.
    """
    if not 0.0 <= ema_momentum < 1.0:
        raise ValueError(f"ema_momentum must be in [0, 1), got {ema_momentum}.")
    if algorithm not in _ALGORITHMS:
        raise ValueError(f"algorithm must be one of {sorted(_ALGORITHMS)}, got {algorithm!r}.")
    if clipnorm is not None and clipnorm < 0:
        raise ValueError(f"clipnorm must be >= 0 (0 turns clipping off), got {clipnorm}.")
    return _ALGORITHMS[algorithm](learning_rate=learning_rate, global_clipnorm=clipnorm or None,
                                  use_ema=ema_momentum > 0, ema_momentum=ema_momentum or 0.99)


def cosine_schedule(learning_rate: float, steps_per_epoch: int, epochs: int,
                    warmup_epochs: int = 0) -> keras.optimizers.schedules.LearningRateSchedule:
    """A learning rate that rises from 0 over `warmup_epochs`, then follows a cosine down to 0 at the last epoch.

    Why: large steps early cover ground; small steps at the end settle into the minimum instead of rattling
    around it, which is usually worth a clear drop in validation loss in the last epochs. The schedule counts
    optimizer steps, so a resumed run (BackupAndRestore restores the step counter) continues on the curve.
    A run stopped early (a time budget) stops at a higher rate than the curve's end.

    Args:
        learning_rate: the peak rate, reached after the warm-up (at once without one).
        steps_per_epoch: optimizer steps in one epoch.
        epochs: the epochs the whole curve spans, warm-up included.
        warmup_epochs: epochs of linear warm-up from 0 (random BatchNorm statistics make a fresh
            convolutional network's first steps erratic); 0: start at the peak.
    """
    if steps_per_epoch < 1 or epochs < 1 or not 0 <= warmup_epochs < max(epochs, 1):
        raise ValueError(f"cosine_schedule needs steps_per_epoch >= 1, epochs >= 1 and 0 <= warmup_epochs < "
                         f"epochs; got {steps_per_epoch}, {epochs}, {warmup_epochs}.")
    warmup_steps = steps_per_epoch * warmup_epochs
    decay_steps = steps_per_epoch * max(1, epochs - warmup_epochs)
    if not warmup_steps:
        return keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps)
    return keras.optimizers.schedules.CosineDecay(0.0, decay_steps, warmup_target=learning_rate,
                                                  warmup_steps=warmup_steps)
