"""Native kernel scratch, held by the model.

The native conv, depthwise, fully connected and whole-op LSTM/SVDF kernels need scratch (im2col
columns, unpacked filters, requantization tables). Model asks the backend how much
(`scratch_bytes(fn, p)`), allocates one buffer of the largest request beside the arena at load,
and hands it to every kernel step as (fn, out, a, b, p, scratch): invoking a loaded model
allocates no kernel memory. The binding checks a scratch it is given (length, alignment,
overlap with the call's output and input); without one it falls back to the module's own
buffer."""
import pathlib

import pytest

from conftest import model_zoo

ROOT = pathlib.Path(__file__).resolve().parent.parent
DIGITS = ROOT / 'examples' / 'digits' / 'digits_int8.tflite'

HELD = r'''
import json, uctypes
from tinyml import model as M
import tinyml_kernels as TK

m = M.load(PATH)
m.invoke()
m.invoke()
names = {}
for k in dir(TK):
    names[id(getattr(TK, k))] = k
held = uctypes.addressof(m._kernel_scratch)
regions = []
kernels = []
for s in m._steps:
    if isinstance(s, tuple):
        kernels.append([names.get(id(s[0])), TK.scratch_bytes(s[0], s[4])])
        if len(s) == 6:
            regions.append([uctypes.addressof(s[5]) - held, len(s[5])])
print(json.dumps({'held': m.kernel_scratch_bytes, 'kernels': kernels, 'regions': regions,
                  'module_scratch': TK._scratch[0] is not None}))
'''


def _held(mp, path):
    r = mp.json('PATH = %r\n' % str(path) + HELD)
    need = [n for _, n in r['kernels'] if n]
    assert need, 'no kernel of this model asks for scratch'
    assert len(r['regions']) == len(need)       # every kernel that needs scratch gets it
    # one buffer, the model's, as large as the largest need
    assert all(reg == [0, max(need)] for reg in r['regions'])
    assert r['held'] == max(need)
    assert not r['module_scratch']              # the module's own buffer never made
    return r


def test_digits_kernels_share_the_models_scratch(mp):
    r = _held(mp, DIGITS)
    # its FC layers are small enough to run from weights packed at load
    assert {k for k, n in r['kernels'] if n} == {'conv_s8', 'fully_connected_s8_packed'}


@pytest.mark.parametrize('name, kernel', [('person_detect', 'conv_s8'),
                                          ('micro_speech_lstm', 'lstm_int'),
                                          ('keyword_scrambled', 'svdf_int')])
def test_corpus_kernels_share_the_models_scratch(mp, name, kernel):
    zoo = model_zoo()
    if zoo is None:
        pytest.skip('TINYML_MODEL_ZOO not set')
    r = _held(mp, zoo / (name + '.tflite'))
    assert kernel in {k for k, n in r['kernels'] if n}


# Each kernel step of the digits model called three ways: with the module's buffer, with a
# fresh scratch of exactly scratch_bytes, and with that scratch filled with garbage: the
# same output bytes. Then the binding's refusals.
CALLS = r'''
import json
from array import array
from tinyml import model as M
import tinyml_kernels as TK

def message(f):
    try:
        f()
    except Exception as e:
        return [type(e).__name__, str(e)]
    return None

m = M.load(PATH)
x = m.inputs[0].raw
for i in range(len(x)):
    x[i] = (i * 37) & 0xFF
same = []
for s in m._steps:
    if not isinstance(s, tuple) or len(s) != 6:
        if isinstance(s, tuple):
            s[0](*s[1:])
        else:
            s()
        continue
    fn, out, a, b, p, _ = s
    n = TK.scratch_bytes(fn, p)
    fn(out, a, b, p)
    want = bytes(out)
    TK._scratch[0] = None
    fresh = bytearray(n)
    fn(out, a, b, p, fresh)
    got = bytes(out)
    dirty = bytearray(b'\xa5' * n)
    fn(out, a, b, p, dirty)
    same.append([got == want, bytes(out) == want, TK._scratch[0] is None])
fn, out, a, b, p, _ = [s for s in m._steps if isinstance(s, tuple) and len(s) == 6][0]
n = TK.scratch_bytes(fn, p)
wide = bytearray(n + 16)
r = {
    'same': same,
    'short': message(lambda: fn(out, a, b, p, bytearray(n - 1))),
    'misaligned': message(lambda: fn(out, a, b, p, memoryview(wide)[1:])),
    'read_only': message(lambda: fn(out, a, b, p, bytes(n))),
    'overlaps_out': message(lambda: fn(out, a, b, p, out)),
    'not_buffer': message(lambda: fn(out, a, b, p, 5)),
    'bad_p': message(lambda: TK.scratch_bytes(fn, array('i', [1, 2]))),
    'no_scratch_kernel': TK.scratch_bytes(TK.softmax_s8, p),
    'python_fn': TK.scratch_bytes(len, p),
}
print(json.dumps(r))
'''


@pytest.fixture(scope='module')
def calls(mp):
    return mp.json('PATH = %r\n' % str(DIGITS) + CALLS)


def test_given_scratch_gives_the_same_bytes(calls):
    assert len(calls['same']) == 3              # conv, conv, fully connected
    assert calls['same'] == [[True, True, True]] * 3


def test_bad_scratch_is_refused(calls):
    assert calls['short'] == ['ValueError', 'scratch shorter than the kernel needs']
    assert calls['misaligned'] == ['ValueError', 'scratch not 8-byte aligned']
    assert calls['overlaps_out'] == ['ValueError', 'scratch overlaps an operand']
    assert calls['read_only'][0] == 'TypeError'
    assert calls['not_buffer'][0] == 'TypeError'


def test_scratch_bytes_checks_p(calls):
    assert calls['bad_p'] == ['ValueError', 'p too short']
    assert calls['no_scratch_kernel'] == 0
    assert calls['python_fn'] == 0


ARENAS = r'''
import json
from tinyml import model as M
out = {}
for name in NAMES:
    m = M.load(ZOO + '/' + name + '.tflite')
    out[name] = [m.arena_bytes, m.kernel_scratch_bytes]
print(json.dumps(out))
'''


def test_corpus_arena_with_kernel_scratch_within_tflm_arena(mp):
    """With the native kernels' scratch added, the arena of every corpus model on the unix
    port stays within TFLM's smallest arena for that model (catalog.json: tflm_min_arena,
    which holds TFLM's scratch buffers and its persistent op data). The scratch itself stays
    small: single fully connected rows are widened in chunks, whatever their depth."""
    import json
    zoo = model_zoo()
    if zoo is None:
        pytest.skip('TINYML_MODEL_ZOO not set')
    catalog = {m['name']: m for m in json.loads((zoo / 'catalog.json').read_text())['models']}
    names = sorted(n for n in catalog if catalog[n].get('tflm_min_arena'))
    got = mp.json('NAMES = %r\nZOO = %r\n' % (names, str(zoo)) + ARENAS, heapsize=64 << 20)
    over = {}
    for name in names:
        arena, scratch = got[name]
        assert scratch <= 16 * 1024, (name, scratch)
        if arena + scratch > catalog[name]['tflm_min_arena']:
            over[name] = (arena, scratch, catalog[name]['tflm_min_arena'])
    assert not over, over
