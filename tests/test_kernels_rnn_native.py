"""Native recurrent kernels (native_modules/src/rnn.c) against kernels/python_rnn.py.

* twins: on the unix port every call an LSTM / SVDF op makes to an rnn kernel runs both the
  native kernel (on copies of the buffers) and the python one; the outputs must be equal bytes.
  Models: the 5 recurrent corpus models and random small LSTM (int8 and 16x8) / SVDF (int8 and
  int16 state) models from tests/tflite_builder.py;
* direct random parameter blocks (extreme multipliers, shifts, 64-bit biases, tanh scalings);
* the binding rejects bad lengths / offsets / types with ValueError;
* the recurrent corpus models byte-exact with TFLM on the native backend, all samples.
"""
import json
import subprocess

import numpy as np
import pytest

from conftest import model_zoo
from test_kernels_native import make
from test_ops_rnn import lstm_model, svdf_model, random_inputs

RNN_MODELS = ['micro_speech_lstm', 'mnist_lstm_int8', 'dtln_noise_suppression',
              'keyword_scrambled', 'keyword_scrambled_8bit']


@pytest.fixture(scope="module")
def built():
    make("all")


# MicroPython side: wrap the rnn entries of the native table with a twin checker
TWIN = r'''
import json, tinyml
from array import array
from tinyml import kernels
from tinyml.kernels import python_rnn as P
import tinyml_kernels as N
NAMES = ('lstm_gate_fc', 'lstm_cell_update', 'lstm_hidden_update', 'rnn_copy',
         'svdf_feature', 'svdf_time')
CODES = {1: 'b', 2: 'h', 4: 'i'}
calls = {}
bad = []

def copy(buf):
    if buf is None:
        return None
    raw = bytes(buf)
    return array(CODES[len(raw) // len(buf)] if len(buf) else 'b', raw)

def twin(name):
    py = getattr(P, name)
    nat = getattr(N, name)
    def run(out, a, b, p):
        o2 = copy(out)
        nat(o2, copy(a), copy(b), p)
        py(out, a, b, p)
        calls[name] = calls.get(name, 0) + 1
        if bytes(o2) != bytes(out) and len(bad) < 5:
            bad.append('%%s p=%%s' %% (name, list(p)[:12]))
    return run

tinyml.use_backend('native')
for name in NAMES:
    setattr(kernels.table, name, twin(name))
# the per-step kernels only run when the whole-op ones are absent (those: test_kernels_rnn_fused)
kernels.table.lstm_int = None
kernels.table.svdf_int = None
m = tinyml.load(open(%(model)r, 'rb').read())
data = open(%(inputs)r, 'rb').read()
n_in = len(m.inputs[0].raw)
for s in range(len(data) // n_in):
    if %(reset)r:
        m.reset()
    m.set_input(0, data[s * n_in:(s + 1) * n_in])
    m.invoke()
print(json.dumps({'calls': calls, 'bad': bad}))
'''


def run_twins(mp, model_path, inputs, tmp_path, reset=True):
    src = tmp_path / 'inputs.bin'
    src.write_bytes(b''.join(np.ascontiguousarray(x).tobytes() for x in inputs))
    res = mp.json(TWIN % dict(model=str(model_path), inputs=str(src), reset=reset),
                  heapsize=64 << 20, timeout=1800)
    assert not res['bad'], res['bad']
    return res['calls']


@pytest.mark.parametrize('name', RNN_MODELS)
def test_twins_on_corpus_model(mp, built, tmp_path, name):
    zoo = model_zoo()
    if zoo is None:
        pytest.skip('TINYML_MODEL_ZOO not set')
    ref = np.load(zoo / (name + '.npz'))
    key = sorted(k for k in ref.files if k.startswith('input_'))[0]
    samples = ref[key].shape[0] if name != 'micro_speech_lstm' else 2
    calls = run_twins(mp, zoo / (name + '.tflite'), [ref[key][s] for s in range(samples)],
                      tmp_path)
    want = ('svdf_feature', 'svdf_time') if 'keyword' in name else \
        ('lstm_gate_fc', 'lstm_cell_update', 'lstm_hidden_update', 'rnn_copy')
    assert all(calls.get(k) for k in want), calls


LSTM_RANDOM = [
    dict(seed=1, batch=2, steps=3, n_in=5, n_cell=4),
    dict(seed=2, batch=2, steps=3, n_in=37, n_cell=19, time_major=True, cell_clip=0.0,
         cell_scale=2.0 ** -13, h_zp=-2),
    dict(seed=3, batch=1, steps=4, n_in=3, n_cell=6, cell_clip=0.5, cell_scale=2.0 ** -10,
         x_zp=0, h_zp=0),
    dict(seed=4, batch=3, steps=2, n_in=64, n_cell=33, time_major=True, cell_scale=2.0 ** -15),
    dict(seed=5, batch=1, steps=5, n_in=300, n_cell=8, cell_scale=2.0 ** -8, x_zp=-128),
    dict(seed=6, batch=2, steps=3, n_in=9, n_cell=5, act='int16', x_scale=3e-5,
         h_scale=3e-5, x_zp=0, h_zp=0),
    dict(seed=7, batch=2, steps=2, n_in=21, n_cell=11, act='int16', x_scale=3e-5,
         h_scale=3e-5, time_major=True, x_zp=7, h_zp=-3, cell_scale=2.0 ** -13),
]


@pytest.mark.parametrize('case', range(len(LSTM_RANDOM)))
def test_twins_on_random_lstm(mp, built, tmp_path, case):
    kw = dict(LSTM_RANDOM[case])
    seed = kw.pop('seed')
    buf, shape = lstm_model(seed, **kw)
    path = tmp_path / 'lstm.tflite'
    path.write_bytes(buf)
    dtype = np.int16 if kw.get('act') == 'int16' else np.int8
    calls = run_twins(mp, path, random_inputs(seed, shape, 3, dtype), tmp_path, reset=False)
    assert calls.get('lstm_gate_fc') and calls.get('lstm_hidden_update'), calls


SVDF_RANDOM = [
    dict(seed=1, batch=2, n_in=7, n_filter=6, n_memory=4, rank=2, state_dtype='int16'),
    dict(seed=2, batch=1, n_in=4, n_filter=3, n_memory=3, rank=1, state_dtype='int16',
         state_zp=40),
    dict(seed=3, batch=2, n_in=5, n_filter=6, n_memory=3, rank=3, state_dtype='int8',
         state_zp=9),
    dict(seed=4, batch=1, n_in=90, n_filter=64, n_memory=10, rank=1, state_dtype='int8',
         state_zp=-20),
    dict(seed=5, batch=3, n_in=33, n_filter=24, n_memory=7, rank=4, state_dtype='int16',
         state_zp=-300),
]


@pytest.mark.parametrize('case', range(len(SVDF_RANDOM)))
def test_twins_on_random_svdf(mp, built, tmp_path, case):
    kw = dict(SVDF_RANDOM[case])
    seed = kw.pop('seed')
    buf, shape = svdf_model(seed, **kw)
    path = tmp_path / 'svdf.tflite'
    path.write_bytes(buf)
    calls = run_twins(mp, path, random_inputs(seed, shape, 6), tmp_path, reset=False)
    assert calls.get('svdf_feature') and calls.get('svdf_time'), calls


# Direct random parameter blocks: values ops never produce but the kernels accept
# (multipliers anywhere in [0, 2**31), every shift, 64-bit biases near the limits)
DIRECT = r'''
import random, tinyml_kernels as N
from array import array
from tinyml.kernels import python_rnn as P
random.seed(%d)
def r32():
    return random.getrandbits(32) - (1 << 31)
def mult():
    return random.choice((0, 1, 1 << 30, (1 << 31) - 1, 0x7FFF0000, 0x7FFEFFFF,
                          random.getrandbits(31)))
def buf(code, n):
    if code == 'b':
        return array('b', [random.getrandbits(8) - 128 for _ in range(n)])
    return array('h', [random.getrandbits(16) - 32768 for _ in range(n)])
bad = []
def check(name, code, out, a, b, p):
    o2 = array(code, bytes(out))
    getattr(N, name)(o2, a, b, p)
    getattr(P, name)(out, a, b, p)
    if bytes(o2) != bytes(out) and len(bad) < 5:
        bad.append('%%s %%s' %% (name, list(p)[:12]))
n = 0
for it in range(%d):
    # lstm_gate_fc, both widths and all modes
    wide = it & 1
    bt, no, ni = random.randint(1, 3), random.randint(1, 9), random.randint(1, 40)
    xs, os_ = random.randint(0, 5), random.randint(0, 7)
    p = array('i', [bt, no, ni, xs, os_, mult(),
                    random.randint(-31, 14 if wide else 31), random.randint(0, 3), wide])
    for j in range(no):
        if wide:
            big = random.choice((r32(), (random.getrandbits(8) << 32 | random.getrandbits(32)) - (1 << 39),
                                 (random.getrandbits(32) << 32 | random.getrandbits(32)) - (1 << 63)))
            p.append(((big & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000)
            p.append(big >> 32)
        else:
            p.append(r32())
    out = buf('h', os_ + bt * no + random.randint(0, 3))
    check('lstm_gate_fc', 'h', out, buf('h' if wide else 'b', xs + bt * ni), buf('b', no * ni), p)
    # lstm_cell_update
    c = random.randint(0, 12)
    p = array('i', [c, random.randint(0, 3), 0, c, 2 * c, mult(), random.randint(-31, 31),
                    mult(), random.randint(-31, 31), random.randint(0, 1),
                    random.randint(0, 32767)])
    check('lstm_cell_update', 'h', buf('h', p[1] + c), buf('h', 3 * c), None, p)
    # lstm_hidden_update, int8 and int16 hidden
    code = random.choice('bh')
    top = 127 if code == 'b' else 32767
    lo = random.randint(-top - 1, top)
    ts = random.randint(0, 31)
    tm = random.choice((3, 3 << random.randint(0, 16), random.getrandbits(31)))
    p = array('i', [c, random.randint(0, 3), random.randint(0, 3), random.randint(0, c), tm,
                    ts, mult(), random.randint(-31, 31), random.randint(-300, 300), lo,
                    random.randint(lo, top)])
    check('lstm_hidden_update', code, buf(code, p[1] + c), buf('h', p[2] + c),
          buf('h', p[3] + c), p)
    # svdf_feature / svdf_time
    code = random.choice('bh')
    top = 127 if code == 'b' else 32767
    bt, ni, nf, nm = random.randint(1, 3), random.randint(1, 30), random.randint(1, 8), \
        random.randint(1, 6)
    p = array('i', [bt, ni, nf, nm, mult(), random.randint(-31, 31),
                    random.randint(-top - 1, top), -top - 1, top] + [r32() for _ in range(nf)])
    check('svdf_feature', code, buf(code, bt * nf * nm), buf('b', bt * ni), buf('b', nf * ni), p)
    rank = random.choice([k for k in range(1, nf + 1) if nf %% k == 0])
    p = array('i', [bt, nf, nm, rank, random.randint(-top - 1, top), mult(),
                    random.randint(-31, 31), random.randint(-128, 127)] +
              [r32() for _ in range(nf // rank)])
    check('svdf_time', 'b', buf('b', bt * (nf // rank)), buf(code, bt * nf * nm), buf(code, nf * nm),
          p)
    n += 1
print(n, len(bad), bad)
'''


@pytest.mark.parametrize('seed', [1, 2, 3])
def test_direct_random_parameter_blocks(mp, built, seed):
    out = mp(DIRECT % (seed, 300)).strip().split('\n')[-1]
    n, nbad = out.split()[:2]
    assert int(n) == 300 and int(nbad) == 0, out


BAD_ARGS = r'''
import tinyml_kernels as N
from array import array
def expect(f, *args):
    try:
        f(*args)
    except ValueError:
        return 1
    raise AssertionError('accepted: %s %r' % (f, [len(x) if x is not None else None
                                                 for x in args]))
def B(n):
    return array('b', bytes(n))
def H(n):
    return array('h', bytes(2 * n))
n = 0
# lstm_gate_fc: 2 batches of 3 inputs -> 4 outputs at offset 2 of the gates
p = array('i', [2, 4, 3, 1, 2, 1 << 30, -3, 2, 0, 5, 6, 7, 8])
N.lstm_gate_fc(H(10), B(7), B(12), p)
n += expect(N.lstm_gate_fc, H(9), B(7), B(12), p)
n += expect(N.lstm_gate_fc, H(10), B(6), B(12), p)
n += expect(N.lstm_gate_fc, H(10), B(7), B(11), p)
n += expect(N.lstm_gate_fc, B(20), B(7), B(12), p)          # gates must be int16
n += expect(N.lstm_gate_fc, H(10), H(7), B(12), p)          # int16 x without the wide flag
n += expect(N.lstm_gate_fc, H(10), B(7), B(12), p[:-1])
n += expect(N.lstm_gate_fc, H(10), B(7), B(12), array('i', list(p) + [0]))
for idx, val in ((3, -1), (4, -1), (5, -1), (6, 32), (7, 4), (8, 2), (1, 0), (2, 1 << 25)):
    q = array('i', p)
    q[idx] = val
    n += expect(N.lstm_gate_fc, H(10), B(7), B(12), q)
q = array('i', p[:9] + array('i', [0] * 8))
q[8] = 1
N.lstm_gate_fc(H(10), H(7), B(12), q)                       # the 16x8 variant
q[6] = 15                                                   # 64-bit requantization: shift <= 14
n += expect(N.lstm_gate_fc, H(10), H(7), B(12), q)
q = array('i', p)
q[2] = 65537                                                # n_in limit of the int32 dot
n += expect(N.lstm_gate_fc, H(10), B(2 * 65537 + 1), B(4 * 65537), q)
# lstm_cell_update: 4 cells at offset 1; gates f, i, g at 0, 4, 8
p = array('i', [4, 1, 0, 4, 8, 1 << 30, -14, 1 << 30, -15, 1, 3000])
N.lstm_cell_update(H(5), H(12), None, p)
n += expect(N.lstm_cell_update, H(4), H(12), None, p)
n += expect(N.lstm_cell_update, H(5), H(11), None, p)
n += expect(N.lstm_cell_update, B(10), H(12), None, p)
n += expect(N.lstm_cell_update, H(5), H(12), None, p[:-1])
for idx, val in ((1, -1), (4, 9), (5, -5), (6, 40)):
    q = array('i', p)
    q[idx] = val
    n += expect(N.lstm_cell_update, H(5), H(12), None, q)
# lstm_hidden_update: int8 hidden
p = array('i', [4, 0, 1, 2, 6, 0, 1 << 30, -10, 3, -128, 127])
N.lstm_hidden_update(B(4), H(5), H(6), p)
N.lstm_hidden_update(H(4), H(5), H(6), p)
n += expect(N.lstm_hidden_update, B(3), H(5), H(6), p)
n += expect(N.lstm_hidden_update, B(4), H(4), H(6), p)
n += expect(N.lstm_hidden_update, B(4), H(5), H(5), p)
n += expect(N.lstm_hidden_update, B(4), B(10), H(6), p)
for idx, val in ((9, -129), (10, 128), (5, 32), (5, -1), (6, -1)):
    q = array('i', p)
    q[idx] = val
    n += expect(N.lstm_hidden_update, B(4), H(5), H(6), q)
# rnn_copy
p = array('i', [3, 1, 2])
N.rnn_copy(B(5), B(4), None, p)
N.rnn_copy(array('f', [0.0] * 5), array('f', [1.0] * 4), None, p)
n += expect(N.rnn_copy, B(4), B(4), None, p)
n += expect(N.rnn_copy, B(5), B(3), None, p)
n += expect(N.rnn_copy, H(5), B(4), None, p)
n += expect(N.rnn_copy, B(5), B(4), None, array('i', [3, -1, 2]))
n += expect(N.rnn_copy, B(5), B(4), None, array('i', [3, 1]))
n += expect(N.rnn_copy, array('d', [0.0] * 5), array('d', [0.0] * 4), None, p)
# svdf_feature: 2 batches, 3 inputs, 2 filters, memory 4, int16 state
p = array('i', [2, 3, 2, 4, 1 << 30, -5, 0, -32768, 32767, 10, -10])
N.svdf_feature(H(16), B(6), B(6), p)
n += expect(N.svdf_feature, H(15), B(6), B(6), p)
n += expect(N.svdf_feature, H(17), B(6), B(6), p)
n += expect(N.svdf_feature, H(16), B(5), B(6), p)
n += expect(N.svdf_feature, H(16), B(6), B(5), p)
n += expect(N.svdf_feature, B(16), B(6), B(6), p)           # state range says int16
n += expect(N.svdf_feature, H(16), B(6), B(6), p[:-1])
for idx, val in ((7, -128), (6, 40000), (4, -1), (5, 99)):
    q = array('i', p)
    q[idx] = val
    n += expect(N.svdf_feature, H(16), B(6), B(6), q)
# svdf_time: 2 batches, 4 filters, memory 3, rank 2 -> 2 units, int8 state and weights
p = array('i', [2, 4, 3, 2, 0, 1 << 30, -6, 3, 100, -100])
N.svdf_time(B(4), B(24), B(12), p)
n += expect(N.svdf_time, B(3), B(24), B(12), p)
n += expect(N.svdf_time, B(4), B(23), B(12), p)
n += expect(N.svdf_time, B(4), B(24), B(11), p)
n += expect(N.svdf_time, B(4), H(24), B(12), p)             # state and weights differ
n += expect(N.svdf_time, B(4), B(24), B(12), array('i', list(p) + [0]))   # 3 units, rank 2
n += expect(N.svdf_time, H(4), B(24), B(12), p)
for idx, val in ((3, 0), (4, 200), (5, -1)):
    q = array('i', p)
    q[idx] = val
    n += expect(N.svdf_time, B(4), B(24), B(12), q)
print(n)
'''


def test_binding_rejects_bad_arguments(mp, built):
    assert int(mp(BAD_ARGS).split()[-1]) == 59


FUZZ = r'''
import tinyml_kernels as N, random
from array import array
random.seed(%d)
names = ('lstm_gate_fc', 'lstm_cell_update', 'lstm_hidden_update', 'rnn_copy',
         'svdf_feature', 'svdf_time')
heads = {'lstm_gate_fc': 9, 'lstm_cell_update': 11, 'lstm_hidden_update': 11, 'rnn_copy': 3,
         'svdf_feature': 9, 'svdf_time': 8}
def val():
    r = random.random()
    if r < 0.6:
        return random.randint(-2, 9)
    if r < 0.8:
        return random.randint(-300, 300)
    return random.getrandbits(32) - (1 << 31)
ok = err = 0
for i in range(%d):
    name = random.choice(names)
    n = heads[name] + random.choice((0, 0, 1, 2, 3, 6, random.randint(0, 30)))
    p = array('i', [val() for _ in range(n)])
    bufs = [array(random.choice('bbhhf'), bytes(random.choice((0, 4, 8, 64, 300, 2000))))
            for _ in range(3)]
    try:
        getattr(N, name)(bufs[0], bufs[1], bufs[2], p)
        ok += 1
    except (ValueError, MemoryError):
        err += 1
print(ok, err)
'''


@pytest.mark.parametrize('seed', [1, 2])
def test_binding_random_parameter_blocks_never_crash(mp, built, seed):
    ok, err = map(int, mp(FUZZ % (seed, 3000)).split()[-2:])
    assert ok + err == 3000 and err > 0 and ok > 0


CORPUS = r'''
import json, time, tinyml
tinyml.use_backend('native')
m = tinyml.load(open(%(model)r, 'rb').read())
assert m.kernels.lstm_gate_fc is not None
import tinyml_kernels as N
for k in ('lstm_gate_fc', 'svdf_feature', 'svdf_time', 'rnn_copy'):
    assert getattr(m.kernels, k) is getattr(N, k), k
data = open(%(inputs)r, 'rb').read()
n_in = len(m.inputs[0].raw)
out = open(%(outputs)r, 'wb')
for s in range(len(data) // n_in):
    m.reset()
    m.set_input(0, data[s * n_in:(s + 1) * n_in])
    m.invoke()
    out.write(bytes(m.outputs[0].raw))
out.close()
print(len(data) // n_in)
'''


@pytest.mark.parametrize('name', RNN_MODELS)
def test_corpus_model_byte_exact_native(mp, built, tmp_path, name):
    """Every reference sample (the .npz and, when present, the _real.npz) equals TFLM."""
    zoo = model_zoo()
    if zoo is None:
        pytest.skip('TINYML_MODEL_ZOO not set')
    xs, ys = [], []
    for suffix in ('', '_real'):
        path = zoo / (name + suffix + '.npz')
        if not path.exists():
            continue
        ref = np.load(path)
        ins = sorted(k for k in ref.files if k.startswith('input_'))
        outs = sorted(k for k in ref.files if k.startswith('output_'))
        if len(ins) != 1 or len(outs) != 1:
            continue
        xs += list(ref[ins[0]])
        ys += list(ref[outs[0]])
    assert xs
    src, dst = tmp_path / 'in.bin', tmp_path / 'out.bin'
    src.write_bytes(b''.join(np.ascontiguousarray(x).tobytes() for x in xs))
    n = int(mp(CORPUS % dict(model=str(zoo / (name + '.tflite')), inputs=str(src),
                             outputs=str(dst)), heapsize=64 << 20).split()[-1])
    assert n == len(xs)
    got = dst.read_bytes()
    size = len(got) // n
    for s, y in enumerate(ys):
        assert got[s * size:(s + 1) * size] == np.ascontiguousarray(y).tobytes(), \
            '%s sample %d differs from TFLM' % (name, s)


# ---- the same C on the host (ASan + UBSan) and bare metal under QEMU (every ARM build) ----

import random as _random  # noqa: E402
import shutil  # noqa: E402
import struct  # noqa: E402
from array import array  # noqa: E402

from test_kernels_native import NATIVE  # noqa: E402

QEMU_MACHINES = {"cortex-m0": "mps2-an385", "cortex-m3": "mps2-an385",
                 "cortex-m4": "mps2-an386", "cortex-m7": "mps2-an500"}
CPU_FLAGS = {"cortex-m0": ["-mthumb", "-mcpu=cortex-m0"],
             "cortex-m3": ["-mthumb", "-mcpu=cortex-m3"],
             "cortex-m4": ["-mthumb", "-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"],
             "cortex-m7": ["-mthumb", "-mcpu=cortex-m7", "-mfpu=fpv5-d16", "-mfloat-abi=hard"]}
ARM_FLAGS = ["-O2", "-std=c99", "-Wall", "-Werror", "-fno-tree-loop-distribute-patterns",
             "--specs=picolibc.specs", "--oslib=semihost", "--crt0=semihost",
             "-Wl,--defsym=__flash=0", "-Wl,--defsym=__flash_size=0x400000",
             "-Wl,--defsym=__ram=0x20000000", "-Wl,--defsym=__ram_size=0x400000"]
HARNESS_SRC = [str(NATIVE / "harness" / "rnn_harness.c"), str(NATIVE / "src" / "rnn.c"),
               str(NATIVE / "src" / "dot_dsp.c")]
KIDS = {'lstm_gate_fc': 0, 'lstm_cell_update': 1, 'lstm_hidden_update': 2, 'rnn_copy': 3,
        'svdf_feature': 4, 'svdf_time': 5}


def _qemu_missing():
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        if not shutil.which(tool):
            return "%s not installed" % tool
    return None


def rnn_cases(seed, count):
    """(kernel, elem, p, out, a, b) with typed arrays, random valid parameter blocks; large
    shapes included (the blocked dot products, SMLAD groups and tails)."""
    rng = _random.Random(seed)

    def r32():
        return rng.getrandbits(32) - (1 << 31)

    def edge():   # biases at the int32 limits: the sums must wrap like python's
        return rng.choice((r32(), (1 << 31) - 1 - rng.randint(0, 3000),
                           -(1 << 31) + rng.randint(0, 3000)))

    def mult():
        return rng.choice((0, 1, 1 << 30, (1 << 31) - 1, 0x7FFF0000, rng.getrandbits(31),
                           rng.randint(1 << 30, (1 << 31) - 1)))

    def buf(code, n):
        bits = 8 if code == 'b' else 16
        return array(code, [rng.getrandbits(bits) - (1 << (bits - 1)) for _ in range(n)])

    cases = []
    for it in range(count):
        wide = it % 4 == 3
        bt, no = rng.randint(1, 3), rng.randint(1, 40)
        ni = rng.choice((rng.randint(1, 9), rng.randint(10, 300)))
        xs, os_ = rng.randint(0, 5), rng.randint(0, 7)
        p = array('i', [bt, no, ni, xs, os_, mult(), rng.randint(-31, 14 if wide else 31),
                        rng.randint(0, 3), int(wide)])
        for _ in range(no):
            if wide:
                big = rng.choice((r32(), rng.getrandbits(40) - (1 << 39),
                                  rng.getrandbits(64) - (1 << 63)))
                p.append(((big & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000)
                p.append(big >> 32)
            else:
                p.append(edge())
        cases.append(('lstm_gate_fc', 2, p, buf('h', os_ + bt * no + rng.randint(0, 3)),
                      buf('h' if wide else 'b', xs + bt * ni), buf('b', no * ni)))
        c = rng.randint(0, 40)
        p = array('i', [c, rng.randint(0, 3), 0, c, 2 * c, mult(), rng.randint(-31, 31),
                        mult(), rng.randint(-31, 31), rng.randint(0, 1), rng.randint(0, 32767)])
        cases.append(('lstm_cell_update', 2, p, buf('h', p[1] + c), buf('h', 3 * c), None))
        code = rng.choice('bh')
        top = 127 if code == 'b' else 32767
        lo = rng.randint(-top - 1, top)
        p = array('i', [c, rng.randint(0, 3), rng.randint(0, 3), rng.randint(0, c),
                        rng.choice((3, 3 << rng.randint(0, 16), rng.getrandbits(31))),
                        rng.randint(0, 31), mult(), rng.randint(-31, 31),
                        rng.randint(-300, 300), lo, rng.randint(lo, top)])
        cases.append(('lstm_hidden_update', 1 if code == 'b' else 2, p, buf(code, p[1] + c),
                      buf('h', p[2] + c), buf('h', p[3] + c)))
        p = array('i', [c, rng.randint(0, 3), rng.randint(0, 3)])
        cases.append(('rnn_copy', 1 if code == 'b' else 2, p, buf(code, p[2] + c),
                      buf(code, p[1] + c), None))
        bt, nf, nm = rng.randint(1, 3), rng.randint(1, 20), rng.randint(1, 12)
        ni = rng.choice((rng.randint(1, 9), rng.randint(10, 200)))
        p = array('i', [bt, ni, nf, nm, mult(), rng.randint(-31, 31),
                        rng.randint(-top - 1, top), -top - 1, top] + [edge() for _ in range(nf)])
        cases.append(('svdf_feature', 1 if code == 'b' else 2, p, buf(code, bt * nf * nm),
                      buf('b', bt * ni), buf('b', nf * ni)))
        rank = rng.choice([k for k in range(1, nf + 1) if nf % k == 0])
        p = array('i', [bt, nf, nm, rank, rng.randint(-top - 1, top), mult(),
                        rng.randint(-31, 31), rng.randint(-128, 127)] +
                  [r32() for _ in range(nf // rank)])
        cases.append(('svdf_time', 1 if code == 'b' else 2, p, buf('b', bt * (nf // rank)),
                      buf(code, bt * nf * nm), buf(code, nf * nm)))
    return cases


def write_rnn_cases(path, cases):
    def pad(b):
        return b + bytes(-len(b) % 4)
    with open(path, 'wb') as f:
        for name, elem, p, out, a, b in cases:
            bb = bytes(b) if b is not None else b''
            f.write(struct.pack('<6I', KIDS[name], elem, len(p), len(bytes(out)),
                                len(bytes(a)), len(bb)))
            f.write(bytes(p) + pad(bytes(out)) + pad(bytes(a)) + pad(bb))


def read_rnn_outputs(path, cases):
    data = pathlib_read(path)
    outs, pos = [], 0
    for case in cases:
        n = len(bytes(case[3]))
        outs.append(data[pos:pos + n])
        pos += n + (-n % 4)
    return outs


def pathlib_read(path):
    with open(path, 'rb') as f:
        return f.read()


def python_outputs(cases):
    from tinyml.kernels import python_rnn as P
    outs = []
    for name, elem, p, out, a, b in cases:
        o = array(out.typecode, out)
        getattr(P, name)(o, a, b, p)
        outs.append(bytes(o))
    return outs


@pytest.fixture(scope="module")
def rnn_harnesses(tmp_path_factory):
    d = tmp_path_factory.mktemp("rnn_harness")
    host = d / "host"
    subprocess.run(["gcc", "-std=c99", "-O1", "-g", "-Wall", "-Werror",
                    "-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-o",
                    str(host)] + HARNESS_SRC, check=True)
    elves = {}
    if _qemu_missing() is None:
        for cpu, flags in CPU_FLAGS.items():
            elves[cpu] = d / ("rnn-%s.elf" % cpu)
            subprocess.run(["arm-none-eabi-gcc"] + flags + ARM_FLAGS +
                           ["-o", str(elves[cpu])] + HARNESS_SRC, check=True)
    return host, elves


def test_host_sanitized_rnn_kernels_match_python(rnn_harnesses, tmp_path):
    cases = rnn_cases(11, 120)
    write_rnn_cases(tmp_path / "c.bin", cases)
    res = subprocess.run([str(rnn_harnesses[0]), str(tmp_path / "c.bin"), str(tmp_path / "o.bin")],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0 and "runtime error" not in res.stderr, res.stderr[-3000:]
    got = read_rnn_outputs(tmp_path / "o.bin", cases)
    want = python_outputs(cases)
    bad = [i for i in range(len(cases)) if got[i] != want[i]]
    assert not bad, [(cases[i][0], list(cases[i][2][:12])) for i in bad[:5]]


@pytest.mark.skipif(_qemu_missing() is not None, reason="QEMU: %s" % _qemu_missing())
@pytest.mark.parametrize("cpu", sorted(QEMU_MACHINES))
def test_qemu_rnn_kernels_match_python(rnn_harnesses, tmp_path, cpu):
    cases = rnn_cases(29, 40)
    write_rnn_cases(tmp_path / "rnn_cases.bin", cases)
    res = subprocess.run(["qemu-system-arm", "-M", QEMU_MACHINES[cpu], "-nographic",
                          "-monitor", "none", "-serial", "none", "-semihosting-config",
                          "enable=on,target=native", "-kernel", str(rnn_harnesses[1][cpu])],
                         cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    got = read_rnn_outputs(tmp_path / "rnn_out.bin", cases)
    want = python_outputs(cases)
    bad = [i for i in range(len(cases)) if got[i] != want[i]]
    assert not bad, [(cases[i][0], list(cases[i][2][:12])) for i in bad[:5]]
