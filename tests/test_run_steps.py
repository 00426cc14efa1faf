"""Native run_steps: Model.invoke walks the op steps in C on the native backend.

A step is a kernel step (fn, out, a, b, p[, scratch]) or a zero-argument callable. run_steps must give
the same bytes as the Python loop over Model._runs, let kernel exceptions through unchanged,
and refuse malformed steps with TypeError/ValueError (never crash)."""
import pathlib

import pytest

from conftest import model_zoo

ROOT = pathlib.Path(__file__).resolve().parent.parent
DIGITS = ROOT / 'examples' / 'digits' / 'digits_int8.tflite'
CORPUS = ('hello_world_int8', 'hello_world_float', 'audio_preprocessor_int8',
          'audio_preprocessor_float', 'keyword_scrambled', 'micro_speech_quantized')

# Two instances of the model, fed the same pseudo-random inputs: one invoked by run_steps,
# one by the Python loop over _runs; output bytes compared after each of 3 invokes (the
# stateful models carry state from one invoke to the next).
SAME_AS_LOOP = r'''
import json
from tinyml import model as M
import tinyml.kernels as K

def fill(m, seed):
    for t in m.inputs:
        b = bytearray(t.nbytes)
        for i in range(len(b)):
            seed = (seed * 1103515245 + 12345) & 0x7fffffff
            b[i] = (seed >> 16) & 0xff
        if t.dtype == 'float32':
            for i in range(3, len(b), 4):
                b[i] = 0x3f if b[i] & 1 else 0xbf     # finite values in [-2, 2]
        t.raw[:] = b
    return seed

fast = M.load(PATH)
slow = M.load(PATH)
assert fast._run_steps is not None, 'native backend without run_steps'
slow._run_steps = None
same = []
seed = 7
for k in range(3):
    fill(fast, seed)
    seed = fill(slow, seed)
    fast.invoke()
    slow.invoke()
    same.append([bytes(a.raw) == bytes(b.raw) for a, b in zip(fast.outputs, slow.outputs)])
kernel_steps = sum(1 for s in fast._steps if isinstance(s, tuple))
bound_ops = sum(1 for op in fast.graph.ops if op.name not in ('RESHAPE', 'SQUEEZE', 'EXPAND_DIMS'))
print(json.dumps({'backend': K.backend, 'same': same, 'kernel_steps': kernel_steps,
                  'steps': len(fast._steps), 'runs': len(fast._runs), 'bound_ops': bound_ops,
                  'callables': [type(s).__name__ for s in fast._steps if not isinstance(s, tuple)]}))
'''


def _same_as_loop(mp, path):
    r = mp.json('PATH = %r\n' % str(path) + SAME_AS_LOOP)
    assert r['backend'] == 'native'
    assert r['runs'] == r['bound_ops']          # one run() per op, whatever its step count
    assert r['steps'] >= r['runs']              # ops of several kernel calls: several steps
    assert r['kernel_steps'] > 0
    assert r['same'] == [[True] * len(r['same'][0])] * 3
    return r


def test_digits_same_as_python_loop(mp):
    r = _same_as_loop(mp, DIGITS)
    assert r['kernel_steps'] < r['steps']        # SHAPE, STRIDED_SLICE, PACK: run() callables


@pytest.mark.parametrize('name', CORPUS)
def test_corpus_same_as_python_loop(mp, name):
    zoo = model_zoo()
    if zoo is None:
        pytest.skip('TINYML_MODEL_ZOO not set')
    r = _same_as_loop(mp, zoo / (name + '.tflite'))
    if name.startswith('audio_preprocessor'):
        # every op is kernel steps: SignalFilterBank, SpectralSubtraction and CONCATENATION
        # (three source tensors) are several
        assert r['callables'] == []
        assert r['steps'] == r['runs'] + 4


# A fully_connected_s8 step on 2 inputs -> 1 output; p as ops/fully_connected.py builds it
# is not needed: any p whose checks fail raises the binding's ValueError.
ERRORS = r'''
import json
from array import array
from tinyml_kernels import run_steps, fully_connected_s8

def message(f):
    try:
        f()
    except Exception as e:
        return [type(e).__name__, str(e)]
    return None

out, a, b, p = bytearray(1), bytearray(2), bytearray(2), array('i', [0])
calls = []
steps_ok = ((lambda: calls.append(1)), (lambda: calls.append(2)))
r = {
    'order': [run_steps(steps_ok), list(calls)],
    'direct': message(lambda: fully_connected_s8(out, a, b, p)),
    'kernel': message(lambda: run_steps(((fully_connected_s8, out, a, b, p),))),
    'after': message(lambda: run_steps(((lambda: calls.append(3)),
                                        (fully_connected_s8, out, a, b, p),
                                        (lambda: calls.append(4))))),
    'calls': calls,
    'zero': message(lambda: run_steps(((lambda: 1 // 0),))),
    'list': message(lambda: run_steps([lambda: None])),
    'none': message(lambda: run_steps(None)),
    'short': message(lambda: run_steps(((fully_connected_s8, out, a, b),))),
    'long': message(lambda: run_steps(((fully_connected_s8, out, a, b, p, p, p),))),
    'empty': message(lambda: run_steps(((),))),
    'not_callable': message(lambda: run_steps((5,))),
    'fn_not_callable': message(lambda: run_steps(((5, out, a, b, p),))),
    'nothing': message(lambda: run_steps(())),
}
print(json.dumps(r))
'''


@pytest.fixture(scope='module')
def errors(mp):
    return mp.json(ERRORS)


def test_steps_run_in_order(errors):
    assert errors['order'] == [None, [1, 2]]
    assert errors['nothing'] is None


def test_kernel_exception_propagates_unchanged(errors):
    assert errors['direct'][0] == 'ValueError'
    assert errors['kernel'] == errors['direct']
    assert errors['after'] == errors['direct']
    assert errors['calls'] == [1, 2, 3]          # the steps after the failing one do not run
    assert errors['zero'][0] == 'ZeroDivisionError'


def test_malformed_steps_are_refused(errors):
    assert errors['list'][0] == 'TypeError'
    assert errors['none'][0] == 'TypeError'
    for key in ('short', 'long', 'empty'):
        assert errors[key] == ['ValueError', 'a kernel step is (fn, out, a, b, p[, scratch])'], key
    assert errors['not_callable'][0] == 'TypeError'
    assert errors['fn_not_callable'][0] == 'TypeError'


def test_cpython_model_keeps_runs_and_python_loop():
    """Without native kernels Model.invoke is the loop over _runs (all callables), and a
    KernelStep bind called directly still returns run()."""
    from tinyml import model as M
    from tinyml.ops import KernelStep
    m = M.load(str(DIGITS))
    assert m._run_steps is None
    assert len(m._runs) == len(m._steps) and all(callable(r) for r in m._runs)
    kernel_steps = [s for s in m._steps if isinstance(s, tuple)]
    assert kernel_steps and all(len(s) == 5 for s in kernel_steps)
    assert all(callable(s) for s in m._steps if not isinstance(s, tuple))
    n = m.inputs[0].nbytes
    image = (bytes(range(256)) * (n // 256 + 1))[:n]
    m.set_input(0, image)
    m.invoke()
    want = bytes(m.outputs[0].raw)
    m.set_input(0, image)     # the arena may reuse the input's bytes
    m.outputs[0].raw[:] = bytes(len(want))
    for run in m._runs:
        run()
    assert bytes(m.outputs[0].raw) == want
    calls = []
    bind = KernelStep(lambda scratch: (lambda *args: calls.append(args), 1, 2, 3, scratch))
    bind('s')()
    assert calls == [(1, 2, 3, 's')]


def test_kernel_step_list_runs_in_order_and_flattens():
    """A KernelStep whose make returns a list: called as a bind it gives one run() doing every
    step in order (kernel steps and callables), an exception stops it; Model splices the list
    into _steps."""
    from tinyml import model as M
    from tinyml.ops import KernelStep
    calls = []

    def fn(out, a, b, p):
        calls.append((out, a, b, p))

    def boom():
        raise ZeroDivisionError('step 2')
    run = KernelStep(lambda scratch: [(fn, 1, 2, None, scratch), lambda: calls.append('c'),
                                      (fn, 3, 4, 5, scratch)])('s')
    run()
    assert calls == [(1, 2, None, 's'), 'c', (3, 4, 5, 's')]
    del calls[:]
    failing = KernelStep(lambda scratch: [(fn, 1, 2, 3, 4), boom, (fn, 5, 6, 7, 8)])(None)
    with pytest.raises(ZeroDivisionError):
        failing()
    assert calls == [(1, 2, 3, 4)]
    single = (fn, 1, 2, 3, 4)
    assert M._flatten([single, [single, boom], boom]) == [single, single, boom, boom]
