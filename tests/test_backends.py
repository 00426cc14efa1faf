"""The kernel backend table (tinyml.kernels): selection, fallback, and identical bytes.

On the unix port the x64 tinyml_kernels.mpy is on MICROPYPATH, so 'native' is the default;
under CPython only 'python' exists. Every backend must produce the same output bytes.
"""
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
NATIVE = ROOT / "native_modules"


@pytest.fixture(scope="module")
def built():
    subprocess.run(["make", "-s", "-C", str(NATIVE), "all"], check=True)


def test_cpython_has_only_python_backend():
    import tinyml.kernels as K
    assert K.backend == "python"
    assert K.available() == ["python"]
    assert K.table.conv_s8 is __import__("tinyml.kernels.python", fromlist=["x"]).conv_s8
    with pytest.raises(ImportError):
        K.use_backend("native")
    with pytest.raises(ImportError):
        K.use_backend("viper")
    with pytest.raises(ValueError):
        K.use_backend("cuda")
    assert K.backend == "python"


def test_unix_port_picks_native_and_switches(mp, built):
    r = mp.json(r"""
import json, tinyml, tinyml.kernels as K
from tinyml.kernels import python as P
import tinyml_kernels as N
PY_ONLY = [k for k in dir(P) if not k.startswith('_') and callable(getattr(P, k))
           and not isinstance(getattr(P, k), type) and not hasattr(N, k)]
out = {'default': K.backend, 'available': K.available(),
       'native_conv': K.table.conv_s8 is N.conv_s8,
       'python_fallback': [getattr(K.table, k) is getattr(P, k) for k in PY_ONLY],
       'no_private': not hasattr(K.table, '_conv_s8_ref')}
K.use_backend('python')
out['after_python'] = [K.backend, K.table.conv_s8 is P.conv_s8]
try:
    K.use_backend('nope')
except ValueError:
    out['bad_name'] = 'ValueError'
out['still'] = K.backend
K.use_backend('native')
out['back'] = [K.backend, K.table.fully_connected_s8 is N.fully_connected_s8]
tinyml.use_backend('python')
out['core_reexport'] = [tinyml.backend, K.backend]
print(json.dumps(out))
""")
    assert r["default"] == "native"
    assert r["available"][0] == "native" and r["available"][-1] == "python"
    assert r["native_conv"] and r["no_private"]
    assert r["python_fallback"] and all(r["python_fallback"])
    assert r["after_python"] == ["python", True]
    assert r["bad_name"] == "ValueError" and r["still"] == "python"
    assert r["back"] == ["native", True]
    assert r["core_reexport"] == ["python", "python"]


def test_stale_native_module_is_refused(mp, built, tmp_path):
    """A tinyml_kernels.mpy built for another parameter-block ABI must not be used."""
    (tmp_path / "tinyml_kernels.py").write_text("ABI = 0\ndef conv_s8(o, a, b, p): pass\n")
    r = mp.json(r"""
import sys, json
sys.path.insert(0, %r)
import tinyml.kernels as K
print(json.dumps([K.backend, K.available()]))
""" % str(tmp_path))
    assert r[0] != "native" and "native" not in r[1]


SAME_BYTES = r"""
import json, random, tinyml.kernels as K
from array import array
from tinyml.kernels import python as P
import tinyml_kernels as N
random.seed(%d)
def i8(n):
    return array('b', [random.randint(-128, 127) for _ in range(n)])
bad = []
for case in range(%d):
    k = random.choice((1, 1, 3, 3, 2))
    s = random.choice((1, 2))
    bt, ih, iw, ic, oc = 1, random.randint(k, 8), random.randint(k, 8), random.randint(1, 9), random.randint(1, 9)
    oh, ow = (ih - k) // s + 1, (iw - k) // s + 1
    hdr = [bt, ih, iw, ic, oh, ow, oc, k, k, s, s, 1, 1, 0, 0,
           random.randint(-127, 128), random.randint(-128, 127), -128, 127, 1]
    tail = [random.randint(-9999, 9999) for _ in range(oc)] + \
           [random.randint(1 << 30, (1 << 31) - 1) for _ in range(oc)] + \
           [random.randint(-12, 1) for _ in range(oc)]
    p = array('i', hdr + tail)
    a, w = i8(ih * iw * ic), i8(oc * k * k * ic)
    outs = []
    for f in (P.conv_s8, N.conv_s8):
        o = array('b', bytes(oh * ow * oc))
        f(o, a, w, p)
        outs.append(bytes(o))
    n_in, n_out = random.randint(1, 40), random.randint(1, 9)
    q = array('i', [1, n_in, n_out, random.randint(-127, 128), random.randint(-128, 127), -128, 127]
              + tail[:0] + [random.randint(-999, 999) for _ in range(n_out)]
              + [random.randint(1 << 30, (1 << 31) - 1) for _ in range(n_out)]
              + [random.randint(-10, 0) for _ in range(n_out)])
    x, fw = i8(n_in), i8(n_in * n_out)
    for f in (P.fully_connected_s8, N.fully_connected_s8):
        o = array('b', bytes(n_out))
        f(o, x, fw, q)
        outs.append(bytes(o))
    if outs[0] != outs[1] or outs[2] != outs[3]:
        bad.append(case)
print(json.dumps(bad))
"""


@pytest.mark.parametrize("seed", [3, 4])
def test_native_and_python_identical_bytes_on_unix_port(mp, built, seed):
    assert mp.json(SAME_BYTES % (seed, 25)) == []


def test_kws_model_identical_across_backends(mp, built, zoo):
    """The MLPerf Tiny KWS DS-CNN: every backend gives the same output bytes."""
    path = zoo / "kws_ref_model.tflite"
    if not path.exists():
        pytest.skip("kws_ref_model.tflite not in the corpus")
    r = mp.json(r"""
import json, tinyml, tinyml.kernels as K
outs = {}
for name in K.available():
    K.use_backend(name)
    m = tinyml.load(%r)
    m.set_input(0, bytes((i * 37 + 11) & 255 for i in range(m.inputs[0].nbytes)))
    m.invoke()
    outs[name] = list(bytes(m.outputs[0].raw))
print(json.dumps(outs))
""" % str(path), heapsize=8 * 1024 * 1024)
    assert "native" in r and "python" in r
    assert all(v == r["python"] for v in r.values()), r


VIPER_RUNNER = r"""
import struct
from array import array
from tinyml.kernels import viper as V
NAMES = {0: 'conv_s8', 2: 'depthwise_s8', 4: 'fully_connected_s8'}
cases = open(%r, 'rb').read()
f = open(%r, 'wb')
pos = 0
while pos < len(cases):
    kid, np_, lo, la, lb = struct.unpack_from('<5I', cases, pos)
    pos += 20
    p = array('i', cases[pos:pos + 4 * np_]); pos += 4 * np_
    a = array('b', cases[pos:pos + la]); pos += (la + 3) & ~3
    b = array('b', cases[pos:pos + lb]); pos += (lb + 3) & ~3
    out = array('b', bytes(lo))
    getattr(V, NAMES[kid])(out, a, b, p)
    f.write(bytes(out) + bytes(-lo %% 4))
f.close()
print('ok')
"""


def test_viper_kernels_identical_to_python(mp, tmp_path):
    sys.path.insert(0, str(NATIVE / "harness"))
    import cases as C
    from tinyml.kernels import python as P
    cases = C.random_cases(seed=31, per_kernel=30,
                           kernels=['conv_s8', 'depthwise_s8', 'fully_connected_s8'])
    src, dst = tmp_path / "cases.bin", tmp_path / "out.bin"
    C.write_cases(src, cases)
    assert mp(VIPER_RUNNER % (str(src), str(dst))).split()[-1] == "ok"
    outs = C.read_outputs(dst, cases)
    bad = [(c.kernel, list(c.p[:20])) for c, o in zip(cases, outs)
           if list(o) != list(C.expected(c, P))]
    assert not bad, bad[:3]


def test_viper_requant_arithmetic_is_exact(mp):
    """The 16-bit-piece SRDHM and the requantization against Python's big ints, edge values
    included (the same code must hold with 32-bit viper words on boards)."""
    r = mp.json(r"""
import json, random
from tinyml.kernels import viper as V
from tinyml.quant import multiply_by_quantized_multiplier as mbqm, srdhm
random.seed(9)
edge = [-2147483648, -2147483647, -65537, -65536, -1, 0, 1, 65535, 65536, 2147483647]
mults = [0, 1, 65535, 65536, 1 << 30, 2147483647]
bad = []
vals = [(a, m) for a in edge for m in mults]
vals += [(random.getrandbits(32) - (1 << 31), random.getrandbits(31)) for _ in range(3000)]
for a, m in vals:
    if V._srdhm(a, m) != srdhm(a, m):
        bad.append(['srdhm', a, m])
    s = random.randint(-31, 6)
    if V._requant(a, m, s, V._MASK32) != mbqm(a, m, s):
        bad.append(['mbqm', a, m, s])
print(json.dumps(bad[:5]))
""")
    assert r == []


def test_native_imports_python_kernels_only_when_needed(mp, built):
    """On native, the python kernel modules (tens of KB of heap) load on the first lookup of a
    kernel the backend lacks, not at import."""
    r = mp.json(r"""
import sys, json, tinyml, tinyml.kernels as K
big = ('tinyml.kernels.python', 'tinyml.kernels.python_eltwise', 'tinyml.kernels.python_rnn')
py = lambda: sorted(k for k in sys.modules if k in big)
out = {'import': py()}
m = tinyml.load('examples/digits/digits_int8.tflite')
m.invoke()
from tinyml.ops import elementwise, activations, quantize, reduce, signal, conv, pool
out['native_model'] = py()
out['missing'] = getattr(K.table, 'no_such_kernel', None)
out['fallback'] = K.table.log_softmax_s8.__name__
out['after'] = py()
print(json.dumps(out))
""")
    assert r["import"] == [] and r["native_model"] == []
    assert r["missing"] is None and r["fallback"] == "log_softmax_s8"
    assert "tinyml.kernels.python" in r["after"]
