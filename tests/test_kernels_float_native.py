"""Native float32 kernels (native_modules/src/float_kernels.c) on the MicroPython unix port:
conv/depthwise/fully_connected/avgpool/maxpool_f32 against kernels/python.py on random shapes
(float32 sums vs the python kernels' double sums: close within 1e-5 relative), the
QUANTIZE/DEQUANTIZE float kernels equal to ops/quantize.py's python loops, the binding's
length checks, and the float corpus models allocating less per invoke than before."""
import os

import pytest



@pytest.fixture(scope="module")
def native(mp):
    ok = mp("""
try:
    import tinyml_kernels
    print(hasattr(tinyml_kernels, 'conv_f32'))
except ImportError:
    print(False)
""").strip().splitlines()[-1]
    if ok != "True":
        pytest.skip("x64 tinyml_kernels.mpy with the float kernels not built (make -C native_modules)")
    return mp


COMMON = r"""
import json, random
from array import array
import tinyml_kernels as N
from tinyml.kernels import python as K
random.seed(%d)

def rnd(n, lo=-1.0, hi=1.0):
    return array('f', [random.uniform(lo, hi) for _ in range(n)])

def zeros(n):
    return array('f', bytes(4 * n))

def close(got, want, what):
    for i in range(len(want)):
        w, g = want[i], got[i]
        if abs(g - w) > 1e-5 * max(1.0, abs(w)):
            raise AssertionError('%%s item %%d: native %%r python %%r' %% (what, i, g, w))

def act():
    r = random.randint(0, 2)
    if r == 0:
        return [-3.4028234663852886e38, 3.4028234663852886e38]
    if r == 1:
        return [0.0, 3.4028234663852886e38]
    return [-1.0, 1.0]
"""

RANDOM_CASES = COMMON + r"""
n_cases = 0
for case in range(60):
    bt = random.randint(1, 2)
    ih, iw, ic = random.randint(1, 7), random.randint(1, 7), random.randint(1, 5)
    kh, kw = random.randint(1, 3), random.randint(1, 3)
    sh, sw = random.randint(1, 2), random.randint(1, 2)
    dh, dw = random.randint(1, 2), random.randint(1, 2)
    pt, pl = random.randint(0, 1), random.randint(0, 1)
    oh = max(1, (ih + 2 * pt - (kh - 1) * dh - 1) // sh + 1)
    ow = max(1, (iw + 2 * pl - (kw - 1) * dw - 1) // sw + 1)
    a = rnd(bt * ih * iw * ic)
    # conv
    oc = random.randint(1, 6)
    p = array('i', [bt, ih, iw, ic, oh, ow, oc, kh, kw, sh, sw, dh, dw, pt, pl, 0, 0, 0, 0, 1])
    b = array('f', act()) + rnd(oc) + rnd(oc * kh * kw * ic)
    want, got = zeros(bt * oh * ow * oc), zeros(bt * oh * ow * oc)
    K.conv_f32(want, a, b, p); N.conv_f32(got, a, b, p)
    close(got, want, 'conv case %%d' %% case)
    # depthwise
    dm = random.randint(1, 3)
    oc = ic * dm
    p = array('i', [bt, ih, iw, ic, oh, ow, oc, kh, kw, sh, sw, dh, dw, pt, pl, 0, 0, 0, 0, dm])
    b = array('f', act()) + rnd(oc) + rnd(kh * kw * oc)
    want, got = zeros(bt * oh * ow * oc), zeros(bt * oh * ow * oc)
    K.depthwise_f32(want, a, b, p); N.depthwise_f32(got, a, b, p)
    close(got, want, 'depthwise case %%d' %% case)
    # pools (window clipped to the image; padding < kernel keeps every window non-empty)
    pk_h, pk_w = random.randint(1, 3), random.randint(1, 3)
    pt2, pl2 = random.randint(0, pk_h - 1), random.randint(0, pk_w - 1)
    poh = max(1, (ih + pt2 - pk_h) // sh + 1)
    pow_ = max(1, (iw + pl2 - pk_w) // sw + 1)
    p = array('i', [bt, ih, iw, ic, poh, pow_, pk_h, pk_w, sh, sw, pt2, pl2, 0, 0])
    b = array('f', act())
    for name in ('avgpool_f32', 'maxpool_f32'):
        want, got = zeros(bt * poh * pow_ * ic), zeros(bt * poh * pow_ * ic)
        getattr(K, name)(want, a, b, p); getattr(N, name)(got, a, b, p)
        close(got, want, '%%s case %%d' %% (name, case))
    # fully connected
    depth, od = random.randint(1, 64), random.randint(1, 8)
    x = rnd(bt * depth)
    p = array('i', [bt, depth, od, 0, 0, 0, 0])
    b = array('f', act()) + rnd(od) + rnd(od * depth)
    want, got = zeros(bt * od), zeros(bt * od)
    K.fully_connected_f32(want, x, b, p); N.fully_connected_f32(got, x, b, p)
    close(got, want, 'fc case %%d' %% case)
    n_cases += 1
print(json.dumps({'cases': n_cases}))
"""


@pytest.mark.parametrize("seed", [1, 2])
def test_float_kernels_match_python(native, seed):
    assert native.json(RANDOM_CASES % seed)["cases"] == 60


QUANT_CASES = COMMON + r"""
from tinyml.ops import quantize as Q
from tinyml import quant
bad = []
for case in range(40):
    scale = quant.f32(random.uniform(0.001, 0.5))
    zp = random.randint(-20, 20)
    xs = [random.uniform(-200.0, 200.0) * scale for _ in range(50)]
    xs += [(k + 0.5) * scale for k in range(-6, 6)]              # ties
    xs += [float('nan'), float('inf'), -float('inf'), 3e38, -3e38, 0.0, -0.0, 1e-30]
    a = array('f', xs)
    for tc, lo, hi in (('b', -128, 127), ('h', -32768, 32767)):
        out = array(tc, bytes(len(a) * (1 if tc == 'b' else 2)))
        N.quantize_f32(out, a, array('f', [scale]), array('i', [len(a), zp, lo, hi]))
        for i in range(len(a)):
            q = Q.affine_quantize(a[i], scale, zp)
            q = lo if q < lo else (hi if q > hi else q)
            if out[i] != q:
                bad.append(('quantize', tc, scale, zp, a[i], out[i], q))
    for kind, tc, lo, hi in ((0, 'b', -128, 127), (1, 'B', 0, 255), (2, 'h', -32768, 32767)):
        x = array(tc, [random.randint(lo, hi) for _ in range(60)] + [lo, hi])
        out = zeros(len(x))
        N.dequantize_f32(out, x, array('f', [scale]), array('i', [len(x), zp, kind]))
        want = array('f', [scale * (v - zp) for v in x])
        for i in range(len(x)):
            if out[i] != want[i]:
                bad.append(('dequantize', kind, scale, zp, x[i], out[i], want[i]))
print(json.dumps({'bad': bad[:5], 'n_bad': len(bad)}))
"""


def test_quantize_kernels_equal_python(native):
    res = native.json(QUANT_CASES % 3)
    assert res["n_bad"] == 0, res["bad"]


BAD_ARGS = r"""
import json
from array import array
import tinyml_kernels as N
f = lambda n: array('f', bytes(4 * n))
conv_p = [1, 3, 3, 2, 3, 3, 2, 3, 3, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1]
dw_p = conv_p[:6] + [4] + conv_p[7:19] + [2]
pool_p = [1, 3, 3, 2, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0]
good = [
    ('conv_f32', 18, 18, 2 + 2 + 36, conv_p),
    ('depthwise_f32', 36, 18, 2 + 4 + 36, dw_p),
    ('fully_connected_f32', 6, 8, 2 + 3 + 12, [2, 4, 3, 0, 0, 0, 0]),
    ('avgpool_f32', 18, 18, 2, pool_p),
    ('maxpool_f32', 18, 18, 2, pool_p),
]
res = {}
for name, n_out, n_in, n_b, p in good:
    k = getattr(N, name)
    k(f(n_out), f(n_in), f(n_b), array('i', p))          # accepted
    raised = []
    for what, args in (('out short', (f(n_out - 1), f(n_in), f(n_b), array('i', p))),
                       ('out long', (f(n_out + 1), f(n_in), f(n_b), array('i', p))),
                       ('in short', (f(n_out), f(n_in - 1), f(n_b), array('i', p))),
                       ('b short', (f(n_out), f(n_in), f(n_b - 1), array('i', p))),
                       ('p short', (f(n_out), f(n_in), f(n_b), array('i', p[:2]))),
                       ('int8 out', (bytearray(n_out), f(n_in), f(n_b), array('i', p))),
                       ('p not int', (f(n_out), f(n_in), f(n_b), f(len(p))))):
        try:
            k(*args)
        except ValueError:
            raised.append(what)
    res[name] = raised
qp = array('i', [4, 0, -128, 127])
N.quantize_f32(bytearray(4), f(4), f(1), qp)
raised = []
for what, args in (('out long', (bytearray(5), f(4), f(1), qp)),
                   ('in short', (bytearray(4), f(3), f(1), qp)),
                   ('no scale', (bytearray(4), f(4), f(0), qp)),
                   ('bad range', (bytearray(4), f(4), f(1), array('i', [4, 0, -129, 127]))),
                   ('int16 out', (array('h', [0] * 4), f(4), f(1), array('i', [4, 0, 0, 70000])))):
    try:
        N.quantize_f32(*args)
    except ValueError:
        raised.append(what)
res['quantize_f32'] = raised
dp = array('i', [4, 0, 0])
N.dequantize_f32(f(4), bytearray(4), f(1), dp)
raised = []
for what, args in (('out short', (f(3), bytearray(4), f(1), dp)),
                   ('in short', (f(4), bytearray(3), f(1), dp)),
                   ('kind', (f(4), bytearray(4), f(1), array('i', [4, 0, 3]))),
                   ('int16 for int8', (f(4), array('h', [0] * 4), f(1), dp))):
    try:
        N.dequantize_f32(*args)
    except ValueError:
        raised.append(what)
res['dequantize_f32'] = raised
print(json.dumps(res))
"""


def test_binding_rejects_bad_lengths(native):
    res = native.json(BAD_ARGS)
    for name in ("conv_f32", "depthwise_f32", "fully_connected_f32", "avgpool_f32", "maxpool_f32"):
        assert res[name] == ["out short", "out long", "in short", "b short", "p short",
                             "int8 out", "p not int"], name
    assert res["quantize_f32"] == ["out long", "in short", "no scale", "bad range", "int16 out"]
    assert res["dequantize_f32"] == ["out short", "in short", "kind", "int16 for int8"]


ALLOC = r"""
import gc, json, tinyml
res = {}
for backend in ('native', 'python'):
    tinyml.use_backend(backend)
    m = tinyml.load(%r)
    m.invoke()
    gc.collect()
    gc.disable()
    a0 = gc.mem_alloc()
    m.invoke()
    res[backend] = gc.mem_alloc() - a0
    gc.enable()
    del m
    gc.collect()
print(json.dumps(res))
"""


@pytest.mark.parametrize("name", ["hello_world_float", "magic_wand", "model_runner_codegen",
                                  "test_conv_model"])
def test_float_models_allocate_less(native, name):
    zoo = os.environ.get("TINYML_MODEL_ZOO")
    path = zoo and os.path.join(zoo, name + ".tflite")
    if not path or not os.path.exists(path):
        pytest.skip("TINYML_MODEL_ZOO not set or model missing")
    res = native.json(ALLOC % path, heapsize=256 << 20)
    assert res["native"] < res["python"], res
    assert res["native"] <= 4096, res
