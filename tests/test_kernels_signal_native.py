"""Native Signal kernels (native_modules/src/signal.c) and int32/float32 elementwise + CAST
kernels (eltwise32.c) against their python twins (kernels/python_dsp.signal_*,
kernels/python_eltwise): random inputs with edge values give identical bytes; bad parameter
blocks and buffer sizes raise ValueError; mutated arguments never crash the process."""
import subprocess

import pytest

from conftest import ROOT


@pytest.fixture(scope="module")
def built():
    subprocess.run(["make", "-s", "-C", str(ROOT / "native_modules"), "x64"], check=True)


PRELUDE = r"""
import random, struct
from array import array
import tinyml_kernels as N
from tinyml.kernels import python_dsp as P
from tinyml.kernels import python_eltwise as E
from tinyml import audio_fixed as fx
random.seed(%d)
bad = 0
def rbits(n):
    v = 0
    while n > 0:
        k = min(n, 32)
        v = (v << k) | random.getrandbits(k)
        n -= k
    return v
def rint(lo, hi):
    return lo + rbits(40) %% (hi - lo + 1)
def i16(n, edge=0.1):
    return array('h', [random.choice((-32768, 32767, 0, -1, 1)) if random.random() < edge
                       else rint(-32768, 32767) for _ in range(n)])
def u32(n, edge=0.1):
    return array('I', [random.choice((0, 1, 2, 3, 0xFFFFFFFF, 0x80000000)) if random.random() < edge
                       else rint(0, 0xFFFFFFFF) >> random.randint(0, 31) for _ in range(n)])
def same(name, x, y, *info):
    global bad
    if bytes(x) != bytes(y):
        bad += 1
        print('differ', name, info, list(x)[:8], list(y)[:8])
"""

SIGNAL = PRELUDE + r"""
for case in range(%d):
    # window
    rows, size, shift = rint(0, 3), rint(1, 40), rint(0, 31)
    a, w = i16(rows * size), i16(size)
    p = array('i', [rows, size, shift])
    o1, o2 = array('h', [7] * (rows * size)), array('h', [7] * (rows * size))
    N.signal_window(o1, a, w, p)
    P.signal_window(o2, a, w, p)
    same('window', o1, o2, list(p))
    # auto scale
    n = rint(0, 60)
    a = i16(n, 0.05) if random.random() < 0.5 else array('h', [rint(-300, 300) for _ in range(n)])
    p = array('i', [n])
    o1, o2 = array('h', [0] * n), array('h', [0] * n)
    b1 = N.signal_fft_auto_scale(o1, a, None, p)
    b2 = P.signal_fft_auto_scale(o2, a, None, p)
    same('auto_scale', o1, o2)
    if b1 != b2:
        bad += 1
        print('auto_scale bits', b1, b2)
    # the shift stored in b[0] when b is given (the op's int32 output)
    s1, s2 = array('i', [-9, 5]), array('i', [-9, 5])
    o1[:] = array('h', [0] * n)
    if N.signal_fft_auto_scale(o1, a, s1, p) != b1 or P.signal_fft_auto_scale(o2, a, s2, p) != b1:
        bad += 1
    same('auto_scale b', s1, s2)
    same('auto_scale b out', o1, o2)
    if list(s1) != [b1, 5]:
        bad += 1
        print('auto_scale b', list(s1), b1)
    # energy
    n_out = rint(0, 40)
    start = rint(0, n_out)
    end = rint(start, n_out)
    a = i16(2 * n_out)
    p = array('i', [n_out, start, end])
    o1, o2 = array('I', [5] * n_out), array('I', [5] * n_out)
    N.signal_energy(o1, a, None, p)
    P.signal_energy(o2, a, None, p)
    same('energy', o1, o2, list(p))
    # filter bank, both halves, uint64 accumulators from any start value
    ch = rint(0, 12)
    n_in, n_w = rint(1, 60), rint(1, 60)
    wd = [rint(0, min(n_in, n_w)) for _ in range(ch + 1)]
    fs = [rint(0, n_in - wd[c]) for c in range(ch + 1)]
    ws = [rint(0, n_w - wd[c]) for c in range(ch + 1)]
    mode = rint(0, 1)
    p = array('i', [mode, ch] + fs + ws + wd)
    a, w = u32(n_in, 0.3), i16(n_w, 0.3)
    init = [rbits(64) for _ in range(ch)]
    o1, o2 = array('Q', init), array('Q', init)
    N.signal_filter_bank(o1, a, w, p)
    P.signal_filter_bank(o2, a, w, p)
    same('filter_bank', o1, o2, list(p))
    # sqrt of uint64 with the runtime shift
    n = rint(0, 30)
    vals = []
    for _ in range(n):
        r = random.random()
        if r < 0.2:
            v = random.choice((0, 1, 2, 3, 0xFFFFFFFF, 1 << 32, (1 << 64) - 1, (1 << 63)))
        elif r < 0.4:
            k = random.getrandbits(32)
            v = (k * k + rint(-2, 2)) %% (1 << 64)
        else:
            v = rbits(64) >> random.randint(0, 63)
        vals.append(v)
    a = array('Q', vals)
    bits = array('i', [random.choice((0, 1, 7, 15, 31, 32, 40))])
    o1, o2 = array('I', [0] * n), array('I', [0] * n)
    N.signal_filter_bank_sqrt(o1, a, bits, array('i', [n]))
    P.signal_filter_bank_sqrt(o2, a, bits, array('i', [n]))
    same('sqrt', o1, o2, bits[0], vals[:3])
    # spectral subtraction: output and noise state
    n = rint(0, 40)
    cfg = [rint(0, 65535) for _ in range(5)] + [rint(0, 31), rint(0, 31), rint(0, 1)]
    if random.random() < 0.5:
        cfg = [409, 15975, 983, 15401, 819, 10, 14, rint(0, 1)]
    p = array('i', [n] + cfg)
    a = u32(n, 0.2)
    noise = [rint(0, 0xFFFFFFFF) >> random.randint(0, 31) for _ in range(n)]
    n1, n2 = array('I', noise), array('I', noise)
    o1, o2 = array('I', [0] * n), array('I', [0] * n)
    N.signal_spectral_subtraction(o1, a, n1, p)
    P.signal_spectral_subtraction(o2, a, n2, p)
    same('spectral', o1, o2, list(p))
    same('spectral noise', n1, n2, list(p))
    # PCAN
    n = rint(0, 40)
    lut = list(i16(125, 0.2))
    p = array('i', [n, rint(0, 63)] + lut)
    a, noise = u32(n, 0.2), u32(n, 0.3)
    o1, o2 = array('I', [0] * n), array('I', [0] * n)
    N.signal_pcan(o1, a, noise, p)
    P.signal_pcan(o2, a, noise, p)
    same('pcan', o1, o2, p[1])
    # log
    n = rint(0, 40)
    scale = random.choice((64, 1, 0, 65535, rint(-2**31, 2**31 - 1)))
    p = array('i', [n, scale, rint(0, 31)])
    a = u32(n, 0.3)
    o1, o2 = array('h', [0] * n), array('h', [0] * n)
    N.signal_filter_bank_log(o1, a, None, p)
    P.signal_filter_bank_log(o2, a, None, p)
    same('log', o1, o2, list(p))
print('bad', bad)
"""

RFFT = PRELUDE + r"""
for nfft in (4, 8, 16, 32, 64, 128, 512):
    fft = fx.KissFftR16(nfft)
    n = fft.ncfft
    for case in range(%d):
        rows = rint(1, 3)
        in_len = rint(1, nfft)
        out_len = 2 * n + 2 + rint(0, 3)
        a = i16(rows * in_len, 0.2) if random.random() < 0.7 else array(
            'h', [rint(-50, 50) for _ in range(rows * in_len)])
        p = array('i', [rows, in_len, out_len, n, len(fft.stages)] + fft.stage_params)
        o1, o2 = array('h', [3] * (rows * out_len)), array('h', [3] * (rows * out_len))
        N.signal_rfft(o1, a, fft.plan, p)
        P.signal_rfft(o2, a, fft.plan, p)
        same('rfft', o1, o2, nfft, rows, in_len)
        if rows == 1:      # the engine's python path: zero-padded frame through KissFftR16.run
            work = array('h', [0] * nfft)
            for i in range(in_len):
                work[i] = a[i]
            o3 = array('h', [3] * out_len)
            fft.run(work, o3)
            same('rfft vs run', o1, o3, nfft, in_len)
print('bad', bad)
"""

INT32 = [-2**31, 2**31 - 1, 0, -1, 1, 2, -2, 46341, -46341]
ELTWISE = PRELUDE + r"""
from tinyml.ops import elementwise as EL
INT32 = %r
SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5, float('inf'), float('-inf'), 3.4028234663852886e38,
           -3.4028234663852886e38, 1e-45, -1e-45, 1.1754943508222875e-38, 6.0, 7.0, -7.5]
def shapes():
    rank = rint(0, 4)
    out = [rint(1, 4) for _ in range(rank)]
    a = [d if random.random() < 0.7 else 1 for d in out]
    b = [d if random.random() < 0.7 else 1 for d in out]
    return a[rint(0, rank):] if random.random() < 0.3 else a, b[rint(0, rank):] if random.random() < 0.3 else b
def count(s):
    n = 1
    for d in s:
        n *= d
    return n
def ints(n, nonzero=False):
    v = [random.choice(INT32) if random.random() < 0.3 else rint(-2**31, 2**31 - 1) >> rint(0, 31)
         for _ in range(n)]
    return array('i', [x or 3 for x in v] if nonzero else v)
def floats(n, nan=False):
    v = array('f', [0.0] * n)
    for i in range(n):
        r = random.random()
        if r < 0.3:
            v[i] = random.choice(SPECIAL)
        elif nan and r < 0.4:
            v[i] = float('nan')
        else:
            v[i] = (random.random() - 0.5) * 10 ** rint(-40, 38)
    return v
for case in range(%d):
    sa, sb = shapes()
    header, dims = EL.broadcast_header(None, sa, sb)
    n = count(dims)
    # int32 ADD SUB MUL DIV MAX MIN SQDIFF PRELU, act ranges
    op = rint(0, 7)
    lo, hi = random.choice(((-2**31, 2**31 - 1), (0, 2**31 - 1), (-1, 1), (0, 6)))
    a, b = ints(count(sa)), ints(count(sb), op == E.OP_DIV)
    p = array('i', header + [op, lo, hi])
    o1, o2 = array('i', [9] * n), array('i', [9] * n)
    N.binary_int32(o1, a, b, p)
    E.binary_int32(o2, a, b, p)
    same('binary_int32', o1, o2, op, sa, sb)
    # minmax, every dtype (float with NaN, zeros of both signs)
    is_max, dt = rint(0, 1), rint(0, 3)
    tc = 'bhif'[dt]
    if dt == 3:
        a, b = floats(count(sa), True), floats(count(sb), True)
    else:
        a, b = array(tc, ints(count(sa))), array(tc, ints(count(sb)))
        bits = (8, 16, 32)[dt]
        a = array(tc, [((x + (1 << (bits - 1))) %% (1 << bits)) - (1 << (bits - 1)) for x in ints(count(sa))])
        b = array(tc, [((x + (1 << (bits - 1))) %% (1 << bits)) - (1 << (bits - 1)) for x in ints(count(sb))])
    p = array('i', header + [is_max, dt])
    o1, o2 = array(tc, [0] * n), array(tc, [0] * n)
    N.minmax(o1, a, b, p)
    E.minmax(o2, a, b, p)
    same('minmax', o1, o2, is_max, dt)
    # float32 arithmetic with every clamp code
    op, act = rint(0, 7), rint(0, 4)
    a, b = floats(count(sa), op in (E.OP_MAX, E.OP_MIN)), floats(count(sb), op in (E.OP_MAX, E.OP_MIN))
    p = array('i', header + [op, act])
    o1, o2 = array('f', [0.0] * n), array('f', [0.0] * n)
    N.binary_float(o1, a, b, p)
    E.binary_float(o2, a, b, p)
    same('binary_float', o1, o2, op, act, list(a)[:3], list(b)[:3])
print('bad', bad)
"""

DIV_ZERO = PRELUDE + r"""
p = array('i', [1, 1, 1, 1, 6, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, -2**31, 2**31 - 1])
a = array('i', [7, -7, -2**31, 5, 6, 7])
b = array('i', [2, 2, -1, 0, 1, 1])
res = []
for k in (N.binary_int32, E.binary_int32):
    o = array('i', [99] * 6)
    try:
        k(o, a, b, p)
        res.append('no error')
    except ZeroDivisionError:
        res.append(list(o))
print(res[0] == res[1], res[0])
"""

CAST = PRELUDE + r"""
TC = {0: 'b', 1: 'h', 2: 'i', 3: 'I', 4: 'f', 5: 'B'}
BITS = {0: 8, 1: 16, 2: 32, 3: 32}
FSPECIAL = [0.0, -0.0, 0.5, -0.5, 0.99, -1.5, 127.9, 128.0, -129.0, 32768.0, 2147483520.0,
            2147483648.0, -2147483648.0, -2147483904.0, 4294967296.0, 4294967295.0 + 1000,
            9.2233720368547758e18, -9.2233720368547758e18, 1.8e19, -1.8e19, 1e30,
            float('inf'), float('-inf'), float('nan'), 1e-45]
def values(src, n):
    if src == 4:
        return array('f', [random.choice(FSPECIAL) if random.random() < 0.4 else
                           (random.random() - 0.5) * 10 ** rint(-3, 21) for _ in range(n)])
    if src == 5:
        return array('B', [rint(0, 1) for _ in range(n)])
    bits = BITS[src]
    lo = 0 if src == 3 else -(1 << (bits - 1))
    return array(TC[src], [lo + random.getrandbits(bits) for _ in range(n)])
for case in range(%d):
    for src in range(6):
        for dst in range(6):
            n = rint(0, 20)
            a = values(src, n)
            p = array('i', [n, src, dst])
            o1, o2 = array(TC[dst], [0] * n), array(TC[dst], [0] * n)
            k = N.cast_float if 4 in (src, dst) else N.cast
            k(o1, a, None, p)
            E.cast(o2, a, None, p)
            same('cast', o1, o2, src, dst, list(a)[:4])
print('bad', bad)
"""


def test_signal_kernels_identical(built, mp):
    out = mp(SIGNAL % (1, 150), timeout=300)
    assert out.split()[-1] == "0", out[-3000:]


def test_rfft_identical(built, mp):
    out = mp(RFFT % (2, 6), timeout=300)
    assert out.split()[-1] == "0", out[-3000:]


def test_eltwise_kernels_identical(built, mp):
    out = mp(ELTWISE % (3, INT32, 300), timeout=300)
    assert out.split()[-1] == "0", out[-3000:]


def test_int32_div_by_zero_like_python(built, mp):
    out = mp(DIV_ZERO % 4).split("\n")[0]
    assert out.startswith("True [3, -3, -2147483648, 99"), out


def test_cast_identical(built, mp):
    out = mp(CAST % (5, 30), timeout=300)
    assert out.split()[-1] == "0", out[-3000:]


# one valid call per kernel, inputs exactly as long as p needs: (name, out, a, b, p); the
# bad-size and fuzz tests start from these
VALID = r"""
from array import array
import tinyml_kernels as N
from tinyml import audio_fixed as fx
fft = fx.KissFftR16(16)
hdr = [1, 1, 1, 1, 4, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]
def calls():
    return [
        ('signal_window', array('h', [0] * 8), array('h', range(8)), array('h', [9] * 4), array('i', [2, 4, 3])),
        ('signal_fft_auto_scale', array('h', [0] * 6), array('h', range(6)), array('i', [0]), array('i', [6])),
        ('signal_rfft', array('h', [0] * 18), array('h', range(12)), fft.plan,
         array('i', [1, 12, 18, 8, len(fft.stages)] + fft.stage_params)),
        ('signal_energy', array('I', [0] * 9), array('h', range(14)), None, array('i', [9, 2, 7])),
        ('signal_filter_bank', array('Q', [0] * 2), array('I', range(9)), array('h', range(8)),
         array('i', [0, 2, 0, 3, 6, 0, 2, 5, 3, 3, 3])),
        ('signal_filter_bank_sqrt', array('I', [0] * 4), array('Q', [5, 1 << 40, 9, 0]), array('i', [2]), array('i', [4])),
        ('signal_spectral_subtraction', array('I', [0] * 4), array('I', range(4)), array('I', [7] * 4),
         array('i', [4, 409, 15975, 983, 15401, 819, 10, 14, 0])),
        ('signal_pcan', array('I', [0] * 4), array('I', range(4)), array('I', [9] * 4), array('i', [4, 6] + [100] * 125)),
        ('signal_filter_bank_log', array('h', [0] * 4), array('I', [5, 90, 1, 0]), None, array('i', [4, 64, 3])),
        ('binary_int32', array('i', [0] * 4), array('i', range(4)), array('i', [3]), array('i', hdr + [3, -2**31, 2**31 - 1])),
        ('minmax', array('h', [0] * 4), array('h', range(4)), array('h', [2]), array('i', hdr + [1, 1])),
        ('cast', array('b', [0] * 4), array('i', [1, 300, -5, 7]), None, array('i', [4, 2, 0])),
        ('cast_float', array('f', [0] * 4), array('I', [1, 300, 5, 7]), None, array('i', [4, 3, 4])),
        ('binary_float', array('f', [0] * 4), array('f', [1, 2, 3, 4]), array('f', [2]), array('i', hdr + [2, 4])),
    ]
"""

BAD = VALID + r"""
def shorter(buf):
    return buf[:len(buf) - 1] if buf is not None and len(buf) else buf
def longer(buf):
    return buf + buf[:1] if buf is not None else buf
ok = fails = 0
for name, out, a, b, p in calls():
    k = getattr(N, name)
    k(out, a, b, p)                     # the valid call works
    ok += 1
    cases = [(shorter(out), a, b, p), (longer(out), a, b, p), (out, shorter(a), b, p),
             (out, a, b, array('i', list(p) + [0])), (out, a, b, array('i', list(p)[:-1])),
             (out, a, b, bytes(len(p) * 4)), (bytearray(len(bytes(out)) + 1), a, b, p)]
    if b is not None and name not in ('minmax', 'binary_int32', 'binary_float'):
        cases.append((out, a, shorter(b), p))
    for o2, a2, b2, p2 in cases:
        try:
            k(o2, a2, b2, p2)
            print('accepted', name, o2, a2, b2, p2)
            fails += 1
        except ValueError:
            pass
print('fails', fails, ok)
"""

FUZZ = VALID + r"""
import random
random.seed(%d)
VALS = (-2**31, -65537, -1, 0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 33, 63, 64, 125, 255, 65535,
        65536, 1 << 24, (1 << 24) + 1, 2**31 - 1)
errors = 0
for it in range(%d):
    for name, out, a, b, p in calls():
        k = getattr(N, name)
        q = array('i', p)
        for _ in range(random.randint(1, 3)):
            q[random.randint(0, len(q) - 1)] = random.choice(VALS) if random.random() < 0.7 else random.randint(-40, 40)
        bufs = [out, a, b]
        if random.random() < 0.3:
            i = random.randint(0, 2)
            if bufs[i] is not None:
                bufs[i] = bufs[i][:random.randint(0, len(bufs[i]))]
        try:
            k(bufs[0], bufs[1], bufs[2], q)
        except (ValueError, ZeroDivisionError):
            errors += 1
print('survived', errors)
"""


def test_bad_sizes_raise(built, mp):
    out = mp(BAD).split()
    assert out[-3:] == ["fails", "0", "14"], out


def test_fuzzed_arguments_never_crash(built, mp):
    out = mp(FUZZ % (7, 400), timeout=300)
    assert out.split()[-2] == "survived", out[-2000:]


NATIVE_TABLE = r"""
import tinyml
from tinyml import kernels
kernels.use_backend('native')
t = kernels.table
names = ('signal_window', 'signal_rfft', 'signal_filter_bank', 'binary_int32', 'minmax', 'cast',
         'cast_float', 'binary_float')
import tinyml_kernels as N
print(all(getattr(t, n) is getattr(N, n) for n in names))
"""


def test_native_table_has_the_kernels(built, mp):
    assert mp(NATIVE_TABLE).split()[-1] == "True"
