"""@micropython.viper twins of the integer recurrent kernels of kernels/python_rnn.py
(lstm_gate_fc, lstm_cell_update, lstm_hidden_update, rnn_copy, svdf_feature, svdf_time):
same signatures, parameter blocks and output bytes. MicroPython only; kernels/viper.py puts
them in the viper backend's KERNELS.

Word size conventions are those of kernels/viper.py (32-bit words on boards, 64 on the unix
port): bytes/halfwords loaded by ptr8/ptr16 are sign-extended by hand, int32 by
(v << _SX) >> _SX; dot products are summed modulo 2**32 (the python twins wrap the exact sum
to int32 before requantizing, so only the low 32 bits matter); requantization is
_requant_words, the 15-bit-limb algorithm of viper._requant_store on 32-bit words.

The int16-activation LSTM (FC_WIDE, int64 accumulators) runs the python twin.

Speed: a dot product's x row is copied once per call into the 'rx' scratch as int32 words
(sign-extended) together with its sum, so the inner loop is acc += (w ^ 0x80) * x[i]
(w + 128 unsigned) and the row's 128 * sum(x) is subtracted once.
"""
import micropython

from . import viper as _viper
from .viper import _SX, _buf, _scratch, _requant_store

# 1: 15-bit-limb requantization (what 32-bit words need; tests set it on the unix port too)
_LIMBS = 0 if _SX else 1

_SIGMOID = None          # python_eltwise.SIGMOID_TABLE (array('H')), loaded on first use
_CTL = None              # svdf_time's _requant_store control block


def _load_sigmoid():
    global _SIGMOID
    from .python_eltwise import SIGMOID_TABLE
    _SIGMOID = SIGMOID_TABLE


# ---------------------------------------------------------------- requantization

@micropython.viper
def _requant_words(buf, n: int, p, k: int):
    """buf[i] = MultiplyByQuantizedMultiplier(buf[i], p[k], p[k + 1]) for i < n, in place on
    int32 words (TFLM double rounding, multiplier >= 0; exact on 32- and 64-bit words)."""
    bp = ptr32(buf)
    pp = ptr32(p)
    sx = int(_SX)
    mult = pp[k]
    sh = (pp[k + 1] << sx) >> sx
    limbs = int(_LIMBS)
    one = 1
    half = one << 30
    b0 = mult & 0x7FFF
    b1 = (mult >> 15) & 0x7FFF
    b2 = (mult >> 30) & 1
    rs = 0 - sh
    mask = 0
    thr0 = 0
    if sh < 0:
        mask = (one << rs) - 1
        thr0 = mask >> 1
    for i in range(n):
        x = (bp[i] << sx) >> sx
        if sh > 0:                         # x << sh, wrapped to int32
            x = ((x << sh) << sx) >> sx
        if limbs:
            # SRDHM: (|x| * mult + nudge) >> 31 from 15-bit limbs, then the sign
            if x < 0:
                m = 0 - x
                nudge = half - 1
            else:
                m = x
                nudge = half
            a0 = m & 0x7FFF
            a1 = (m >> 15) & 0x7FFF
            a2 = (m >> 30) & 3
            t = a0 * b0 + nudge
            t = a0 * b1 + a1 * b0 + (t >> 15)
            t = a0 * b2 + a1 * b1 + a2 * b0 + (t >> 15)
            r = (t >> 1) + ((a1 * b2 + a2 * b1) << 14) + ((a2 * b2) << 29)
            if x < 0:
                r = 0 - r
        else:
            r = (x * mult + half) >> 31    # 64-bit words: the product fits
        if sh < 0:                         # rounding divide by 2**-sh
            rem = r & mask
            r = r >> rs
            thr = thr0
            if r < 0:
                thr += 1
            if rem > thr:
                r += 1
        bp[i] = r


# ---------------------------------------------------------------- dot products

@micropython.viper
def _load_x8(x, start: int, n: int) -> int:
    """'rx'[i] = int8 x[start + i] for i < n (int32 words); returns 128 * their sum."""
    xp = ptr8(x)
    xq = ptr32(_scratch['rx'])
    s = 0
    for i in range(n):
        v = (xp[start + i] ^ 0x80) - 0x80
        xq[i] = v
        s += v
    return s << 7


@micropython.viper
def _dots8(acc, w, p, args):
    """acc[j] = p[bias + j] + sum_i w[j * n + i] * 'rx'[i] - args[3] for j < rows (mod 2**32):
    args = [rows, n, bias index in p, 128 * sum(x)], w int8 row-major."""
    ap = ptr32(acc)
    wp = ptr8(w)
    pp = ptr32(p)
    gp = ptr32(args)
    xa0 = uint(ptr32(_scratch['rx']))
    rows = gp[0]
    n = gp[1]
    bias = gp[2]
    c = gp[3]
    n4 = n & (0 - 4)
    wa = uint(wp)
    for j in range(rows):
        s = pp[bias + j] - c
        xa = xa0
        we = wa + uint(n4)
        while wa < we:
            s += (ptr8(wa)[0] ^ 0x80) * ptr32(xa)[0] + (ptr8(wa)[1] ^ 0x80) * ptr32(xa)[1] + \
                (ptr8(wa)[2] ^ 0x80) * ptr32(xa)[2] + (ptr8(wa)[3] ^ 0x80) * ptr32(xa)[3]
            wa += 4
            xa += 16
        we = wa + uint(n - n4)
        while wa < we:
            s += (ptr8(wa)[0] ^ 0x80) * ptr32(xa)[0]
            wa += 1
            xa += 4
        ap[j] = s


# ---------------------------------------------------------------- lstm_gate_fc

@micropython.viper
def _gate_out(out, acc, p, o: int):
    """out[o + j] = gate output of the requantized acc[j] for j < p[FC_OUT]: saturated to
    int16, then by p[FC_MODE] added to out[o + j] (saturated) and passed through sigmoid or
    tanh (TFLM's int16 Logistic / Tanh on Q3.12, SIGMOID_TABLE interpolation)."""
    op = ptr16(out)
    ap = ptr32(acc)
    pp = ptr32(p)
    tab = ptr16(_SIGMOID)
    sx = int(_SX)
    n = pp[1]
    mode = pp[7]
    for j in range(n):
        v = (ap[j] << sx) >> sx
        if v > 32767:
            v = 32767
        elif v < -32768:
            v = -32768
        if mode:
            v += (op[o + j] ^ 0x8000) - 0x8000
            if v > 32767:
                v = 32767
            elif v < -32768:
                v = -32768
            if mode == 2:                  # sigmoid: Q3.12 -> Q0.15
                x = v * 3
                ax = 0 - x if x < 0 else x
                uh = ax >> 9
                if uh >= 255:
                    r = 0x7FFF << 10
                else:
                    ua = tab[uh]
                    r = (ua << 9) + (ax & 0x1FF) * (tab[uh + 1] - ua)
                if x >= 0:
                    r = (r + 512) >> 10
                else:
                    r = ((1 << 25) - r + 511) >> 10
                v = r - 65536 if r > 32767 else r
            elif mode == 3:                # tanh: Q3.12 -> Q0.15
                x = v * 3
                ax = 0 - x if x < 0 else x
                uh = ax >> 8
                if uh >= 255:
                    r = 0xFFFF << 8
                else:
                    ua = tab[uh]
                    r = (ua << 8) + (ax & 0xFF) * (tab[uh + 1] - ua)
                if x >= 0:
                    r = r - (1 << 23) + 128
                else:
                    r = (1 << 23) + 127 - r
                v = r >> 8
        op[o + j] = v


_ARGS = None             # _dots8's args block, array('i', 4)


def lstm_gate_fc(out, x, w, p):
    """python_rnn.lstm_gate_fc: int16 gate slot += requantized int8 FC of one LSTM step."""
    if p[8]:                                   # FC_WIDE: int16 x, int64 accumulators
        from .python_rnn import lstm_gate_fc as wide
        return wide(out, x, w, p)
    if _SIGMOID is None:
        _load_sigmoid()
    n_out, n_in = p[1], p[2]
    _buf('rx', 'i', n_in)
    acc = _buf('ra', 'i', n_out)
    args = _ARGS
    args[0] = n_out
    args[1] = n_in
    args[2] = 9                                # FC_BIAS
    xs = p[3]
    o = p[4]
    for _ in range(p[0]):
        args[3] = _load_x8(x, xs, n_in)
        _dots8(acc, w, p, args)
        _requant_words(acc, n_out, p, 5)
        _gate_out(out, acc, p, o)
        xs += n_in
        o += n_out


# ---------------------------------------------------------------- cell / hidden update

@micropython.viper
def _cell_products(cell, gates, p):
    """'ra'[k] = forget[k] * cell[k], 'rb'[k] = input[k] * cell_gate[k] (int16 products)."""
    cp = ptr16(cell)
    gp = ptr16(gates)
    pp = ptr32(p)
    a1 = ptr32(_scratch['ra'])
    a2 = ptr32(_scratch['rb'])
    c = pp[1]
    f = pp[2]
    i = pp[3]
    g = pp[4]
    for k in range(pp[0]):
        a1[k] = ((gp[f + k] ^ 0x8000) - 0x8000) * ((cp[c + k] ^ 0x8000) - 0x8000)
        a2[k] = ((gp[i + k] ^ 0x8000) - 0x8000) * ((gp[g + k] ^ 0x8000) - 0x8000)


@micropython.viper
def _cell_store(cell, p):
    """cell[k] = clip(sat16(sat16('ra'[k]) + sat16('rb'[k]))) (requantized products)."""
    cp = ptr16(cell)
    pp = ptr32(p)
    a1 = ptr32(_scratch['ra'])
    a2 = ptr32(_scratch['rb'])
    sx = int(_SX)
    c = pp[1]
    clip_on = pp[9]
    hi = (pp[10] << sx) >> sx
    lo = 0 - hi
    for k in range(pp[0]):
        v = (a1[k] << sx) >> sx
        if v > 32767:
            v = 32767
        elif v < -32768:
            v = -32768
        u = (a2[k] << sx) >> sx
        if u > 32767:
            u = 32767
        elif u < -32768:
            u = -32768
        v += u
        if v > 32767:
            v = 32767
        elif v < -32768:
            v = -32768
        if clip_on:
            if v > hi:
                v = hi
            elif v < lo:
                v = lo
        cp[c + k] = v


def lstm_cell_update(cell, gates, unused, p):
    """python_rnn.lstm_cell_update: cell = clip(forget * cell + input * cell_gate)."""
    n = p[0]
    _buf('ra', 'i', n)
    _buf('rb', 'i', n)
    _cell_products(cell, gates, p)
    _requant_words(_scratch['ra'], n, p, 5)
    _requant_words(_scratch['rb'], n, p, 7)
    _cell_store(cell, p)


@micropython.viper
def _tanh_products(cell, gates, p):
    """'ra'[k] = tanh16(cell[k]) * output_gate[k] (TFLM Tanh with the cell scale's
    power-of-two multiplier p[4] / right shift p[5]: tm = 3 << s, ts = 0 or tm = 3, ts > 0).
    |cell| is first clamped to the smallest value that saturates the table (the result is
    unchanged), so cell * tm never leaves int32."""
    cp = ptr16(cell)
    gp = ptr16(gates)
    pp = ptr32(p)
    a1 = ptr32(_scratch['ra'])
    tab = ptr16(_SIGMOID)
    c = pp[2]
    o = pp[3]
    tm = pp[4]
    ts = pp[5]
    rnd = (1 << (ts - 1)) if ts > 0 else 0
    big = 32768
    if ts == 0:
        big = 65280 // tm + 1              # big * tm >= 65280 = 255 << 8: saturated
    for k in range(pp[0]):
        v = (cp[c + k] ^ 0x8000) - 0x8000
        if v > big:
            v = big
        elif v < 0 - big:
            v = 0 - big
        x = (v * tm + rnd) >> ts
        ax = 0 - x if x < 0 else x
        uh = ax >> 8
        if uh >= 255:
            r = 0xFFFF << 8
        else:
            ua = tab[uh]
            r = (ua << 8) + (ax & 0xFF) * (tab[uh + 1] - ua)
        if x >= 0:
            r = r - (1 << 23) + 128
        else:
            r = (1 << 23) + 127 - r
        a1[k] = (r >> 8) * ((gp[o + k] ^ 0x8000) - 0x8000)


@micropython.viper
def _hidden_store(hidden, p):
    """hidden[k] = clamp(zp + 'ra'[k]) (requantized), int8 or int16 by the range p[9:11]."""
    pp = ptr32(p)
    a1 = ptr32(_scratch['ra'])
    sx = int(_SX)
    h = pp[1]
    zp = (pp[8] << sx) >> sx
    lo = (pp[9] << sx) >> sx
    hi = (pp[10] << sx) >> sx
    n = pp[0]
    vhi = hi - zp                          # clamp before adding zp: no int32 overflow
    vlo = lo - zp
    if lo < -128:
        hp = ptr16(hidden)
        for k in range(n):
            v = (a1[k] << sx) >> sx
            hp[h + k] = hi if v > vhi else (lo if v < vlo else zp + v)
    else:
        bp = ptr8(hidden)
        for k in range(n):
            v = (a1[k] << sx) >> sx
            bp[h + k] = hi if v > vhi else (lo if v < vlo else zp + v)


def lstm_hidden_update(hidden, cell, gates, p):
    """python_rnn.lstm_hidden_update: hidden = clamp(zp + tanh(cell) * output_gate)."""
    if _SIGMOID is None:
        _load_sigmoid()
    _buf('ra', 'i', p[0])
    _tanh_products(cell, gates, p)
    _requant_words(_scratch['ra'], p[0], p, 6)
    _hidden_store(hidden, p)


# ---------------------------------------------------------------- rnn_copy

def _width(buf, i):
    """Bytes per element (1, 2 or 4) of the typed buffer buf, probed at element i (restored)."""
    v0 = buf[i]
    buf[i] = 0x12345
    v = buf[i]
    buf[i] = v0
    return 1 if v == 0x45 or v == 0x45 - 256 else (2 if v == 0x2345 else 4)


@micropython.viper
def _copy_bytes(out, a, p, width: int):
    """out bytes [o*width, (o+n)*width) = a bytes [i*width, ...) with n, i, o = p[0:3]."""
    op = ptr8(out)
    ap = ptr8(a)
    pp = ptr32(p)
    o = pp[2] * width
    i = pp[1] * width
    for k in range(pp[0] * width):
        op[o + k] = ap[i + k]


def rnn_copy(out, a, unused, p):
    """python_rnn.rnn_copy: out[out_start + k] = a[a_start + k], any element type of 1, 2 or
    4 bytes (int8/int16 hidden states, float32 biases)."""
    if p[0] > 0:
        _copy_bytes(out, a, p, _width(out, p[2]))


# ---------------------------------------------------------------- svdf

@micropython.viper
def _drop_oldest(state, n: int, width: int):
    """Shift the first n + 1 elements of state (width 1 or 2 bytes) left by one element."""
    if width == 2:
        sp = ptr16(state)
        for k in range(n):
            sp[k] = sp[k + 1]
    else:
        bp = ptr8(state)
        for k in range(n):
            bp[k] = bp[k + 1]


@micropython.viper
def _feature_store(state, acc, p, si: int):
    """state[si + f * n_memory] = wrap(zp + clamp(acc[f])) for f < n_filter (requantized acc;
    ptr8/ptr16 stores wrap to the state type as the python twin does)."""
    ap = ptr32(acc)
    pp = ptr32(p)
    sx = int(_SX)
    n_filter = pp[2]
    n_mem = pp[3]
    zp = (pp[6] << sx) >> sx
    lo = (pp[7] << sx) >> sx
    hi = (pp[8] << sx) >> sx
    wide = 1 if lo < -128 else 0
    sp = ptr16(state)
    bp = ptr8(state)
    for f in range(n_filter):
        v = (ap[f] << sx) >> sx
        v = zp + (hi if v > hi else (lo if v < lo else v))
        if wide:
            sp[si] = v
        else:
            bp[si] = v
        si += n_mem


def svdf_feature(state, x, wf, p):
    """python_rnn.svdf_feature: shift the activation state, append the feature dot products."""
    batches = p[0]                             # (a 4-tuple assignment would allocate)
    n_in = p[1]
    n_filter = p[2]
    n_mem = p[3]
    _drop_oldest(state, batches * n_filter * n_mem - 1, 2 if p[7] < -128 else 1)
    _buf('rx', 'i', n_in)
    acc = _buf('ra', 'i', n_filter)
    args = _ARGS
    args[0] = n_filter
    args[1] = n_in
    args[2] = 9                                # SF_BIAS
    si = n_mem - 1
    xs = 0
    for _ in range(batches):
        args[3] = _load_x8(x, xs, n_in)
        _dots8(acc, wf, p, args)
        _requant_words(acc, n_filter, p, 4)
        _feature_store(state, acc, p, si)
        si += n_filter * n_mem
        xs += n_in


@micropython.viper
def _time_dots(acc, state, wt, p, width: int):
    """acc[u] = bias[u] + sum over the unit's rank * n_memory taps of wt * (state - zp), all
    batches (mod 2**32); state and wt int8 (width 1) or int16 (width 2)."""
    ap = ptr32(acc)
    pp = ptr32(p)
    sx = int(_SX)
    n_unit = pp[1] // pp[3]
    span = pp[3] * pp[2]
    zp = (pp[4] << sx) >> sx
    q = 0
    if width == 2:
        c = 0x8000 + zp
        sa = uint(ptr16(state))
        wa0 = uint(ptr16(wt))
        for _ in range(pp[0]):
            wa = wa0
            for u in range(n_unit):
                s = pp[8 + u]
                we = wa + uint(span << 1)
                while wa < we:
                    s += ((ptr16(wa)[0] ^ 0x8000) - 0x8000) * ((ptr16(sa)[0] ^ 0x8000) - c)
                    wa += 2
                    sa += 2
                ap[q] = s
                q += 1
    else:
        c = 0x80 + zp
        sa = uint(ptr8(state))
        wa0 = uint(ptr8(wt))
        for _ in range(pp[0]):
            wa = wa0
            for u in range(n_unit):
                s = pp[8 + u]
                we = wa + uint(span)
                while wa < we:
                    s += ((ptr8(wa)[0] ^ 0x80) - 0x80) * ((ptr8(sa)[0] ^ 0x80) - c)
                    wa += 1
                    sa += 1
                ap[q] = s
                q += 1


def svdf_time(out, state, wt, p):
    """python_rnn.svdf_time: out = clamp8(requantized time-weighted state sums + out_zp)."""
    n = p[0] * (p[1] // p[3])
    acc = _buf('ra', 'i', n)
    _time_dots(acc, state, wt, p, _width(state, 0))
    ctl = _CTL
    ctl[1] = n
    ctl[4] = p[7]
    _requant_store(out, acc, p, ctl)


def _init():
    global _ARGS, _CTL
    from array import array
    _ARGS = array('i', [0] * 4)
    # _requant_store ctl: first output 0, n, multiplier p[5], shift p[6], out_zp, int8 range,
    # one multiplier (period 1)
    _CTL = array('i', [0, 0, 5, 6, 0, -128, 127, 1])


_init()

KERNELS = {'lstm_gate_fc': lstm_gate_fc, 'lstm_cell_update': lstm_cell_update,
           'lstm_hidden_update': lstm_hidden_update, 'rnn_copy': rnn_copy,
           'svdf_feature': svdf_feature, 'svdf_time': svdf_time}
_viper.KERNELS.update(KERNELS)          # the viper backend's table (either import order)
