"""UNIDIRECTIONAL_SEQUENCE_LSTM as TFLite Micro runs it (lstm_eval.h): integer paths
int8 activations / int8 weights / int32 biases and int16 activations / int8 weights /
int64 biases, both with an int16 cell state, bit-exact; float32 to float32 rounding.

Each gate is act(sat16(FC(x) + FC(h))) with both FCs requantized to Q3.12; forget,
input and output gates use sigmoid, the cell gate tanh (the only activation TFLM
runs there). The hidden and cell states are variable tensors kept across invokes.
"""
from array import array
from .. import compat, quant
from ..kernels import python_rnn as K
from . import KernelStep, kernel_scratch
from .elementwise import fail, unsupported, scale_of, zp_of, QRANGE

N_INPUTS = 24
REQUIRED = (0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 13, 14, 15, 18, 19)
VARIANTS = ((9, 12, 'peephole weights'), (16, 18, 'projection'),
            (20, 24, 'layer normalization'))
GATES = ('input', 'forget', 'cell', 'output')   # weight order in the op's inputs
GATE_INPUT_W = (1, 2, 3, 4)
GATE_RECURRENT_W = (5, 6, 7, 8)
GATE_BIAS = (12, 13, 14, 15)
HIDDEN, CELL = 18, 19
# where each gate's activated output lives in the gates scratch (units of batch * n_cell)
SLOT = {'forget': 0, 'input': 1, 'cell': 2, 'output': 3}

Q3_12 = quant.dbl(0.000244140625)    # 2^-12: gate pre-activation scale
Q0_15 = quant.dbl(0.000030517578125)  # 2^-15: gate output scale


def _bitlen(n):
    k = 0
    while n >> k:
        k += 1
    return k


def scale_product_ratio(a, b, c):
    """double(a) * double(b) / double(c) for float32 scales, as an exact double.

    TFLM's source rounds some of these products to float32 first, but the reference
    build (tflite-micro PyPI, the oracle of the corpus) measurably keeps them in double:
    tests/test_ops_rnn.py pins both the LSTM and the SVDF case."""
    return quant.ddiv(quant.dmul(quant.dbl(a), quant.dbl(b)), c if isinstance(c, tuple)
                      else quant.dbl(c))


def double_to_int_trunc(d):
    m, e = d
    if e >= 0:
        return m << e
    return m >> -e if m >= 0 else -((-m) >> -e)


def checked_log2(x):
    """TFLM CheckedLog2's result: round(log2(x)) for a positive float32 x."""
    u = quant.dbl(x)
    m, e = u
    n = _bitlen(m)
    # x = (m / 2^(n-1)) * 2^(e + n - 1), mantissa in [1, 2): round up past sqrt(2)
    return e + n - 1 + (1 if m * m >= 2 << (2 * (n - 1)) else 0)


def kernel(m, name):
    """The backend's version of kernel `name`, else the python_rnn reference."""
    table = getattr(m, 'kernels', None)
    fn = getattr(table, name, None)
    if fn is None and isinstance(table, dict):
        fn = table.get(name)
    return fn if fn is not None else getattr(K, name)


def per_tensor(op, t, what):
    """(scale, zero point) of t; UnsupportedOpError when t is quantized per channel."""
    if isinstance(t.scale, (tuple, list)) and len(t.scale) != 1:
        raise unsupported(op, 'per-channel quantized %s %r (TFLM uses per-tensor '
                          'multipliers here)' % (what, t.name))
    return scale_of(t), zp_of(t)


def _check_inputs(op, tensors):
    ins = op.inputs
    if len(ins) != N_INPUTS or len(op.outputs) != 1:
        raise fail(op, 'needs %d inputs and 1 output, has %d and %d'
                   % (N_INPUTS, len(ins), len(op.outputs)))
    for k in REQUIRED:
        if ins[k] < 0:
            raise unsupported(op, 'input %d is omitted (CIFG or incomplete LSTM)' % k)
    for lo, hi, what in VARIANTS:
        for k in range(lo, hi):
            if ins[k] >= 0:
                raise unsupported(op, '%s (input %d)' % (what, k))
    for k in (HIDDEN, CELL):
        if not tensors[ins[k]].is_variable:
            raise fail(op, 'state input %d is not a variable tensor' % k)


# dtype each input must have, per path: activations, weights, biases, cell state
TYPES = {
    'int8': ('int8', 'int8', 'int32', 'int16'),
    'int16': ('int16', 'int8', 'int64', 'int16'),
    'float32': ('float32', 'float32', 'float32', 'float32'),
}


def _check_types(op, tensors):
    """The path ('int8', 'int16' or 'float32') this op takes; raises for anything else."""
    ins = op.inputs
    kind = tensors[ins[0]].dtype
    if kind not in TYPES:
        raise unsupported(op, '%s activations (int8, int16 and float32 are implemented)' % kind)
    act, weight, bias, cell = TYPES[kind]
    want = {HIDDEN: act, CELL: cell}
    for k in GATE_INPUT_W + GATE_RECURRENT_W:
        want[k] = weight
    for k in GATE_BIAS:
        want[k] = bias
    for k in sorted(want):
        t = tensors[ins[k]]
        if t.dtype != want[k]:
            raise unsupported(op, 'input %d (%r) is %s, expected %s with %s activations'
                              % (k, t.name, t.dtype, want[k], kind))
    out = tensors[op.outputs[0]]
    if out.dtype != kind:
        raise fail(op, 'output is %s, input is %s' % (out.dtype, kind))
    if kind != 'float32':
        for k in GATE_INPUT_W + GATE_RECURRENT_W:
            if per_tensor(op, tensors[ins[k]], 'weights')[1]:
                raise unsupported(op, 'weights %d have a nonzero zero point' % k)
    return kind


def _sizes(op, tensors, time_major):
    ins = op.inputs
    x = tensors[ins[0]]
    h = tensors[ins[HIDDEN]]
    if len(x.shape) != 3:
        raise fail(op, 'input must be 3-D, got %r' % (x.shape,))
    if len(h.shape) != 2:
        raise fail(op, 'hidden state must be 2-D, got %r' % (h.shape,))
    batch, steps = (x.shape[1], x.shape[0]) if time_major else x.shape[:2]
    n_in = x.shape[2]
    n_cell = h.shape[1]
    for k in GATE_INPUT_W + GATE_RECURRENT_W:
        w = tensors[ins[k]]
        cols = n_in if k in GATE_INPUT_W else n_cell
        if tuple(w.shape) != (n_cell, cols):
            raise fail(op, 'weights %d have shape %r, expected %r'
                       % (k, w.shape, (n_cell, cols)))
    for k in GATE_BIAS:
        if tuple(tensors[ins[k]].shape) != (n_cell,):
            raise fail(op, 'bias %d has shape %r, expected (%d,)'
                       % (k, tensors[ins[k]].shape, n_cell))
    for k in (HIDDEN, CELL):
        if tensors[ins[k]].size != batch * n_cell:
            raise fail(op, 'state %d has %d elements, expected %d'
                       % (k, tensors[ins[k]].size, batch * n_cell))
    out = tensors[op.outputs[0]]
    if len(out.shape) != 3 or tuple(out.shape[:2]) != tuple(x.shape[:2]) \
            or out.shape[2] != n_cell:
        raise fail(op, 'output shape %r does not match input %r and %d cells'
                   % (out.shape, x.shape, n_cell))
    return batch, steps, n_in, n_cell


def row_sums(w, rows, cols):
    """Sum of each row of the row-major [rows, cols] weights w."""
    sums = []
    i = 0
    for _ in range(rows):
        s = 0
        for _k in range(cols):
            s += w[i]
            i += 1
        sums.append(s)
    return sums


def _fc_params(batches, n_out, n_in, out_start, mult_shift, mode, bias, x_zp, w, wide):
    """array('i') for K.lstm_gate_fc; folds -x_zp * sum(w row) into the bias."""
    sums = row_sums(w, n_out, n_in)
    p = _fc_block(batches, n_out, n_in, out_start, mult_shift, mode, wide)
    for j in range(n_out):
        b = (bias[j] if bias is not None else 0) - x_zp * sums[j]
        if wide:
            b &= 0xFFFFFFFFFFFFFFFF
            p[K.FC_BIAS + 2 * j] = quant.wrap32(b)
            p[K.FC_BIAS + 2 * j + 1] = quant.wrap32(b >> 32)
        else:
            p[K.FC_BIAS + j] = quant.wrap32(b)
    return p


def _fc_multiplier(in_scale, w_scale):
    # GetQuantizedConvolutionMultipler: in * w / 2^-12 (double, see scale_product_ratio)
    return quant.quantize_multiplier(scale_product_ratio(in_scale, w_scale, Q3_12))


def _mul_multiplier(s1, s2, s_out):
    # CreateInterGateMulParams: double(s1) * double(s2) / double(s_out)
    return quant.quantize_multiplier(quant.ddiv(quant.dmul(s1, s2), s_out))


def _cell_clip(op, cell_clip, cell_scale):
    if not cell_clip > 0:
        return 0, 0
    d = quant.ddiv(quant.dbl(cell_clip), quant.dbl(cell_scale))
    if quant.dcmp(d, (32767, 0)) > 0:
        return 1, 32767
    return 1, double_to_int_trunc(d)


def _tanh_params(cell_scale):
    # lstm_internal::Tanh with cell_state_scale_power, TFLM's power-of-two handling
    shift = 15 + checked_log2(cell_scale) - 3
    if shift >= 0:
        return 3 << shift, 0
    return 3, -shift


def _gate_modes(op):
    act = op.options.get('fused_activation_function', 'NONE')
    if act != 'TANH':
        # the schema cannot express sigmoid here, and TFLM asserts on anything else
        raise unsupported(op, 'cell gate activation %s (TFLM runs TANH only)' % act)
    return {'input': K.MODE_SIGMOID, 'forget': K.MODE_SIGMOID,
            'cell': K.MODE_TANH, 'output': K.MODE_SIGMOID}


def _int_gates(m, op, rows, n_in, n_cell, modes, wide):
    """(input FC, recurrent FC) parameter blocks per gate, in GATES order."""
    tensors = m.tensors
    ins = op.inputs
    x_scale, x_zp = per_tensor(op, tensors[ins[0]], 'input')
    h_scale, h_zp = per_tensor(op, tensors[ins[HIDDEN]], 'hidden state')
    span = rows * n_cell
    fc_in, fc_rec = [], []
    for g, name in enumerate(GATES):
        w_in = ins[GATE_INPUT_W[g]]
        w_rec = ins[GATE_RECURRENT_W[g]]
        start = SLOT[name] * span
        fc_in.append(_fc_params(
            rows, n_cell, n_in, start,
            _fc_multiplier(x_scale, per_tensor(op, tensors[w_in], 'weights')[0]),
            K.MODE_WRITE, m.view(ins[GATE_BIAS[g]]), x_zp, m.view(w_in), wide))
        fc_rec.append(_fc_params(
            rows, n_cell, n_cell, start,
            _fc_multiplier(h_scale, per_tensor(op, tensors[w_rec], 'weights')[0]),
            modes[name], None, h_zp, m.view(w_rec), wide))
    return fc_in, fc_rec


def _float_gates(rows, n_in, n_cell, modes):
    """Float gates: the bias is copied into the gate slot first, both FCs add to it."""
    span = rows * n_cell
    fc_in, fc_rec = [], []
    for name in GATES:
        start = SLOT[name] * span
        fc_in.append(_fc_block(rows, n_cell, n_in, start, (0, 0), K.MODE_ADD))
        fc_rec.append(_fc_block(rows, n_cell, n_cell, start, (0, 0), modes[name]))
    return fc_in, fc_rec


def _fc_block(batches, n_out, n_in, out_start, mult_shift, mode, wide=0):
    p = array('i', [0] * (K.FC_BIAS + (2 if wide else 1) * n_out))
    p[K.FC_WIDE] = wide
    p[K.FC_BATCHES] = batches
    p[K.FC_OUT] = n_out
    p[K.FC_IN] = n_in
    p[K.FC_OUT_START] = out_start
    p[K.FC_MULT], p[K.FC_SHIFT] = mult_shift
    p[K.FC_MODE] = mode
    return p


def _bias_copies(rows, n_cell):
    """rnn_copy blocks putting each gate's bias into each batch row of its slot."""
    span = rows * n_cell
    copies = []
    for name in GATES:
        copies.append(tuple(array('i', [n_cell, 0, SLOT[name] * span + r * n_cell])
                            for r in range(rows)))
    return copies


def _int_updates(op, tensors, span):
    ins = op.inputs
    c_scale = per_tensor(op, tensors[ins[CELL]], 'cell state')[0]
    h_scale, h_zp = per_tensor(op, tensors[ins[HIDDEN]], 'hidden state')
    c_d = quant.dbl(c_scale)
    cu, hu = _update_blocks(span)
    cu[K.CU_FC_MULT], cu[K.CU_FC_SHIFT] = _mul_multiplier(Q0_15, c_d, c_d)
    cu[K.CU_IG_MULT], cu[K.CU_IG_SHIFT] = _mul_multiplier(Q0_15, Q0_15, c_d)
    cu[K.CU_CLIP_ON], cu[K.CU_CLIP] = _cell_clip(op, op.options.get('cell_clip', 0.0), c_scale)
    hu[K.HU_TANH_MULT], hu[K.HU_TANH_SHIFT] = _tanh_params(c_scale)
    hu[K.HU_MULT], hu[K.HU_SHIFT] = _mul_multiplier(Q0_15, Q0_15, quant.dbl(h_scale))
    hu[K.HU_ZP] = h_zp
    hu[K.HU_MIN], hu[K.HU_MAX] = QRANGE[tensors[ins[HIDDEN]].dtype]
    return cu, hu


def _update_blocks(span):
    cu = array('i', [0] * 11)
    cu[K.CU_COUNT] = span
    cu[K.CU_F] = SLOT['forget'] * span
    cu[K.CU_I] = SLOT['input'] * span
    cu[K.CU_G] = SLOT['cell'] * span
    hu = array('i', [0] * 11)
    hu[K.HU_COUNT] = span
    hu[K.HU_O] = SLOT['output'] * span
    return cu, hu


def prepare(m, op):
    tensors = m.tensors
    _check_inputs(op, tensors)
    kind = _check_types(op, tensors)
    opts = op.options
    if opts.get('diagonal_recurrent_tensors'):
        raise unsupported(op, 'diagonal recurrent weights')
    time_major = bool(opts.get('time_major', False))
    modes = _gate_modes(op)
    batch, steps, n_in, n_cell = _sizes(op, tensors, time_major)
    rows = batch if time_major else 1     # batch rows per LSTM step
    span = rows * n_cell
    plan = Plan(m, op, kind, batch, steps, n_in, n_cell, time_major)
    if kind == 'float32':
        plan.fc_in, plan.fc_rec = _float_gates(rows, n_in, n_cell, modes)
        plan.bias_copies = _bias_copies(rows, n_cell)
        plan.cu, plan.hu = _update_blocks(span)
        clip = opts.get('cell_clip', 0.0)
        plan.cu[K.CU_CLIP_ON] = 1 if clip > 0 else 0
        plan.clip = array('f', [clip])
        return 4 * span * 4, KernelStep(plan.bind)
    for k, what in ((0, 'input'), (HIDDEN, 'hidden state'), (CELL, 'cell state')):
        if not per_tensor(op, tensors[op.inputs[k]], what)[0] > 0:
            raise fail(op, 'input %d needs a positive scale' % k)
    wide = 1 if kind == 'int16' else 0
    plan.fc_in, plan.fc_rec = _int_gates(m, op, rows, n_in, n_cell, modes, wide)
    plan.cu, plan.hu = _int_updates(op, tensors, span)
    # TFLM's four int16 scratch buffers, merged: one slot per gate output
    plan.whole = getattr(m.kernels, 'lstm_int', None)
    ks = 0
    if plan.whole is not None:
        plan.whole_p = plan.whole_params()
        ks = kernel_scratch(m, plan.whole, plan.whole_p)
    return 4 * span * 2, KernelStep(plan.bind, ks)


class Plan:
    """Everything run() needs, bound once; run() only rewrites offsets in p arrays."""

    def __init__(self, m, op, kind, batch, steps, n_in, n_cell, time_major):
        self.m = m
        self.op = op
        self.kind = kind
        self.batch = batch
        self.steps = steps
        self.n_in = n_in
        self.n_cell = n_cell
        self.time_major = time_major
        self.rows = batch if time_major else 1
        self.cp = array('i', [self.rows * n_cell, 0, 0])
        self.bias_copies = None
        self.clip = None
        self.whole = None       # the backend's whole-sequence kernel (native lstm_int)

    def bind(self, scratch):
        m = self.m
        ins = self.op.inputs
        count = 4 * self.cu[K.CU_COUNT]
        is_float = self.kind == 'float32'
        if scratch is None:
            self.gates = array('f' if is_float else 'h', [0] * count)
        else:
            self.gates = compat.typed_view(scratch, 0, count, 'float32' if is_float else 'int16')
        self.x = m.view(ins[0])
        self.hidden = m.view(ins[HIDDEN])
        self.cell = m.view(ins[CELL])
        self.out = m.view(self.op.outputs[0])
        self.in_fcs = tuple((m.view(ins[GATE_INPUT_W[g]]), p) for g, p in enumerate(self.fc_in))
        self.rec_fcs = tuple((m.view(ins[GATE_RECURRENT_W[g]]), p)
                             for g, p in enumerate(self.fc_rec))
        suffix = '_f32' if is_float else ''
        self.fc = kernel(m, 'lstm_gate_fc' + suffix)
        self.cell_update = kernel(m, 'lstm_cell_update' + suffix)
        self.hidden_update = kernel(m, 'lstm_hidden_update' + suffix)
        self.copy = kernel(m, 'rnn_copy')
        if self.bias_copies is not None:
            self.biases = tuple((m.view(ins[GATE_BIAS[g]]), self.bias_copies[g])
                                for g in range(4))
        if self.whole is not None:
            return self.bind_whole()
        return self.run

    def bind_whole(self):
        """The kernel step of the backend's whole-sequence kernel (native lstm_int)."""
        bufs = (self.hidden, self.cell, self.gates) + \
            tuple(w for w, _ in self.in_fcs) + tuple(w for w, _ in self.rec_fcs)
        return self.whole, self.out, self.x, bufs, self.whole_p

    def whole_params(self):
        """lstm_int's block (native_modules/src/rnn.h): header, cell update, hidden update,
        the 4 input then the 4 recurrent gate FC blocks in GATES order."""
        p = array('i', [self.batch, self.steps, self.n_in, self.n_cell,
                        1 if self.time_major else 0, self.fc_in[0][K.FC_WIDE]])
        for block in (self.cu, self.hu) + tuple(self.fc_in) + tuple(self.fc_rec):
            p.extend(block)
        return p

    def run(self):
        span = self.cu[K.CU_COUNT]
        if self.time_major:
            for t in range(self.steps):
                self.step(t * self.rows * self.n_in, 0, t * span)
        else:
            n = self.n_cell
            for b in range(self.batch):
                for t in range(self.steps):
                    i = b * self.steps + t
                    self.step(i * self.n_in, b * n, i * n)

    def gate(self, g, x_start, state_start):
        if self.bias_copies is not None:
            bias, copies = self.biases[g]
            for pc in copies:
                self.copy(self.gates, bias, None, pc)
        w, p = self.in_fcs[g]
        p[K.FC_X_START] = x_start
        self.fc(self.gates, self.x, w, p)
        w, p = self.rec_fcs[g]
        p[K.FC_X_START] = state_start
        self.fc(self.gates, self.hidden, w, p)

    def step(self, x_start, state_start, out_start):
        # forget, input and cell gates, the cell update, the output gate, the hidden update
        self.gate(1, x_start, state_start)
        self.gate(0, x_start, state_start)
        self.gate(2, x_start, state_start)
        cu = self.cu
        cu[K.CU_CELL] = state_start
        self.cell_update(self.cell, self.gates, self.clip, cu)
        self.gate(3, x_start, state_start)
        hu = self.hu
        hu[K.HU_HIDDEN] = state_start
        hu[K.HU_CELL] = state_start
        self.hidden_update(self.hidden, self.cell, self.gates, hu)
        cp = self.cp
        cp[K.CP_A_START] = state_start
        cp[K.CP_OUT_START] = out_start
        self.copy(self.out, self.hidden, None, cp)


OPS = {'UNIDIRECTIONAL_SEQUENCE_LSTM': prepare}
