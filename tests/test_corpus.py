"""Every corpus model, every reference sample: tinyml output == TFLM output.

Integer outputs must match byte for byte; float32 outputs within 1e-5 relative (of the output's
magnitude). Each sample runs after m.reset(), as the references were made. The unix port runs
one process per model and backend, inputs and outputs passing through temp files.
Models too slow for the pure-Python backends are marked slow (run with TINYML_SLOW=1).
"""
import json
import os
import subprocess
import time

import numpy as np
import pytest

from conftest import DEVICE, NATIVE_BUILD, corpus_models, micropython_binary, model_zoo
import tinyml
from tinyml import kernels

# Measured on the python backend (CPython, x86-64 host, shared cores): mobilenet_v2 224x224
# 269 s per sample (x4 samples); pretrainedResnet_large_int8 19 s per sample. Everything else
# is under 5 s per sample.
SLOW = {'mobilenet_v2_quantized_1x3x224x224': ('python', 'viper'),
        'pretrainedResnet_large_int8': ('python', 'viper')}
RUN_SLOW = bool(os.environ.get('TINYML_SLOW'))


def _micropython_backends():
    exe = micropython_binary()
    if not exe:
        return []
    env = dict(os.environ, MICROPYPATH=':'.join([str(DEVICE), str(NATIVE_BUILD)]))
    try:
        out = subprocess.run([exe, '-c', 'from tinyml import kernels; print(" ".join('
                              'kernels.available()))'], capture_output=True, text=True,
                             timeout=60, env=env).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return ['python']
    return out or ['python']


def _params(backends):
    out = []
    for name in corpus_models():
        for backend in backends:
            marks = []
            if backend in SLOW.get(name, ()):
                marks = [pytest.mark.slow,
                         pytest.mark.skipif(not RUN_SLOW, reason='slow: set TINYML_SLOW=1')]
            out.append(pytest.param(name, backend, marks=marks, id='%s-%s' % (name, backend)))
    return out


def _reference(name):
    ref = np.load(model_zoo() / (name + '.npz'), allow_pickle=False)
    inputs = sorted(k for k in ref.files if k.startswith('input_'))
    outputs = sorted(k for k in ref.files if k.startswith('output_'))
    samples = ref[inputs[0]].shape[0]
    return ref, inputs, outputs, samples


def _compare(got_bytes, want, where):
    got = np.frombuffer(got_bytes, dtype=want.dtype).reshape(want.shape)
    if want.dtype.kind == 'f':
        scale = float(np.max(np.abs(want))) or 1.0
        assert np.allclose(got, want, rtol=1e-5, atol=1e-5 * scale), where
    else:
        assert got.tobytes() == want.tobytes(), '%s: %d of %d values differ' % (
            where, int(np.sum(got != want)), want.size)


@pytest.mark.parametrize('name,backend', _params(kernels.available()))
def test_corpus_cpython(name, backend):
    ref, inputs, outputs, samples = _reference(name)
    tinyml.use_backend(backend)
    try:
        m = tinyml.load((model_zoo() / (name + '.tflite')).read_bytes())
        t0 = time.time()
        for s in range(samples):
            m.reset()
            for i, key in enumerate(inputs):
                m.set_input(i, ref[key][s].tobytes())
            m.invoke()
            for i, key in enumerate(outputs):
                _compare(bytes(m.outputs[i].raw), ref[key][s], '%s sample %d %s' % (name, s, key))
        print('%s %s: %.2f s per sample' % (name, backend, (time.time() - t0) / samples))
    finally:
        tinyml.use_backend(kernels.available()[0])


MP_RUNNER = r'''
import json, time, tinyml
tinyml.use_backend(%(backend)r)
m = tinyml.load(%(model)r)
t0 = time.ticks_ms()
for s in range(%(samples)d):
    m.reset()
    for i in range(%(n_in)d):
        f = open('%(dir)s/in_%%d_%%d.bin' %% (s, i), 'rb'); m.set_input(i, f.read()); f.close()
    m.invoke()
    for i in range(%(n_out)d):
        f = open('%(dir)s/out_%%d_%%d.bin' %% (s, i), 'wb'); f.write(bytes(m.outputs[i].raw)); f.close()
print(json.dumps({'ms': time.ticks_diff(time.ticks_ms(), t0), 'backend': tinyml.backend}))
'''


@pytest.mark.parametrize('name,backend', _params(_micropython_backends()))
def test_corpus_micropython(mp, tmp_path, name, backend):
    ref, inputs, outputs, samples = _reference(name)
    for s in range(samples):
        for i, key in enumerate(inputs):
            (tmp_path / ('in_%d_%d.bin' % (s, i))).write_bytes(ref[key][s].tobytes())
    code = MP_RUNNER % dict(backend=backend, model=str(model_zoo() / (name + '.tflite')),
                            samples=samples, n_in=len(inputs), n_out=len(outputs),
                            dir=str(tmp_path))
    result = mp.json(code, heapsize=64 << 20, timeout=3600)
    assert result['backend'] == backend
    for s in range(samples):
        for i, key in enumerate(outputs):
            got = (tmp_path / ('out_%d_%d.bin' % (s, i))).read_bytes()
            _compare(got, ref[key][s], '%s sample %d %s' % (name, s, key))
    print('%s %s (unix port): %.2f s per sample' % (name, backend, result['ms'] / 1000 / samples))


def _two_op_model(extra_op):
    from tflite_builder import ModelBuilder
    b = ModelBuilder()
    x = b.tensor('int8', (1, 8), scale=0.5, zero_point=0)
    r = b.tensor('int8', (2, 4), scale=0.5, zero_point=0)
    y = b.tensor('int8', (2, 4), scale=0.5, zero_point=0)
    b.op('RESHAPE', [x], [r])
    b.op(extra_op, [r], [y], custom=b'\x00\x01')
    return b.build([x], [y])


def test_missing_op_names_op_and_node():
    with pytest.raises(tinyml.UnsupportedOpError,
                       match=r'op TotallyUnknownOp \(node 1\) is not supported'):
        tinyml.load(_two_op_model('TotallyUnknownOp'))


def test_wrong_input_size_is_value_error():
    zoo = model_zoo()
    if zoo is None:
        pytest.skip('TINYML_MODEL_ZOO not set')
    m = tinyml.load((zoo / 'hello_world_int8.tflite').read_bytes())
    with pytest.raises(ValueError, match='takes 1 bytes, got 2'):
        m.set_input(0, b'\x00\x00')


@pytest.mark.parametrize('name', corpus_models())
def test_arena_fits_in_tflm_head(name):
    """Activations + scratch of the full plan (ops prepared) never exceed TFLM's head arena."""
    catalog = json.loads((model_zoo() / 'catalog.json').read_text())
    head = {m['name']: m for m in catalog['models']}[name].get('tflm_arena_head')
    if not head:
        pytest.skip('no TFLM arena figure for %s' % name)
    m = tinyml.load((model_zoo() / (name + '.tflite')).read_bytes())
    assert 0 < m.arena_bytes <= head
    from tinyml import planner
    planner.check(m._buffers.values())   # no two live buffers (scratch included) overlap
