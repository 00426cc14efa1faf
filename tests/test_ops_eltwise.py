"""Elementwise, activation, reduce and resize ops byte for byte against TFLM.

Every case builds a one-op .tflite (tests/tflite_builder.py), runs it in TFLM
(tests/reference.py) and through tinyml.load() on CPython and on the MicroPython unix port
(all cases in one MicroPython process). Integer outputs must match exactly; float outputs
of ops whose C code is plain IEEE arithmetic too; only transcendental float ops (exp/tanh)
get a tolerance. Corpus models using these ops are checked at the end.
"""
import json
import os
import tempfile

import numpy as np
import pytest

from tflite_builder import ModelBuilder
from reference import run_tflm

import tinyml
from tinyml.errors import ModelError, UnsupportedOpError

NP = {'int8': np.int8, 'int16': np.int16, 'int32': np.int32, 'float32': np.float32}
CASES = {}


def case(name, tol=None):
    def register(fn):
        CASES[name] = (fn, tol)
        return fn
    return register


def rand(rng, dtype, shape, lo=None, hi=None):
    if dtype == 'float32':
        return rng.uniform(-4 if lo is None else lo, 4 if hi is None else hi,
                           size=shape).astype(np.float32)
    info = np.iinfo(NP[dtype])
    lo = info.min if lo is None else lo
    hi = info.max if hi is None else hi
    return rng.integers(lo, hi, size=shape, endpoint=True).astype(NP[dtype])


def quant(dtype, scale=None, zp=None):
    return {} if dtype in ('float32', 'int32') else {'scale': scale, 'zero_point': zp}


def binary(op, dtype, sa, sb, qa=(0.05, 3), qb=(0.11, -7), qo=(0.09, -2), rng=None,
           act=None, a_range=(None, None), b_range=(None, None)):
    if dtype == 'int16':
        qa, qb, qo = (qa[0], 0), (qb[0], 0), (qo[0], 0)
    b = ModelBuilder()
    x = b.tensor(dtype, sa, **quant(dtype, *qa))
    y = b.tensor(dtype, sb, **quant(dtype, *qb))
    z = b.tensor(dtype, np.broadcast_shapes(sa, sb), **quant(dtype, *(qo or ())))
    opts = {} if act is None else {'fused_activation_function': act}
    b.op(op, [x, y], [z], **opts)
    ins = [rand(rng, dtype, sa, *a_range), rand(rng, dtype, sb, *b_range)]
    return b.build(inputs=[x, y], outputs=[z]), ins


def unary(op, dtype, shape, qi, qo, rng, lo=None, hi=None, **opts):
    b = ModelBuilder()
    x = b.tensor(dtype, shape, **quant(dtype, *(qi or ())))
    z = b.tensor(dtype, shape, **quant(dtype, *(qo or ())))
    b.op(op, [x], [z], **opts)
    return b.build(inputs=[x], outputs=[z]), [rand(rng, dtype, shape, lo, hi)]


# ------------------------------------------------------------------ ADD / SUB
for _op in ('ADD', 'SUB'):
    for _dt in ('int8', 'int16'):
        for _sa, _sb, _tag in (((1, 4, 4, 8), (1, 4, 4, 8), 'same'),
                               ((1, 4, 4, 8), (8,), 'channel'),
                               ((2, 1, 3), (1, 5, 1), 'both'),
                               ((1, 3, 1, 4, 2), (2, 1, 3, 1, 1), '5d'),
                               ((), (3, 4), 'scalar')):
            case('%s_%s_%s' % (_op, _dt, _tag))(
                lambda rng, op=_op, dt=_dt, sa=_sa, sb=_sb: binary(op, dt, sa, sb, rng=rng))

case('ADD_int8_equal_scales_relu6')(lambda rng: binary(
    'ADD', 'int8', (2, 6, 5), (2, 6, 5), (0.1, 0), (0.1, 0), (0.1, -128), rng, 'RELU6'))
case('ADD_int8_relu_n1_to_1')(lambda rng: binary(
    'ADD', 'int8', (3, 7), (7,), (0.02, 10), (0.01, -3), (0.015, 0), rng, 'RELU_N1_TO_1'))
case('SUB_int8_relu')(lambda rng: binary(
    'SUB', 'int8', (4, 9), (4, 1), (0.3, -20), (0.07, 5), (0.2, 1), rng, 'RELU'))
case('ADD_int16_relu')(lambda rng: binary(
    'ADD', 'int16', (5, 6), (5, 6), (0.001, 0), (0.0007, 0), (0.002, 0), rng, 'RELU'))
case('ADD_float_relu')(lambda rng: binary('ADD', 'float32', (3, 4, 5), (5,), rng=rng, act='RELU'))
case('SUB_float_bcast')(lambda rng: binary('SUB', 'float32', (3, 1, 5), (4, 1), rng=rng))
case('ADD_int32')(lambda rng: binary('ADD', 'int32', (40,), (), rng=rng, act='RELU'))
case('SUB_int32_relu')(lambda rng: binary('SUB', 'int32', (6, 7), (7,), rng=rng, act='RELU'))



def with_const(op, dtype, shape, const_shape, rng, q=((0.05, 3), (0.02, -20), (0.07, 1)), **opts):
    """op(x, constant) as converters emit for biases and scalar factors."""
    b = ModelBuilder()
    x = b.tensor(dtype, shape, **quant(dtype, *q[0]))
    c = b.const(dtype, const_shape, rand(rng, dtype, const_shape), **quant(dtype, *q[1]))
    z = b.tensor(dtype, np.broadcast_shapes(shape, const_shape), **quant(dtype, *q[2]))
    b.op(op, [x, c], [z], **opts)
    return b.build(inputs=[x], outputs=[z]), [rand(rng, dtype, shape)]


case('ADD_int8_const_channel_bias')(lambda rng: with_const('ADD', 'int8', (1, 5, 5, 16), (16,), rng))
case('MUL_float_const_scalar')(lambda rng: with_const('MUL', 'float32', (40,), (), rng))
case('MINIMUM_int8_const')(lambda rng: with_const(
    'MINIMUM', 'int8', (3, 8), (8,), rng, q=((0.1, 0), (0.1, 0), (0.1, 0))))
case('SUB_int16_relu6')(lambda rng: binary(
    'SUB', 'int16', (4, 6), (6,), (0.0004, 0), (0.0003, 0), (0.0002, 0), rng, 'RELU6'))

# ------------------------------------------------------------------ MUL / DIV
case('MUL_int8_same')(lambda rng: binary(
    'MUL', 'int8', (2, 5, 6), (2, 5, 6), qo=(0.2, -2), rng=rng))
case('MUL_int8_bcast_relu6')(lambda rng: binary(
    'MUL', 'int8', (2, 5, 6), (5, 1), (0.1, 4), (0.05, -9), (0.03, -100), rng, 'RELU6'))
case('MUL_int16')(lambda rng: binary(
    'MUL', 'int16', (4, 8), (8,), (0.001, 0), (0.002, 0), (0.00005, 0), rng))
case('MUL_float_relu_n1_to_1')(lambda rng: binary(
    'MUL', 'float32', (3, 8), (3, 8), rng=rng, act='RELU_N1_TO_1'))
case('MUL_int32')(lambda rng: binary('MUL', 'int32', (40,), (), rng=rng,
                                     a_range=(-50000, 50000), b_range=(-40000, 40000)))
case('DIV_float')(lambda rng: binary('DIV', 'float32', (4, 6), (6,), rng=rng))
case('DIV_float_by_zero_clamps_to_flt_max')(lambda rng: binary(
    'DIV', 'float32', (2, 6), (6,), rng=rng, a_range=(-4, 4), b_range=(0, 0)))
case('ADD_float_overflow_clamps_to_flt_max')(lambda rng: binary(
    'ADD', 'float32', (64,), (64,), rng=rng, a_range=(-3.4e38, 3.4e38), b_range=(-3.4e38, 3.4e38)))
case('SQUARED_DIFFERENCE_float_overflow_is_inf')(lambda rng: binary(
    'SQUARED_DIFFERENCE', 'float32', (64,), (64,), rng=rng, a_range=(-3e30, 3e30)))
case('DIV_int32')(lambda rng: binary('DIV', 'int32', (40,), (40,), rng=rng, b_range=(1, 1000)))
case('DIV_int32_neg')(lambda rng: binary('DIV', 'int32', (30,), (), rng=rng, b_range=(-77, -3)))
case('DIV_int8')(lambda rng: binary(
    'DIV', 'int8', (3, 16), (16,), (0.05, 2), (0.04, -60), (0.1, 5), rng, b_range=(-40, 127)))

# ------------------------------------------------------------------ MAXIMUM / MINIMUM / SQDIFF
for _op in ('MAXIMUM', 'MINIMUM'):
    for _dt in ('int8', 'int16', 'int32', 'float32'):
        case('%s_%s' % (_op, _dt))(lambda rng, op=_op, dt=_dt: binary(
            op, dt, (2, 3, 4), (3, 1), (0.1, 1), (0.1, 1), (0.1, 1), rng))
for _dt in ('int8', 'int16', 'int32', 'float32'):
    case('SQUARED_DIFFERENCE_%s' % _dt)(lambda rng, dt=_dt: binary(
        'SQUARED_DIFFERENCE', dt, (3, 5), (3, 5) if dt != 'int8' else (5,),
        (0.02, 3), (0.03, -5), (0.05, -100) if dt == 'int8' else (3e-4, 0), rng,
        a_range=(-1000, 1000) if dt == 'int32' else (None, None),
        b_range=(-1000, 1000) if dt == 'int32' else (None, None)))

# ------------------------------------------------------------------ activations
for _dt in ('int8', 'int16', 'float32'):
    _qi, _qo = ((0.05, -3), (0.03, -128)) if _dt == 'int8' else ((0.001, 0), (0.0008, 0))
    case('RELU_%s' % _dt)(lambda rng, dt=_dt, qi=_qi, qo=_qo: unary(
        'RELU', dt, (3, 50), qi, qo, rng))
    case('RELU6_%s' % _dt)(lambda rng, dt=_dt: unary(
        'RELU6', dt, (3, 50), (0.05, -3) if dt == 'int8' else (0.0002, 0),
        (0.05, -3) if dt == 'int8' else (0.0002, 0), rng))
    case('LEAKY_RELU_%s' % _dt)(lambda rng, dt=_dt, qi=_qi, qo=_qo: unary(
        'LEAKY_RELU', dt, (3, 50), qi, (qo[0], 5 if dt == 'int8' else 0), rng, alpha=0.3))
case('LEAKY_RELU_int8_negative_alpha')(lambda rng: unary(
    'LEAKY_RELU', 'int8', (256,), (0.05, 0), (0.06, 1), rng, alpha=-0.7))
case('LEAKY_RELU_int8_alpha_above_one')(lambda rng: unary(
    'LEAKY_RELU', 'int8', (256,), (0.02, -10), (0.1, 0), rng, alpha=3.5))

for _qi, _qo in (((0.05, -3), (0.03, 7)), ((0.2, 20), (0.01, -100)), ((0.002, 0), (0.3, -128))):
    case('HARD_SWISH_int8_%g_%g' % (_qi[0], _qo[0]))(lambda rng, qi=_qi, qo=_qo: unary(
        'HARD_SWISH', 'int8', (2, 128), qi, qo, rng))
case('HARD_SWISH_float')(lambda rng: unary('HARD_SWISH', 'float32', (2, 64), None, None, rng,
                                           lo=-8, hi=8))

for _si, _zi in ((0.1, 0), (0.03877529, -2), (0.5, 100)):
    case('LOGISTIC_int8_%g' % _si)(lambda rng, si=_si, zi=_zi: unary(
        'LOGISTIC', 'int8', (256,), (si, zi), (1 / 256, -128), rng))
    case('TANH_int8_%g' % _si)(lambda rng, si=_si, zi=_zi: unary(
        'TANH', 'int8', (256,), (si, zi), (1 / 128, 0), rng))
for _si in (2 ** -12, 2 ** -11, 0.0003, 0.002):
    case('LOGISTIC_int16_%g' % _si)(lambda rng, si=_si: unary(
        'LOGISTIC', 'int16', (400,), (si, 0), (2 ** -15, 0), rng))
    case('TANH_int16_%g' % _si)(lambda rng, si=_si: unary(
        'TANH', 'int16', (400,), (si, 0), (2 ** -15, 0), rng))
case('LOGISTIC_float', tol=2e-6)(lambda rng: unary('LOGISTIC', 'float32', (100,), None, None,
                                                   rng, lo=-20, hi=20))
case('TANH_float', tol=2e-6)(lambda rng: unary('TANH', 'float32', (100,), None, None, rng,
                                               lo=-6, hi=6))


def prelu(dtype, shape, alpha_shape, rng):
    b = ModelBuilder()
    in_dt = dtype
    alpha_dt = 'float32' if dtype == 'float32' else 'int8'
    x = b.tensor(in_dt, shape, **quant(in_dt, 0.04 if dtype == 'int8' else 0.001, 3 if dtype == 'int8' else 0))
    alpha = rand(rng, alpha_dt, alpha_shape, *((-1, 1) if dtype == 'float32' else (None, None)))
    a = b.const(alpha_dt, alpha_shape, alpha, **quant(alpha_dt, 0.01, -4))
    z = b.tensor(in_dt, shape, **quant(in_dt, 0.05 if dtype == 'int8' else 0.0015, -6 if dtype == 'int8' else 0))
    b.op('PRELU', [x, a], [z])
    return b.build(inputs=[x], outputs=[z]), [rand(rng, in_dt, shape)]


for _dt in ('int8', 'int16', 'float32'):
    case('PRELU_%s' % _dt)(lambda rng, dt=_dt: prelu(dt, (1, 4, 5, 6), (1, 1, 6), rng))
case('PRELU_int8_full_alpha')(lambda rng: prelu('int8', (2, 3, 4), (2, 3, 4), rng))


# ------------------------------------------------------------------ reductions
def reduce_model(op, dtype, shape, axes, keep, qi, qo, rng):
    b = ModelBuilder()
    x = b.tensor(dtype, shape, **quant(dtype, *(qi or ())))
    ax = b.const('int32', (len(axes),), np.array(axes, np.int32))
    norm = tuple(sorted(set(a % len(shape) for a in axes)))
    out_shape = np.zeros(shape).sum(axis=norm, keepdims=keep).shape
    z = b.tensor(dtype, out_shape, **quant(dtype, *(qo or ())))
    b.op(op, [x, ax], [z], keep_dims=keep)
    return b.build(inputs=[x], outputs=[z]), [rand(rng, dtype, shape)]


for _dt in ('int8', 'int16', 'float32'):
    _q = ((0.07054789, -9), (0.07054789, -9)) if _dt == 'int8' else ((0.001, 0), (0.0011, 0))
    case('MEAN_%s_hw_keepdims' % _dt)(lambda rng, dt=_dt, q=_q: reduce_model(
        'MEAN', dt, (1, 7, 7, 24), [1, 2], True, q[0], q[1], rng))
    case('MEAN_%s_general' % _dt)(lambda rng, dt=_dt, q=_q: reduce_model(
        'MEAN', dt, (3, 5, 4, 6), [0, -2], False, q[0], (q[1][0] * 1.7, q[1][1]), rng))
case('MEAN_int8_all_axes')(lambda rng: reduce_model(
    'MEAN', 'int8', (5, 6, 7), [2, 0, 1], False, (0.1, 4), (0.02, -3), rng))
case('MEAN_int8_large_count')(lambda rng: reduce_model(
    'MEAN', 'int8', (1, 33, 31, 3), [1, 2], True, (0.1, -128), (0.05, 20), rng))
case('SUM_int8')(lambda rng: reduce_model(
    'SUM', 'int8', (2, 3, 10), [2], False, (0.01, 2), (0.2, -1), rng))
case('SUM_int16')(lambda rng: reduce_model(
    'SUM', 'int16', (2, 3, 10), [0, 2], True, (0.001, 0), (0.01, 0), rng))
case('MEAN_int8_hw_no_keepdims')(lambda rng: reduce_model(
    'MEAN', 'int8', (2, 5, 5, 8), [1, 2], False, (0.05, 7), (0.04, -1), rng))
case('SUM_float')(lambda rng: reduce_model(
    'SUM', 'float32', (4, 3, 10), [0, 2], True, None, None, rng))
case('REDUCE_MAX_int8')(lambda rng: reduce_model(
    'REDUCE_MAX', 'int8', (2, 3, 10), [1], False, (0.1, 3), (0.1, 3), rng))
case('REDUCE_MAX_float')(lambda rng: reduce_model(
    'REDUCE_MAX', 'float32', (2, 3, 10), [0, 2], True, None, None, rng))


# ------------------------------------------------------------------ resize
def resize_model(op, dtype, in_shape, size, rng, **opts):
    b = ModelBuilder()
    x = b.tensor(dtype, in_shape, **quant(dtype, 0.1, 0))
    s = b.const('int32', (2,), np.array(size, np.int32))
    z = b.tensor(dtype, (in_shape[0], size[0], size[1], in_shape[3]), **quant(dtype, 0.1, 0))
    b.op(op, [x, s], [z], **opts)
    return b.build(inputs=[x], outputs=[z]), [rand(rng, dtype, in_shape)]


_RESIZE_OPTS = (('plain', {}), ('align', {'align_corners': True}),
                ('half', {'half_pixel_centers': True}))
for _op, _dts in (('RESIZE_NEAREST_NEIGHBOR', ('int8', 'int16', 'float32')),
                  ('RESIZE_BILINEAR', ('int8', 'float32'))):
    for _dt in _dts:
        for _tag, _opts in _RESIZE_OPTS:
            for _ins, _size in (((2, 3, 5, 4), (7, 9)), ((1, 8, 6, 3), (3, 4))):
                case('%s_%s_%s_%dx%d' % (_op, _dt, _tag, _size[0], _size[1]))(
                    lambda rng, op=_op, dt=_dt, o=_opts, i=_ins, s=_size:
                    resize_model(op, dt, i, s, rng, **o))


# ------------------------------------------------------------------ running
def run_tinyml(model, inputs):
    m = tinyml.load(model)
    for i, x in enumerate(inputs):
        m.set_input(i, np.ascontiguousarray(x).tobytes())
    m.invoke()
    return [bytes(t.raw) for t in m.outputs]


_BUILT = {}


def built(name):
    if name not in _BUILT:
        fn, tol = CASES[name]
        rng = np.random.default_rng(sum(name.encode()))
        model, inputs = fn(rng)
        want = [np.asarray(w) for w in run_tflm(model, inputs)]
        _BUILT[name] = (model, inputs, want, tol)
    return _BUILT[name]


def assert_matches(name, got, want, tol):
    for g, w in zip(got, want):
        g = np.frombuffer(g, w.dtype).reshape(w.shape)
        if tol is None:
            assert g.tobytes() == w.tobytes(), '%s: got %s want %s' % (name, g.ravel()[:32],
                                                                       w.ravel()[:32])
        else:
            np.testing.assert_allclose(g, w, rtol=tol, atol=tol)


@pytest.mark.parametrize('name', sorted(CASES))
def test_cpython_matches_tflm(name):
    model, inputs, want, tol = built(name)
    assert_matches(name, run_tinyml(model, inputs), want, tol)


MP_RUNNER = r'''
import json, tinyml
if %r != 'default':
    tinyml.use_backend(%r)
def run(path, ins):
    with open(path, 'rb') as f:
        m = tinyml.load(f.read())
    for i, x in enumerate(ins):
        m.set_input(i, bytes(x))
    m.invoke()
    return [bytes(t.raw).hex() for t in m.outputs]
out = {}
for name, path, ins in json.load(open(%r)):
    try:
        out[name] = run(path, ins)
    except Exception as e:
        out[name] = '%%s: %%s' %% (type(e).__name__, e)
print(json.dumps(out))
'''


@pytest.fixture(scope='module', params=['python', 'default'])
def mp_outputs(mp, request):
    """Outputs of every case from one MicroPython process, with the pure-python kernels and
    with the port's default (fastest) backend."""
    with tempfile.TemporaryDirectory() as d:
        spec = write_jobs(d, sorted(CASES))
        code = MP_RUNNER % (request.param, request.param, spec)
        return mp.json(code, heapsize=32 * 1024 * 1024)


def write_jobs(d, names):
    """Write the named cases' models and a jobs.json ([name, model path, input bytes]) into
    directory d for the MicroPython runners; returns the jobs.json path."""
    jobs = []
    for name in names:
        model, inputs, _, _ = built(name)
        path = os.path.join(d, name + '.tflite')
        with open(path, 'wb') as f:
            f.write(model)
        jobs.append([name, path, [list(np.ascontiguousarray(x).tobytes()) for x in inputs]])
    spec = os.path.join(d, 'jobs.json')
    with open(spec, 'w') as f:
        json.dump(jobs, f)
    return spec


@pytest.mark.parametrize('name', sorted(CASES))
def test_micropython_matches_tflm(mp_outputs, name):
    _, _, want, tol = built(name)
    if isinstance(mp_outputs[name], str):
        pytest.fail('MicroPython raised %s' % mp_outputs[name])
    got = [bytes.fromhex(h) for h in mp_outputs[name]]
    assert_matches(name, got, want, tol)


MP_ALLOC = r'''
import gc, json, tinyml
tinyml.use_backend('python')
out = {}
for name, path, ins in json.load(open(%r)):
    with open(path, 'rb') as f:
        m = tinyml.load(f.read())
    for i, x in enumerate(ins):
        m.set_input(i, bytes(x))
    m.invoke()
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    m.invoke()
    out[name] = gc.mem_alloc() - before
    gc.enable()
print(json.dumps(out))
'''


def test_integer_kernels_allocate_nothing_on_unix_port(mp):
    """Model.invoke() with the python kernels allocates no heap for every integer case
    (64-bit port: intermediate products stay small ints; float kernels box floats)."""
    names = [n for n in sorted(CASES) if 'float' not in n]
    with tempfile.TemporaryDirectory() as d:
        allocated = mp.json(MP_ALLOC % write_jobs(d, names), heapsize=32 * 1024 * 1024)
    assert {n: b for n, b in allocated.items() if b} == {}
    assert len(allocated) == len(names) > 90


# ------------------------------------------------------------------ without a TFLM twin
def test_relu_n1_to_1_int8_follows_dequantized_clamp():
    """TFLM has no RELU_N1_TO_1 kernel: check against the float definition instead."""
    rng = np.random.default_rng(7)
    model, (x,) = unary('RELU_N1_TO_1', 'int8', (256,), (0.02, 5), (0.01, -3), rng)
    x = np.arange(-128, 128, dtype=np.int8)
    got = np.frombuffer(run_tinyml(model, [x])[0], np.int8).astype(float)
    want = np.clip((x.astype(float) - 5) * 0.02, -1, 1)
    assert np.abs((got + 3) * 0.01 - want).max() <= 0.01 / 2 + 1e-9
    assert got.min() == -103 and got.max() == 97


def test_relu_n1_to_1_float():
    rng = np.random.default_rng(8)
    model, (x,) = unary('RELU_N1_TO_1', 'float32', (64,), None, None, rng)
    got = np.frombuffer(run_tinyml(model, [x])[0], np.float32)
    assert got.tobytes() == np.clip(x, -1, 1).tobytes()


# ------------------------------------------------------------------ bad input
def _expect(exc, text, build):
    with pytest.raises(exc) as info:
        tinyml.load(build())
    assert text in str(info.value)


def _binary_model(op, x, y, z):
    """One binary op; x, y, z are (dtype, shape), integer tensors quantized (0.1, 0)."""
    b = ModelBuilder()
    ts = [b.tensor(dt, shape) if dt == 'float32' else b.tensor(dt, shape, scale=0.1, zero_point=0)
          for dt, shape in (x, y, z)]
    b.op(op, ts[:2], ts[2:])
    return b.build(inputs=ts[:2], outputs=ts[2:])


@pytest.mark.parametrize('op, x, y, z, exc, text', [
    ('ADD', ('int8', (2, 3)), ('int8', (4,)), ('int8', (2, 3)), ModelError, 'do not broadcast'),
    ('MUL', ('float32', (2, 3)), ('float32', (3,)), ('float32', (2, 2)), ModelError, 'output'),
    ('ADD', ('int8', (4,)), ('int16', (4,)), ('int8', (4,)), UnsupportedOpError, 'node 0'),
], ids=['bad_broadcast', 'wrong_output_size', 'mixed_dtypes'])
def test_bad_binary_op(op, x, y, z, exc, text):
    _expect(exc, text, lambda: _binary_model(op, x, y, z))


def test_logistic_int8_output_zero_point_checked():
    _expect(UnsupportedOpError, 'LOGISTIC', lambda: unary(
        'LOGISTIC', 'int8', (4,), (0.1, 0), (1 / 256, 0), np.random.default_rng(0))[0])


def test_reduce_max_int8_needs_same_quantization():
    _expect(UnsupportedOpError, 'REDUCE_MAX', lambda: reduce_model(
        'REDUCE_MAX', 'int8', (2, 3), [1], False, (0.1, 0), (0.2, 0),
        np.random.default_rng(0))[0])


def test_mean_axis_must_be_constant():
    def build():
        b = ModelBuilder()
        x = b.tensor('int8', (2, 3), scale=0.1, zero_point=0)
        ax = b.tensor('int32', (1,))
        z = b.tensor('int8', (2,), scale=0.1, zero_point=0)
        b.op('MEAN', [x, ax], [z], keep_dims=False)
        return b.build(inputs=[x, ax], outputs=[z])
    _expect(UnsupportedOpError, 'constant', build)


def test_resize_needs_4d_input():
    def build():
        b = ModelBuilder()
        x = b.tensor('int8', (3, 5, 4), scale=0.1, zero_point=0)
        s = b.const('int32', (2,), np.array([6, 8], np.int32))
        z = b.tensor('int8', (3, 6, 8), scale=0.1, zero_point=0)
        b.op('RESIZE_NEAREST_NEIGHBOR', [x, s], [z])
        return b.build(inputs=[x], outputs=[z])
    _expect(UnsupportedOpError, '4-D', build)


def test_too_many_broadcast_loops_unsupported():
    def build():
        b = ModelBuilder()
        x = b.tensor('float32', (2, 1, 2, 1, 2, 1))
        y = b.tensor('float32', (1, 2, 1, 2, 1, 2))
        z = b.tensor('float32', (2, 2, 2, 2, 2, 2))
        b.op('ADD', [x, y], [z])
        return b.build(inputs=[x, y], outputs=[z])
    _expect(UnsupportedOpError, 'loops', build)


# ------------------------------------------------------------------ corpus models
def _corpus_check(zoo, name, samples=range(4)):
    path = zoo / (name + '.tflite')
    if not path.exists():
        pytest.skip('%s not in the corpus' % name)
    ref = np.load(zoo / (name + '.npz'))
    m = tinyml.load(path.read_bytes())
    for s in samples:
        m.reset()
        i = 0
        while 'input_%d' % i in ref:
            m.set_input(i, ref['input_%d' % i][s].tobytes())
            i += 1
        m.invoke()
        for o in range(len(m.outputs)):
            w = ref['output_%d' % o][s]
            assert bytes(m.outputs[o].raw) == w.tobytes(), '%s sample %d output %d' % (name, s, o)


@pytest.mark.parametrize('name', ['pretrainedResnet_quant', 'dtln_noise_suppression',
                                  'audio_preprocessor_int8'])
def test_corpus_model_bit_exact(zoo, name):
    _corpus_check(zoo, name)


MP_CORPUS = r'''
import json, tinyml
spec = json.load(open(%r))
with open(spec['model'], 'rb') as f:
    m = tinyml.load(f.read())
outs = []
for ins in spec['samples']:
    m.reset()
    for i, x in enumerate(ins):
        m.set_input(i, bytes.fromhex(x))
    m.invoke()
    outs.append([bytes(t.raw).hex() for t in m.outputs])
print(json.dumps(outs))
'''


@pytest.mark.parametrize('name', ['pretrainedResnet_quant', 'dtln_noise_suppression',
                                  'audio_preprocessor_int8', 'mobilenet_v2_quantized_1x3x224x224'])
def test_corpus_model_bit_exact_on_unix_port(mp, zoo, name):
    path = zoo / (name + '.tflite')
    if not path.exists():
        pytest.skip('%s not in the corpus' % name)
    ref = np.load(zoo / (name + '.npz'))
    n_in = len([k for k in ref.files if k.startswith('input_')])
    samples = (0, 3)
    with tempfile.TemporaryDirectory() as d:
        spec = os.path.join(d, 'spec.json')
        with open(spec, 'w') as f:
            json.dump({'model': str(path), 'samples': [
                [ref['input_%d' % i][s].tobytes().hex() for i in range(n_in)] for s in samples]}, f)
        got = mp.json(MP_CORPUS % spec, heapsize=64 * 1024 * 1024)
    for s, outs in zip(samples, got):
        for o, h in enumerate(outs):
            assert bytes.fromhex(h) == ref['output_%d' % o][s].tobytes(), \
                '%s sample %d output %d' % (name, s, o)


# ------------------------------------------------------------------ randomized quantization
def _random_binary(rng, op, dtype):
    rank = int(rng.integers(1, 5))
    out_shape = tuple(int(d) for d in rng.integers(1, 6, size=rank))
    sa = tuple(d if rng.random() < 0.7 else 1 for d in out_shape)
    sb = tuple(d if rng.random() < 0.7 else 1 for d in out_shape)[int(rng.integers(0, rank)):]
    zp = (lambda: int(rng.integers(-128, 128))) if dtype == 'int8' else (lambda: 0)
    scale = lambda: float(np.float32(10 ** rng.uniform(-3.5, 0.5)))
    act = str(rng.choice(['NONE', 'RELU', 'RELU6', 'RELU_N1_TO_1']))
    if op in ('SQUARED_DIFFERENCE', 'MAXIMUM', 'MINIMUM'):
        act = None
    qb = (scale(), zp())
    model, inputs = binary(op, dtype, sa, sb, (scale(), zp()), qb, (scale(), zp()), rng, act)
    if op == 'DIV':   # a divisor equal to its zero point is a division by zero (undefined)
        inputs[1][inputs[1] == qb[1]] = qb[1] + (1 if qb[1] < 127 else -1)
    return model, inputs


def _random_unary(rng, op, dtype):
    si = float(np.float32(10 ** rng.uniform(-3, 0.5)))
    zi = int(rng.integers(-128, 128)) if dtype == 'int8' else 0
    if op == 'LOGISTIC':
        qo = (1 / 256, -128) if dtype == 'int8' else (2 ** -15, 0)
    elif op == 'TANH':
        qo = (1 / 128, 0) if dtype == 'int8' else (2 ** -15, 0)
    else:
        qo = (float(np.float32(10 ** rng.uniform(-3, 0.5))),
              int(rng.integers(-128, 128)) if dtype == 'int8' else 0)
    opts = {'alpha': float(rng.uniform(-2, 2))} if op == 'LEAKY_RELU' else {}
    n = 256 if dtype == 'int8' else 2000
    return unary(op, dtype, (n,), (si, zi), qo, rng, **opts)


def _random_reduce(rng, op, dtype):
    rank = int(rng.integers(1, 5))
    shape = tuple(int(d) for d in rng.integers(1, 7, size=rank))
    axes = sorted(set(int(a) for a in rng.integers(-rank, rank, size=int(rng.integers(1, rank + 1)))))
    zp = (lambda: int(rng.integers(-128, 128))) if dtype == 'int8' else (lambda: 0)
    scale = lambda: float(np.float32(10 ** rng.uniform(-3, 0)))
    return reduce_model(op, dtype, shape, axes, bool(rng.integers(0, 2)), (scale(), zp()),
                        (scale(), zp()), rng)


def _random_prelu(rng, dtype):
    shape = tuple(int(d) for d in rng.integers(1, 6, size=3))
    alpha_shape = shape[int(rng.integers(0, 3)):]
    b = ModelBuilder()
    zp = (lambda: int(rng.integers(-128, 128))) if dtype == 'int8' else (lambda: 0)
    scale = lambda: float(np.float32(10 ** rng.uniform(-3, 0)))
    x = b.tensor(dtype, shape, scale=scale(), zero_point=zp())
    a = b.const('int8', alpha_shape, rand(rng, 'int8', alpha_shape), scale=scale(),
                zero_point=int(rng.integers(-128, 128)))
    z = b.tensor(dtype, shape, scale=scale(), zero_point=zp())
    b.op('PRELU', [x, a], [z])
    return b.build(inputs=[x], outputs=[z]), [rand(rng, dtype, shape)]


RANDOM = [('MEAN', 'int8'), ('MEAN', 'int16'), ('SUM', 'int8'), ('PRELU', 'int8'),
          ('PRELU', 'int16'), ('SQUARED_DIFFERENCE', 'int16'), ('ADD', 'int8'), ('SUB', 'int8'), ('MUL', 'int8'), ('ADD', 'int16'), ('SUB', 'int16'),
          ('MUL', 'int16'), ('SQUARED_DIFFERENCE', 'int8'), ('DIV', 'int8'),
          ('LOGISTIC', 'int8'), ('TANH', 'int8'), ('HARD_SWISH', 'int8'), ('LEAKY_RELU', 'int8'),
          ('RELU', 'int8'), ('RELU', 'int16'), ('LOGISTIC', 'int16'), ('TANH', 'int16'),
          ('LEAKY_RELU', 'int16')]


@pytest.mark.parametrize('op,dtype', RANDOM)
def test_random_quantization_matches_tflm(op, dtype):
    """20 random scale / zero point / shape / activation draws per op, byte for byte."""
    rng = np.random.default_rng(sum((op + dtype).encode()))
    for trial in range(60 if op == 'DIV' else 20):
        if op in ('LOGISTIC', 'TANH', 'HARD_SWISH', 'LEAKY_RELU', 'RELU'):
            model, inputs = _random_unary(rng, op, dtype)
        elif op in ('MEAN', 'SUM'):
            model, inputs = _random_reduce(rng, op, dtype)
        elif op == 'PRELU':
            model, inputs = _random_prelu(rng, dtype)
        else:
            model, inputs = _random_binary(rng, op, dtype)
        try:
            want = run_tflm(model, inputs)
        except Exception:
            continue     # TFLM refuses this draw (e.g. a multiplier it cannot represent)
        got = run_tinyml(model, inputs)
        assert_matches('%s %s trial %d' % (op, dtype, trial), got, want, None)
