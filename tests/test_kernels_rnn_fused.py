"""Whole-op native kernels (lstm_int, svdf_int) and the native lut_int8 / softmax_f32.

* model level on the unix port: the native backend (whole-op kernels) against the python
  backend (the per-step python_rnn reference), random LSTM (int8 and 16x8, batch or time
  major) and SVDF (int8 and int16 state) models, states carried across invokes and through a
  reset: outputs and variable tensors must be equal bytes;
* the recurrent corpus models: whole-op native against per-step native, states carried;
* lut_int8 bytes and softmax_f32 within 1e-6 relative of the python kernels;
* the bindings: every buffer one element short, wrong types and out-of-range fields raise
  ValueError; random parameter blocks and buffers never crash.
"""
import json

import numpy as np
import pytest

from conftest import model_zoo
from test_kernels_native import make
from test_ops_rnn import lstm_model, svdf_model, random_inputs


@pytest.fixture(scope="module")
def built():
    make("all")


# MicroPython: run the same model on two kernel tables; hex of outputs and variable tensors
TWO_BACKENDS = r'''
import json, tinyml
from tinyml import kernels
buf = open(%(model)r, 'rb').read()
data = open(%(inputs)r, 'rb').read()
calls = [0]

def traces(backend, whole):
    tinyml.use_backend(backend)
    for name in ('lstm_int', 'svdf_int'):
        fn = getattr(kernels.table, name, None)
        if fn is not None and not whole:
            setattr(kernels.table, name, None)
        elif fn is not None:
            def counted(out, a, b, p, fn=fn):
                calls[0] += 1
                fn(out, a, b, p)
            setattr(kernels.table, name, counted)
    m = tinyml.load(buf)
    states = [t.index for t in m.graph.tensors if t.is_variable]
    n_in = len(m.inputs[0].raw)
    got = []
    for s in range(len(data) // n_in):
        if s == %(reset_at)d:
            m.reset()
        m.set_input(0, data[s * n_in:(s + 1) * n_in])
        m.invoke()
        got.append([bytes(m.outputs[0].raw).hex()] + [bytes(m.raw(i)).hex() for i in states])
    return got

a = traces(%(backend_a)r, True)
b = traces(%(backend_b)r, False)
print(json.dumps({'same': a == b, 'calls': calls[0], 'n': len(a),
                  'first_bad': [i for i in range(len(a)) if a[i] != b[i]][:1]}))
'''


def compare_backends(mp, tmp_path, buf, inputs, reset_at, backend_b='python'):
    path = tmp_path / 'm.tflite'
    path.write_bytes(buf)
    src = tmp_path / 'in.bin'
    src.write_bytes(b''.join(np.ascontiguousarray(x).tobytes() for x in inputs))
    return mp.json(TWO_BACKENDS % dict(model=str(path), inputs=str(src), reset_at=reset_at,
                                       backend_a='native', backend_b=backend_b),
                   heapsize=64 << 20, timeout=1800)


LSTM_CASES = [
    dict(seed=11, batch=1, steps=4, n_in=5, n_cell=4),
    dict(seed=12, batch=2, steps=3, n_in=37, n_cell=19, time_major=True, cell_clip=0.0,
         cell_scale=2.0 ** -13, h_zp=-2),
    dict(seed=13, batch=3, steps=2, n_in=3, n_cell=6, cell_clip=0.5, cell_scale=2.0 ** -10,
         x_zp=0, h_zp=0),
    dict(seed=14, batch=2, steps=5, n_in=64, n_cell=33, cell_scale=2.0 ** -15, x_zp=-128),
    dict(seed=15, batch=1, steps=3, n_in=300, n_cell=9, time_major=True, cell_scale=2.0 ** -8),
    dict(seed=16, batch=2, steps=3, n_in=9, n_cell=5, act='int16', x_scale=3e-5,
         h_scale=3e-5, x_zp=0, h_zp=0),
    dict(seed=17, batch=2, steps=2, n_in=21, n_cell=11, act='int16', x_scale=3e-5,
         h_scale=3e-5, time_major=True, x_zp=7, h_zp=-3, cell_scale=2.0 ** -13),
]


@pytest.mark.parametrize('case', range(len(LSTM_CASES)))
def test_lstm_whole_equals_python_backend(mp, built, tmp_path, case):
    kw = dict(LSTM_CASES[case])
    seed = kw.pop('seed')
    buf, shape = lstm_model(seed, **kw)
    dtype = np.int16 if kw.get('act') == 'int16' else np.int8
    res = compare_backends(mp, tmp_path, buf, random_inputs(seed, shape, 5, dtype), reset_at=3)
    assert res['same'] and res['n'] == 5, res
    assert res['calls'] == 5, res


SVDF_CASES = [
    dict(seed=21, batch=2, n_in=7, n_filter=6, n_memory=4, rank=2, state_dtype='int16'),
    dict(seed=22, batch=1, n_in=4, n_filter=3, n_memory=3, rank=1, state_dtype='int16',
         state_zp=40),
    dict(seed=23, batch=2, n_in=5, n_filter=6, n_memory=3, rank=3, state_dtype='int8',
         state_zp=9),
    dict(seed=24, batch=1, n_in=90, n_filter=64, n_memory=10, rank=1, state_dtype='int8',
         state_zp=-20),
    dict(seed=25, batch=3, n_in=33, n_filter=24, n_memory=7, rank=4, state_dtype='int16',
         state_zp=-300),
]


@pytest.mark.parametrize('case', range(len(SVDF_CASES)))
def test_svdf_whole_equals_python_backend(mp, built, tmp_path, case):
    kw = dict(SVDF_CASES[case])
    seed = kw.pop('seed')
    buf, shape = svdf_model(seed, **kw)
    res = compare_backends(mp, tmp_path, buf, random_inputs(seed, shape, 8), reset_at=5)
    assert res['same'] and res['n'] == 8 and res['calls'] == 8, res


@pytest.mark.parametrize('name', ['mnist_lstm_int8', 'micro_speech_lstm',
                                  'dtln_noise_suppression', 'keyword_scrambled',
                                  'keyword_scrambled_8bit'])
def test_corpus_whole_equals_per_step_native(mp, built, tmp_path, name):
    zoo = model_zoo()
    if zoo is None:
        pytest.skip('TINYML_MODEL_ZOO not set')
    ref = np.load(zoo / (name + '.npz'))
    key = sorted(k for k in ref.files if k.startswith('input_'))[0]
    xs = [ref[key][s % ref[key].shape[0]] for s in range(3)]
    res = compare_backends(mp, tmp_path, (zoo / (name + '.tflite')).read_bytes(), xs,
                           reset_at=2, backend_b='native')
    assert res['same'] and res['n'] == 3 and res['calls'] > 0, res


ACTIVATIONS = r'''
import json, random, tinyml_kernels as N
from array import array
from tinyml.kernels import python as P
random.seed(%d)
bad_lut = 0
for it in range(200):
    n = random.randint(0, 300)
    p = array('i', [n] + [random.randint(-128, 127) for _ in range(256)])
    a = array('b', [random.randint(-128, 127) for _ in range(n + random.randint(0, 3))])
    o1, o2 = array('b', bytes(n)), array('b', bytes(n))
    N.lut_int8(o1, a, None, p)
    P.lut_int8(o2, a, None, p)
    bad_lut += bytes(o1) != bytes(o2)
cases = []
for it in range(200):
    rows, depth = random.randint(1, 4), random.randint(1, 40)
    scale = random.choice((0.01, 1.0, 10.0, 60.0))
    a = array('f', [random.uniform(-scale, scale) for _ in range(rows * depth)])
    beta = array('f', [random.choice((1.0, 0.5, 2.0, 0.1))])
    o = array('f', bytes(4 * rows * depth))
    N.softmax_f32(o, a, beta, array('i', [rows, depth]))
    cases.append((rows, depth, beta[0], list(a), list(o)))
print(json.dumps({'bad_lut': bad_lut, 'softmax': cases}))
'''


def tflm_softmax_f32(x, beta):
    # reference_ops::Softmax in float32: exp((x - max) * beta) (correctly rounded expf),
    # the float32 sum in order, each exp divided by it
    f = np.float32
    out = np.empty_like(x)
    for r in range(x.shape[0]):
        row = x[r]
        e = np.exp(((row - row.max()) * f(beta)).astype(np.float64)).astype(np.float32)
        total = f(0)
        for v in e:
            total = f(total + v)
        out[r] = e / total
    return out


@pytest.mark.parametrize('seed', [1, 2])
def test_lut_equals_python_and_softmax_f32_tflm_within_1e6(mp, built, seed):
    res = mp.json(ACTIVATIONS % seed, heapsize=16 << 20)
    assert res['bad_lut'] == 0
    for rows, depth, beta, a, got in res['softmax']:
        x = np.array(a, dtype=np.float32).reshape(rows, depth)
        want = tflm_softmax_f32(x, beta).ravel().astype(np.float64)
        got = np.array(got)
        tiny = want < 1e-30
        assert np.all(got[tiny] < 1e-30)
        rel = np.abs(got[~tiny] - want[~tiny]) / want[~tiny]
        assert rel.max(initial=0.0) < 1e-6, (rows, depth, beta, rel.max())


def test_native_expf_accuracy(mp, built):
    """exp over its whole range through softmax_f32([x, 0]): out[1] = 1 / (1 + e**x)."""
    code = r'''
import json, tinyml_kernels as N
from array import array
xs = [k / 64.0 for k in range(-64 * 87, 64 * 87)] + [-103.0, -100.5, -95.25, -90.0, 88.5]
got = []
o = array('f', [0.0, 0.0])
for x in xs:
    N.softmax_f32(o, array('f', [x, 0.0]), array('f', [1.0]), array('i', [1, 2]))
    got.append(o[1] if x > 0 else o[0])
print(json.dumps({'xs': xs, 'got': got}))
'''
    res = mp.json(code, heapsize=16 << 20)
    xs = np.array(res['xs'], dtype=np.float32)
    got = np.array(res['got'], dtype=np.float64)
    rows = np.stack([xs, np.zeros_like(xs)], axis=1)
    ref = tflm_softmax_f32(rows, 1.0).astype(np.float64)
    want = np.where(xs > 0, ref[:, 1], ref[:, 0])
    normal = want >= 2.0 ** -126
    rel = np.abs(got[normal] - want[normal]) / want[normal]
    assert rel.max() < 1e-6, (xs[normal][rel.argmax()], rel.max())
    # subnormal results: within 2 units of the last place
    assert np.all(np.abs(got[~normal] - want[~normal]) <= 2.0 ** -148)


# ---- the bindings ----------------------------------------------------------------------

BAD_ARGS = r'''
import tinyml_kernels as N
from array import array
def expect(f, *args):
    try:
        f(*args)
    except ValueError:
        return 1
    raise AssertionError('accepted: %s %r' % (f, [len(x) if hasattr(x, '__len__') else x
                                                 for x in args]))
def B(n):
    return array('b', bytes(n))
def H(n):
    return array('h', bytes(2 * n))
n = 0
# lstm_int: batch 2, steps 3, n_in 4, n_cell 5, batch major, int8
def lstm_p(batch, steps, n_in, n_cell, tm, wide):
    p = array('i', [batch, steps, n_in, n_cell, tm, wide])
    p.extend(array('i', [0, 0, 0, 0, 0, 1 << 30, -14, 1 << 30, -15, 1, 3000]))
    p.extend(array('i', [0, 0, 0, 0, 6, 0, 1 << 30, -10, 3, -128 if not wide else -32768,
                         127 if not wide else 32767]))
    for g in range(8):
        p.extend(array('i', [1, n_cell, 0, 0, 0, 1 << 30, -3, 0 if g < 4 else 2, wide]))
        p.extend(array('i', [g] * (n_cell * (1 + wide))))
    return p
def lstm_bufs(batch, n_in, n_cell, rows, A):
    return [A(batch * n_cell), H(batch * n_cell), H(4 * rows * n_cell)] + \
        [B(n_cell * n_in) for _ in range(4)] + [B(n_cell * n_cell) for _ in range(4)]
for wide, A in ((0, B), (1, H)):
    for tm in (0, 1):
        rows = 2 if tm else 1
        p = lstm_p(2, 3, 4, 5, tm, wide)
        bufs = lstm_bufs(2, 4, 5, rows, A)
        N.lstm_int(A(30), A(24), tuple(bufs), p)
        N.lstm_int(A(30), A(24), bufs, p)                      # a list works too
        n += expect(N.lstm_int, A(29), A(24), bufs, p)
        n += expect(N.lstm_int, A(31), A(24), bufs, p)
        n += expect(N.lstm_int, A(30), A(23), bufs, p)
        n += expect(N.lstm_int, A(30), A(24), bufs[:-1], p)
        n += expect(N.lstm_int, A(30), A(24), bufs + [B(25)], p)
        kinds = [A, H, H] + [B] * 8
        for k in range(11):                                     # each buffer one element short
            short = list(bufs)
            short[k] = kinds[k](len(bufs[k]) - 1)
            n += expect(N.lstm_int, A(30), A(24), short, p)
        for k in (0, 3, 8):                                     # wrong item types
            other = list(bufs)
            other[k] = H(len(bufs[k])) if kinds[k] is B else B(2 * len(bufs[k]))
            n += expect(N.lstm_int, A(30), A(24), other, p)
        other = list(bufs)
        other[1] = B(20)                                        # cell must be int16
        n += expect(N.lstm_int, A(30), A(24), other, p)
        n += expect(N.lstm_int, A(30), A(24), bufs, p[:-1])
        n += expect(N.lstm_int, A(30), A(24), bufs, array('i', list(p) + [0]))
        for idx, val in ((0, -1), (2, 0), (2, 65537), (3, 0), (4, 2), (5, 2 + wide),
                         (6 + 5, -1), (6 + 10, 70000), (17 + 5, 32), (17 + 9, -129 - 32640 * wide),
                         (28 + 7, 4), (28 + 5, -1), (28 + 6, 15 if wide else 32)):
            q = array('i', p)
            q[idx] = val
            n += expect(N.lstm_int, A(30), A(24), bufs, q)
# svdf_int: 2 batches, 3 inputs, 4 filters, memory 3, rank 2 -> 2 units
for S in (B, H):
    top = 127 if S is B else 32767
    pf = [2, 3, 4, 3, 1 << 30, -5, 0, -top - 1, top, 10, -10, 3, 4]
    pt = [2, 4, 3, 2, 0, 1 << 30, -6, 3, 100, -100]
    p = array('i', pf + pt)
    bufs = (S(24), B(12), S(12))
    N.svdf_int(B(4), B(6), bufs, p)
    n += expect(N.svdf_int, B(3), B(6), bufs, p)
    n += expect(N.svdf_int, B(5), B(6), bufs, p)
    n += expect(N.svdf_int, B(4), B(5), bufs, p)
    n += expect(N.svdf_int, B(4), B(6), (S(23), B(12), S(12)), p)
    n += expect(N.svdf_int, B(4), B(6), (S(25), B(12), S(12)), p)
    n += expect(N.svdf_int, B(4), B(6), (S(24), B(11), S(12)), p)
    n += expect(N.svdf_int, B(4), B(6), (S(24), B(12), S(11)), p)
    n += expect(N.svdf_int, B(4), B(6), (S(24), B(12)), p)
    n += expect(N.svdf_int, B(4), B(6), (S(24), B(12), B(24) if S is H else H(12)), p)
    n += expect(N.svdf_int, B(4), B(6), bufs, p[:-1])
    n += expect(N.svdf_int, B(4), B(6), bufs, array('i', pf))
    n += expect(N.svdf_int, B(4), B(6), bufs, array('i', pf[:5]))
    for idx, val in ((2, 0), (2, 1 << 20), (7, 0), (13 + 0, 1), (13 + 1, 6), (13 + 2, 4),
                     (13 + 3, 0), (13 + 5, -1), (4, -1)):
        q = array('i', p)
        q[idx] = val
        n += expect(N.svdf_int, B(4), B(6), bufs, q)
# lut_int8
p = array('i', [5] + [0] * 256)
N.lut_int8(B(5), B(5), None, p)
n += expect(N.lut_int8, B(4), B(5), None, p)
n += expect(N.lut_int8, B(5), B(4), None, p)
n += expect(N.lut_int8, H(5), B(5), None, p)
n += expect(N.lut_int8, B(5), B(5), None, p[:-1])
for idx, val in ((0, -1), (1, 256), (256, -129)):   # table entries are bytes: -128..255
    q = array('i', p)
    q[idx] = val
    n += expect(N.lut_int8, B(5), B(5), None, q)
# softmax_f32 (hardware-float builds only)
if hasattr(N, 'softmax_f32'):
    F = lambda k: array('f', [0.0] * k)
    p = array('i', [2, 3])
    N.softmax_f32(F(6), F(6), F(1), p)
    n += expect(N.softmax_f32, F(5), F(6), F(1), p)
    n += expect(N.softmax_f32, F(6), F(5), F(1), p)
    n += expect(N.softmax_f32, F(6), F(6), F(0), p)
    n += expect(N.softmax_f32, B(24), F(6), F(1), p)
    n += expect(N.softmax_f32, F(6), F(6), F(1), array('i', [2, 0]))
    n += expect(N.softmax_f32, F(6), F(6), F(1), array('i', [2, 3, 0]))
    n += expect(N.softmax_f32, F(6), F(6), F(1), array('i', [-1, 3]))
print(n)
'''


def test_binding_rejects_bad_arguments(mp, built):
    # per lstm variant: 5 + 11 + 3 + 1 + 2 + 13 = 35, x4; svdf: 21 x2; lut 7; softmax 7
    assert int(mp(BAD_ARGS).split()[-1]) == 4 * 35 + 2 * 21 + 7 + 7


FUZZ = r'''
import tinyml_kernels as N, random
from array import array
random.seed(%d)
def val():
    r = random.random()
    if r < 0.6:
        return random.randint(-2, 9)
    if r < 0.8:
        return random.randint(-300, 300)
    return random.getrandbits(32) - (1 << 31)
def buf():
    return array(random.choice('bbhhf'), bytes(random.choice((0, 4, 8, 64, 300, 2000))))
def p_of(n):
    return array('i', [val() for _ in range(n)])
ok = err = 0
for i in range(%d):
    name = random.choice(('lstm_int', 'svdf_int', 'lut_int8', 'softmax_f32'))
    if name == 'lstm_int':
        nc = random.randint(0, 4)
        wide = random.randint(0, 1)
        p = p_of(28 + 8 * (9 + nc * (1 + wide)) + random.choice((0, 0, 0, 1, -1)))
        if random.random() < 0.7:
            p[3], p[5] = nc, wide
        b = [buf() for _ in range(random.choice((11, 11, 11, 10)))]
    elif name == 'svdf_int':
        p = p_of(17 + random.randint(0, 12))
        b = (buf(), buf(), buf())
    else:
        p = p_of(random.choice((2, 3, 257, 258)))
        b = buf()
    try:
        getattr(N, name)(buf(), buf(), b, p)
        ok += 1
    except (ValueError, MemoryError, AttributeError):
        err += 1
print(ok, err)
'''


@pytest.mark.parametrize('seed', [1, 2])
def test_binding_random_arguments_never_crash(mp, built, seed):
    ok, err = map(int, mp(FUZZ % (seed, 3000)).split()[-2:])
    assert ok + err == 3000 and err > 0
