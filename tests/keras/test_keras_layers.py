"""deepgrad.keras layers: Keras's names, initializers, weight layouts and output shapes, and
numbers checked against independent references (PyTorch with TensorFlow's padding rule,
brute-force pooling, the adjoint identity of transposed convolutions, step-by-step
recurrences written from Keras's equations, and attention written out in NumPy)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import keras
from deepgrad.autograd.gradcheck import gradcheck, gradgradcheck
from deepgrad.keras import layers as L
from deepgrad.keras.layers._ops import dense, pad, same_pads

from helpers import to_numpy


@pytest.fixture(autouse=True)
def _fresh_names():
    keras.backend.clear_session()
    dg.manual_seed(0)


def _run(layer, x, **kwargs):
    x = [dg.tensor(v) for v in x] if isinstance(x, list) else dg.tensor(x)
    return to_numpy(layer(x, **kwargs))


# --- names, initializers, layouts -------------------------------------------------------------
def test_default_names_count_per_class_as_keras():
    names = [L.Dense(2).name, L.Dense(2).name, L.Conv2D(1, 3).name, L.MaxPooling2D().name,
             L.UpSampling2D().name, L.Conv2DTranspose(1, 3).name, L.SimpleRNN(2).name,
             L.BatchNormalization().name, L.MultiHeadAttention(1, 2).name]
    assert names == ["dense", "dense_1", "conv2d", "max_pooling2d", "up_sampling2d",
                     "conv2d_transpose", "simple_rnn", "batch_normalization", "multi_head_attention"]
    keras.backend.clear_session()
    assert L.Dense(2).name == "dense"


def test_weights_are_built_lazily_with_glorot_uniform_kernels_and_zero_biases():
    layer = L.Dense(300)
    assert not layer.built and layer.weights == []
    layer(keras.Input((500,)))
    kernel, bias = layer.get_weights()
    assert kernel.shape == (500, 300) and bias.shape == (300,) and kernel.dtype == np.float32
    limit = math.sqrt(6 / (500 + 300))
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.95 * limit
    assert abs(kernel.std() - limit / math.sqrt(3)) < 0.02 * limit
    assert not bias.any()
    conv = L.Conv2D(16, (3, 3))
    conv(keras.Input((28, 28, 8)))
    k = conv.get_weights()[0]
    assert k.shape == (3, 3, 8, 16)
    assert np.abs(k).max() <= math.sqrt(6 / (9 * 8 + 9 * 16))


def test_weight_layouts_follow_keras():
    def shapes(layer, shape):
        layer(keras.Input(shape))
        return [w.shape for w in layer.get_weights()]

    assert shapes(L.Conv1D(5, 3), (10, 2)) == [(3, 2, 5), (5,)]
    assert shapes(L.Conv2DTranspose(5, 3), (4, 4, 2)) == [(3, 3, 5, 2), (5,)]
    assert shapes(L.SimpleRNN(4), (7, 3)) == [(3, 4), (4, 4), (4,)]
    assert shapes(L.LSTM(4), (7, 3)) == [(3, 16), (4, 16), (16,)]
    assert shapes(L.GRU(4), (7, 3)) == [(3, 12), (4, 12), (2, 12)]
    assert shapes(L.BatchNormalization(), (5, 3)) == [(3,)] * 4
    assert shapes(L.Embedding(10, 4), (6,)) == [(10, 4)]
    assert shapes(L.Bidirectional(L.GRU(2)), (5, 3)) == [(3, 6), (2, 6), (2, 6)] * 2
    mha = L.MultiHeadAttention(num_heads=2, key_dim=3)
    q = keras.Input((5, 8))
    mha(q, q)
    assert [w.shape for w in mha.get_weights()] == [(8, 2, 3), (2, 3)] * 3 + [(2, 3, 8), (8,)]
    lstm = L.LSTM(4)
    lstm(keras.Input((7, 3)))
    bias = lstm.get_weights()[2]
    assert (bias[4:8] == 1).all() and not bias[:4].any() and not bias[8:].any()  # unit_forget_bias


def test_set_weights_checks_shapes_and_names_the_weight():
    layer = L.Dense(3)
    layer(keras.Input((2,)))
    new = [np.ones((2, 3), np.float32), np.arange(3, dtype=np.float32)]
    layer.set_weights(new)
    np.testing.assert_array_equal(_run(layer, np.ones((1, 2), np.float32)), [[2, 3, 4]])
    with pytest.raises(ValueError, match=r"'kernel' has shape \(2, 3\).*\(3, 2\)"):
        layer.set_weights([np.ones((3, 2)), np.zeros(3)])
    with pytest.raises(ValueError, match="expected 2 arrays"):
        layer.set_weights([np.ones((2, 3))])


def test_wrong_input_size_names_the_layer():
    layer = L.Dense(3, name="head")
    layer(keras.Input((4,)))
    with pytest.raises(ValueError, match="Dense 'head'.*last dimension 4.*shape \\(2, 5\\)"):
        layer(dg.zeros(2, 5))
    with pytest.raises(ValueError, match="conv2d.*4-d input"):
        L.Conv2D(2, 3)(keras.Input((5, 5)))


# --- shapes ---------------------------------------------------------------------------------
SHAPES = [
    (lambda: L.Dense(5), (7, 3), (7, 5)),
    (lambda: L.Conv2D(4, 3, strides=2, padding="same"), (9, 9, 3), (5, 5, 4)),
    (lambda: L.Conv2D(4, (3, 2), padding="valid", dilation_rate=2), (9, 9, 3), (5, 7, 4)),
    (lambda: L.Conv1D(4, 3, padding="causal", dilation_rate=2), (10, 3), (10, 4)),
    (lambda: L.Conv1D(4, 4, strides=3, padding="same"), (10, 3), (4, 4)),
    (lambda: L.Conv2DTranspose(4, 3, strides=2, padding="same"), (5, 5, 3), (10, 10, 4)),
    (lambda: L.Conv2DTranspose(4, 3, strides=2), (5, 5, 3), (11, 11, 4)),
    (lambda: L.Conv2DTranspose(4, 2, strides=3), (5, 5, 3), (15, 15, 4)),
    (lambda: L.MaxPooling2D((2, 2), padding="same"), (7, 7, 2), (4, 4, 2)),
    (lambda: L.AveragePooling2D(3, 2, padding="same"), (8, 8, 2), (4, 4, 2)),
    (lambda: L.MaxPooling2D(3, 2), (8, 8, 2), (3, 3, 2)),
    (lambda: L.GlobalAveragePooling2D(), (7, 7, 2), (2,)),
    (lambda: L.UpSampling2D((2, 3)), (3, 3, 2), (6, 9, 2)),
    (lambda: L.Flatten(), (3, 4, 2), (24,)),
    (lambda: L.Reshape((-1, 4)), (3, 4, 2), (6, 4)),
    (lambda: L.Dropout(0.5), (3, 4), (3, 4)),
    (lambda: L.BatchNormalization(), (4, 4, 3), (4, 4, 3)),
    (lambda: L.LayerNormalization(), (5, 3), (5, 3)),
    (lambda: L.Embedding(10, 4), (6,), (6, 4)),
    (lambda: L.SimpleRNN(5), (6, 3), (5,)),
    (lambda: L.LSTM(5, return_sequences=True), (6, 3), (6, 5)),
    (lambda: L.GRU(5, go_backwards=True), (6, 3), (5,)),
    (lambda: L.Bidirectional(L.LSTM(5, return_sequences=True)), (6, 3), (6, 10)),
    (lambda: L.Bidirectional(L.GRU(5), merge_mode="sum"), (6, 3), (5,)),
    (lambda: L.Activation("softmax"), (6,), (6,)),
]


@pytest.mark.parametrize("make, in_shape, out_shape", SHAPES)
def test_symbolic_and_real_output_shapes_agree_with_keras(make, in_shape, out_shape):
    layer = make()
    symbolic = layer(keras.Input(in_shape))
    assert symbolic.shape == (None, *out_shape)
    x = np.random.default_rng(0).integers(0, 10, (2, *in_shape)) if isinstance(layer, L.Embedding) \
        else np.random.default_rng(0).normal(size=(2, *in_shape)).astype(np.float32)
    assert tuple(layer(x, training=True).shape) == (2, *out_shape)


def test_return_state_shapes():
    out, h, c = L.LSTM(4, return_state=True)(keras.Input((5, 3)))
    assert out.shape == h.shape == c.shape == (None, 4)
    outs = L.Bidirectional(L.GRU(4, return_sequences=True, return_state=True))(keras.Input((5, 3)))
    assert [t.shape for t in outs] == [(None, 5, 8), (None, 4), (None, 4)]


# --- numbers ---------------------------------------------------------------------------------
def _conv_reference(x, k, b, stride, pads):
    """NHWC convolution by explicit windows: pad, slide, multiply-add."""
    (t, bo), (l, r) = pads
    xp_ = np.pad(x, ((0, 0), (t, bo), (l, r), (0, 0)))
    kh, kw = k.shape[:2]
    win = np.lib.stride_tricks.sliding_window_view(xp_, (kh, kw), axis=(1, 2))[:, ::stride, ::stride]
    return np.einsum("nhwcij,ijco->nhwo", win, k) + b


@pytest.mark.parametrize("size, kernel, stride", [(9, 3, 2), (8, 3, 2), (8, 4, 1), (7, 2, 3)])
def test_conv2d_same_follows_tensorflow_padding(size, kernel, stride):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, size, size, 3))
    layer = L.Conv2D(4, kernel, strides=stride, padding="same", dtype="float64")
    layer(keras.Input((size, size, 3), dtype="float64"))
    k, b = layer.get_weights()
    before, after = same_pads(size, kernel, stride)  # TF: the odd pixel goes after
    if stride == 1:
        assert (before, after) == ((kernel - 1) // 2, kernel // 2)
    ref = _conv_reference(x, k, b, stride, ((before, after), (before, after)))
    np.testing.assert_allclose(_run(layer, x), ref, rtol=1e-10, atol=1e-10)
    valid = L.Conv2D(4, kernel, strides=stride, dtype="float64")
    valid(keras.Input((size, size, 3), dtype="float64"))
    valid.set_weights([k, b])
    np.testing.assert_allclose(_run(valid, x), _conv_reference(x, k, b, stride, ((0, 0), (0, 0))),
                               rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kernel, stride, padding, size", [
    (3, 2, "same", 10), (4, 2, "same", 10), (3, 1, "same", 9), (3, 2, "valid", 9), (2, 3, "valid", 9)])
def test_conv2d_transpose_is_the_adjoint_of_conv2d(kernel, stride, padding, size):
    """TensorFlow defines conv2d_transpose as the gradient of conv2d for an input of the
    transposed output's size: <conv(x), y> = <x, conv_transpose(y)>."""
    rng = np.random.default_rng(2)
    conv = L.Conv2D(5, kernel, strides=stride, padding=padding, use_bias=False, dtype="float64")
    x = rng.normal(size=(2, size, size, 3))
    y_conv = _run(conv, x)
    up = L.Conv2DTranspose(3, kernel, strides=stride, padding=padding, use_bias=False, dtype="float64")
    up(keras.Input(y_conv.shape[1:], dtype="float64"))
    up.set_weights(conv.get_weights())  # (k, k, 3, 5) is also the transposed layer's layout
    y = rng.normal(size=y_conv.shape)
    x_up = _run(up, y)
    assert x_up.shape == x.shape
    assert np.isclose((y_conv * y).sum(), (x * x_up).sum(), rtol=1e-10)


def _pool_reference(x, k, s, mode):
    n, h, w, c = x.shape
    (t, _), (l, _) = same_pads(h, k, s), same_pads(w, k, s)
    oh, ow = -(-h // s), -(-w // s)
    out = np.empty((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * s - t, j * s - l
            win = x[:, max(r0, 0):r0 + k, max(c0, 0):c0 + k]
            out[:, i, j] = win.max((1, 2)) if mode == "max" else win.mean((1, 2))
    return out


@pytest.mark.parametrize("k, s, size", [(2, 2, 7), (3, 2, 8), (3, 1, 5), (3, 3, 7), (4, 2, 6)])
def test_same_pooling_ignores_the_padding_as_tensorflow(k, s, size):
    x = np.random.default_rng(3).normal(size=(2, size, size, 3))
    for cls, mode in ((L.MaxPooling2D, "max"), (L.AveragePooling2D, "avg")):
        ours = _run(cls(k, s, padding="same", dtype="float64"), x)
        np.testing.assert_allclose(ours, _pool_reference(x, k, s, mode), rtol=1e-12)


def test_upsampling_and_global_pooling_values():
    x = np.arange(8, dtype=np.float32).reshape(1, 2, 2, 2)
    up = _run(L.UpSampling2D((2, 2)), x)
    np.testing.assert_array_equal(up[0, :, :, 0], [[0, 0, 2, 2], [0, 0, 2, 2], [4, 4, 6, 6], [4, 4, 6, 6]])
    np.testing.assert_allclose(_run(L.GlobalAveragePooling2D(), x), x.mean((1, 2)))


def test_channels_first_gives_the_same_numbers():
    x = np.random.default_rng(4).normal(size=(2, 6, 6, 3)).astype(np.float32)
    last = L.Conv2D(4, 3, padding="same")
    first = L.Conv2D(4, 3, padding="same", data_format="channels_first")
    last(keras.Input((6, 6, 3)))
    first(keras.Input((3, 6, 6)))
    first.set_weights(last.get_weights())
    np.testing.assert_allclose(_run(first, x.transpose(0, 3, 1, 2)).transpose(0, 2, 3, 1),
                               _run(last, x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make", [lambda: L.SimpleRNN(4, return_sequences=True),
                                  lambda: L.SimpleRNN(4, activation="relu", go_backwards=True),
                                  lambda: L.LSTM(4, return_sequences=True),
                                  lambda: L.LSTM(4, go_backwards=True, return_state=True),
                                  lambda: L.GRU(4, return_sequences=True),
                                  lambda: L.GRU(4, go_backwards=True, return_sequences=True)])
def test_fused_recurrence_matches_keras_equations_step_by_step(make):
    layer = make()
    layer.__dict__["_dtype"] = "float64"
    x = np.random.default_rng(5).normal(size=(3, 6, 2))
    layer(keras.Input((6, 2), dtype="float64"))
    weights = [w * 0.5 for w in layer.get_weights()]
    if layer.bias is not None:  # non-zero biases, so that their layout is checked too
        weights[-1] = np.random.default_rng(6).normal(size=weights[-1].shape)
    layer.set_weights(weights)
    fused = layer(dg.tensor(x))
    states = [dg.zeros(3, 4, dtype=dg.float64)] * layer._n_states()
    y, final = layer._run_loop(dg.tensor(x), states, False)  # Keras's gate order, tensor ops
    if layer.go_backwards:
        y = y.flip(1)
    expected = y if layer.return_sequences else final[0]
    got = fused[0] if layer.return_state else fused
    np.testing.assert_allclose(to_numpy(got), to_numpy(expected), rtol=1e-10, atol=1e-12)
    if layer.return_state:
        for a, b in zip(fused[1:], final):
            np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-10, atol=1e-12)


def test_recurrent_layer_gradients_flow_to_every_weight():
    layer = L.GRU(3)
    x = dg.tensor(np.random.default_rng(7).normal(size=(2, 4, 2)).astype(np.float32))
    layer(x).sum().backward()
    assert all(w.grad is not None and np.abs(to_numpy(w.grad)).sum() > 0 for w in layer.trainable_weights)


def test_batch_normalization_keeps_keras_moving_statistics():
    bn = L.BatchNormalization()
    x = np.random.default_rng(8).normal(2.0, 3.0, size=(16, 3)).astype(np.float32)
    y = _run(bn, x, training=True)
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(y.std(0), np.sqrt(x.var(0) / (x.var(0) + 1e-3)), rtol=1e-4)
    gamma, beta, mean, var = bn.get_weights()
    np.testing.assert_allclose(mean, 0.01 * x.mean(0), rtol=1e-5)
    np.testing.assert_allclose(var, 0.99 + 0.01 * x.var(0), rtol=1e-5)  # biased variance
    np.testing.assert_allclose(_run(bn, x), (x - mean) / np.sqrt(var + 1e-3), rtol=1e-4)
    bn.trainable = False  # a frozen BatchNormalization runs in inference mode, as Keras
    _run(bn, x, training=True)
    np.testing.assert_array_equal(bn.get_weights()[2], mean)
    assert bn.trainable_weights == [] and len(bn.non_trainable_weights) == 4


def test_multi_head_attention_matches_numpy_reference():
    rng = np.random.default_rng(9)
    mha = L.MultiHeadAttention(num_heads=2, key_dim=3, value_dim=2, output_shape=5, dtype="float64")
    q, v = rng.normal(size=(2, 4, 6)), rng.normal(size=(2, 3, 7))
    mha(keras.Input((4, 6), dtype="float64"), keras.Input((3, 7), dtype="float64"))
    mha.set_weights([rng.normal(size=w.shape) for w in mha.get_weights()])
    wq, bq, wk, bk, wv, bv, wo, bo = mha.get_weights()
    mask = rng.random((2, 4, 3)) > 0.3
    mask[..., 0] = True
    out, scores = mha(dg.tensor(q), dg.tensor(v), attention_mask=mask, return_attention_scores=True)
    qh = np.einsum("btd,dhk->bhtk", q, wq) + bq[None, :, None]
    kh = np.einsum("btd,dhk->bhtk", v, wk) + bk[None, :, None]
    vh = np.einsum("btd,dhk->bhtk", v, wv) + bv[None, :, None]
    logits = np.einsum("bhqk,bhsk->bhqs", qh, kh) / math.sqrt(3)
    logits = np.where(mask[:, None], logits, -np.inf)
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    ref = np.einsum("bhqs,bhsk,hko->bqo", p, vh, wo) + bo
    np.testing.assert_allclose(to_numpy(scores), p, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(to_numpy(out), ref, rtol=1e-10)
    from_arrays = mha(q, v, attention_mask=mask)  # NumPy arrays in every position, as Keras takes
    np.testing.assert_allclose(to_numpy(from_arrays), ref, rtol=1e-10)
    causal = to_numpy(mha(dg.tensor(q), dg.tensor(v), use_causal_mask=True,
                          return_attention_scores=True)[1])
    assert np.all(causal[:, :, 0, 1:] == 0) and np.all(causal[:, :, 1, 2:] == 0)
    np.testing.assert_allclose(causal.sum(-1), 1.0)


def test_merge_layers():
    a, b = np.ones((2, 3), np.float32), np.full((2, 3), 2, np.float32)
    assert _run(L.Add(), [a, b]).tolist() == [[3] * 3] * 2
    assert _run(L.Subtract(), [a, b]).tolist() == [[-1] * 3] * 2
    assert _run(L.Average(), [a, b]).tolist() == [[1.5] * 3] * 2
    assert _run(L.Concatenate(), [a, b]).shape == (2, 6)
    assert L.Concatenate(axis=1)([keras.Input((3,)), keras.Input((4,))]).shape == (None, 7)
    with pytest.raises(ValueError, match="list of at least 2"):
        L.Add()(keras.Input((3,)))


def test_keras_ops_pass_gradcheck_and_gradgradcheck():
    rng = np.random.default_rng(10)
    x = dg.tensor(rng.normal(size=(2, 3, 4)), requires_grad=True)
    k = dg.tensor(rng.normal(size=(4, 5)), requires_grad=True)
    b = dg.tensor(rng.normal(size=(5,)), requires_grad=True)
    np.testing.assert_allclose(to_numpy(dense(x, k, b)), to_numpy(x) @ to_numpy(k) + to_numpy(b))
    assert gradcheck(lambda x, k, b: dense(x, k, b), (x, k, b))
    assert gradgradcheck(lambda x, k, b: dense(x, k, b), (x, k, b))
    pads = ((0, 0), (1, 2), (0, 1))
    assert tuple(pad(x, pads).shape) == (2, 6, 5)
    assert gradcheck(lambda x: pad(x, pads, 0.5), (x,))
    assert gradgradcheck(lambda x: pad(x, pads), (x,))


@pytest.mark.parametrize("name, std", [("he_normal", math.sqrt(2 / 400)), ("lecun_normal", math.sqrt(1 / 400)),
                                       ("glorot_normal", math.sqrt(2 / 600)),
                                       ("he_uniform", math.sqrt(2 / 400)), ("random_normal", 0.05)])
def test_initializers_by_name_have_keras_scales(name, std):
    layer = L.Dense(200, kernel_initializer=name, bias_initializer="ones")
    layer(keras.Input((400,)))
    kernel, bias = layer.get_weights()
    assert abs(kernel.std() - std) < 0.03 * std and abs(kernel.mean()) < 0.05 * std
    assert (bias == 1).all()
    if name.endswith("_normal") and name != "random_normal":  # truncated at 2 standard deviations
        assert np.abs(kernel).max() <= 2 * std / 0.87962566103423978 + 1e-6
    orthogonal = keras.initializers.get("orthogonal")((6, 6))
    np.testing.assert_allclose(orthogonal @ orthogonal.T, np.eye(6), atol=1e-5)
