"""Dense ops (conv, depthwise, fully connected, pools, softmax) byte for byte against TFLM.

Each case builds a one-op .tflite with tests/tflite_builder.py, runs it through TFLM
(tests/reference.py) and through tinyml's op prepare + python kernels, on CPython and on
the MicroPython unix port. The harness below drives prepare/bind/run directly from the
reader's graph (independent of model.py); test_through_model_load checks the same path
through tinyml.load when model.py is available.
"""
import json
import os
import tempfile

import numpy as np
import pytest

from tflite_builder import ModelBuilder
from reference import run_tflm

HARNESS = r'''
from array import array
from tinyml import reader, kernels
from tinyml.ops import prepare_fn

_TC = {'int8': 'b', 'uint8': 'B', 'int16': 'h', 'int32': 'i', 'float32': 'f'}


class FakeModel:
    def __init__(self, graph):
        self.graph = graph
        self.tensors = graph.tensors
        self.kernels = kernels.use_backend('python')
        self.buffers = {}

    def view(self, i):
        if i not in self.buffers:
            t = self.tensors[i]
            raw = bytes(t.data) if t.data is not None else bytes(t.nbytes)
            self.buffers[i] = array(_TC[t.dtype], raw)
        return self.buffers[i]

    def raw(self, i):
        return memoryview(self.view(i))


def run_graph(model_bytes, inputs):
    g = reader.read(model_bytes)
    m = FakeModel(g)
    runs = []
    for op in g.ops:
        scratch_bytes, bind = prepare_fn(op)(m, op)
        scratch = memoryview(bytearray(scratch_bytes)) if scratch_bytes else None
        runs.append(bind(scratch))
    for i, data in zip(g.inputs, inputs):
        v = m.view(i)
        src = array(v.typecode if hasattr(v, 'typecode') else _TC[g.tensors[i].dtype], data)
        for k in range(len(v)):
            v[k] = src[k]
    for r in runs:
        r()
    return [bytes(m.view(o)) for o in g.outputs]
'''

_NS = {}
exec(HARNESS, _NS)


def run_cpython(model, inputs):
    return _NS['run_graph'](model, [bytes(x) for x in inputs])


def run_micropython(mp, model, inputs):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, 'm.tflite')
        with open(path, 'wb') as f:
            f.write(model)
        code = HARNESS + '''
import json
with open(%r, 'rb') as f:
    mb = f.read()
ins = [bytes(x) for x in %s]
print(json.dumps([list(o) for o in run_graph(mb, ins)]))
''' % (path, json.dumps([list(bytes(x)) for x in inputs]))
        return [bytes(o) for o in mp.json(code)]


def check(mp, model, inputs, on_mp=True, float_tol=None):
    want = [np.asarray(w) for w in run_tflm(model, inputs)]
    got = run_cpython(model, inputs)
    for w, g in zip(want, got):
        if float_tol is None:
            assert g == w.tobytes(), (np.frombuffer(g, w.dtype), w.ravel())
        else:
            np.testing.assert_allclose(np.frombuffer(g, w.dtype), w.ravel(),
                                       rtol=float_tol, atol=float_tol)
    if on_mp:
        got_mp = run_micropython(mp, model, inputs)
        if float_tol is None:
            assert got_mp == got
        else:
            for w, g in zip(want, got_mp):
                np.testing.assert_allclose(np.frombuffer(g, w.dtype), w.ravel(),
                                           rtol=float_tol, atol=float_tol)
    return want


def rand_i8(rng, shape):
    return rng.integers(-128, 128, size=shape, dtype=np.int8)


def out_dim(size, k, stride, dil, padding):
    eff = (k - 1) * dil + 1
    return (size + stride - 1) // stride if padding == 'SAME' else (size + stride - eff) // stride


# ------------------------------------------------------------------ conv


def conv_model(rng, in_shape, out_c, k, stride=(1, 1), dil=(1, 1), padding='SAME',
               act='NONE', per_channel=True, bias=True, in_q=(0.05, 3), out_q=(0.2, -5)):
    n, h, w, c = in_shape
    b = ModelBuilder()
    x = b.tensor('int8', in_shape, scale=in_q[0], zero_point=in_q[1])
    scales = tuple(float(s) for s in rng.uniform(0.002, 0.02, out_c)) if per_channel \
        else (0.01,)
    wt = b.const('int8', (out_c, k[0], k[1], c), rand_i8(rng, (out_c, k[0], k[1], c)),
                 scale=scales, zero_point=(0,) * len(scales), qdim=0)
    ins = [x, wt]
    if bias:
        bs = tuple(in_q[0] * s for s in scales) if per_channel else (in_q[0] * 0.01,)
        ins.append(b.const('int32', (out_c,), rng.integers(-3000, 3000, out_c),
                           scale=bs if per_channel else bs[0], zero_point=0))
    else:
        ins.append(-1)
    oh = out_dim(h, k[0], stride[0], dil[0], padding)
    ow = out_dim(w, k[1], stride[1], dil[1], padding)
    y = b.tensor('int8', (n, oh, ow, out_c), scale=out_q[0], zero_point=out_q[1])
    b.op('CONV_2D', ins, [y], padding=padding, stride_h=stride[0], stride_w=stride[1],
         dilation_h_factor=dil[0], dilation_w_factor=dil[1], fused_activation_function=act)
    return b.build(inputs=[x], outputs=[y])


CONV_CASES = [
    dict(in_shape=(1, 7, 6, 3), out_c=4, k=(3, 3)),
    dict(in_shape=(1, 7, 6, 3), out_c=4, k=(3, 3), padding='VALID'),
    dict(in_shape=(1, 9, 8, 2), out_c=3, k=(3, 2), stride=(2, 3)),
    dict(in_shape=(1, 9, 8, 2), out_c=3, k=(3, 3), stride=(2, 2), padding='VALID'),
    dict(in_shape=(1, 9, 9, 2), out_c=2, k=(3, 3), dil=(2, 2)),
    dict(in_shape=(1, 10, 9, 2), out_c=2, k=(2, 3), dil=(3, 2), padding='VALID'),
    dict(in_shape=(2, 5, 5, 3), out_c=5, k=(1, 1), act='RELU'),
    dict(in_shape=(1, 6, 6, 4), out_c=3, k=(3, 3), act='RELU6', per_channel=False),
    dict(in_shape=(1, 6, 5, 2), out_c=3, k=(5, 5), act='RELU_N1_TO_1', bias=False),
    dict(in_shape=(1, 4, 4, 8), out_c=6, k=(3, 3), stride=(2, 2), in_q=(0.5, -128),
         out_q=(10.0, 100)),
]


@pytest.mark.parametrize('case', range(len(CONV_CASES)))
def test_conv_int8(mp, case):
    rng = np.random.default_rng(100 + case)
    kw = CONV_CASES[case]
    model = conv_model(rng, **kw)
    x = rand_i8(rng, kw['in_shape'])
    want = check(mp, model, [x], on_mp=case % 3 == 0)
    assert len(np.unique(want[0])) > 2   # the case exercises more than saturation


# ------------------------------------------------------------------ depthwise


def dw_model(rng, in_shape, dm, k, stride=(1, 1), dil=(1, 1), padding='SAME', act='NONE',
             per_channel=True, in_q=(0.05, -7), out_q=(0.1, 4)):
    n, h, w, c = in_shape
    oc = c * dm
    b = ModelBuilder()
    x = b.tensor('int8', in_shape, scale=in_q[0], zero_point=in_q[1])
    scales = tuple(float(s) for s in rng.uniform(0.005, 0.03, oc)) if per_channel else (0.01,)
    wt = b.const('int8', (1, k[0], k[1], oc), rand_i8(rng, (1, k[0], k[1], oc)),
                 scale=scales, zero_point=(0,) * len(scales), qdim=3)
    bias = b.const('int32', (oc,), rng.integers(-2000, 2000, oc), scale=0.001, zero_point=0)
    oh = out_dim(h, k[0], stride[0], dil[0], padding)
    ow = out_dim(w, k[1], stride[1], dil[1], padding)
    y = b.tensor('int8', (n, oh, ow, oc), scale=out_q[0], zero_point=out_q[1])
    b.op('DEPTHWISE_CONV_2D', [x, wt, bias], [y], padding=padding, stride_h=stride[0],
         stride_w=stride[1], dilation_h_factor=dil[0], dilation_w_factor=dil[1],
         depth_multiplier=dm, fused_activation_function=act)
    return b.build(inputs=[x], outputs=[y])


DW_CASES = [
    dict(in_shape=(1, 7, 6, 4), dm=1, k=(3, 3)),
    dict(in_shape=(1, 7, 6, 4), dm=1, k=(3, 3), padding='VALID', stride=(2, 2)),
    dict(in_shape=(1, 8, 7, 3), dm=2, k=(3, 3)),
    dict(in_shape=(1, 8, 7, 2), dm=3, k=(2, 3), stride=(1, 2), act='RELU6'),
    dict(in_shape=(1, 9, 9, 3), dm=1, k=(3, 3), dil=(2, 2), act='RELU'),
    dict(in_shape=(2, 5, 6, 5), dm=1, k=(5, 3), per_channel=False),
]


@pytest.mark.parametrize('case', range(len(DW_CASES)))
def test_depthwise_int8(mp, case):
    rng = np.random.default_rng(200 + case)
    kw = DW_CASES[case]
    model = dw_model(rng, **kw)
    x = rand_i8(rng, kw['in_shape'])
    want = check(mp, model, [x], on_mp=case % 2 == 0)
    assert len(np.unique(want[0])) > 2


# ------------------------------------------------------------------ fully connected


def fc_model(rng, batches, depth, out_d, act='NONE', per_channel=False, bias=True,
             in_q=(0.04, -3), out_q=(0.3, 2), keep_num_dims=False, wmax=127, wscale=0.0123):
    b = ModelBuilder()
    x = b.tensor('int8', (batches, depth), scale=in_q[0], zero_point=in_q[1])
    scales = tuple(float(s) for s in rng.uniform(0.002, 0.02, out_d)) if per_channel \
        else (wscale,)
    wdata = rng.integers(-wmax, wmax + 1, (out_d, depth)).astype(np.int8)
    wt = b.const('int8', (out_d, depth), wdata, scale=scales,
                 zero_point=(0,) * len(scales), qdim=0)
    ins = [x, wt]
    ins.append(b.const('int32', (out_d,), rng.integers(-5000, 5000, out_d),
                       scale=in_q[0] * scales[0], zero_point=0) if bias else -1)
    y = b.tensor('int8', (batches, out_d), scale=out_q[0], zero_point=out_q[1])
    b.op('FULLY_CONNECTED', ins, [y], fused_activation_function=act,
         keep_num_dims=keep_num_dims)
    return b.build(inputs=[x], outputs=[y])


FC_CASES = [
    dict(batches=1, depth=16, out_d=8),
    dict(batches=3, depth=37, out_d=5, act='RELU'),
    dict(batches=2, depth=20, out_d=7, per_channel=True),
    dict(batches=1, depth=64, out_d=10, act='RELU6', per_channel=True, bias=False,
         in_q=(0.004, -3), out_q=(0.05, -100)),
    dict(batches=1, depth=9, out_d=4, in_q=(1.0, -128), out_q=(4.0, -20)),
    # effective multiplier 5.0 (> 1: left shift path), small weights and bias
    dict(batches=2, depth=3, out_d=6, in_q=(1.0, 0), out_q=(0.1, 0), wmax=1, wscale=0.5,
         bias=False),
]


@pytest.mark.parametrize('case', range(len(FC_CASES)))
def test_fully_connected_int8(mp, case):
    rng = np.random.default_rng(300 + case)
    kw = FC_CASES[case]
    model = fc_model(rng, **kw)
    x = rand_i8(rng, (kw['batches'], kw['depth']))
    want = check(mp, model, [x], on_mp=case % 2 == 0)
    assert len(np.unique(want[0])) > 2


def test_fully_connected_multiplier_uses_double_product(mp):
    """The reference TFLM multiplies input and weight scales in double: rounding the product
    to float32 first moves this output by one."""
    b = ModelBuilder()
    s_in, s_w = 0.05563613399863243, 0.016178779304027557
    x = b.tensor('int8', (1, 1), scale=s_in, zero_point=0)
    w = b.const('int8', (1, 1), [[1]], scale=s_w, zero_point=0)
    bias = b.const('int32', (1,), [-110667], scale=s_in * s_w, zero_point=0)
    y = b.tensor('int8', (1, 1), scale=0.8542912006378174, zero_point=0)
    b.op('FULLY_CONNECTED', [x, w, bias], [y])
    want = check(mp, b.build(inputs=[x], outputs=[y]), [np.array([[100]], np.int8)])
    assert want[0].ravel()[0] == -117


# ------------------------------------------------------------------ pools


def pool_model(name, in_shape, k, stride, padding, act='NONE', dtype='int8', q=(0.1, 5)):
    n, h, w, c = in_shape
    b = ModelBuilder()
    kw = dict(scale=q[0], zero_point=q[1]) if dtype != 'float32' else {}
    x = b.tensor(dtype, in_shape, **kw)
    y = b.tensor(dtype, (n, out_dim(h, k[0], stride[0], 1, padding),
                         out_dim(w, k[1], stride[1], 1, padding), c), **kw)
    b.op(name, [x], [y], padding=padding, stride_h=stride[0], stride_w=stride[1],
         filter_height=k[0], filter_width=k[1], fused_activation_function=act)
    return b.build(inputs=[x], outputs=[y])


POOL_CASES = [
    ('AVERAGE_POOL_2D', (1, 7, 7, 3), (3, 3), (2, 2), 'SAME', 'NONE'),
    ('AVERAGE_POOL_2D', (2, 6, 5, 2), (2, 3), (1, 2), 'VALID', 'RELU'),
    ('AVERAGE_POOL_2D', (1, 5, 5, 4), (5, 5), (1, 1), 'VALID', 'NONE'),
    ('MAX_POOL_2D', (1, 7, 7, 3), (3, 3), (2, 2), 'SAME', 'NONE'),
    ('MAX_POOL_2D', (1, 8, 6, 2), (2, 2), (2, 2), 'VALID', 'RELU6'),
]


@pytest.mark.parametrize('case', range(len(POOL_CASES)))
def test_pool_int8(mp, case):
    name, shape, k, stride, padding, act = POOL_CASES[case]
    rng = np.random.default_rng(400 + case)
    model = pool_model(name, shape, k, stride, padding, act)
    check(mp, model, [rand_i8(rng, shape)], on_mp=case % 2 == 0)


def test_pool_int16(mp):
    rng = np.random.default_rng(410)
    for name in ('AVERAGE_POOL_2D', 'MAX_POOL_2D'):
        model = pool_model(name, (1, 6, 6, 3), (3, 3), (2, 2), 'SAME', dtype='int16',
                           q=(0.001, 0))
        x = rng.integers(-32768, 32768, (1, 6, 6, 3), dtype=np.int16)
        check(mp, model, [x], on_mp=False)


# ------------------------------------------------------------------ softmax


def softmax_model(shape, in_q, out_dtype='int8', beta=1.0):
    b = ModelBuilder()
    x = b.tensor('int8', shape, scale=in_q[0], zero_point=in_q[1])
    if out_dtype == 'int8':
        y = b.tensor('int8', shape, scale=1.0 / 256, zero_point=-128)
    else:
        y = b.tensor('int16', shape, scale=1.0 / 65536, zero_point=-32768)
    b.op('SOFTMAX', [x], [y], beta=beta)
    return b.build(inputs=[x], outputs=[y])


SOFTMAX_CASES = [
    ((1, 10), (0.1, 0), 'int8', 1.0),
    ((3, 12), (0.05, -20), 'int8', 1.0),
    ((2, 7), (0.5, 3), 'int8', 0.7),
    ((1, 4), (0.0039, -128), 'int8', 1.0),
    ((2, 9), (0.2, 10), 'int16', 1.0),
    ((1, 2, 6), (1.5, 0), 'int8', 2.0),
]


@pytest.mark.parametrize('case', range(len(SOFTMAX_CASES)))
def test_softmax_int8(mp, case):
    shape, q, od, beta = SOFTMAX_CASES[case]
    rng = np.random.default_rng(500 + case)
    model = softmax_model(shape, q, od, beta)
    check(mp, model, [rand_i8(rng, shape)], on_mp=case % 2 == 0)


# ------------------------------------------------------------------ float32


def float_conv_model(rng, op, in_shape, k, out_c, stride, padding, act, dm=1, dil=(1, 1)):
    n, h, w, c = in_shape
    b = ModelBuilder()
    x = b.tensor('float32', in_shape)
    if op == 'CONV_2D':
        wshape = (out_c, k[0], k[1], c)
    else:
        out_c = c * dm
        wshape = (1, k[0], k[1], out_c)
    wt = b.const('float32', wshape, rng.normal(0, 0.5, wshape))
    bias = b.const('float32', (out_c,), rng.normal(0, 0.5, out_c))
    y = b.tensor('float32', (n, out_dim(h, k[0], stride[0], dil[0], padding),
                             out_dim(w, k[1], stride[1], dil[1], padding), out_c))
    opts = dict(padding=padding, stride_h=stride[0], stride_w=stride[1],
                dilation_h_factor=dil[0], dilation_w_factor=dil[1],
                fused_activation_function=act)
    if op != 'CONV_2D':
        opts['depth_multiplier'] = dm
    b.op(op, [x, wt, bias], [y], **opts)
    return b.build(inputs=[x], outputs=[y])


def test_float_conv_depthwise(mp):
    rng = np.random.default_rng(600)
    cases = [('CONV_2D', (1, 6, 5, 3), (3, 3), 4, (1, 1), 'SAME', 'NONE', 1),
             ('CONV_2D', (1, 7, 7, 2), (3, 2), 3, (2, 2), 'VALID', 'RELU', 1),
             ('DEPTHWISE_CONV_2D', (1, 6, 6, 3), (3, 3), 0, (1, 1), 'SAME', 'RELU6', 2),
             ('DEPTHWISE_CONV_2D', (1, 6, 5, 4), (2, 2), 0, (2, 1), 'VALID', 'NONE', 1),
             ('DEPTHWISE_CONV_2D', (1, 9, 8, 2), (3, 3), 0, (1, 1), 'SAME', 'NONE', 1, (2, 2)),
             ('CONV_2D', (1, 9, 8, 2), (3, 2), 3, (1, 2), 'VALID', 'RELU_N1_TO_1', 1, (2, 3))]
    for i, case in enumerate(cases):
        model = float_conv_model(rng, *case)
        x = rng.normal(0, 1, case[1]).astype(np.float32)
        check(mp, model, [x], on_mp=i == 2, float_tol=1e-5)


def test_float_fc_pool_softmax(mp):
    rng = np.random.default_rng(601)
    b = ModelBuilder()
    x = b.tensor('float32', (2, 12))
    wt = b.const('float32', (5, 12), rng.normal(0, 0.5, (5, 12)))
    bias = b.const('float32', (5,), rng.normal(0, 0.5, 5))
    h = b.tensor('float32', (2, 5))
    y = b.tensor('float32', (2, 5))
    b.op('FULLY_CONNECTED', [x, wt, bias], [h], fused_activation_function='RELU')
    b.op('SOFTMAX', [h], [y], beta=1.0)
    model = b.build(inputs=[x], outputs=[y])
    check(mp, model, [rng.normal(0, 1, (2, 12)).astype(np.float32)], float_tol=1e-6)
    for name in ('AVERAGE_POOL_2D', 'MAX_POOL_2D'):
        model = pool_model(name, (1, 7, 6, 3), (3, 3), (2, 2), 'SAME', dtype='float32')
        check(mp, model, [rng.normal(0, 1, (1, 7, 6, 3)).astype(np.float32)],
              on_mp=False, float_tol=1e-6)


# ------------------------------------------------------------------ errors


def test_unsupported_and_bad_models_raise():
    from tinyml.errors import ModelError, UnsupportedOpError
    rng = np.random.default_rng(700)
    # wrong output shape
    b = ModelBuilder()
    x = b.tensor('int8', (1, 5, 5, 2), scale=0.1, zero_point=0)
    wt = b.const('int8', (3, 3, 3, 2), rand_i8(rng, (3, 3, 3, 2)), scale=0.01, zero_point=0)
    y = b.tensor('int8', (1, 4, 4, 3), scale=0.1, zero_point=0)
    b.op('CONV_2D', [x, wt, -1], [y], padding='SAME', stride_h=1, stride_w=1)
    with pytest.raises(ModelError, match='output shape'):
        run_cpython(b.build(inputs=[x], outputs=[y]), [bytes(50)])
    # unsupported fused activation
    b = ModelBuilder()
    x = b.tensor('int8', (1, 4), scale=0.1, zero_point=0)
    wt = b.const('int8', (2, 4), rand_i8(rng, (2, 4)), scale=0.01, zero_point=0)
    y = b.tensor('int8', (1, 2), scale=0.1, zero_point=0)
    b.op('FULLY_CONNECTED', [x, wt, -1], [y], fused_activation_function='TANH')
    with pytest.raises(UnsupportedOpError, match='FULLY_CONNECTED.*TANH'):
        run_cpython(b.build(inputs=[x], outputs=[y]), [bytes(4)])
    # int8 softmax with the wrong output quantization
    b = ModelBuilder()
    x = b.tensor('int8', (1, 4), scale=0.1, zero_point=0)
    y = b.tensor('int8', (1, 4), scale=0.1, zero_point=0)
    b.op('SOFTMAX', [x], [y], beta=1.0)
    with pytest.raises(ModelError, match='SOFTMAX.*1/256'):
        run_cpython(b.build(inputs=[x], outputs=[y]), [bytes(4)])
    # grouped convolution
    b = ModelBuilder()
    x = b.tensor('int8', (1, 5, 5, 4), scale=0.1, zero_point=0)
    wt = b.const('int8', (4, 3, 3, 2), rand_i8(rng, (4, 3, 3, 2)), scale=0.01, zero_point=0)
    y = b.tensor('int8', (1, 5, 5, 4), scale=0.1, zero_point=0)
    b.op('CONV_2D', [x, wt, -1], [y], padding='SAME', stride_h=1, stride_w=1)
    with pytest.raises(UnsupportedOpError, match='CONV_2D.*grouped'):
        run_cpython(b.build(inputs=[x], outputs=[y]), [bytes(100)])
    # int8 conv with an int64 bias
    b = ModelBuilder()
    x = b.tensor('int8', (1, 3, 3, 1), scale=0.1, zero_point=0)
    wt = b.const('int8', (2, 1, 1, 1), [[[[1]]], [[[2]]]], scale=0.01, zero_point=0)
    bias = b.const('int64', (2,), [1, 2])
    y = b.tensor('int8', (1, 3, 3, 2), scale=0.1, zero_point=0)
    b.op('CONV_2D', [x, wt, bias], [y], padding='SAME', stride_h=1, stride_w=1)
    with pytest.raises(UnsupportedOpError, match='bias dtype int64'):
        run_cpython(b.build(inputs=[x], outputs=[y]), [bytes(9)])
    # per-channel scales that do not match the channel count
    b = ModelBuilder()
    x = b.tensor('int8', (1, 4), scale=0.1, zero_point=0)
    wt = b.const('int8', (3, 4), rand_i8(rng, (3, 4)), scale=(0.01, 0.02),
                 zero_point=(0, 0), qdim=0)
    y = b.tensor('int8', (1, 3), scale=0.1, zero_point=0)
    b.op('FULLY_CONNECTED', [x, wt, -1], [y])
    with pytest.raises(ModelError, match='2 scales for 3 channels'):
        run_cpython(b.build(inputs=[x], outputs=[y]), [bytes(4)])
    # mixed dtypes
    b = ModelBuilder()
    x = b.tensor('float32', (1, 4))
    wt = b.const('int8', (2, 4), rand_i8(rng, (2, 4)), scale=0.01, zero_point=0)
    y = b.tensor('float32', (1, 2))
    b.op('FULLY_CONNECTED', [x, wt, -1], [y])
    with pytest.raises(UnsupportedOpError, match='dtype combination'):
        run_cpython(b.build(inputs=[x], outputs=[y]), [bytes(16)])


# ------------------------------------------------------------------ through tinyml.load


def small_net(rng, dtype):
    """conv -> depthwise -> max pool -> avg pool -> reshape-free FC -> softmax."""
    q = (lambda s, z: dict(scale=s, zero_point=z)) if dtype == 'int8' else (lambda s, z: {})
    wq = (lambda s, n, d: dict(scale=s, zero_point=(0,) * n, qdim=d)) if dtype == 'int8' \
        else (lambda s, n, d: {})
    bt = 'int32' if dtype == 'int8' else 'float32'

    def weights(shape):
        if dtype == 'int8':
            return rand_i8(rng, shape)
        return rng.normal(0, 0.3, shape).astype(np.float32)

    def biases(n):
        if dtype == 'int8':
            return rng.integers(-500, 500, n)
        return rng.normal(0, 0.1, n).astype(np.float32)

    b = ModelBuilder()
    x = b.tensor(dtype, (1, 10, 9, 2), **q(0.05, -3))
    w1 = b.const(dtype, (4, 3, 3, 2), weights((4, 3, 3, 2)),
                 **wq(tuple(float(s) for s in rng.uniform(0.005, 0.01, 4)), 4, 0))
    b1 = b.const(bt, (4,), biases(4))
    h1 = b.tensor(dtype, (1, 5, 5, 4), **q(0.08, 2))
    b.op('CONV_2D', [x, w1, b1], [h1], padding='SAME', stride_h=2, stride_w=2,
         fused_activation_function='RELU')
    w2 = b.const(dtype, (1, 3, 3, 8), weights((1, 3, 3, 8)),
                 **wq(tuple(float(s) for s in rng.uniform(0.005, 0.02, 8)), 8, 3))
    b2 = b.const(bt, (8,), biases(8))
    h2 = b.tensor(dtype, (1, 5, 5, 8), **q(0.06, -1))
    b.op('DEPTHWISE_CONV_2D', [h1, w2, b2], [h2], padding='SAME', stride_h=1, stride_w=1,
         depth_multiplier=2, fused_activation_function='RELU6')
    h3 = b.tensor(dtype, (1, 3, 3, 8), **q(0.06, -1))
    b.op('MAX_POOL_2D', [h2], [h3], padding='SAME', stride_h=2, stride_w=2,
         filter_height=2, filter_width=2)
    h4 = b.tensor(dtype, (1, 1, 1, 8), **q(0.06, -1))
    b.op('AVERAGE_POOL_2D', [h3], [h4], padding='VALID', stride_h=1, stride_w=1,
         filter_height=3, filter_width=3)
    w5 = b.const(dtype, (5, 8), weights((5, 8)), **wq((0.01,), 1, 0))
    b5 = b.const(bt, (5,), biases(5), **q(0.06 * 0.01, 0))
    h5 = b.tensor(dtype, (1, 5), **q(0.05, 0))
    b.op('FULLY_CONNECTED', [h4, w5, b5], [h5])
    y = b.tensor(dtype, (1, 5), **q(1.0 / 256, -128))
    b.op('SOFTMAX', [h5], [y], beta=1.0)
    return b.build(inputs=[x], outputs=[y])


@pytest.mark.parametrize('dtype', ['int8', 'float32'])
def test_through_model_load(mp, dtype):
    pytest.importorskip('tinyml.model')
    rng = np.random.default_rng(800)
    model = small_net(rng, dtype)
    if dtype == 'int8':
        x = rand_i8(rng, (1, 10, 9, 2))
    else:
        x = rng.normal(0, 1, (1, 10, 9, 2)).astype(np.float32)
    want = run_tflm(model, [x])[0]
    code = '''
import json
from tinyml import kernels, load
kernels.use_backend('python')
m = load(open(%r, 'rb').read())
m.set_input(0, bytes(%s))
m.invoke()
print(json.dumps(list(bytes(m.outputs[0].raw))))
'''
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, 'net.tflite')
        with open(path, 'wb') as f:
            f.write(model)
        src = code % (path, json.dumps(list(x.tobytes())))
        ns = {}
        import contextlib
        import io
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            exec(src, ns)
        outs = [bytes(json.loads(buf.getvalue().strip().splitlines()[-1])), bytes(mp.json(src))]
    for got in outs:
        if dtype == 'int8':
            assert got == want.tobytes()
        else:
            np.testing.assert_allclose(np.frombuffer(got, np.float32), want.ravel(), rtol=1e-5,
                                       atol=1e-6)
    if dtype == 'int8':
        assert len(np.unique(want)) > 2


# ------------------------------------------------------------------ int16 activations


def conv16_model(rng, bias_dtype, act='NONE', stride=(1, 1), padding='SAME'):
    b = ModelBuilder()
    x = b.tensor('int16', (1, 6, 5, 3), scale=0.002, zero_point=0)
    scales = tuple(float(s) for s in rng.uniform(0.002, 0.01, 4))
    wt = b.const('int8', (4, 3, 3, 3), rand_i8(rng, (4, 3, 3, 3)), scale=scales,
                 zero_point=(0,) * 4, qdim=0)
    bias = b.const(bias_dtype, (4,), rng.integers(-200000, 200000, 4),
                   scale=tuple(0.002 * s for s in scales), zero_point=(0,) * 4)
    oh, ow = out_dim(6, 3, stride[0], 1, padding), out_dim(5, 3, stride[1], 1, padding)
    y = b.tensor('int16', (1, oh, ow, 4), scale=0.01, zero_point=0)
    b.op('CONV_2D', [x, wt, bias], [y], padding=padding, stride_h=stride[0],
         stride_w=stride[1], fused_activation_function=act)
    return b.build(inputs=[x], outputs=[y])


def fc16_model(rng, bias_dtype, per_channel, act='NONE'):
    b = ModelBuilder()
    x = b.tensor('int16', (2, 24), scale=0.001, zero_point=0)
    scales = tuple(float(s) for s in rng.uniform(0.002, 0.01, 6)) if per_channel else (0.005,)
    wt = b.const('int8', (6, 24), rand_i8(rng, (6, 24)), scale=scales,
                 zero_point=(0,) * len(scales), qdim=0)
    bias = b.const(bias_dtype, (6,), rng.integers(-100000, 100000, 6),
                   scale=0.001 * scales[0], zero_point=0)
    y = b.tensor('int16', (2, 6), scale=0.005, zero_point=0)
    b.op('FULLY_CONNECTED', [x, wt, bias], [y], fused_activation_function=act)
    return b.build(inputs=[x], outputs=[y])


@pytest.mark.parametrize('bias_dtype', ['int64', 'int32'])
def test_conv_int16x8(mp, bias_dtype):
    rng = np.random.default_rng(900)
    for i, kw in enumerate([dict(), dict(act='RELU', stride=(2, 2), padding='VALID')]):
        model = conv16_model(rng, bias_dtype, **kw)
        x = rng.integers(-32768, 32768, (1, 6, 5, 3), dtype=np.int16)
        want = check(mp, model, [x], on_mp=i == 0)
        assert len(np.unique(want[0])) > 2


@pytest.mark.parametrize('bias_dtype', ['int64', 'int32'])
def test_fully_connected_int16x8(mp, bias_dtype):
    rng = np.random.default_rng(901)
    for i, per_channel in enumerate([False, True]):
        model = fc16_model(rng, bias_dtype, per_channel, act='RELU' if i else 'NONE')
        x = rng.integers(-32768, 32768, (2, 24), dtype=np.int16)
        want = check(mp, model, [x], on_mp=i == 0)
        assert len(np.unique(want[0])) > 2


def test_depthwise_int16x8(mp):
    rng = np.random.default_rng(902)
    for i, (dm, act, stride, padding) in enumerate([(1, 'NONE', (1, 1), 'SAME'),
                                                    (2, 'RELU6', (2, 1), 'VALID')]):
        b = ModelBuilder()
        x = b.tensor('int16', (1, 6, 5, 3), scale=0.002, zero_point=0)
        oc = 3 * dm
        scales = tuple(float(s) for s in rng.uniform(0.002, 0.01, oc))
        wt = b.const('int8', (1, 3, 3, oc), rand_i8(rng, (1, 3, 3, oc)), scale=scales,
                     zero_point=(0,) * oc, qdim=3)
        bias = b.const('int64', (oc,), rng.integers(-200000, 200000, oc),
                       scale=tuple(0.002 * s for s in scales), zero_point=(0,) * oc)
        y = b.tensor('int16', (1, out_dim(6, 3, stride[0], 1, padding),
                               out_dim(5, 3, stride[1], 1, padding), oc),
                     scale=0.003, zero_point=0)
        b.op('DEPTHWISE_CONV_2D', [x, wt, bias], [y], padding=padding, stride_h=stride[0],
             stride_w=stride[1], depth_multiplier=dm, fused_activation_function=act)
        model = b.build(inputs=[x], outputs=[y])
        x = rng.integers(-32768, 32768, (1, 6, 5, 3), dtype=np.int16)
        want = check(mp, model, [x], on_mp=i == 0)
        assert len(np.unique(want[0])) > 2


def test_softmax_params_match_tflm_formula():
    from tinyml.ops.softmax import softmax_int8_params
    import math
    rng = np.random.default_rng(950)
    for _ in range(300):
        beta = float(np.float32(rng.uniform(0.1, 3)))
        scale = float(np.float32(10 ** rng.uniform(-4, 1)))
        real = min(beta * scale * (1 << 26), (1 << 31) - 1.0)
        q, shift = math.frexp(real)
        q_fixed = int(math.floor(q * (1 << 31) + 0.5))
        if q_fixed == 1 << 31:
            q_fixed //= 2
            shift += 1
        radius = math.floor(31.0 * (1 << 26) / (1 << shift))
        assert softmax_int8_params(beta, scale) == (q_fixed, shift, -radius)


# ------------------------------------------------------------------ corpus (dense-op models)

DENSE_CORPUS = ['hello_world_int8', 'ad01_int8', 'micro_speech_quantized', 'str_ww_ref_model',
                'kws_ref_model', 'magic_wand', 'hello_world_float']


@pytest.mark.parametrize('name', DENSE_CORPUS)
def test_corpus_dense_models_on_unix_port(mp, zoo, name):
    """Every reference sample of models made only of dense ops (+RESHAPE), on MicroPython:
    int8 outputs byte for byte, float outputs to 1e-4 relative."""
    ref = np.load(zoo / (name + '.npz'))
    samples = ref['input_0'].shape[0]
    with tempfile.TemporaryDirectory() as d:
        for s in range(samples):
            with open(os.path.join(d, 'in%d.bin' % s), 'wb') as f:
                f.write(ref['input_0'][s].tobytes())
        got = mp.json('''
import json
from tinyml import kernels, load
kernels.use_backend('python')
m = load(open(%r, 'rb').read())
outs = []
for s in range(%d):
    m.set_input(0, open(%r %% s, 'rb').read())
    m.invoke()
    outs.append(list(bytes(m.outputs[0].raw)))
print(json.dumps(outs))
''' % (str(zoo / (name + '.tflite')), samples, os.path.join(d, 'in%d.bin')), heapsize=4 << 20)
    want = ref['output_0']
    for s in range(samples):
        g = np.frombuffer(bytes(got[s]), want.dtype)
        if want.dtype == np.float32:
            np.testing.assert_allclose(g, want[s].ravel(), rtol=1e-4, atol=1e-6)
        else:
            assert g.tobytes() == want[s].tobytes(), (name, s)


@pytest.mark.parametrize('case', range(4))
def test_log_softmax(mp, case):
    shape, q = [((1, 10), (0.1, 0)), ((3, 12), (0.05, -20)), ((2, 7), (0.5, 3)),
                ((1, 16), (0.02, -128))][case]
    rng = np.random.default_rng(960 + case)
    b = ModelBuilder()
    x = b.tensor('int8', shape, scale=q[0], zero_point=q[1])
    y = b.tensor('int8', shape, scale=16.0 / 256, zero_point=127)
    b.op('LOG_SOFTMAX', [x], [y])
    want = check(mp, b.build(inputs=[x], outputs=[y]), [rand_i8(rng, shape)],
                 on_mp=case % 2 == 0)
    assert len(np.unique(want[0])) > 2


def test_log_softmax_float(mp):
    rng = np.random.default_rng(970)
    b = ModelBuilder()
    x = b.tensor('float32', (2, 9))
    y = b.tensor('float32', (2, 9))
    b.op('LOG_SOFTMAX', [x], [y])
    check(mp, b.build(inputs=[x], outputs=[y]), [rng.normal(0, 3, (2, 9)).astype(np.float32)],
          float_tol=1e-5)


def tflm_int16_luts():
    """TFLM LUTPopulate<int16_t>(float) for softmax's exp and 1/(1+x) tables, with glibc
    expf through ctypes and numpy float32 arithmetic (what TFLM's prepare computes)."""
    import ctypes
    import math
    f = np.float32
    libm = ctypes.CDLL('libm.so.6')
    libm.expf.restype = ctypes.c_float
    libm.expf.argtypes = [ctypes.c_float]

    def rnd(v):
        v = float(v)
        return f(math.copysign(math.floor(abs(v) + 0.5), v))

    def gen(transform, input_scale, input_zp, output_scale):
        input_min = f(input_scale) * f(-32768 - input_zp)
        input_max = f(input_scale) * f(32767 - input_zp)
        out_span = f(output_scale) * f(32767) - f(output_scale) * f(-32768)
        step = (input_max - input_min) / f(512)
        half = step / f(2)
        osi = f(65536) / out_span
        lut = []
        for i in range(512):
            val = transform(input_min + f(i) * step)
            mid = transform(input_min + f(i) * step + half)
            nxt = transform(input_min + f(i + 1) * step)
            interp = rnd((nxt * osi + rnd(val * osi)) / f(2))
            bias = rnd((interp - rnd(mid * osi)) / f(2))
            lut.append(int(min(max(rnd(val * osi) - bias, f(-32768)), f(32767))))
        lut.append(int(min(max(rnd(transform(input_max) * osi), f(-32768)), f(32767))))
        return lut

    span = f(65535)
    return (gen(lambda v: f(libm.expf(float(v))), f(10) / span, 32767, f(2) / span)
            + gen(lambda v: f(1) / (f(1) + v), f(1) / span, -32768, f(2) / span))


def test_int16_softmax_luts_are_tflms():
    if not os.path.exists('/lib/x86_64-linux-gnu/libm.so.6') and \
            not os.path.exists('/usr/lib/x86_64-linux-gnu/libm.so.6'):
        pytest.skip('needs glibc libm (the TFLM reference build uses its expf)')
    from tinyml.ops.softmax import int16_luts
    assert list(int16_luts()) == tflm_int16_luts()


@pytest.mark.parametrize('case', range(5))
def test_softmax_int16(mp, case):
    shape, scale, beta = [((1, 10), 0.001, 1.0), ((3, 17), 0.0003, 1.0), ((2, 8), 0.002, 0.5),
                          ((1, 40), 0.0001, 2.0), ((200, 12), 0.00015, 1.0)][case]
    rng = np.random.default_rng(980 + case)
    b = ModelBuilder()
    x = b.tensor('int16', shape, scale=scale, zero_point=0)
    y = b.tensor('int16', shape, scale=1.0 / 32768, zero_point=0)
    b.op('SOFTMAX', [x], [y], beta=beta)
    xs = rng.integers(-32768, 32768, shape, dtype=np.int16)
    want = check(mp, b.build(inputs=[x], outputs=[y]), [xs], on_mp=case % 2 == 0)
    assert len(np.unique(want[0])) > 3


# ------------------------------------------------------------------ allocation-free invoke

ALLOC_CODE = r'''
import gc, json
from tinyml import kernels, load
kernels.use_backend('python')
def main():
    out = []
    for path in %r:
        m = load(open(path, 'rb').read())
        m.invoke()
        gc.collect()
        before = gc.mem_alloc()
        m.invoke()
        out.append(gc.mem_alloc() - before)
    print(json.dumps(out))
main()
'''


def test_integer_kernels_allocate_nothing_on_unix_port(mp):
    """Integer dense kernels run without heap allocation (63-bit small ints on the unix
    port; boards with 31-bit small ints box the requantization products)."""
    pytest.importorskip('tinyml.model')
    rng = np.random.default_rng(990)
    models = [conv_model(rng, (1, 6, 6, 3), 4, (3, 3), stride=(2, 1)),
              dw_model(rng, (1, 6, 5, 2), 2, (3, 3)),
              fc_model(rng, 2, 10, 4, per_channel=True),
              pool_model('AVERAGE_POOL_2D', (1, 6, 6, 3), (3, 3), (2, 2), 'SAME'),
              pool_model('MAX_POOL_2D', (1, 6, 6, 3), (2, 2), (2, 2), 'VALID', dtype='int16',
                         q=(0.01, 0)),
              softmax_model((2, 6), (0.1, 3)),
              softmax_model((2, 6), (0.1, 3), 'int16'),
              conv16_model(rng, 'int64'), fc16_model(rng, 'int32', False)]
    b = ModelBuilder()
    x = b.tensor('int16', (1, 8), scale=0.001, zero_point=0)
    y = b.tensor('int16', (1, 8), scale=1.0 / 32768, zero_point=0)
    b.op('SOFTMAX', [x], [y], beta=1.0)
    models.append(b.build(inputs=[x], outputs=[y]))
    b = ModelBuilder()
    x = b.tensor('int8', (1, 8), scale=0.1, zero_point=0)
    y = b.tensor('int8', (1, 8), scale=16.0 / 256, zero_point=127)
    b.op('LOG_SOFTMAX', [x], [y])
    models.append(b.build(inputs=[x], outputs=[y]))
    with tempfile.TemporaryDirectory() as d:
        paths = []
        for i, model in enumerate(models):
            paths.append(os.path.join(d, 'm%d.tflite' % i))
            with open(paths[-1], 'wb') as f:
                f.write(model)
        assert mp.json(ALLOC_CODE % (paths,)) == [0] * len(models)


def test_pool_quantization_must_match():
    from tinyml.errors import ModelError
    b = ModelBuilder()
    x = b.tensor('int8', (1, 4, 4, 1), scale=0.1, zero_point=0)
    y = b.tensor('int8', (1, 2, 2, 1), scale=0.2, zero_point=0)
    b.op('MAX_POOL_2D', [x], [y], padding='VALID', stride_h=2, stride_w=2, filter_height=2,
         filter_width=2)
    with pytest.raises(ModelError, match='MAX_POOL_2D.*quantization differ'):
        run_cpython(b.build(inputs=[x], outputs=[y]), [bytes(16)])


def test_pool_int16_with_zero_point(mp):
    rng = np.random.default_rng(411)
    model = pool_model('AVERAGE_POOL_2D', (1, 5, 5, 2), (2, 2), (1, 1), 'SAME', 'RELU',
                       dtype='int16', q=(0.01, 7))
    check(mp, model, [rng.integers(-32768, 32768, (1, 5, 5, 2), dtype=np.int16)], on_mp=False)
