"""Fully connected layers with weights packed at load (native backend).

A layer whose quads stream (native_modules/src/quads.h) fits 4 KB is packed once by
`pack_weights(fn, p, w)` into int16 weights scaled for requantization in registers, and runs
as `fully_connected_s8_packed` (Cortex-M4/M7: tk_quads_dsp; x64: SSE2). The outputs must equal
the python kernel's, byte for byte, on every arch; layers the stream cannot hold (too large, or
a requantization the scaled accumulators would overflow) keep the plain kernel.
"""
import pathlib
import random
import subprocess
import sys
from array import array

import pytest

from conftest import model_zoo

ROOT = pathlib.Path(__file__).resolve().parent.parent
NATIVE = ROOT / "native_modules"
sys.path.insert(0, str(NATIVE / "harness"))

import cases as C  # noqa: E402
import qemu as Q  # noqa: E402
from tinyml.kernels import python as K  # noqa: E402

DIGITS = ROOT / 'examples' / 'digits' / 'digits_int8.tflite'


def fc_p(batches, n_in, n_out, bias, mults, shifts, act=(-128, 127), in_off=3, out_off=-5):
    return array('i', [batches, n_in, n_out, in_off, out_off, act[0], act[1]] + list(bias)
                 + list(mults) + list(shifts))


def packed_cases(rng):
    """Shapes around the quads (outputs 1..13, K % 4 = 0..3, batches), clamped and full
    activation ranges, every shift the stream takes (-31..7; below -21 only with output
    offset 0) with biases inside and at the edge of what it takes, multipliers 0, 1, 2**30,
    2**31 - 1, and layers just inside and just over the 4 KB stream."""
    cases = []
    shapes = [(1, 64, 12), (1, 1, 16), (1, 16, 1), (2, 67, 10), (3, 8, 4), (1, 203, 5),
              (4, 5, 13), (1, 30, 7), (2, 2, 3), (1, 160, 12), (1, 161, 12), (1, 1000, 1)]
    for batches, n_in, n_out in shapes:
        for wide in (0, 1, 0):
            c = C.fc_case(rng, 'fully_connected_s8_packed', shape=(batches, n_in, n_out))
            if wide:
                c.p[4] = 0
            for o in range(n_out):
                s = rng.randint(-31 if wide else -21, 7)
                c.p[7 + 2 * n_out + o] = s
                c.p[7 + n_out + o] = rng.choice([0, 1, 1 << 30, (1 << 31) - 1,
                                                 rng.randint(1 << 30, (1 << 31) - 1)])
                limit = min((1 << (30 - s)) - n_in * 383 * 128 if s >= 0 else 1 << 28,
                            1 << 28) - 1
                edge = rng.random() < 0.3
                b = limit if edge else rng.randint(0, max(limit, 0))
                c.p[7 + o] = max(b, 0) * rng.choice((1, -1))
            cases.append(c)
    return cases


def packed_edge_case(rng, shifts, out_offset):
    """requant_edge_case (cases.py) within what the stream takes: one input, so each
    accumulator is a bias (small, halfway points of multiplier 2**30, or spread as wide as
    the shift allows) plus one product, every shift meeting multipliers 0, 1, 2**30 and
    2**31 - 1."""
    n_out = 4 * len(shifts)
    sh = [shifts[i // 4] for i in range(n_out)]
    bias = []
    for s in sh:
        limit = min((1 << (30 - s)) - 383 * 128 if s >= 0 else 1 << 28, 1 << 28) - 1
        r = rng.random()
        if r < 0.3:
            bias.append(rng.randint(-limit, limit))
        elif r < 0.6:
            bias.append(rng.randint(-300, 300))
        else:
            e = rng.randint(0, 26 if s < 0 else 22 - s)
            bias.append(rng.choice([-1, 0, 1, 1 - (1 << e), (1 << e) - 1, 3 * (1 << e) - 1]))
    mults = [[0, 1, 1 << 30, (1 << 31) - 1][i % 4] for i in range(n_out)]
    mults = [m if rng.random() < 0.5 else rng.randint(0, (1 << 31) - 1) for m in mults]
    batches = 3
    p = fc_p(batches, 1, n_out, bias, mults, sh, in_off=-rng.randint(-128, 127),
             out_off=out_offset)
    w = array('b', [0 if rng.random() < 0.5 else rng.randint(-128, 127) for _ in range(n_out)])
    x = array('b', [rng.randint(-128, 127) for _ in range(batches)])
    return C.Case('fully_connected_s8_packed', batches * n_out, 'b', x, w, p)


def all_cases():
    rng = random.Random(11)
    return packed_cases(rng) + [packed_edge_case(rng, range(-21, 8), rng.randint(-128, 127))
                                for _ in range(6)] + \
        [packed_edge_case(rng, range(-31, 4), 0) for _ in range(4)]


def test_packed_cases_match_python_on_the_host_build(tmp_path):
    """The x64 build (ASan + UBSan): packing and the SSE2 walk."""
    subprocess.run(["make", "-s", "-C", str(NATIVE), "harness-host"], check=True)
    cases = all_cases()
    outs = C.run_host(cases, tmp_path)
    bad = [i for i, (c, o) in enumerate(zip(cases, outs)) if list(o) != list(C.expected(c, K))]
    assert not bad, "cases %s differ" % bad[:10]


@pytest.mark.skipif(Q.missing_tools() is not None, reason="QEMU: %s" % Q.missing_tools())
@pytest.mark.parametrize("cpu", sorted(Q.MACHINES))
def test_packed_cases_match_python_under_qemu(tmp_path, cpu):
    """Cortex-M4/M7 walk the stream in assembler; M0 and M3 have no stream and run the plain
    kernel (the harness packs exactly as the model does at load)."""
    Q.build()
    cases = all_cases()
    outs = Q.run_cases(cpu, cases, tmp_path)
    bad = [i for i, (c, o) in enumerate(zip(cases, outs)) if list(o) != list(C.expected(c, K))]
    assert not bad, "%s: cases %s differ" % (cpu, bad[:10])


PACK = r'''
import tinyml_kernels as N
from array import array
P = %r
out = []
for b, n_in, n_out, bias, mults, shifts, act in P:
    p = array('i', [b, n_in, n_out, 3, -5, act[0], act[1]] + bias + mults + shifts)
    w = array('b', [(i * 37) %% 251 - 125 for i in range(n_in * n_out)])
    x = array('b', [(i * 11) %% 253 - 126 for i in range(b * n_in)])
    r = N.pack_weights(N.fully_connected_s8, p, w)
    plain = array('b', bytes(b * n_out))
    N.fully_connected_s8(plain, x, w, p)
    got = None
    if r is not None:
        fn, stream = r
        got = array('b', bytes(b * n_out))
        fn(got, x, stream, p, bytearray(N.scratch_bytes(fn, p)))
        got = list(got)
    out.append([r is not None and r[0] is N.fully_connected_s8_packed,
                len(r[1]) if r else 0, list(plain), got])
print(out)
'''


def test_pack_weights_takes_small_layers_only(mp):
    base = ([100] * 12, [1 << 30] * 12, [-8] * 12)
    layers = [
        (1, 64, 12) + base + ((-128, 127),),                 # KWS's last layer: packed
        (2, 64, 12) + base + ((-20, 90),),                   # clamped, two rows: packed
        (1, 161, 12) + base + ((-128, 127),),                # stream 4176 bytes: too large
        (1, 64, 12, [1 << 28] * 12, [1 << 30] * 12, [-8] * 12, (-128, 127)),  # bias too wide
        (1, 64, 12, [100] * 12, [1 << 30] * 12, [8] * 12, (-128, 127)),       # shift 8
    ]
    r = eval(mp(PACK % ([list(x[:3]) + [list(v) for v in x[3:6]] + [list(x[6])]
                         for x in layers],)))
    assert [x[0] for x in r] == [True, True, False, False, False]
    assert r[0][1] == 4 * 3 * (20 + 2 * 64) == 1776
    for i, (packed, _, plain, got) in enumerate(r):
        b, n_in, n_out, bias, mults, shifts, act = layers[i]
        p = fc_p(b, n_in, n_out, bias, mults, shifts, act)
        w = array('b', [(j * 37) % 251 - 125 for j in range(n_in * n_out)])
        x = array('b', [(j * 11) % 253 - 126 for j in range(b * n_in)])
        want = list(C.expected(C.Case('fully_connected_s8', b * n_out, 'b', x, w, p), K))
        assert plain == want
        if packed:
            assert got == want


REFUSE = r'''
import tinyml_kernels as N
from array import array
def message(f, *args):
    try:
        f(*args)
    except ValueError as e:
        return str(e)
    return 'accepted'
p = array('i', [1, 64, 12, 3, -5, -128, 127] + [100] * 12 + [1 << 30] * 12 + [-8] * 12)
w, x, out = bytes(768), bytes(64), bytearray(12)
fn, s = N.pack_weights(N.fully_connected_s8, p, w)
big = array('i', [1, 161, 12, 3, -5, -128, 127] + [100] * 12 + [1 << 30] * 12 + [-8] * 12)
fn(out, x, s, p)
r = [message(N.pack_weights, N.fully_connected_s8, p, bytes(767)),
     message(fn, out, x, memoryview(s)[:-4], p),
     message(fn, out, x, memoryview(bytearray(len(s) + 4))[1:len(s) + 1], p),
     message(fn, out, bytes(161), bytes(4176), big),
     message(fn, bytearray(11), x, s, p),
     message(fn, out, bytes(63), s, p),
     message(fn, out, x, s, p, bytearray(8)),
     N.pack_weights(N.conv_s8, p, w) is None]
print(r)
'''


def test_packed_kernel_refuses_what_it_cannot_run(mp):
    r = eval(mp(REFUSE))
    assert r[0] == 'weights shorter than p says'
    assert r[1] == 'packed weights shorter than p says'
    assert r[2] == 'packed weights not 4-byte aligned'
    assert r[3] == 'layer has no packed weights on this arch'
    assert r[4] and r[5] and r[4] != 'accepted' and r[5] != 'accepted'
    assert r[6] == 'scratch shorter than the kernel needs'
    assert r[7] is True


MODEL = r'''
import json
from tinyml import model as M
import tinyml_kernels as TK
m = M.load(PATH)
names = {}
for k in dir(TK):
    names[id(getattr(TK, k))] = k
print(json.dumps({'packed': m.packed_weights_bytes,
                  'fns': [names.get(id(s[0])) for s in m._steps if isinstance(s, tuple)]}))
'''


def test_model_packs_its_small_fc_layers_at_load(mp):
    r = mp.json('PATH = %r\n' % str(DIGITS) + MODEL)
    assert r['fns'].count('fully_connected_s8_packed') >= 1 and r['packed'] > 0
    r_py = mp.json("import json, tinyml\ntinyml.use_backend('python')\n"
                   "print(json.dumps(tinyml.load(%r).packed_weights_bytes))" % str(DIGITS))
    assert r_py == 0


def test_kws_last_layer_is_packed(mp):
    zoo = model_zoo()
    if zoo is None:
        pytest.skip('TINYML_MODEL_ZOO not set')
    r = mp.json('PATH = %r\n' % str(zoo / 'kws_ref_model.tflite') + MODEL)
    assert r['packed'] == 1776      # 64 -> 12: three quads of (4 + 16 * 8 + 16) words
    assert r['fns'].count('fully_connected_s8_packed') == 1


@pytest.mark.skipif(Q.missing_tools() is not None, reason="QEMU: %s" % Q.missing_tools())
def test_kws_last_layer_instructions_per_mac(tmp_path):
    """KWS's 64 -> 12 layer as Model runs it (packed at load): at most 1.2 instructions per
    MAC on Cortex-M4 (2.40 with int8 weights widened per call)."""
    import perf
    Q.build()
    label = 'fully connected, KWS 64 -> 12'
    (_, n, macs), = perf.per_mac("cortex-m4", "opt", tmp_path, [label])
    assert n / macs <= 1.2, n / macs
