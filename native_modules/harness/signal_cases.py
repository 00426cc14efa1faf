"""Random and edge cases for signal_harness.c: the Signal kernels, the int32/float32
elementwise kernels and CAST, and the whole-op recurrent kernels with lut_int8 / softmax_f32.

Runs under CPython. A Case is (kernel, arg, p, bufs): p an array('i'), bufs the typed arrays
in the buffer roles of signal_harness.c's run(). `python_twin(case)` runs the python kernels
(device/tinyml/kernels) on copies and returns what the harness writes: (return value, every
buffer's bytes after the call). write_cases()/read_outputs() speak the harness's file format.
"""
import random
import struct
from array import array

from tinyml import audio_fixed as fx
from tinyml.kernels import python_dsp as P
from tinyml.kernels import python_eltwise as E
from tinyml.kernels import python_rnn as R
from tinyml.ops import elementwise as EL

KERNEL_IDS = {
    'signal_window': 0, 'signal_fft_auto_scale': 1, 'signal_rfft': 2, 'signal_energy': 3,
    'signal_filter_bank': 4, 'signal_filter_bank_sqrt': 5, 'signal_spectral_subtraction': 6,
    'signal_pcan': 7, 'signal_filter_bank_log': 8, 'binary_int32': 9, 'minmax': 10, 'cast': 11,
    'binary_float': 12, 'lstm_int': 13, 'svdf_int': 14, 'lut_int8': 15, 'softmax_f32': 16,
}
CT_FLOAT32 = E.CT_FLOAT32


class Case:
    def __init__(self, kernel, p, bufs, arg=0):
        self.kernel, self.p, self.bufs, self.arg = kernel, array('i', p), list(bufs), arg

    def uses_float(self):
        """Only the builds with float32 hardware have this kernel."""
        if self.kernel == 'cast':
            return CT_FLOAT32 in (self.p[1], self.p[2])
        return self.kernel in ('binary_float', 'softmax_f32')

    def describe(self):
        return '%s p=%s lens=%s' % (self.kernel, list(self.p[:18]),
                                    [len(b) for b in self.bufs])


# ---- value generators -------------------------------------------------------------------

class Values:
    def __init__(self, seed):
        self.rng = random.Random(seed)

    def int(self, lo, hi):
        return self.rng.randint(lo, hi)

    def i16(self, n, edge=0.1):
        r = self.rng
        return array('h', [r.choice((-32768, 32767, 0, -1, 1)) if r.random() < edge
                           else r.randint(-32768, 32767) for _ in range(n)])

    def u32(self, n, edge=0.1):
        r = self.rng
        return array('I', [r.choice((0, 1, 2, 3, 0xFFFFFFFF, 0x80000000)) if r.random() < edge
                           else r.getrandbits(32) >> r.randint(0, 31) for _ in range(n)])

    def i32(self, n, nonzero=False):
        r = self.rng
        edges = (-2 ** 31, 2 ** 31 - 1, 0, -1, 1, 2, -2, 46341, -46341)
        v = [r.choice(edges) if r.random() < 0.3 else
             (r.getrandbits(32) - 2 ** 31) >> r.randint(0, 31) for _ in range(n)]
        return array('i', [x or 3 for x in v] if nonzero else v)

    def wrap(self, code, n):
        bits = {'b': 8, 'h': 16, 'i': 32}[code]
        return array(code, [((x + (1 << (bits - 1))) % (1 << bits)) - (1 << (bits - 1))
                            for x in self.i32(n)])

    SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5, float('inf'), float('-inf'), 3.4028234663852886e38,
               -3.4028234663852886e38, 1e-45, -1e-45, 1.1754943508222875e-38, 6.0, 7.0, -7.5]

    def floats(self, n, nan=False):
        r = self.rng
        v = array('f', [0.0] * n)
        for i in range(n):
            x = r.random()
            if x < 0.3:
                v[i] = r.choice(self.SPECIAL)
            elif nan and x < 0.4:
                v[i] = float('nan')
            else:
                v[i] = (r.random() - 0.5) * 10 ** r.randint(-40, 38)
        return v

    def mult(self):
        r = self.rng
        return r.choice((0, 1, 1 << 30, (1 << 31) - 1, 0x7FFF0000, r.getrandbits(31),
                         r.randint(1 << 30, (1 << 31) - 1)))

    def bias32(self):
        r = self.rng
        return r.choice((r.getrandbits(32) - (1 << 31), (1 << 31) - 1 - r.randint(0, 3000),
                         -(1 << 31) + r.randint(0, 3000), r.randint(-300, 300)))

    def bytes8(self, n):
        return array('b', [self.rng.randint(-128, 127) for _ in range(n)])


# ---- Signal ops -------------------------------------------------------------------------

def window_case(v):
    rows, size = v.int(0, 3), v.int(1, 40)
    return Case('signal_window', [rows, size, v.int(0, 31)],
                [array('h', [7] * (rows * size)), v.i16(rows * size), v.i16(size)])


def auto_scale_case(v):
    n = v.int(0, 60)
    a = v.i16(n, 0.05) if v.rng.random() < 0.5 else array('h', [v.int(-300, 300)
                                                                 for _ in range(n)])
    return Case('signal_fft_auto_scale', [n], [array('h', [0] * n), a])


def rfft_case(v, nfft=None):
    fft = fx.KissFftR16(nfft or v.rng.choice((4, 8, 16, 32, 64, 128, 512)))
    n = fft.ncfft
    rows, in_len = v.int(1, 3), v.int(1, fft.nfft)
    out_len = 2 * n + 2 + v.int(0, 3)
    a = v.i16(rows * in_len, 0.2) if v.rng.random() < 0.7 else array(
        'h', [v.int(-50, 50) for _ in range(rows * in_len)])
    p = [rows, in_len, out_len, n, len(fft.stages)] + list(fft.stage_params)
    return Case('signal_rfft', p, [array('h', [3] * (rows * out_len)), a, array('h', fft.plan)])


def energy_case(v):
    n_out = v.int(0, 40)
    start = v.int(0, n_out)
    end = v.int(start, n_out)
    return Case('signal_energy', [n_out, start, end],
                [array('I', [5] * n_out), v.i16(2 * n_out)])


def filter_bank_case(v):
    ch, n_in, n_w = v.int(0, 12), v.int(1, 60), v.int(1, 60)
    wd = [v.int(0, min(n_in, n_w)) for _ in range(ch + 1)]
    fs = [v.int(0, n_in - wd[c]) for c in range(ch + 1)]
    ws = [v.int(0, n_w - wd[c]) for c in range(ch + 1)]
    init = array('Q', [v.rng.getrandbits(64) for _ in range(ch)])
    return Case('signal_filter_bank', [v.int(0, 1), ch] + fs + ws + wd,
                [init, v.u32(n_in, 0.3), v.i16(n_w, 0.3)])


def _sqrt_value(v):
    r = v.rng
    x = r.random()
    if x < 0.2:
        return r.choice((0, 1, 2, 3, 0xFFFFFFFF, 1 << 32, (1 << 64) - 1, 1 << 63))
    if x < 0.4:
        k = r.getrandbits(32)
        return (k * k + r.randint(-2, 2)) % (1 << 64)
    return r.getrandbits(64) >> r.randint(0, 63)


def sqrt_case(v):
    n = v.int(0, 30)
    return Case('signal_filter_bank_sqrt', [n],
                [array('I', [0] * n), array('Q', [_sqrt_value(v) for _ in range(n)]),
                 array('i', [v.rng.choice((0, 1, 7, 15, 31, 32, 40))])])


def spectral_case(v):
    n = v.int(0, 40)
    cfg = [v.int(0, 65535) for _ in range(5)] + [v.int(0, 31), v.int(0, 31), v.int(0, 1)]
    if v.rng.random() < 0.5:
        cfg = [409, 15975, 983, 15401, 819, 10, 14, v.int(0, 1)]
    noise = array('I', [v.rng.getrandbits(32) >> v.int(0, 31) for _ in range(n)])
    return Case('signal_spectral_subtraction', [n] + cfg,
                [array('I', [0] * n), v.u32(n, 0.2), noise])


def pcan_case(v):
    n = v.int(0, 40)
    return Case('signal_pcan', [n, v.int(0, 63)] + list(v.i16(125, 0.2)),
                [array('I', [0] * n), v.u32(n, 0.2), v.u32(n, 0.3)])


def log_case(v):
    n = v.int(0, 40)
    scale = v.rng.choice((64, 1, 0, 65535, v.int(-2 ** 31, 2 ** 31 - 1)))
    return Case('signal_filter_bank_log', [n, scale, v.int(0, 31)],
                [array('h', [0] * n), v.u32(n, 0.3)])


# ---- int32 / float32 elementwise, CAST ----------------------------------------------------

def _shapes(v):
    rank = v.int(0, 4)
    out = [v.int(1, 4) for _ in range(rank)]
    a = [d if v.rng.random() < 0.7 else 1 for d in out]
    b = [d if v.rng.random() < 0.7 else 1 for d in out]
    if v.rng.random() < 0.3:
        a = a[v.int(0, rank):]
    if v.rng.random() < 0.3:
        b = b[v.int(0, rank):]
    return a, b


def _count(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def _broadcast(v):
    sa, sb = _shapes(v)
    header, dims = EL.broadcast_header(None, sa, sb)
    return header, _count(sa), _count(sb), _count(dims)


def binary_int32_case(v, op=None, zero_divisor=False, full_range=False):
    header, na, nb, n = _broadcast(v)
    op = v.int(0, 7) if op is None else op
    lo, hi = v.rng.choice(((-2 ** 31, 2 ** 31 - 1), (0, 2 ** 31 - 1), (-1, 1), (0, 6)))
    if full_range:
        lo, hi = -2 ** 31, 2 ** 31 - 1
    b = v.i32(nb, op == E.OP_DIV and not zero_divisor)
    if zero_divisor:
        b[v.int(0, nb - 1)] = 0
    return Case('binary_int32', header + [op, lo, hi], [array('i', [9] * n), v.i32(na), b])


def minmax_case(v):
    header, na, nb, n = _broadcast(v)
    is_max, dt = v.int(0, 1), v.int(0, 3)
    code = 'bhif'[dt]
    if dt == 3:
        a, b = v.floats(na, True), v.floats(nb, True)
    else:
        a, b = v.wrap(code, na), v.wrap(code, nb)
    return Case('minmax', header + [is_max, dt], [array(code, [0] * n), a, b])


def binary_float_case(v):
    header, na, nb, n = _broadcast(v)
    op, act = v.int(0, 7), v.int(0, 4)
    nan = op in (E.OP_MAX, E.OP_MIN)
    return Case('binary_float', header + [op, act],
                [array('f', [0.0] * n), v.floats(na, nan), v.floats(nb, nan)])


CAST_CODES = {0: 'b', 1: 'h', 2: 'i', 3: 'I', 4: 'f', 5: 'B'}
FLOAT_SPECIAL = [0.0, -0.0, 0.5, -0.5, 0.99, -1.5, 127.9, 128.0, -129.0, 32768.0, 2147483520.0,
                 2147483648.0, -2147483648.0, -2147483904.0, 4294967296.0, 4294968295.0,
                 9.2233720368547758e18, -9.2233720368547758e18, 1.8e19, -1.8e19, 1e30,
                 float('inf'), float('-inf'), float('nan'), 1e-45]


def _cast_values(v, src, n):
    r = v.rng
    if src == CT_FLOAT32:
        return array('f', [r.choice(FLOAT_SPECIAL) if r.random() < 0.4 else
                           (r.random() - 0.5) * 10 ** r.randint(-3, 21) for _ in range(n)])
    if src == E.CT_BOOL:
        return array('B', [r.randint(0, 1) for _ in range(n)])
    bits = {0: 8, 1: 16, 2: 32, 3: 32}[src]
    lo = 0 if src == E.CT_UINT32 else -(1 << (bits - 1))
    return array(CAST_CODES[src], [lo + r.getrandbits(bits) for _ in range(n)])


def cast_cases(v, with_float):
    """every (source, destination) pair; with_float: the pairs with float32 too"""
    codes = [c for c in range(6) if with_float or c != CT_FLOAT32]
    out = []
    for src in codes:
        for dst in codes:
            n = v.int(0, 20)
            out.append(Case('cast', [n, src, dst], [array(CAST_CODES[dst], [0] * n),
                                                    _cast_values(v, src, n)]))
    return out


# ---- whole-op recurrent kernels, lut_int8, softmax_f32 -----------------------------------

def _gate_block(v, wide, n_cell):
    p = [0, 0, 0, 0, 0, v.mult(), v.int(-31, 14 if wide else 31), v.int(0, 3), wide]
    for _ in range(n_cell):
        if wide:
            big = v.rng.choice((v.rng.getrandbits(32) - (1 << 31),
                                v.rng.getrandbits(40) - (1 << 39),
                                v.rng.getrandbits(64) - (1 << 63)))
            p += [((big & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000, big >> 32]
        else:
            p.append(v.bias32())
    return p


def lstm_case(v, shape=None):
    """shape: (batch, steps, n_in, n_cell, time_major, wide) or None for random"""
    if shape is None:
        shape = (v.int(1, 3), v.int(1, 3), v.rng.choice((v.int(1, 9), v.int(10, 120))),
                 v.int(1, 24), v.int(0, 1), v.int(0, 1))
    batch, steps, n_in, n_cell, tm, wide = shape
    top = 32767 if wide else 127
    lo = v.int(-top - 1, top)
    cu = [0] * 5 + [v.mult(), v.int(-31, 31), v.mult(), v.int(-31, 31), v.int(0, 1),
                    v.rng.choice((0, 1, 3000, 32767, v.int(0, 65536)))]
    hu = [0] * 4 + [v.rng.choice((3, 3 << v.int(0, 16), v.rng.getrandbits(31))), v.int(0, 31),
                    v.mult(), v.int(-31, 31), v.int(-300, 300), lo, v.int(lo, top)]
    p = [batch, steps, n_in, n_cell, tm, wide] + cu + hu
    for _ in range(8):
        p += _gate_block(v, wide, n_cell)
    code = 'h' if wide else 'b'
    rows = batch if tm else 1
    bufs = [array(code, [0] * (batch * steps * n_cell)),
            v.wrap(code, batch * steps * n_in), v.wrap(code, batch * n_cell),
            v.wrap('h', batch * n_cell), v.wrap('h', 4 * rows * n_cell)]
    bufs += [v.bytes8(n_cell * (n_in if g < 4 else n_cell)) for g in range(8)]
    return Case('lstm_int', p, bufs)


def svdf_case(v, shape=None):
    """shape: (batch, n_in, n_filter, n_memory, rank, state elem) or None for random"""
    if shape is None:
        nf = v.int(1, 20)
        shape = (v.int(1, 3), v.rng.choice((v.int(1, 9), v.int(10, 200))), nf, v.int(1, 12),
                 v.rng.choice([k for k in range(1, nf + 1) if nf % k == 0]), v.int(1, 2))
    batch, n_in, nf, nm, rank, elem = shape
    top = 32767 if elem == 2 else 127
    code = 'h' if elem == 2 else 'b'
    state_zp = v.int(-top - 1, top)
    pf = [batch, n_in, nf, nm, v.mult(), v.int(-31, 31), state_zp, -top - 1, top] + \
        [v.bias32() for _ in range(nf)]
    pt = [batch, nf, nm, rank, state_zp, v.mult(), v.int(-31, 31), v.int(-128, 127)] + \
        [v.bias32() for _ in range(nf // rank)]
    bufs = [array('b', [0] * (batch * (nf // rank))), v.bytes8(batch * n_in),
            v.wrap(code, batch * nf * nm), v.bytes8(nf * n_in), v.wrap(code, nf * nm)]
    return Case('svdf_int', pf + pt, bufs, arg=elem)


def lut_case(v):
    n = v.int(0, 300)
    return Case('lut_int8', [n] + list(v.bytes8(256)),
                [array('b', [0] * n), v.bytes8(n + v.int(0, 3))])


def softmax_case(v):
    rows, depth = v.int(1, 4), v.int(1, 40)
    scale = v.rng.choice((0.01, 1.0, 10.0, 60.0))
    a = array('f', [v.rng.uniform(-scale, scale) for _ in range(rows * depth)])
    beta = array('f', [v.rng.choice((1.0, 0.5, 2.0, 0.1))])
    return Case('softmax_f32', [rows, depth], [array('f', [0.0] * (rows * depth)), a, beta])


INT_GENERATORS = (window_case, auto_scale_case, rfft_case, energy_case, filter_bank_case,
                  sqrt_case, spectral_case, pcan_case, log_case, binary_int32_case,
                  minmax_case, lstm_case, svdf_case, lut_case)


def random_cases(seed, rounds, with_float):
    """rounds x every generator (binary_float, softmax_f32 and float casts with_float)"""
    v = Values(seed)
    out = []
    for _ in range(rounds):
        out += [gen(v) for gen in INT_GENERATORS]
        out += cast_cases(v, with_float)
        if with_float:
            out += [binary_float_case(v), softmax_case(v)]
    return out


def edge_cases(seed, with_float):
    """every rfft size with full and short frames, DIV by zero (partial output, -1),
    INT_MIN / -1 and unclamped divisions, lstm / svdf at their largest blocked shapes, both layouts and widths"""
    v = Values(seed)
    out = [rfft_case(v, nfft) for nfft in (4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)]
    for _ in range(4):
        out.append(binary_int32_case(v, E.OP_DIV, zero_divisor=True))
    for _ in range(40):     # the Cortex-M0 shift-subtract division, unclamped
        out.append(binary_int32_case(v, E.OP_DIV, full_range=True))
    out.append(Case('binary_int32', [1, 1, 1, 1, 3] + [0, 0, 0, 0, 1] + [0] * 5 +
                    [E.OP_DIV, -2 ** 31, 2 ** 31 - 1],
                    [array('i', [0] * 3), array('i', [-2 ** 31, -2 ** 31, 2 ** 31 - 1]),
                     array('i', [-1, 1, -1])]))
    for tm in (0, 1):
        for wide in (0, 1):
            out.append(lstm_case(v, (2, 3, 67, 37, tm, wide)))
    out += [svdf_case(v, (2, 130, 24, 5, 4, 1)), svdf_case(v, (3, 67, 9, 3, 3, 2))]
    if with_float:
        out += invalid_float_cases() + [binary_float_case(v) for _ in range(10)]
    return out


def invalid_float_cases():
    """binary_float's invalid operations, every op and clamp: inf - inf, 0 * inf, inf / inf,
    PReLU -inf * 0 give NaN, whose bits differ by arch (x86 -nan, Arm +nan) unless the
    kernel settles them (regression: they did differ)"""
    inf = float('inf')
    a = array('f', [inf, -inf, 0.0, inf, -inf, float('nan'), 1.0, -0.0])
    b = array('f', [inf, -inf, inf, -inf, 0.0, 2.0, float('nan'), -inf])
    header = [1, 1, 1, 1, len(a), 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]
    return [Case('binary_float', header + [op, act], [array('f', [0.0] * len(a)), a, b])
            for op in range(8) for act in range(5)]


# ---- the python twins -------------------------------------------------------------------

def _lstm_twin(out, x, hidden, cell, gates, w, p):
    """tk_lstm_int as ops/lstm.py's per-step path over the python_rnn kernels"""
    batch, steps, n_in, n_cell, tm, wide = p[:6]
    rows = batch if tm else 1
    span = rows * n_cell
    fc_len = R.FC_BIAS + n_cell * (1 + wide)
    cu, hu = array('i', p[6:17]), array('i', p[17:28])
    fcs = [array('i', p[28 + g * fc_len:28 + (g + 1) * fc_len]) for g in range(8)]
    for g in range(8):
        fcs[g][R.FC_BATCHES], fcs[g][R.FC_OUT] = rows, n_cell
        fcs[g][R.FC_IN] = n_in if g < 4 else n_cell
        fcs[g][R.FC_OUT_START] = (1, 0, 2, 3)[g % 4] * span
    cu[R.CU_COUNT], cu[R.CU_F], cu[R.CU_I], cu[R.CU_G] = span, 0, span, 2 * span
    hu[R.HU_COUNT], hu[R.HU_O] = span, 3 * span
    cp = array('i', [span, 0, 0])

    def step(x_start, state_start, out_start):
        for g in (1, 0, 2, 'cell', 3):
            if g == 'cell':
                cu[R.CU_CELL] = state_start
                R.lstm_cell_update(cell, gates, None, cu)
                continue
            fcs[g][R.FC_X_START] = x_start
            R.lstm_gate_fc(gates, x, w[g], fcs[g])
            fcs[4 + g][R.FC_X_START] = state_start
            R.lstm_gate_fc(gates, hidden, w[4 + g], fcs[4 + g])
        hu[R.HU_HIDDEN] = hu[R.HU_CELL] = state_start
        R.lstm_hidden_update(hidden, cell, gates, hu)
        cp[R.CP_A_START], cp[R.CP_OUT_START] = state_start, out_start
        R.rnn_copy(out, hidden, None, cp)

    if tm:
        for t in range(steps):
            step(t * rows * n_in, 0, t * span)
        return
    for b in range(batch):
        for t in range(steps):
            i = b * steps + t
            step(i * n_in, b * n_cell, i * n_cell)


def _svdf_twin(out, x, state, wf, wt, p):
    split = R.SF_BIAS + p[R.SF_FILTERS]
    R.svdf_feature(state, x, wf, array('i', p[:split]))
    R.svdf_time(out, state, wt, array('i', p[split:]))


def _run_twin(c, b):
    k, p = c.kernel, c.p
    if k == 'lstm_int':
        _lstm_twin(b[0], b[1], b[2], b[3], b[4], b[5:], p)
    elif k == 'svdf_int':
        _svdf_twin(b[0], b[1], b[2], b[3], b[4], p)
    elif k == 'signal_fft_auto_scale':
        return P.signal_fft_auto_scale(b[0], b[1], None, p)
    elif k.startswith('signal_'):
        getattr(P, k)(b[0], b[1], b[2] if len(b) > 2 else None, p)
    elif k == 'binary_int32':
        try:
            E.binary_int32(b[0], b[1], b[2], p)
        except ZeroDivisionError:
            return -1
    else:
        getattr(E, k)(b[0], b[1], b[2] if len(b) > 2 else None, p)
    return 0


def python_twin(case):
    """None for softmax_f32: its python kernel (math.exp) is not bit-exact with tk_expf; the
    tests hold it to TFLM's float softmax within 1e-6 instead"""
    if case.kernel == 'softmax_f32':
        return None
    bufs = [array(b.typecode, b) for b in case.bufs]
    ret = _run_twin(case, bufs)
    return ret, [bytes(b) for b in bufs]


# ---- the harness file format --------------------------------------------------------------

def _pad(raw):
    return raw + bytes(-len(raw) % 4)


def write_cases(path, cases):
    with open(path, 'wb') as f:
        for c in cases:
            raw = [bytes(b) for b in c.bufs]
            f.write(struct.pack('<4I', KERNEL_IDS[c.kernel], c.arg, len(c.p), len(raw)))
            f.write(struct.pack('<%dI' % len(raw), *[len(r) for r in raw]))
            f.write(c.p.tobytes())
            for r in raw:
                f.write(_pad(r))


def read_outputs(path, cases):
    """per case (return value, every buffer's bytes) from the harness output file"""
    with open(path, 'rb') as f:
        raw = f.read()
    outs, pos = [], 0
    for c in cases:
        ret = struct.unpack_from('<i', raw, pos)[0]
        pos += 4
        bufs = []
        for b in c.bufs:
            n = len(bytes(b))
            bufs.append(raw[pos:pos + n])
            pos += n + (-n % 4)
        outs.append((ret, bufs))
    if pos != len(raw):
        raise ValueError('harness output has %d bytes, expected %d' % (len(raw), pos))
    return outs
