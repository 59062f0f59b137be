"""Mixed precision for building a model: the one place the global Keras dtype policy is switched.

Home of: switching the Keras dtype policy while a model is built (`dtype_policy`).

Keras layers take the dtype policy in force when they are *made*, so training in bfloat16 means building the
model under "mixed_bfloat16" (float32 weights, bfloat16 compute: ~5x faster matrix products on CPUs with AMX
or AVX512-BF16). Exports are built in float32 from the same weights, so what is served runs the same on any
CPU. `dtype_policy` switches the policy for one `with` block and always restores the previous one, even when
building fails, so nothing built afterwards inherits it by accident.

    with dtype_policy("mixed_bfloat16"):
        model = build_model(...)
"""

from __future__ import annotations

import contextlib

import keras


@contextlib.contextmanager
def dtype_policy(name: str):
    """Build layers under the Keras dtype policy `name` ("float32", "mixed_bfloat16", "mixed_float16").

    Args:
        name: a Keras dtype policy name.

    Example:
        >>> with dtype_policy("mixed_bfloat16"):
        ...     layer = keras.layers.Dense(2)
        >>> layer.dtype_policy.name, keras.config.dtype_policy().name
        ('mixed_bfloat16', 'float32')
    """
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
