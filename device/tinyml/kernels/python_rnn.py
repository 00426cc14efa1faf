"""Recurrent-op kernels (UNIDIRECTIONAL_SEQUENCE_LSTM, SVDF), pure-Python reference.

Same calling convention as kernels/python.py: kernel(out, a, b, p), p an array('i')
whose layout is documented per kernel. Offsets in p are element indices; prepare sets
the static fields once, run() updates the *_START fields per time step (no allocation).
Accumulators wrap to int32 before requantization, as the C code's int32 sums do
(scrambled-weight models do overflow). The integer kernels follow TFLite Micro's
reference kernels bit for bit: lstm_eval.cc / lstm_eval_common.cc (int8 or int16
activations, int8 weights, int16 cell state) and svdf_common.cc (int8 input, int8 or
int16 time weights and state); the *_f32 kernels its float path, to float32 rounding.

An LSTM step (ops/lstm.py) is: for the forget, input and cell gates lstm_gate_fc on x
(MODE_WRITE) then on h (MODE_SIGMOID / MODE_TANH, adding into the same gate slot);
lstm_cell_update; the output gate likewise; lstm_hidden_update; rnn_copy of h into the
output sequence. An SVDF invoke is svdf_feature then svdf_time. Weight buffers are
indexed as signed values (typed views).
"""
from math import exp as _exp, tanh as _tanh, copysign as _copysign
from ..quant import multiply_by_quantized_multiplier_64 as _mbqm64
from .python_eltwise import SIGMOID_TABLE   # sigmoid(k / 24) in Q0.16, TFLM's int16 table

# the kernel table entries (kernels/python.py star-imports this module)
__all__ = ('lstm_gate_fc', 'lstm_cell_update', 'lstm_hidden_update', 'rnn_copy',
           'svdf_feature', 'svdf_time', 'lstm_gate_fc_f32', 'lstm_cell_update_f32',
           'lstm_hidden_update_f32', 'svdf_feature_f32', 'svdf_time_f32')


def requant(acc, mult, shift):
    """TFLM MultiplyByQuantizedMultiplier (double rounding) of acc wrapped to int32, for
    mult >= 0: quant.multiply_by_quantized_multiplier in one call (hot path)."""
    acc = ((acc + 0x80000000) & 0xFFFFFFFF) - 0x80000000
    if shift > 0:
        acc = (((acc << shift) + 0x80000000) & 0xFFFFFFFF) - 0x80000000
    ab = acc * mult
    if ab >= 0:
        x = (ab + 0x40000000) >> 31
    else:
        x = -((0x3FFFFFFF - ab) >> 31)   # C division truncates toward zero
    if shift < 0:
        mask = (1 << -shift) - 1
        rem = x & mask
        x >>= -shift
        if rem > (mask >> 1) + (1 if x < 0 else 0):
            x += 1
    return x


def _sat16(v):
    return 32767 if v > 32767 else (-32768 if v < -32768 else v)


def sigmoid16(x):
    """TFLM reference_integer_ops::Logistic for one int16 in Q3.12 -> Q0.15."""
    x *= 3
    ax = -x if x < 0 else x
    uh = ax >> 9
    if uh >= 255:
        r = 0x7FFF << 10
    else:
        ua = SIGMOID_TABLE[uh]
        r = (ua << 9) + (ax & 0x1FF) * (SIGMOID_TABLE[uh + 1] - ua)
    r = (r + 512) if x >= 0 else ((1 << 25) - r + 511)
    r >>= 10
    return r - 65536 if r > 32767 else r


def tanh16(x, mult, shift):
    """TFLM reference_integer_ops::Tanh for one int16 (mult/shift already resolved)."""
    x = (x * mult + ((1 << (shift - 1)) if shift > 0 else 0)) >> shift
    ax = -x if x < 0 else x
    uh = ax >> 8
    if uh >= 255:
        r = 0xFFFF << 8
    else:
        ua = SIGMOID_TABLE[uh]
        r = (ua << 8) + (ax & 0xFF) * (SIGMOID_TABLE[uh + 1] - ua)
    if x >= 0:
        r = r - (1 << 23) + 128
    else:
        r = -r + (1 << 23) + 127
    return r >> 8


# ---- lstm_gate_fc ---------------------------------------------------------------
# One fully connected half of an LSTM gate: int8 x (n_in per batch row) times int8
# weights [n_out, n_in] -> int16 gate pre-activation, TFLM FullyConnected<int8, int8,
# int16, int32> with output scale 2^-12 and no activation clamp beyond int16.
# p layout:
FC_BATCHES = 0   # rows of x processed (batch size of this step)
FC_OUT = 1       # n_out (cell units)
FC_IN = 2        # n_in (accumulation depth)
FC_X_START = 3   # element offset of the first x row (updated per time step)
FC_OUT_START = 4 # element offset in out of the first result
FC_MULT = 5      # requantization multiplier (int32)
FC_SHIFT = 6     # requantization shift (TFLM convention, <0 = right)
FC_MODE = 7      # 0 write; 1 add to out with int16 saturation; 2 add then sigmoid;
                 # 3 add then tanh (gate input is Q3.12)
FC_WIDE = 8      # 0: int8 x, int32 accumulator; 1: int16 x, int64 accumulator and
                 # TFLM's 64-bit MultiplyByQuantizedMultiplier (the 16x8 LSTM)
FC_BIAS = 9      # biases with the input zero point folded in, bias[j] - x_zp * sum_i
                 # w[j, i]: n_out int32 words, or (FC_WIDE) n_out (low, high) word pairs
MODE_WRITE = 0
MODE_ADD = 1
MODE_SIGMOID = 2
MODE_TANH = 3


def lstm_gate_fc(out, x, w, p):
    n_out = p[FC_OUT]
    n_in = p[FC_IN]
    mult = p[FC_MULT]
    shift = p[FC_SHIFT]
    mode = p[FC_MODE]
    wide = p[FC_WIDE]
    xs = p[FC_X_START]
    o = p[FC_OUT_START]
    for _ in range(p[FC_BATCHES]):
        wi = 0
        for j in range(n_out):
            if wide:
                acc = (p[FC_BIAS + 2 * j + 1] << 32) | (p[FC_BIAS + 2 * j] & 0xFFFFFFFF)
            else:
                acc = p[FC_BIAS + j]
            d = wi - xs   # x index = weight index - d (one loop counter is faster)
            for k in range(wi, wi + n_in):
                acc += w[k] * x[k - d]
            wi += n_in
            if wide:
                v = _sat16(_mbqm64(acc, mult, shift))
            else:
                v = _sat16(requant(acc, mult, shift))
            if mode:
                v = _sat16(v + out[o])
                if mode == MODE_SIGMOID:
                    v = sigmoid16(v)
                elif mode == MODE_TANH:
                    v = tanh16(v, 3, 0)
            out[o] = v
            o += 1
        xs += n_in


# ---- lstm_cell_update ------------------------------------------------------------
# cell = clip(sat16(mul(forget, cell) + mul(input, cell_gate))), each mul being TFLM
# MulElementwise<int16, int16> (offsets 0, int16 clamp). gates holds the activated
# forget / input / cell-gate values (int16 Q0.15) at the offsets below.
# p layout:
CU_COUNT = 0     # elements (batch rows this step * n_cell)
CU_CELL = 1      # offset of the first cell-state element
CU_F = 2         # offset of the forget gate in gates
CU_I = 3         # offset of the input gate in gates
CU_G = 4         # offset of the cell gate in gates
CU_FC_MULT = 5   # forget x cell -> cell multiplier / shift
CU_FC_SHIFT = 6
CU_IG_MULT = 7   # input x cell gate -> cell multiplier / shift
CU_IG_SHIFT = 8
CU_CLIP_ON = 9   # 1 when the model's cell_clip > 0
CU_CLIP = 10     # quantized cell clip (int16)


def lstm_cell_update(cell, gates, unused, p):
    c = p[CU_CELL]
    f = p[CU_F]
    i = p[CU_I]
    g = p[CU_G]
    m1 = p[CU_FC_MULT]
    s1 = p[CU_FC_SHIFT]
    m2 = p[CU_IG_MULT]
    s2 = p[CU_IG_SHIFT]
    clip_on = p[CU_CLIP_ON]
    hi = p[CU_CLIP]
    lo = -hi
    for k in range(p[CU_COUNT]):
        v = _sat16(requant(gates[f + k] * cell[c + k], m1, s1))
        v = _sat16(v + _sat16(requant(gates[i + k] * gates[g + k], m2, s2)))
        if clip_on:
            v = hi if v > hi else (lo if v < lo else v)
        cell[c + k] = v


# ---- lstm_hidden_update ----------------------------------------------------------
# hidden = clamp(zp + mul(tanh(cell), output_gate)): TFLM Tanh(cell_state_scale_power)
# then MulElementwise<int16, int8 or int16>.
# p layout:
HU_COUNT = 0     # elements (batch rows this step * n_cell)
HU_HIDDEN = 1    # offset of the first hidden-state element
HU_CELL = 2      # offset of the first cell-state element
HU_O = 3         # offset of the output gate in gates
HU_TANH_MULT = 4 # tanh input multiplier / right shift, TFLM's power-of-two case
HU_TANH_SHIFT = 5  # already folded (multiplier 3 << s, shift 0)
HU_MULT = 6      # tanh x output gate -> hidden multiplier / shift
HU_SHIFT = 7
HU_ZP = 8        # hidden-state zero point
HU_MIN = 9       # hidden-state dtype range
HU_MAX = 10


def lstm_hidden_update(hidden, cell, gates, p):
    h = p[HU_HIDDEN]
    c = p[HU_CELL]
    o = p[HU_O]
    tm = p[HU_TANH_MULT]
    ts = p[HU_TANH_SHIFT]
    m = p[HU_MULT]
    s = p[HU_SHIFT]
    zp = p[HU_ZP]
    lo = p[HU_MIN]
    hi = p[HU_MAX]
    for k in range(p[HU_COUNT]):
        v = zp + requant(tanh16(cell[c + k], tm, ts) * gates[o + k], m, s)
        hidden[h + k] = hi if v > hi else (lo if v < lo else v)


# ---- rnn_copy --------------------------------------------------------------------
# out[out_start + k] = a[a_start + k] for k < count (hidden state -> output sequence).
CP_COUNT = 0
CP_A_START = 1
CP_OUT_START = 2


def rnn_copy(out, a, unused, p):
    o = p[CP_OUT_START]
    i = p[CP_A_START]
    for k in range(p[CP_COUNT]):
        out[o + k] = a[i + k]


# ---- svdf_feature ----------------------------------------------------------------
# SVDF step 1 (svdf_common.cc EvalIntegerSvdfReference): shift the activation state
# [batch, n_filter, n_memory] left by one element, then write each filter's feature
# dot product into the newest slot: state[b, f, n_memory - 1] =
#   wrap(state_zp + clamp_T(mbqm(sum_i wf[f, i] * (x[b, i] - x_zp), mult, shift))).
# p layout:
SF_BATCHES = 0
SF_IN = 1        # n_input
SF_FILTERS = 2   # n_filter
SF_MEMORY = 3    # n_memory
SF_MULT = 4      # effective_scale_1 multiplier / shift
SF_SHIFT = 5
SF_STATE_ZP = 6
SF_STATE_MIN = 7  # state dtype range (-128..127 or -32768..32767)
SF_STATE_MAX = 8
SF_BIAS = 9      # n_filter ints: -x_zp * sum_i wf[f, i] (input zero point folded in)


def _drop_oldest(state, p):
    """Shift the whole state left by one element; each filter's newest slot is rewritten next."""
    for k in range(p[SF_BATCHES] * p[SF_FILTERS] * p[SF_MEMORY] - 1):
        state[k] = state[k + 1]


def svdf_feature(state, x, wf, p):
    n_in = p[SF_IN]
    n_filter = p[SF_FILTERS]
    n_mem = p[SF_MEMORY]
    mult = p[SF_MULT]
    shift = p[SF_SHIFT]
    zp = p[SF_STATE_ZP]
    lo = p[SF_STATE_MIN]
    hi = p[SF_STATE_MAX]
    span = hi - lo + 1
    _drop_oldest(state, p)
    si = n_mem - 1
    xs = 0
    for _ in range(p[SF_BATCHES]):
        wi = 0
        for f in range(n_filter):
            acc = p[SF_BIAS + f]
            d = wi - xs
            for k in range(wi, wi + n_in):
                acc += wf[k] * x[k - d]
            wi += n_in
            v = requant(acc, mult, shift)
            v = zp + (hi if v > hi else (lo if v < lo else v))
            if v > hi:
                v -= span
            elif v < lo:
                v += span
            state[si] = v
            si += n_mem
        xs += n_in


# ---- svdf_time -------------------------------------------------------------------
# SVDF step 2: per unit u, acc = bias[u] + sum over its rank filters f of
# sum_j wt[f, j] * (state[b, f, j] - state_zp); out = clamp8(mbqm(acc) + out_zp).
# p layout:
ST_BATCHES = 0
ST_FILTERS = 1
ST_MEMORY = 2
ST_RANK = 3
ST_STATE_ZP = 4
ST_MULT = 5      # effective_scale_2 multiplier / shift
ST_SHIFT = 6
ST_OUT_ZP = 7
ST_BIAS = 8      # n_filter // rank int32 biases


def svdf_time(out, state, wt, p):
    n_filter = p[ST_FILTERS]
    n_mem = p[ST_MEMORY]
    rank = p[ST_RANK]
    zp = p[ST_STATE_ZP]
    mult = p[ST_MULT]
    shift = p[ST_SHIFT]
    out_zp = p[ST_OUT_ZP]
    n_unit = n_filter // rank
    span = rank * n_mem
    si = 0
    o = 0
    for _ in range(p[ST_BATCHES]):
        wi = 0
        for u in range(n_unit):
            acc = p[ST_BIAS + u]
            d = wi - si
            for k in range(wi, wi + span):
                acc += wt[k] * (state[k - d] - zp)
            wi += span
            si += span
            v = requant(acc, mult, shift) + out_zp
            out[o] = 127 if v > 127 else (-128 if v < -128 else v)
            o += 1


# ---- float32 variants --------------------------------------------------------------
# TFLM's float reference path. Sums run in the platform float (double on CPython and the
# unix port) and are stored to float32 tensors where TFLM stores them, so results agree
# with TFLM to float32 rounding, not bit for bit. Same p layouts as the integer kernels;
# fields that only the integer path uses are ignored.

def sigmoid_f32(v):
    """reference_ops::Logistic (float): TFLM's cutoffs, then 1 / (1 + exp(-v))."""
    if v > 16.619047164916992:
        return 1.0
    if v < -9.0:
        return _exp(v)
    return 1.0 / (1.0 + _exp(-v))


def lstm_gate_fc_f32(out, x, w, p):
    """out[o] += sum_i w[j, i] * x[i] (out holds the bias or the input FC result); modes
    MODE_SIGMOID / MODE_TANH then apply the gate activation."""
    n_out = p[FC_OUT]
    n_in = p[FC_IN]
    mode = p[FC_MODE]
    xs = p[FC_X_START]
    o = p[FC_OUT_START]
    for _ in range(p[FC_BATCHES]):
        wi = 0
        for j in range(n_out):
            acc = 0.0
            d = wi - xs   # x index = weight index - d (one loop counter is faster)
            for k in range(wi, wi + n_in):
                acc += w[k] * x[k - d]
            wi += n_in
            out[o] = out[o] + acc
            if mode == MODE_SIGMOID:
                out[o] = sigmoid_f32(out[o])
            elif mode == MODE_TANH:
                out[o] = _tanh(out[o])
            o += 1
        xs += n_in


def lstm_cell_update_f32(cell, gates, clip, p):
    """cell = forget * cell + input * cell_gate, clipped to +-clip[0] when CU_CLIP_ON."""
    c = p[CU_CELL]
    f = p[CU_F]
    i = p[CU_I]
    g = p[CU_G]
    clip_on = p[CU_CLIP_ON]
    hi = clip[0]
    for k in range(p[CU_COUNT]):
        cell[c + k] = gates[f + k] * cell[c + k]
        v = cell[c + k] + gates[i + k] * gates[g + k]
        if clip_on:
            v = hi if v > hi else (-hi if v < -hi else v)
        cell[c + k] = v


def lstm_hidden_update_f32(hidden, cell, gates, p):
    """hidden = tanh(cell) * output_gate."""
    h = p[HU_HIDDEN]
    c = p[HU_CELL]
    o = p[HU_O]
    for k in range(p[HU_COUNT]):
        hidden[h + k] = _tanh(cell[c + k]) * gates[o + k]


def svdf_feature_f32(state, x, wf, p):
    """Float SVDF step 1: shift the state, write sum_i wf[f, i] * x[b, i] to the newest slot."""
    n_in = p[SF_IN]
    n_filter = p[SF_FILTERS]
    n_mem = p[SF_MEMORY]
    _drop_oldest(state, p)
    si = n_mem - 1
    xs = 0
    for _ in range(p[SF_BATCHES]):
        wi = 0
        for f in range(n_filter):
            acc = 0.0
            d = wi - xs
            for k in range(wi, wi + n_in):
                acc += wf[k] * x[k - d]
            wi += n_in
            state[si] = acc
            si += n_mem
        xs += n_in


# activation codes for svdf_time_f32 (TFLite ActivationFunctionType order)
ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6, ACT_TANH, ACT_SIGN_BIT = 0, 1, 2, 3, 4, 5
ST_ACT = ST_MULT  # float SVDF: the multiplier field holds the activation code


def _activation_f32(act, v):
    if act == ACT_RELU:
        return v if v > 0.0 else 0.0
    if act == ACT_RELU_N1_TO_1:
        return 1.0 if v > 1.0 else (-1.0 if v < -1.0 else v)
    if act == ACT_RELU6:
        return 6.0 if v > 6.0 else (v if v > 0.0 else 0.0)
    if act == ACT_TANH:
        return _tanh(v)
    if act == ACT_SIGN_BIT:
        return 1.0 if _copysign(1.0, v) < 0.0 else 0.0
    return v


def svdf_time_f32(out, state, wt, p):
    """Float SVDF step 2: out (holding the bias) += per unit, the rank filters' sums of
    wt[f, j] * state[b, f, j]; then the fused activation (p[ST_ACT])."""
    n_filter = p[ST_FILTERS]
    n_mem = p[ST_MEMORY]
    rank = p[ST_RANK]
    act = p[ST_ACT]
    n_unit = n_filter // rank
    si = 0
    o = 0
    for _ in range(p[ST_BATCHES]):
        wi = 0
        for u in range(n_unit):
            for _r in range(rank):
                part = 0.0
                d = wi - si
                for k in range(wi, wi + n_mem):
                    part += wt[k] * state[k - d]
                wi += n_mem
                si += n_mem
                out[o] = out[o] + part
            out[o] = _activation_f32(act, out[o])
            o += 1
