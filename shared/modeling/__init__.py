"""The model side of the shared package: what goes inside a model or an exported serving graph.

embeddings      token embeddings that carry the padding mask
masking         masks from lengths, masked pooling and losses (padding changes nothing)
cells           the recurrent cell table (SimpleRNN, GRU, LSTM) and why gates matter
teacher_forcing the decoder input / label shift of every autoregressive model
decoding        greedy, beam search and temperature / top-k sampling as in-graph `tf.while_loop`s
text            raw strings -> token ids and back, with core TensorFlow ops only
vision          image bytes -> encoder input, with header checks against decompression bombs
limits          per-request cost limits checked inside serving graphs
optimizer       the optimizer every app uses: Adam, global-norm gradient clipping, learning-rate schedules
"""
