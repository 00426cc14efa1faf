"""Native copy_strided (native_modules/src/copy.c) against its python twin
kernels/python_copy.py: random jobs give identical bytes; bad parameter blocks and short
buffers raise ValueError; the data-movement ops bind the native kernel."""
import subprocess

import pytest

from conftest import ROOT


@pytest.fixture(scope="module")
def built():
    subprocess.run(["make", "-s", "-C", str(ROOT / "native_modules"), "x64"], check=True)


RANDOM = r"""
import random
from array import array
import tinyml_kernels as N
from tinyml.kernels import python_copy as P
random.seed(%d)

def extent(n, off, st):
    lo = hi = off
    for k in range(4):
        t = (n[k] - 1) * st[k]
        if t < 0: lo += t
        else: hi += t
    return lo, hi

bad = 0
for case in range(%d):
    e = random.choice((1, 2, 4))
    words = []
    jobs = random.randint(1, 3)
    need_out = need_a = 1
    for j in range(jobs):
        n = [random.randint(0 if random.random() < 0.05 else 1, 5) for k in range(4)]
        d = [random.randint(0, 40) for k in range(4)]
        if random.random() < 0.5:
            d[3] = 1
        s = [random.randint(-30, 30) for k in range(4)]
        if random.random() < 0.4:
            s[3] = 1
        mode = 1 if random.random() < 0.3 else 0
        lo, hi = extent(n, 0, s)
        soff = -lo + random.randint(0, 3)
        doff = random.randint(0, 5)
        need_out = max(need_out, extent(n, doff, d)[1] + 1)
        need_a = max(need_a, extent(n, soff, s)[1] + 1)
        fill = random.getrandbits(31) - random.getrandbits(31)
        words += [mode, fill] + n + [doff] + d + [soff] + s
    p = array('i', [e, jobs] + words)
    a = bytes(random.getrandbits(8) for k in range(need_a * e + random.randint(0, 3)))
    init = bytes(random.getrandbits(8) for k in range(need_out * e))
    o1 = bytearray(init)
    o2 = bytearray(init)
    N.copy_strided(o1, a, None, p)
    P.copy_strided(o2, a, None, p)
    if o1 != o2:
        bad += 1
        print('differ', list(p))
print('bad', bad)
"""

BAD = r"""
from array import array
import tinyml_kernels as N
job = [0, 0, 1, 1, 2, 3, 0, 0, 0, 3, 1, 0, 0, 0, 3, 1]
def p(e=1, jobs=1, job=job):
    return array('i', [e, jobs] + job)
cases = [
    (bytearray(6), bytes(5), p()),                       # a too short
    (bytearray(5), bytes(6), p()),                       # out too short
    (bytearray(6), bytes(6), p(e=3)),                    # element size
    (bytearray(6), bytes(6), p(jobs=2)),                 # p length
    (bytearray(6), bytes(6), array('i', [1])),          # header
    (bytearray(6), bytes(6), p(job=[2] + job[1:])),       # mode
    (bytearray(6), bytes(6), p(job=job[:6] + [-1] + job[7:])),   # negative dst offset
    (bytearray(6), bytes(6), p(job=job[:11] + [0, 0, 0, -3, 1])),   # src below 0
    (bytearray(6), bytes(6), p(job=job[:2] + [1 << 25] + job[3:])),  # dim too large
    (bytearray(6), bytes(6), p(job=job[:2] + [1 << 20, 1 << 20] + job[4:])),  # huge
    (bytearray(12), bytes(6), p(e=2)),                   # a short in elements
    (bytearray(6), bytes(6), bytes(68)),                 # p not array('i')
]
n = 0
for out, a, q in cases:
    try:
        N.copy_strided(out, a, None, q)
    except ValueError:
        n += 1
o = bytearray(6)
N.copy_strided(o, b'abcdef', None, p())
print(n, len(cases), bytes(o) == b'abcdef')
o = bytearray(6)
N.copy_strided(o, b'', None, array('i', [2, 1, 1, 0x4142, 1, 1, 1, 3, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]))
print(bytes(o) == b'BABABA')
"""


def test_random_jobs_identical(built, mp):
    out = mp(RANDOM % (1, 300), timeout=120)
    assert out.split()[-1] == "0", out[-2000:]


def test_bad_arguments_raise(built, mp):
    lines = mp(BAD).split("\n")
    n, total, ok = lines[0].split()
    assert n == total and ok == "True", lines
    assert lines[1] == "True"


OPS = r"""
from array import array
import tinyml
from tinyml import kernels
from tinyml.ops import tensor_ops as T
kernels.use_backend('native')
print(kernels.table.copy_strided is not T._python_copy.copy_strided)
"""


def test_native_table_has_copy(built, mp):
    assert mp(OPS).split()[-1] == "True"


REQUANT = r"""
import random
from array import array
import tinyml_kernels as N
from tinyml.kernels import python_eltwise as P
random.seed(%d)
RANGE = {'b': (-128, 127), 'h': (-32768, 32767), 'i': (-2**31, 2**31 - 1)}
def rint(lo, hi):
    return lo + (random.getrandbits(32) %% (hi - lo + 1))
bad = 0
for case in range(%d):
    ta = random.choice('bhi')
    to = random.choice('bhi')
    n = random.randint(0, 40)
    a = array(ta, [rint(*RANGE[ta]) >> random.randint(0, 20) for k in range(n)])
    mode = 0 if random.random() < 0.1 else 1
    izp = 0 if ta == 'i' else rint(-300, 300)
    ozp = rint(-300, 300)
    m1 = (1 << 30) + random.getrandbits(30) if random.random() < 0.95 else 0
    m2 = (1 << 30) + random.getrandbits(30)
    s1 = rint(-31, 8)
    s2 = rint(-31, 8)
    lo, hi = RANGE[to]
    if random.random() < 0.5:
        lo, hi = sorted((rint(lo, hi), rint(lo, hi)))
    p = array('i', [n, izp, ozp, m1, s1, m2, s2, random.getrandbits(1), lo, hi, mode])
    o1 = array(to, [0] * n)
    o2 = array(to, [0] * n)
    N.requant_int16(o1, a, None, p)
    P.requant_int16(o2, a, None, p)
    if list(o1) != list(o2):
        bad += 1
        print('differ', ta, to, list(p), list(a)[:4], list(o1)[:4], list(o2)[:4])
print('bad', bad)
"""

REQUANT_BAD = r"""
from array import array
import tinyml_kernels as N
def p(**kw):
    v = dict(n=4, izp=0, ozp=0, m=1 << 30, s=0, neg=0, lo=-128, hi=127, mode=1)
    v.update(kw)
    return array('i', [v['n'], v['izp'], v['ozp'], v['m'], v['s'], v['m'], v['s'], v['neg'],
                       v['lo'], v['hi'], v['mode']])
h4 = array('h', [1, 2, 3, 4])
cases = [
    (array('b', [0] * 3), h4, p()),                 # out short
    (array('b', [0] * 5), h4, p()),                 # out long
    (array('b', [0] * 5), array('h', [1] * 3), p(n=5)),   # a short
    (array('b', [0] * 4), h4, p(lo=-129)),          # clamp outside int8
    (array('b', [0] * 4), h4, p(lo=5, hi=4)),
    (array('b', [0] * 4), h4, p(s=32)),
    (array('b', [0] * 4), h4, p(m=-1)),
    (array('b', [0] * 4), h4, p(mode=2)),
    (array('b', [0] * 4), array('i', [1] * 4), p(izp=3)),
    (array('f', [0] * 4), h4, p()),
    (array('b', [0] * 4), h4, array('i', [4, 0])),
]
n = 0
for out, a, q in cases:
    try:
        N.requant_int16(out, a, None, q)
    except ValueError:
        n += 1
print(n, len(cases))
"""


def test_requant_int16_identical(built, mp):
    out = mp(REQUANT % (2, 400), timeout=120)
    assert out.split()[-1] == "0", out[-2000:]


def test_requant_int16_bad_arguments(built, mp):
    n, total = mp(REQUANT_BAD).split()[-2:]
    assert n == total


REDUCE = r"""
import random
from array import array
import tinyml_kernels as N
from tinyml.kernels import python_eltwise as P
random.seed(%d)
RANGE = {'b': (-128, 127), 'h': (-32768, 32767)}
def rint(lo, hi):
    return lo + (random.getrandbits(32) %% (hi - lo + 1))
bad = 0
for case in range(%d):
    t = random.choice('bh')
    n_out = random.randint(0, 6)
    n_red = random.randint(0, 50)
    size = random.randint(1, 200)
    a = array(t, [rint(*RANGE[t]) for k in range(size)])
    red = [random.randint(0, size // 2) for k in range(n_red)]
    top = size - 1 - (max(red) if red else 0)
    bases = [random.randint(0, top) for k in range(n_out)]
    lo, hi = RANGE[t]
    if random.random() < 0.5:
        lo, hi = sorted((rint(lo, hi), rint(lo, hi)))
    m = (1 << 30) + random.getrandbits(30) if random.random() < 0.95 else 0
    p = array('i', [n_out, n_red, rint(*RANGE[t]), rint(*RANGE[t]), m, rint(-31, 6), lo, hi]
              + bases + red)
    o1 = array(t, [0] * n_out)
    o2 = array(t, [0] * n_out)
    N.reduce_int(o1, a, None, p)
    P.reduce_int(o2, a, None, p)
    if list(o1) != list(o2):
        bad += 1
        print('differ', list(p)[:10], list(o1), list(o2))
print('bad', bad)
"""

REDUCE_BAD = r"""
from array import array
import tinyml_kernels as N
a = array('b', range(10))
def p(n_out=2, n_red=3, zp=0, m=1 << 30, s=0, lo=-128, hi=127, bases=(0, 5), red=(0, 1, 4)):
    return array('i', [n_out, n_red, zp, zp, m, s, lo, hi] + list(bases) + list(red))
cases = [
    (array('b', [0] * 3), a, p()),                  # out length
    (array('b', [0] * 2), a, p(red=(0, 1, 5))),     # 5 + 5 beyond a
    (array('b', [0] * 2), a, p(bases=(-1, 0))),
    (array('b', [0] * 2), a, p(n_red=4)),           # p length
    (array('b', [0] * 2), a, p(s=40)),
    (array('b', [0] * 2), a, p(m=-5)),
    (array('b', [0] * 2), a, p(hi=128)),
    (array('i', [0] * 2), a, p()),
    (array('b', [0] * 2), array('h', range(5)), p()),   # int16 a: 5 elements
]
n = 0
for out, x, q in cases:
    try:
        N.reduce_int(out, x, None, q)
    except ValueError:
        n += 1
o = array('b', [0] * 2)
N.reduce_int(o, a, None, p())
print(n, len(cases), list(o))
"""


def test_reduce_int_identical(built, mp):
    out = mp(REDUCE % (3, 400), timeout=120)
    assert out.split()[-1] == "0", out[-2000:]


def test_reduce_int_bad_arguments(built, mp):
    line = mp(REDUCE_BAD).strip().splitlines()[-1].split(None, 2)
    assert line[0] == line[1], line
