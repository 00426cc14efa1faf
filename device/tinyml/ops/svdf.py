"""SVDF as TFLite Micro runs it (svdf_common.cc). Integer path: int8 input and feature
weights, int8 or int16 time weights and activation state, int32 bias, int8 output; like
TFLM's integer kernel it ignores the fused activation (only the int8 clamp). Float path:
all float32, fused activation applied.
The activation state [batch, n_filter * n_memory] is a variable tensor kept across
invokes; each invoke shifts it by one slot and appends the new feature activations.
"""
from array import array
from .. import quant
from ..kernels import python_rnn as K
from . import KernelStep, kernel_scratch
from .elementwise import fail, unsupported, QRANGE
from .lstm import scale_product_ratio, kernel, per_tensor, row_sums

INPUT, W_FEATURE, W_TIME, BIAS, STATE = 0, 1, 2, 3, 4


def _tensors(op, tensors):
    ins = op.inputs
    if len(ins) != 5 or len(op.outputs) != 1:
        raise fail(op, 'needs 5 inputs and 1 output, has %d and %d'
                   % (len(ins), len(op.outputs)))
    for k in (INPUT, W_FEATURE, W_TIME, STATE):
        if ins[k] < 0:
            raise fail(op, 'required input %d is omitted' % k)
    if ins[BIAS] < 0:
        raise unsupported(op, 'SVDF without bias (TFLM cannot run it either)')
    t = [tensors[i] for i in ins]
    if not t[STATE].is_variable:
        raise fail(op, 'activation state (input 4) is not a variable tensor')
    return t, tensors[op.outputs[0]]


def _check_types(op, t, out):
    """'int8' or 'float32': the path this op takes."""
    x = t[INPUT]
    if x.dtype == 'float32':
        for k, what in ((W_FEATURE, 'feature weights'), (W_TIME, 'time weights'),
                        (BIAS, 'bias'), (STATE, 'state')):
            if t[k].dtype != 'float32':
                raise fail(op, 'float SVDF needs float32 %s, got %s' % (what, t[k].dtype))
        if out.dtype != 'float32':
            raise fail(op, 'output must be float32, got %s' % out.dtype)
        return 'float32'
    if x.dtype != 'int8':
        raise fail(op, 'input must be int8 or float32, got %s' % x.dtype)
    if t[W_FEATURE].dtype != 'int8':
        raise fail(op, 'feature weights must be int8, got %s' % t[W_FEATURE].dtype)
    if t[W_TIME].dtype not in QRANGE:
        raise fail(op, 'time weights must be int8 or int16, got %s' % t[W_TIME].dtype)
    if t[STATE].dtype != t[W_TIME].dtype:
        # TFLM's kernel reads both through the time-weight type
        raise unsupported(op, 'state %s with time weights %s'
                          % (t[STATE].dtype, t[W_TIME].dtype))
    if t[BIAS].dtype != 'int32':
        raise fail(op, 'bias must be int32, got %s' % t[BIAS].dtype)
    if out.dtype != 'int8':
        raise fail(op, 'output must be int8, got %s' % out.dtype)
    return 'int8'


def _sizes(op, t, out):
    rank = op.options.get('rank', 0)
    x, wf, wt = t[INPUT], t[W_FEATURE], t[W_TIME]
    if len(x.shape) != 2 or len(wf.shape) != 2 or len(wt.shape) != 2:
        raise fail(op, 'input, feature and time weights must be 2-D')
    batch, n_input = x.shape
    n_filter = wf.shape[0]
    if rank <= 0 or n_filter % rank:
        raise fail(op, 'rank %d does not divide %d filters' % (rank, n_filter))
    n_unit = n_filter // rank
    n_memory = wt.shape[1]
    if wf.shape[1] != n_input:
        raise fail(op, 'feature weights %r do not match input %r' % (wf.shape, x.shape))
    if wt.shape[0] != n_filter:
        raise fail(op, 'time weights %r do not match %d filters' % (wt.shape, n_filter))
    if tuple(t[BIAS].shape) != (n_unit,):
        raise fail(op, 'bias shape %r, expected (%d,)' % (t[BIAS].shape, n_unit))
    if tuple(t[STATE].shape) != (batch, n_memory * n_filter):
        raise fail(op, 'state shape %r, expected %r'
                   % (t[STATE].shape, (batch, n_memory * n_filter)))
    if tuple(out.shape) != (batch, n_unit):
        raise fail(op, 'output shape %r, expected %r' % (out.shape, (batch, n_unit)))
    return rank, batch, n_input, n_filter, n_memory


def _multipliers(op, t, out):
    s_x, _ = per_tensor(op, t[INPUT], 'input')
    s_wf, _ = per_tensor(op, t[W_FEATURE], 'feature weights')
    s_wt, _ = per_tensor(op, t[W_TIME], 'time weights')
    s_state, _ = per_tensor(op, t[STATE], 'state')
    s_out, _ = per_tensor(op, out, 'output')
    if not (s_state > 0 and s_out > 0):
        raise fail(op, 'state and output need positive scales')
    e1 = scale_product_ratio(s_x, s_wf, s_state)
    e2 = scale_product_ratio(s_state, s_wt, s_out)
    return quant.quantize_multiplier(e1), quant.quantize_multiplier(e2)


def _feature_block(batch, n_input, n_filter, n_memory, n_bias):
    """array('i') for K.svdf_feature with the sizes set and n_bias bias words."""
    p = array('i', [0] * (K.SF_BIAS + n_bias))
    p[K.SF_BATCHES] = batch
    p[K.SF_IN] = n_input
    p[K.SF_FILTERS] = n_filter
    p[K.SF_MEMORY] = n_memory
    return p


def _time_block(batch, n_filter, n_memory, rank, n_bias):
    """array('i') for K.svdf_time with the sizes set and n_bias bias words."""
    p = array('i', [0] * (K.ST_BIAS + n_bias))
    p[K.ST_BATCHES] = batch
    p[K.ST_FILTERS] = n_filter
    p[K.ST_MEMORY] = n_memory
    p[K.ST_RANK] = rank
    return p


def _feature_params(op, batch, n_input, n_filter, n_memory, ms1, x_zp, state_t, wf):
    s_zp = per_tensor(op, state_t, 'state')[1]
    p = _feature_block(batch, n_input, n_filter, n_memory, n_filter)
    p[K.SF_MULT], p[K.SF_SHIFT] = ms1
    p[K.SF_STATE_ZP] = s_zp
    p[K.SF_STATE_MIN], p[K.SF_STATE_MAX] = QRANGE[state_t.dtype]
    sums = row_sums(wf, n_filter, n_input)
    for f in range(n_filter):
        p[K.SF_BIAS + f] = quant.wrap32(-x_zp * sums[f])
    return p, s_zp


def _time_params(batch, n_filter, n_memory, rank, s_zp, ms2, out_zp, bias):
    n_unit = n_filter // rank
    p = _time_block(batch, n_filter, n_memory, rank, n_unit)
    p[K.ST_STATE_ZP] = s_zp
    p[K.ST_MULT], p[K.ST_SHIFT] = ms2
    p[K.ST_OUT_ZP] = out_zp
    for u in range(n_unit):
        p[K.ST_BIAS + u] = bias[u]
    return p


ACTIVATIONS = ('NONE', 'RELU', 'RELU_N1_TO_1', 'RELU6', 'TANH', 'SIGN_BIT')


def _float_params(op, batch, n_input, n_filter, n_memory, rank):
    pf = _feature_block(batch, n_input, n_filter, n_memory, 0)
    pt = _time_block(batch, n_filter, n_memory, rank, 0)
    act = op.options.get('fused_activation_function', 'NONE')
    if act not in ACTIVATIONS:
        raise unsupported(op, 'activation %s' % act)
    pt[K.ST_ACT] = ACTIVATIONS.index(act)
    n_unit = n_filter // rank
    copies = tuple(array('i', [n_unit, 0, b * n_unit]) for b in range(batch))
    return pf, pt, copies


def prepare(m, op):
    t, out = _tensors(op, m.tensors)
    kind = _check_types(op, t, out)
    rank, batch, n_input, n_filter, n_memory = _sizes(op, t, out)
    if kind == 'float32':
        pf, pt, copies = _float_params(op, batch, n_input, n_filter, n_memory, rank)
        return 0, KernelStep(Plan(m, op, pf, pt, copies).bind)
    ms1, ms2 = _multipliers(op, t, out)
    ins = op.inputs
    x_zp = per_tensor(op, t[INPUT], 'input')[1]
    out_zp = per_tensor(op, out, 'output')[1]
    pf, s_zp = _feature_params(op, batch, n_input, n_filter, n_memory, ms1, x_zp,
                               t[STATE], m.view(ins[W_FEATURE]))
    pt = _time_params(batch, n_filter, n_memory, rank, s_zp, ms2, out_zp,
                      m.view(ins[BIAS]))
    plan = Plan(m, op, pf, pt, None)
    plan.whole = getattr(m.kernels, 'svdf_int', None)
    ks = 0
    if plan.whole is not None:
        plan.whole_p = array('i', pf)     # the feature block followed by the time block
        plan.whole_p.extend(pt)
        ks = kernel_scratch(m, plan.whole, plan.whole_p)
    return 0, KernelStep(plan.bind, ks)


class Plan:
    def __init__(self, m, op, pf, pt, bias_copies):
        self.m = m
        self.op = op
        self.pf = pf
        self.pt = pt
        self.bias_copies = bias_copies   # float path: rnn_copy blocks bias -> output rows
        self.whole = None                # the backend's whole-op kernel (native svdf_int)

    def bind(self, scratch):
        m = self.m
        ins = self.op.inputs
        self.x = m.view(ins[INPUT])
        self.wf = m.view(ins[W_FEATURE])
        self.wt = m.view(ins[W_TIME])
        self.bias = m.view(ins[BIAS])
        self.state = m.view(ins[STATE])
        self.out = m.view(self.op.outputs[0])
        suffix = '_f32' if self.bias_copies is not None else ''
        self.feature = kernel(m, 'svdf_feature' + suffix)
        self.time = kernel(m, 'svdf_time' + suffix)
        self.copy = kernel(m, 'rnn_copy')
        if self.whole is not None:
            return self.bind_whole()
        return self.run

    def bind_whole(self):
        """The kernel step of the backend's whole-op kernel (native svdf_int)."""
        return self.whole, self.out, self.x, (self.state, self.wf, self.wt), self.whole_p

    def run(self):
        if self.bias_copies is not None:
            for pc in self.bias_copies:
                self.copy(self.out, self.bias, None, pc)
        self.feature(self.state, self.x, self.wf, self.pf)
        self.time(self.out, self.state, self.wt, self.pt)


OPS = {'SVDF': prepare}
