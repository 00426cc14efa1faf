"""UNIDIRECTIONAL_SEQUENCE_LSTM and SVDF against TFLite Micro, bit for bit.

Op level: each LSTM/SVDF node of the corpus models runs alone (a small stand-in for the
model that gives views of the graph's tensors) on the inputs TFLM's own interpreter fed
that node, on CPython and on the MicroPython unix port; outputs and variable states must
equal TFLM's, also across consecutive invokes. Model level (once tinyml.model exists):
the five recurrent corpus models, every reference sample from a reset state.
"""
import json
import os
import pathlib

import numpy as np
import pytest

from conftest import model_zoo

ROOT = pathlib.Path(__file__).resolve().parent.parent

# Runs under CPython and MicroPython: a minimal model for one op (views are arrays).
HARNESS = r'''
import struct
from array import array
from tinyml import reader
from tinyml.ops import module_for, prepare_fn

CODES = {'int8': 'b', 'int16': 'h', 'int32': 'i', 'int64': 'q', 'uint8': 'B', 'float32': 'f'}


class OneOp:
    kernels = None

    def __init__(self, buf, op_index):
        self.graph = reader.read(buf)
        self.tensors = self.graph.tensors
        self.op = self.graph.ops[op_index]
        self.views = {}
        self.persistents = []
        for i in self.op.inputs + self.op.outputs:
            if i >= 0:
                self.views[i] = self._make(self.tensors[i])
        scratch_bytes, bind = prepare_fn(self.op)(self, self.op)
        self.scratch = bytearray(scratch_bytes) if scratch_bytes else None
        self.reset()
        self.run = bind(memoryview(self.scratch) if self.scratch else None)

    def _make(self, t):
        code = CODES[t.dtype]
        if t.data is not None:
            n = t.size
            return array(code, struct.unpack_from('<%d%s' % (n, code), t.data, 0))
        return array(code, [0] * t.size)

    def view(self, i):
        return self.views[i]

    def persistent(self, nbytes):
        b = bytearray(nbytes)
        self.persistents.append(b)
        return b

    def reset(self):
        # as Model.reset (TFLM ResetTensorData): int8 variables to their zero point, others 0
        for i in self.views:
            t = self.tensors[i]
            if t.is_variable:
                zp = t.zero_point
                if isinstance(zp, tuple):
                    zp = zp[0] if zp else 0
                fill = zp if t.dtype == 'int8' else 0
                v = self.views[i]
                for k in range(len(v)):
                    v[k] = fill
        for b in self.persistents:
            for k in range(len(b)):
                b[k] = 0

    def set(self, i, values):
        v = self.views[i]
        for k in range(len(v)):
            v[k] = values[k]

    def get(self, i):
        return list(self.views[i])


def run_steps(path, op_index, steps):
    """steps: list of (input values, reset first?) -> per step output and states."""
    m = OneOp(open(path, 'rb').read(), op_index)
    return run_model_steps(m, steps)


def run_model_steps(m, steps):
    op = m.op
    state_idx = [i for i in op.inputs if i >= 0 and m.tensors[i].is_variable]
    results = []
    for values, reset in steps:
        if reset:
            m.reset()
        m.set(op.inputs[0], values)
        m.run()
        results.append([m.get(op.outputs[0])] + [m.get(i) for i in state_idx])
    return results
'''


def zoo_path(name):
    zoo = model_zoo()
    if zoo is None:
        pytest.skip('TINYML_MODEL_ZOO not set: corpus tests skipped')
    path = zoo / (name + '.tflite')
    if not path.exists():
        pytest.skip('%s not in the corpus' % name)
    return path


def tflm_traces(path, op_index, samples, reset_each):
    """TFLM run of the whole model; per invoke, op `op_index`'s input, output and states."""
    return tflm_traces_of(path.read_bytes(), op_index, samples, reset_each)


def tflm_traces_of(buf, op_index, samples, reset_each):
    from tflite_micro.python.tflite_micro import runtime
    from tinyml import reader
    g = reader.read(buf)
    op = g.ops[op_index]
    state_idx = [i for i in op.inputs if i >= 0 and g.tensors[i].is_variable]
    it = runtime.Interpreter.from_bytes(
        buf, intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors)
    traces = []
    for x in samples:
        if reset_each:
            it.reset()
        it.set_input(x, 0)
        it.invoke()
        grab = [op.inputs[0], op.outputs[0]] + state_idx
        traces.append([it.GetTensor(i, 0)['tensor_data'].reshape(-1).tolist() for i in grab])
    return traces


def run_cpython(path, op_index, steps):
    scope = {}
    exec(HARNESS, scope)
    return scope['run_steps'](str(path), op_index, steps)


def run_micropython(mp, path, op_index, steps):
    code = HARNESS + '\nimport json\nprint(json.dumps(run_steps(%r, %d, json.loads(%r))))\n' % (
        str(path), op_index, json.dumps(steps))
    return mp.json(code)


RNN_NODES = [
    ('mnist_lstm_int8', 0),
    ('micro_speech_lstm', 0),
    ('dtln_noise_suppression', 0),
    ('dtln_noise_suppression', 1),
    ('keyword_scrambled', 1),
    ('keyword_scrambled', 3),
    ('keyword_scrambled', 9),
    ('keyword_scrambled', 11),
    ('keyword_scrambled_8bit', 1),
    ('keyword_scrambled_8bit', 5),
    ('keyword_scrambled_8bit', 10),
]


def reference_inputs(name):
    return np.load(str(model_zoo() / (name + '.npz')))['input_0']


def check(traces, got):
    assert len(got) == len(traces)
    for step, (want, have) in enumerate(zip(traces, got)):
        assert len(have) == len(want) - 1 >= 2
        assert have[0] == want[1], 'invoke %d: output differs' % step
        for k, state in enumerate(want[2:]):
            assert have[1 + k] == state, 'invoke %d: state %d differs' % (step, k)


@pytest.mark.parametrize('name,op_index', RNN_NODES)
def test_node_matches_tflm_each_sample_from_reset(name, op_index):
    path = zoo_path(name)
    samples = reference_inputs(name)
    traces = tflm_traces(path, op_index, samples, reset_each=True)
    got = run_cpython(path, op_index, [(t[0], True) for t in traces])
    check(traces, got)


@pytest.mark.parametrize('name,op_index', RNN_NODES)
def test_node_state_carries_across_invokes(name, op_index):
    """Three invokes without reset, then a reset and a fourth: TFLM does the same."""
    path = zoo_path(name)
    samples = reference_inputs(name)
    carried = tflm_traces(path, op_index, samples[:3], reset_each=False)
    fresh = tflm_traces(path, op_index, samples[2:3], reset_each=True)
    steps = [(t[0], False) for t in carried] + [(fresh[0][0], True)]
    got = run_cpython(path, op_index, steps)
    check(carried + fresh, got)
    # the state really carries: invoke 3 differs from the same input from reset
    assert got[2] != got[3]


UNIX_NODES = [
    ('mnist_lstm_int8', 0),
    ('dtln_noise_suppression', 1),
    ('keyword_scrambled', 1),
    ('keyword_scrambled_8bit', 1),
]


@pytest.mark.parametrize('name,op_index', UNIX_NODES)
def test_node_on_unix_port(mp, name, op_index):
    path = zoo_path(name)
    samples = reference_inputs(name)
    carried = tflm_traces(path, op_index, samples[:2], reset_each=False)
    fresh = tflm_traces(path, op_index, samples[1:2], reset_each=True)
    steps = [(t[0], False) for t in carried] + [(fresh[0][0], True)]
    got = run_micropython(mp, path, op_index, steps)
    check(carried + fresh, got)


# ---- synthetic single-op models: shapes and options the corpus does not cover ----------

def lstm_model(seed, batch, steps, n_in, n_cell, time_major=False, cell_act='TANH',
               cell_clip=10.0, cell_scale=2.0 ** -11, x_zp=-5, h_zp=3, x_scale=0.004,
               h_scale=0.0078125, act='int8', **overrides):
    from tflite_builder import ModelBuilder
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    shape = (steps, batch, n_in) if time_major else (batch, steps, n_in)
    x = b.tensor(act, shape, scale=x_scale, zero_point=x_zp, name='x')
    bias_type = 'int64' if act == 'int16' else 'int32'
    bias_range = 2 ** 26 if act == 'int16' else 20000
    ins = [x]
    for k in range(8):
        cols = n_in if k < 4 else n_cell
        w = overrides.get('w%d' % k) or dict(
            dtype='int8', shape=(n_cell, cols),
            data=rng.integers(-127, 128, (n_cell, cols)), scale=float(rng.uniform(0.004, 0.03)),
            zero_point=0)
        ins.append(b.const(w['dtype'], w['shape'], w['data'], scale=w['scale'],
                           zero_point=w['zero_point']))
    ins += [-1, -1, -1]
    for k in range(4):
        ins.append(b.const(bias_type, (n_cell,), rng.integers(-bias_range, bias_range, n_cell),
                           scale=0.0002, zero_point=0))
    ins += [-1, -1]
    h = b.tensor(act, (batch, n_cell), scale=h_scale, zero_point=h_zp, variable=True)
    c = b.tensor('int16', (batch, n_cell), scale=cell_scale, zero_point=0, variable=True)
    ins += [h, c, -1, -1, -1, -1]
    oshape = shape[:2] + (n_cell,)
    y = b.tensor(act, oshape, scale=h_scale, zero_point=h_zp, name='y')
    for k, t in overrides.get('inputs', {}).items():
        # (dtype, shape, scale, zero_point) -> a zero-filled constant tensor
        # or a function of the builder returning a tensor index
        ins[k] = b.const(t[0], t[1], np.zeros(t[1]), scale=t[2], zero_point=t[3]) \
            if isinstance(t, tuple) else (t(b) if callable(t) else t)
    b.op('UNIDIRECTIONAL_SEQUENCE_LSTM', ins, [y], fused_activation_function=cell_act,
         cell_clip=cell_clip, proj_clip=0.0, time_major=time_major,
         asymmetric_quantize_inputs=False)
    return b.build(inputs=[x], outputs=[y]), shape


def svdf_model(seed, batch, n_in, n_filter, n_memory, rank, state_dtype, state_zp=0):
    from tflite_builder import ModelBuilder
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    x = b.tensor('int8', (batch, n_in), scale=0.1, zero_point=-7, name='x')
    wf = b.const('int8', (n_filter, n_in), rng.integers(-127, 128, (n_filter, n_in)),
                 scale=0.02, zero_point=0)
    if state_dtype == 'int16':
        wt_data, s_state, s_wt = rng.integers(-30000, 30000, (n_filter, n_memory)), 0.004, 2e-5
    else:
        wt_data, s_state, s_wt = rng.integers(-127, 128, (n_filter, n_memory)), 0.3, 0.01
    wt = b.const(state_dtype, (n_filter, n_memory), wt_data, scale=s_wt, zero_point=0)
    n_unit = n_filter // rank
    bias = b.const('int32', (n_unit,), rng.integers(-3000, 3000, n_unit),
                   scale=float(np.float32(s_state) * np.float32(s_wt)), zero_point=0)
    st = b.tensor(state_dtype, (batch, n_filter * n_memory), scale=s_state,
                  zero_point=state_zp, variable=True)
    y = b.tensor('int8', (batch, n_unit), scale=0.2, zero_point=-3, name='y')
    b.op('SVDF', [x, wf, wt, bias, st], [y], rank=rank, fused_activation_function='RELU',
         asymmetric_quantize_inputs=False)
    return b.build(inputs=[x], outputs=[y]), (batch, n_in)


def random_inputs(seed, shape, count, dtype=np.int8):
    rng = np.random.default_rng(seed + 1000)
    info = np.iinfo(dtype)
    return [rng.integers(info.min, info.max + 1, shape).astype(dtype) for _ in range(count)]


def tinyml_traces(buf, steps, mp=None, tmp_path=None):
    """tinyml's traces of steps [(input, reset first)]: in this process (CPython), or on the
    MicroPython unix port when mp is given."""
    if mp is None:
        scope = {}
        exec(HARNESS, scope)
        return scope['run_model_steps'](scope['OneOp'](buf, 0), steps)
    path = tmp_path / 'op.tflite'
    path.write_bytes(buf)
    return run_micropython(mp, path, 0, steps)


def compare_with_tflm(buf, shape, seed, mp=None, tmp_path=None, dtype=np.int8):
    """Three invokes without reset, then reset and one more, vs TFLM."""
    xs = random_inputs(seed, shape, 3, dtype)
    carried = tflm_traces_of(buf, 0, xs, reset_each=False)
    fresh = tflm_traces_of(buf, 0, xs[2:], reset_each=True)
    steps = [(t[0], False) for t in carried] + [(fresh[0][0], True)]
    got = tinyml_traces(buf, steps, mp, tmp_path)
    check(carried + fresh, got)
    assert got[2] != got[3]


LSTM_CASES = {
    'batch_major_b2': dict(batch=2, steps=3, n_in=5, n_cell=4),
    'time_major_b2_noclip': dict(batch=2, steps=3, n_in=6, n_cell=5, time_major=True,
                                 cell_clip=0.0,
                                         cell_scale=2.0 ** -13, h_zp=-2),
    'small_clip_scale_2e-10': dict(batch=1, steps=4, n_in=3, n_cell=6, cell_clip=0.5,
                                   cell_scale=2.0 ** -10, x_zp=0, h_zp=0),
    'time_major_b3': dict(batch=3, steps=2, n_in=4, n_cell=3, time_major=True),
}


@pytest.mark.parametrize('case', sorted(LSTM_CASES))
def test_lstm_synthetic_matches_tflm(case):
    buf, shape = lstm_model(7, **LSTM_CASES[case])
    compare_with_tflm(buf, shape, 7)


LSTM16_CASES = {
    'batch_major_b2': dict(batch=2, steps=3, n_in=5, n_cell=4, x_zp=0, h_zp=0),
    'time_major_zp': dict(batch=2, steps=2, n_in=3, n_cell=5, time_major=True, x_zp=7,
                          h_zp=-3, cell_scale=2.0 ** -13),
}


@pytest.mark.parametrize('case', sorted(LSTM16_CASES))
def test_lstm_int16_activations_match_tflm(case):
    buf, shape = lstm_model(9, act='int16', x_scale=3e-5, h_scale=3e-5,
                            **LSTM16_CASES[case])
    compare_with_tflm(buf, shape, 9, dtype=np.int16)


def test_lstm_int16_on_unix_port(mp, tmp_path):
    buf, shape = lstm_model(10, act='int16', x_scale=3e-5, h_scale=3e-5,
                            **LSTM16_CASES['time_major_zp'])
    compare_with_tflm(buf, shape, 10, mp, tmp_path, dtype=np.int16)


def test_lstm_synthetic_on_unix_port(mp, tmp_path):
    buf, shape = lstm_model(8, **LSTM_CASES['time_major_b2_noclip'])
    compare_with_tflm(buf, shape, 8, mp, tmp_path)


SVDF_CASES = {
    'int16_b2_rank2': dict(batch=2, n_in=7, n_filter=6, n_memory=4, rank=2,
                           state_dtype='int16'),
    'int16_zp_resets_to_0': dict(batch=1, n_in=4, n_filter=3, n_memory=3, rank=1,
                                 state_dtype='int16', state_zp=40),
    'int8_zp_b2_rank3': dict(batch=2, n_in=5, n_filter=6, n_memory=3, rank=3,
                             state_dtype='int8', state_zp=9),
    'int8_rank1': dict(batch=1, n_in=9, n_filter=4, n_memory=5, rank=1, state_dtype='int8',
                       state_zp=-20),
}


@pytest.mark.parametrize('case', sorted(SVDF_CASES))
def test_svdf_synthetic_matches_tflm(case):
    buf, shape = svdf_model(3, **SVDF_CASES[case])
    compare_with_tflm(buf, shape, 3)


def test_svdf_synthetic_on_unix_port(mp, tmp_path):
    buf, shape = svdf_model(4, **SVDF_CASES['int8_zp_b2_rank3'])
    compare_with_tflm(buf, shape, 4, mp, tmp_path)


# Scales where TFLM's effective multiplier differs between a float32 and a double
# scale product, with an input that lands on the rounding boundary between them (found
# by search). The PyPI TFLM build follows the double product in both ops.
DOUBLE_PRODUCT_LSTM = [
    (0.0012192316353321075, 0.028838643804192543, 116, -60),
    (0.00198329146951437, 0.007254898548126221, 102, -41),
    (0.000786669144872576, 0.029730278998613358, 111, -37),
]


@pytest.mark.parametrize('x_scale,w_scale,w,x', DOUBLE_PRODUCT_LSTM)
def test_lstm_gate_multiplier_uses_double_product(x_scale, w_scale, w, x):
    from tflite_builder import ModelBuilder
    b = ModelBuilder()
    xt = b.tensor('int8', (1, 1, 1), scale=x_scale, zero_point=0)
    ins = [xt] + [b.const('int8', (1, 1), [[w]], scale=w_scale, zero_point=0)
                  for _ in range(8)] + [-1, -1, -1]
    ins += [b.const('int32', (1,), [0], scale=x_scale * w_scale, zero_point=0)
            for _ in range(4)] + [-1, -1]
    # a fine cell scale (2^-15) makes one LSB of gate pre-activation visible
    ins += [b.tensor('int8', (1, 1), scale=1 / 128, zero_point=0, variable=True),
            b.tensor('int16', (1, 1), scale=2.0 ** -15, zero_point=0, variable=True),
            -1, -1, -1, -1]
    y = b.tensor('int8', (1, 1, 1), scale=1 / 128, zero_point=0)
    b.op('UNIDIRECTIONAL_SEQUENCE_LSTM', ins, [y], fused_activation_function='TANH',
         cell_clip=0.0, proj_clip=0.0, time_major=False, asymmetric_quantize_inputs=False)
    buf = b.build(inputs=[xt], outputs=[y])
    traces = tflm_traces_of(buf, 0, [np.array([[[x]]], np.int8)], reset_each=True)
    scope = {}
    exec(HARNESS, scope)
    got = scope['run_model_steps'](scope['OneOp'](buf, 0), [(traces[0][0], True)])
    check(traces, got)


def test_svdf_multiplier_uses_double_product():
    """0.1 * 0.02 / 0.004 is 0.5 in float32 arithmetic but 0.49999997... in double."""
    buf, shape = svdf_model(3, **SVDF_CASES['int16_b2_rank2'])
    xs = random_inputs(3, shape, 1)
    traces = tflm_traces_of(buf, 0, xs, reset_each=True)
    scope = {}
    exec(HARNESS, scope)
    got = scope['run_model_steps'](scope['OneOp'](buf, 0), [(traces[0][0], True)])
    check(traces, got)


# ---- whole corpus models through tinyml.load ------------------------------------------

RNN_MODELS = ['mnist_lstm_int8', 'micro_speech_lstm', 'dtln_noise_suppression',
              'keyword_scrambled', 'keyword_scrambled_8bit']

# Runs under CPython and MicroPython: every sample from a reset state, outputs as hex.
MODEL_RUNNER = r'''
import tinyml, binascii


def run_samples(model_path, inputs_path, count):
    before = tinyml.backend
    tinyml.use_backend('python')   # the recurrent kernels are python; isolate other ops too
    try:
        m = tinyml.load(model_path)
    finally:
        tinyml.use_backend(before)
    nbytes = m.inputs[0].nbytes
    data = open(inputs_path, 'rb').read()
    outs = []
    for s in range(count):
        m.reset()
        m.set_input(0, data[s * nbytes:(s + 1) * nbytes])
        m.invoke()
        outs.append(binascii.hexlify(bytes(m.outputs[0].raw)).decode())
    return outs
'''


def corpus_io(name, tmp_path):
    path = zoo_path(name)
    ref = np.load(str(model_zoo() / (name + '.npz')))
    assert len([k for k in ref.files if k.startswith('input_')]) == 1
    inputs = tmp_path / (name + '.inputs.bin')
    inputs.write_bytes(ref['input_0'].tobytes())
    want = [ref['output_0'][s].tobytes().hex() for s in range(ref['output_0'].shape[0])]
    return path, inputs, want


def run_model_on(runtime, mp, name, tmp_path):
    path, inputs, want = corpus_io(name, tmp_path)
    call = 'run_samples(%r, %r, %d)' % (str(path), str(inputs), len(want))
    if runtime == 'cpython':
        scope = {}
        exec(MODEL_RUNNER, scope)
        got = eval(call, scope)
    else:
        got = mp.json(MODEL_RUNNER + '\nimport json\nprint(json.dumps(%s))\n' % call)
    return got, want


@pytest.mark.parametrize('runtime', ['cpython', 'unix'])
@pytest.mark.parametrize('name', RNN_MODELS)
def test_corpus_model_matches_tflm(mp, tmp_path, runtime, name):
    got, want = run_model_on(runtime, mp, name, tmp_path)
    assert len(got) == len(want) == 4
    for s, (g, w) in enumerate(zip(got, want)):
        assert g == w, '%s sample %d differs from TFLM' % (name, s)


@pytest.mark.parametrize('name', RNN_MODELS)
def test_corpus_model_state_across_invokes(name):
    """Invokes without reset carry state exactly as TFLM does; reset() starts over."""
    import tinyml
    path = zoo_path(name)
    xs = reference_inputs(name)[:3]
    from tflite_micro.python.tflite_micro import runtime
    it = runtime.Interpreter.from_bytes(path.read_bytes())
    want = []
    for x in xs:
        it.set_input(x, 0)
        it.invoke()
        want.append(np.array(it.get_output(0)).tobytes())
    m = tinyml.load(str(path))
    variables = [t.index for t in m.tensors if t.is_variable]
    assert variables
    got = []
    for x in xs:
        m.set_input(0, x.tobytes())
        m.invoke()
        got.append(bytes(m.outputs[0].raw))
    assert got == want
    carried = [bytes(m.raw(i)) for i in variables]
    m.reset()
    m.set_input(0, xs[2].tobytes())
    m.invoke()
    ref = np.load(str(model_zoo() / (name + '.npz')))
    assert bytes(m.outputs[0].raw) == ref['output_0'][2].tobytes()
    # the third invoke saw state from the first two: its states differ from a fresh run
    assert [bytes(m.raw(i)) for i in variables] != carried


# ---- bad or unsupported models raise clear errors -------------------------------------

def load_bytes(buf):
    import tinyml
    return tinyml.load(buf)


def lstm_with(**kw):
    return lstm_model(11, batch=1, steps=2, n_in=3, n_cell=2, **kw)[0]


def svdf_with(change):
    """svdf_model with one tensor/option changed: change(builder_kwargs) edits a spec."""
    from tflite_builder import ModelBuilder
    spec = dict(x=('int8', (1, 4), 0.1, -7), wf=('int8', (4, 4)), wt=('int16', (4, 3)),
                bias=('int32', (2,)), state=('int16', (1, 12)), out=('int8', (1, 2)),
                rank=2, variable=True, with_bias=True)
    change(spec)
    b = ModelBuilder()
    x = b.tensor(spec['x'][0], spec['x'][1], scale=spec['x'][2], zero_point=spec['x'][3])
    wf = b.const(spec['wf'][0], spec['wf'][1], np.ones(spec['wf'][1]), scale=0.02,
                 zero_point=0)
    wt = b.const(spec['wt'][0], spec['wt'][1], np.ones(spec['wt'][1]), scale=0.01,
                 zero_point=0)
    bias = b.const(spec['bias'][0], spec['bias'][1], np.zeros(spec['bias'][1]),
                   scale=4e-5, zero_point=0) if spec['with_bias'] else -1
    if spec['variable'] is None:
        st = b.const(spec['state'][0], spec['state'][1], np.zeros(spec['state'][1]),
                     scale=0.004, zero_point=0)
    else:
        st = b.tensor(spec['state'][0], spec['state'][1], scale=0.004, zero_point=0,
                      variable=True)
    y = b.tensor(spec['out'][0], spec['out'][1], scale=0.2, zero_point=-3)
    b.op('SVDF', [x, wf, wt, bias, st], [y], rank=spec['rank'],
         fused_activation_function='NONE', asymmetric_quantize_inputs=False)
    return b.build(inputs=[x], outputs=[y])


def extra_tensor(dtype, shape, **kw):
    return (dtype, shape, kw.get('scale', 0.01), kw.get('zero_point', 0))


def expect_error(buf, cls, *words):
    from tinyml import ModelError
    with pytest.raises(ModelError) as info:
        load_bytes(buf)
    assert type(info.value) is cls, repr(info.value)
    msg = str(info.value)
    for w in words:
        assert w in msg, msg
    return msg


def test_lstm_rejects_peephole_projection_layer_norm():
    from tinyml import UnsupportedOpError
    for k, what in ((9, 'peephole'), (16, 'projection'), (21, 'layer normalization')):
        buf = lstm_with(inputs={k: extra_tensor('int16', (2,))})
        expect_error(buf, UnsupportedOpError, 'UNIDIRECTIONAL_SEQUENCE_LSTM', 'node 0', what)


def test_lstm_rejects_cifg_without_input_gate():
    from tinyml import UnsupportedOpError
    expect_error(lstm_with(inputs={1: -1}), UnsupportedOpError, 'input 1 is omitted')


def test_lstm_rejects_per_channel_weights():
    from tinyml import UnsupportedOpError
    w = dict(dtype='int8', shape=(2, 3), data=np.ones((2, 3)), scale=(0.01, 0.02),
             zero_point=(0, 0))
    expect_error(lstm_with(w2=w), UnsupportedOpError, 'per-channel')


def test_lstm_rejects_other_cell_activation():
    from tinyml import UnsupportedOpError
    expect_error(lstm_with(cell_act='RELU'), UnsupportedOpError, 'RELU')


def test_lstm_rejects_bad_shapes_and_non_variable_state():
    from tinyml import ModelError
    w = dict(dtype='int8', shape=(2, 4), data=np.ones((2, 4)), scale=0.01, zero_point=0)
    expect_error(lstm_with(w3=w), ModelError, 'weights 4', '(2, 3)')
    expect_error(lstm_with(inputs={18: ('int8', (1, 2), 0.0078125, 3)}), ModelError,
                 'not a variable')
    expect_error(lstm_with(inputs={19: ('int16', (1, 3), 2 ** -11, 0)}), ModelError,
                 'not a variable')
    wide_cell = lambda b: b.tensor('int16', (1, 3), scale=2 ** -11, zero_point=0,
                                   variable=True)
    expect_error(lstm_with(inputs={19: wide_cell}), ModelError, 'state 19 has 3 elements')


def test_svdf_rejects_bad_models():
    from tinyml import ModelError, UnsupportedOpError

    def rank3(s):
        s['rank'] = 3

    def not_variable(s):   # a state that is a constant tensor
        s['variable'] = None

    def no_bias(s):
        s['with_bias'] = False

    def mixed_state(s):
        s['state'] = ('int8', (1, 12))

    def wrong_output(s):
        s['out'] = ('int8', (1, 3))

    def float_input(s):
        s['x'] = ('float32', (1, 4), None, None)

    expect_error(svdf_with(rank3), ModelError, 'SVDF', 'node 0', 'rank 3')
    expect_error(svdf_with(not_variable), ModelError, 'not a variable')
    expect_error(svdf_with(no_bias), UnsupportedOpError, 'without bias')
    expect_error(svdf_with(mixed_state), UnsupportedOpError, 'state int8 with time weights int16')
    expect_error(svdf_with(wrong_output), ModelError, 'output shape (1, 3)')
    expect_error(svdf_with(float_input), ModelError, 'float SVDF needs float32 feature weights')



# ---- float32 path: agrees with TFLM's float reference to float32 rounding -------------

def float_lstm_model(seed, batch, steps, n_in, n_cell, time_major=False, cell_clip=0.0):
    from tflite_builder import ModelBuilder
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    shape = (steps, batch, n_in) if time_major else (batch, steps, n_in)
    x = b.tensor('float32', shape, name='x')
    ins = [x]
    for k in range(8):
        cols = n_in if k < 4 else n_cell
        ins.append(b.const('float32', (n_cell, cols), rng.normal(0, 0.5, (n_cell, cols))))
    ins += [-1, -1, -1]
    ins += [b.const('float32', (n_cell,), rng.normal(0, 0.3, n_cell)) for _ in range(4)]
    ins += [-1, -1]
    ins += [b.tensor('float32', (batch, n_cell), variable=True),
            b.tensor('float32', (batch, n_cell), variable=True), -1, -1, -1, -1]
    y = b.tensor('float32', shape[:2] + (n_cell,), name='y')
    b.op('UNIDIRECTIONAL_SEQUENCE_LSTM', ins, [y], fused_activation_function='TANH',
         cell_clip=cell_clip, proj_clip=0.0, time_major=time_major,
         asymmetric_quantize_inputs=False)
    return b.build(inputs=[x], outputs=[y]), shape


def float_svdf_model(seed, batch, n_in, n_filter, n_memory, rank, activation):
    from tflite_builder import ModelBuilder
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    x = b.tensor('float32', (batch, n_in), name='x')
    wf = b.const('float32', (n_filter, n_in), rng.normal(0, 0.5, (n_filter, n_in)))
    wt = b.const('float32', (n_filter, n_memory), rng.normal(0, 0.5, (n_filter, n_memory)))
    bias = b.const('float32', (n_filter // rank,), rng.normal(0, 0.5, n_filter // rank))
    st = b.tensor('float32', (batch, n_filter * n_memory), variable=True)
    y = b.tensor('float32', (batch, n_filter // rank), name='y')
    b.op('SVDF', [x, wf, wt, bias, st], [y], rank=rank, fused_activation_function=activation,
         asymmetric_quantize_inputs=False)
    return b.build(inputs=[x], outputs=[y]), (batch, n_in)


def tflm_outputs(buf, xs):
    """Plain TFLM runs of a one-op model (its kPreserveAllTensors mode crashes on float
    SVDF): [input, output] per invoke, states left out."""
    from tflite_micro.python.tflite_micro import runtime
    it = runtime.Interpreter.from_bytes(buf)
    traces = []
    for x in xs:
        it.set_input(x, 0)
        it.invoke()
        traces.append([x.reshape(-1).tolist(), np.array(it.get_output(0)).reshape(-1).tolist()])
    return traces


def compare_float_with_tflm(buf, shape, seed, mp=None, tmp_path=None):
    rng = np.random.default_rng(seed)
    xs = [rng.uniform(-2, 2, shape).astype(np.float32) for _ in range(3)]
    carried = tflm_outputs(buf, xs)
    fresh = tflm_outputs(buf, xs[2:])
    steps = [(t[0], False) for t in carried] + [(fresh[0][0], True)]
    got = tinyml_traces(buf, steps, mp, tmp_path)
    want = carried + fresh
    assert len(got) == len(want) == 4
    for step, (w, g) in enumerate(zip(want, got)):
        np.testing.assert_allclose(g[0], w[1], rtol=2e-5, atol=2e-6,
                                   err_msg='invoke %d output' % step)
    assert not np.allclose(got[2][0], got[3][0], rtol=1e-3)


FLOAT_LSTM_CASES = {
    'batch_major_b2': dict(batch=2, steps=4, n_in=5, n_cell=3),
    'time_major_b2_clip': dict(batch=2, steps=3, n_in=4, n_cell=6, time_major=True,
                               cell_clip=0.7),
}


@pytest.mark.parametrize('case', sorted(FLOAT_LSTM_CASES))
def test_float_lstm_close_to_tflm(case):
    buf, shape = float_lstm_model(21, **FLOAT_LSTM_CASES[case])
    compare_float_with_tflm(buf, shape, 21)


FLOAT_SVDF_CASES = {
    'relu_rank2_b2': dict(batch=2, n_in=6, n_filter=8, n_memory=3, rank=2, activation='RELU'),
    'none_rank1': dict(batch=1, n_in=5, n_filter=4, n_memory=4, rank=1, activation='NONE'),
    'tanh_rank1': dict(batch=1, n_in=5, n_filter=6, n_memory=2, rank=1, activation='TANH'),
    'relu6_rank3': dict(batch=1, n_in=3, n_filter=6, n_memory=5, rank=3, activation='RELU6'),
}


@pytest.mark.parametrize('case', sorted(FLOAT_SVDF_CASES))
def test_float_svdf_close_to_tflm(case):
    buf, shape = float_svdf_model(22, **FLOAT_SVDF_CASES[case])
    compare_float_with_tflm(buf, shape, 22)


def test_float_lstm_and_svdf_on_unix_port(mp, tmp_path):
    buf, shape = float_lstm_model(23, **FLOAT_LSTM_CASES['time_major_b2_clip'])
    compare_float_with_tflm(buf, shape, 23, mp, tmp_path)
    buf, shape = float_svdf_model(24, **FLOAT_SVDF_CASES['relu_rank2_b2'])
    compare_float_with_tflm(buf, shape, 24, mp, tmp_path)


@pytest.mark.parametrize('name', ['mnist_lstm_int8', 'micro_speech_lstm',
                                  'dtln_noise_suppression'])
def test_corpus_real_inputs_match_tflm(name):
    """The real recordings/images of the corpus, each from reset: TFLM's bytes, and for
    the classifiers the labelled class wins."""
    import tinyml
    path = zoo_path(name)
    real = model_zoo() / (name + '_real.npz')
    if not real.exists():
        pytest.skip('no real inputs for %s' % name)
    ref = np.load(str(real))
    m = tinyml.load(str(path))
    for s in range(ref['input_0'].shape[0]):
        m.reset()
        m.set_input(0, ref['input_0'][s].tobytes())
        m.invoke()
        got = bytes(m.outputs[0].raw)
        assert got == ref['output_0'][s].tobytes(), '%s real sample %d' % (name, s)
    if name == 'mnist_lstm_int8':   # sampleN.png is digit N
        for s in range(10):
            m.reset()
            m.set_input(0, ref['input_0'][s].tobytes())
            m.invoke()
            assert int(np.argmax(np.frombuffer(bytes(m.outputs[0].raw), np.int8))) == s


# ---- kernel helpers ---------------------------------------------------------------------

REQUANT_CHECK = r'''
from tinyml import quant
from tinyml.kernels.python_rnn import requant


def requant_mismatches(seed, count):
    state = seed
    bad = []
    for i in range(count):
        state = (state * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
        acc = (state >> 11) % (1 << 36) - (1 << 35)          # beyond int32: must wrap
        if i % 3 == 0:
            acc = (state >> 20) % 65536 - 32768
        mult = (1 << 30) + (state >> 7) % (1 << 30)
        shift = (state >> 40) % 40 - 31
        if i % 5 == 0:
            shift = (state >> 45) % 4
        want = quant.multiply_by_quantized_multiplier(quant.wrap32(acc), mult, shift)
        if requant(acc, mult, shift) != want:
            bad.append((acc, mult, shift))
    return bad
'''


def test_requant_equals_quant_mbqm(mp):
    scope = {}
    exec(REQUANT_CHECK, scope)
    assert scope['requant_mismatches'](1, 20000) == []
    code = REQUANT_CHECK + '\nimport json\nprint(json.dumps(requant_mismatches(2, 3000)))\n'
    assert mp.json(code) == []


NO_ALLOC = r'''
import gc, tinyml
from tinyml.ops import lstm, svdf, step_run

binds = []
for mod in (lstm, svdf):
    def bind(self, scratch, orig=mod.Plan.bind):
        run = orig(self, scratch)
        binds.append(run)
        return run
    mod.Plan.bind = bind


def same_step(s, b):
    return s is b or (isinstance(s, tuple) and isinstance(b, tuple) and s[0] is b[0] and
                      s[1] is b[1])


def rnn_alloc(path):
    """Heap bytes the model's LSTM/SVDF runs allocate in one invoke (after a first one)."""
    del binds[:]
    m = tinyml.load(path)
    m.invoke()
    # the model's own steps of those binds: a kernel step (fn, out, a, b, p) as Model
    # completes it (kernel scratch appended) is what run_steps calls
    runs = [step_run(s) for s in m._steps if any(same_step(s, b) for b in binds)]
    gc.collect()
    gc.disable()
    total = 0
    for run in runs:
        before = gc.mem_alloc()
        run()
        total += gc.mem_alloc() - before
    gc.enable()
    return [len(runs), total]
'''


@pytest.mark.parametrize('name', ['mnist_lstm_int8', 'dtln_noise_suppression',
                                  'keyword_scrambled', 'keyword_scrambled_8bit'])
def test_integer_runs_allocate_nothing_on_unix_port(mp, name):
    """64-bit unix port: every intermediate fits a small int, so an invoke of the integer
    LSTM/SVDF kernels allocates no heap at all (no slices, tuples or bound methods)."""
    path = zoo_path(name)
    count, total = mp.json(NO_ALLOC + '\nimport json\nprint(json.dumps(rnn_alloc(%r)))\n'
                           % str(path))
    assert count >= 1
    assert total == 0
