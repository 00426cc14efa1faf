"""Native kernels (native_modules/): every C kernel against the python reference kernels.

* the x64 .mpy on the MicroPython unix port, random cases, byte-equal with kernels/python.py;
* the same C built for the host with -fsanitize=address,undefined, random shapes;
* the binding: wrong lengths / shapes / parameter blocks raise ValueError, random parameter
  blocks never crash the interpreter.
"""
import json
import pathlib
import random
import subprocess
import sys

import pytest
from array import array

ROOT = pathlib.Path(__file__).resolve().parent.parent
NATIVE = ROOT / "native_modules"
sys.path.insert(0, str(NATIVE / "harness"))

import cases as C  # noqa: E402
from tinyml.kernels import python as K  # noqa: E402


def make(*targets):
    subprocess.run(["make", "-s", "-C", str(NATIVE)] + list(targets), check=True)


@pytest.fixture(scope="module")
def built():
    make("all", "harness-host")


def compare(cases, outs):
    bad = []
    for i, (c, got) in enumerate(zip(cases, outs)):
        want = C.expected(c, K)
        if list(want) != list(got):
            bad.append("case %d %s p=%s\n want %s\n got  %s"
                       % (i, c.kernel, list(c.p[:20]), list(want)[:16], list(got)[:16]))
    assert not bad, "%d/%d cases differ:\n%s" % (len(bad), len(cases), "\n".join(bad[:5]))


# The unix-port side: read the cases file, call tinyml_kernels.<name>, write outputs.
RUNNER = r"""
import struct, tinyml_kernels as N
from array import array
NAMES = %r
cases = open(%r, 'rb').read()
out_f = open(%r, 'wb')
pos = 0
n = 0
while pos < len(cases):
    kid, np_, lo, la, lb = struct.unpack_from('<5I', cases, pos)
    pos += 20
    p = array('i', cases[pos:pos + 4 * np_]); pos += 4 * np_
    name, tcode = NAMES[kid]
    a = array(tcode, cases[pos:pos + la]); pos += (la + 3) & ~3
    b = cases[pos:pos + lb]; pos += (lb + 3) & ~3
    b = array(tcode, b)
    out = array(tcode if name != 'softmax_s8' else ('b' if p[5] == 8 else 'h'), bytes(lo))
    fn = getattr(N, name)
    if name == 'fully_connected_s8_packed':     # packed as Model packs at load, if it is
        fn, b = N.pack_weights(N.fully_connected_s8, p, b) or (N.fully_connected_s8, b)
    fn(out, a, b if lb else None, p)
    out_f.write(bytes(out) + bytes(-lo %% 4))
    n += 1
out_f.close()
print(n)
"""

# harness kernel name -> (tinyml_kernels attribute, input typecode)
MODULE_NAMES = {
    'conv_s8': ('conv_s8', 'b'), 'conv_s8_ref': ('_conv_s8_ref', 'b'),
    'depthwise_s8': ('depthwise_s8', 'b'), 'depthwise_s8_ref': ('_depthwise_s8_ref', 'b'),
    'fully_connected_s8': ('fully_connected_s8', 'b'),
    'fully_connected_s8_ref': ('_fully_connected_s8_ref', 'b'),
    'fully_connected_s8_packed': ('fully_connected_s8_packed', 'b'),
    'avgpool_s8': ('avgpool_s8', 'b'), 'avgpool_s16': ('avgpool_s16', 'h'),
    'maxpool_s8': ('maxpool_s8', 'b'), 'maxpool_s16': ('maxpool_s16', 'h'),
    'softmax_s8': ('softmax_s8', 'b'), 'add_int8': ('add_int8', 'b'),
    'mul_int8': ('mul_int8', 'b'), 'mul_int16': ('mul_int16', 'h'),
}


def run_on_unix_port(mp, cases, tmp_path):
    names = [None] * len(C.KERNEL_IDS)
    for k, i in C.KERNEL_IDS.items():
        names[i] = MODULE_NAMES[k]
    src, dst = tmp_path / "cases.bin", tmp_path / "out.bin"
    C.write_cases(src, cases)
    out = mp(RUNNER % (names, str(src), str(dst)))
    assert int(out.split()[-1]) == len(cases)
    return C.read_outputs(dst, cases)


@pytest.mark.parametrize("kernel", sorted(C.GENERATORS))
def test_unix_port_native_matches_python(mp, built, tmp_path, kernel):
    cases = C.random_cases(seed=hash(kernel) & 0xFFFF, per_kernel=40, kernels=[kernel])
    compare(cases, run_on_unix_port(mp, cases, tmp_path))


def test_unix_port_kws_vww_shapes(mp, built, tmp_path):
    """Layer shapes of the KWS DS-CNN and VWW MobileNet models (1x1, 3x3, strided, FC)."""
    import random
    rng = random.Random(7)
    cases = [
        C.conv_case(rng, shape=(1, 49, 10, 1, 64, 10, 4, 2, 1)),        # KWS first conv
        C.conv_case(rng, shape=(1, 25, 5, 64, 64, 1, 1, 1, 1)),         # KWS pointwise
        C.depthwise_case(rng, shape=(1, 25, 5, 64, 1, 3, 3, 1, 1)),     # KWS depthwise
        C.conv_case(rng, shape=(1, 24, 24, 3, 8, 3, 3, 2, 1)),          # VWW stem
        C.depthwise_case(rng, shape=(1, 12, 12, 32, 1, 3, 3, 2, 1)),    # VWW strided dw
        C.conv_case(rng, shape=(1, 6, 6, 64, 128, 1, 1, 1, 1)),         # VWW pointwise
        C.fc_case(rng, shape=(1, 64, 12)),                              # KWS classifier
        C.fc_case(rng, shape=(2, 256, 3)),
        C.fc_case(rng, shape=(1, 4000, 4)),         # micro_speech: columns in chunks
        C.fc_case(rng, shape=(3, 1027, 6)),         # pairs, then a chunked single row
    ]
    compare(cases, run_on_unix_port(mp, cases, tmp_path))


def sse2_cases():
    """Shapes for every branch of the x64 SSE2 loops (dot_sse2.h, depthwise_sse2.h): depths K
    below 8, multiples of 8 and 16 and not (tails), odd channel counts, 1x1 and padded windows,
    pixel and batch pairs with a single one left over, depthwise channel blocks of 8 with 4-
    and 1-channel tails, odd tap counts, depth multipliers 8 and 16 (one or more input channels)."""
    import random
    rng = random.Random(11)
    cases = []
    for k_depth in (1, 7, 8, 9, 15, 16, 17, 24, 31, 33):
        cases.append(C.conv_case(rng, shape=(1, 3, 3, k_depth, 5, 1, 1, 1, 1)))      # 1x1
        cases.append(C.fc_case(rng, shape=(3, k_depth, 7)))
        cases.append(C.fc_case(rng, shape=(1, k_depth * 5, 9)))
    for shape in ((1, 1100, 9), (3, 1027, 6)):    # single rows in column chunks
        cases.append(C.fc_case(rng, shape=shape))
    for shape in ((2, 5, 5, 3, 7, 3, 3, 1, 1), (1, 6, 7, 16, 9, 3, 3, 2, 1),
                  (1, 7, 5, 8, 3, 3, 3, 1, 2), (1, 9, 4, 1, 6, 10, 4, 2, 1),
                  (1, 4, 4, 17, 4, 2, 2, 1, 1), (1, 5, 5, 32, 33, 1, 1, 2, 1)):
        for padding in ('SAME', 'VALID'):
            cases.append(C.conv_case(rng, shape=shape, padding=padding))
    for shape in ((1, 5, 6, 8, 1, 3, 3, 1, 1), (1, 6, 5, 13, 1, 3, 3, 2, 1),
                  (2, 4, 4, 29, 1, 3, 3, 1, 1), (1, 7, 7, 16, 1, 5, 5, 1, 2),
                  (1, 8, 1, 24, 1, 5, 1, 1, 1), (1, 6, 6, 12, 1, 2, 2, 2, 1),
                  (1, 9, 8, 1, 8, 10, 8, 2, 1), (1, 5, 5, 3, 8, 3, 3, 1, 1),
                  (1, 6, 4, 2, 16, 3, 2, 1, 2)):
        for padding in ('SAME', 'VALID'):
            cases.append(C.depthwise_case(rng, shape=shape, padding=padding))
    return cases


def test_unix_port_sse2_branch_shapes(mp, built, tmp_path):
    cases = sse2_cases()
    compare(cases, run_on_unix_port(mp, cases, tmp_path))


def test_host_sanitized_harness_sse2_branch_shapes(built, tmp_path):
    """The same shapes under ASan + UBSan (the host build takes the SSE2 path too on x86-64)."""
    cases = sse2_cases()
    compare(cases, C.run_host(cases, tmp_path))


def test_host_sanitized_harness_random_shapes(built, tmp_path):
    """The C kernels under ASan + UBSan over random shapes, byte-equal with python."""
    cases = C.random_cases(seed=1234, per_kernel=60)
    cases += [C.requant_edge_case(random.Random(s)) for s in range(8)]
    compare(cases, C.run_host(cases, tmp_path))


BAD_ARGS = r"""
import tinyml_kernels as N
from array import array
def expect(f, *args):
    try:
        f(*args)
    except ValueError:
        return 1
    raise AssertionError('accepted: %s %r' % (f, [len(x) if x is not None else None for x in args]))

def conv_p(out_c=3, k=3, in_c=2, dm=1):
    hdr = [1, 5, 5, in_c, 5, 5, out_c, k, k, 1, 1, 1, 1, 1, 1, 3, -2, -128, 127, dm]
    return array('i', hdr + [100] * out_c + [1 << 30] * out_c + [-3] * out_c)

n = 0
# conv: each buffer one byte short, out one byte long, p truncated/extended, bad values
p = conv_p()
a, w, out = bytes(50), bytes(3 * 9 * 2), bytearray(75)
N.conv_s8(out, a, w, p)                       # the valid call works
n += expect(N.conv_s8, bytearray(74), a, w, p)
n += expect(N.conv_s8, bytearray(76), a, w, p)
n += expect(N.conv_s8, out, bytes(49), w, p)
n += expect(N.conv_s8, out, a, bytes(53), p)
n += expect(N.conv_s8, out, a, w, p[:-1])
n += expect(N.conv_s8, out, a, w, array('i', list(p) + [0]))
n += expect(N.conv_s8, out, a, w, array('h', list(p)))
for idx, val in ((0, -1), (1, 0), (3, 0), (6, 0), (7, 0), (9, 0), (11, 0), (1, 1 << 25),
                 (13, 1 << 30), (15, 300), (17, -200), (18, 200), (20 + 6, 40), (20 + 6, -32),
                 (20 + 3, -1)):
    q = array('i', p)
    q[idx] = val
    n += expect(N.conv_s8, out, a, w, q)
# depthwise: out_c must equal in_c * depth multiplier
q = conv_p(out_c=4, in_c=2, dm=1)
n += expect(N.depthwise_s8, bytearray(100), a, bytes(36), q)
# fully connected
p = array('i', [1, 8, 2, 0, 0, -128, 127, 1, 2, 1 << 30, 1 << 30, -1, -1])
N.fully_connected_s8(bytearray(2), bytes(8), bytes(16), p)
n += expect(N.fully_connected_s8, bytearray(2), bytes(7), bytes(16), p)
n += expect(N.fully_connected_s8, bytearray(2), bytes(8), bytes(15), p)
n += expect(N.fully_connected_s8, bytearray(3), bytes(8), bytes(16), p)
n += expect(N.fully_connected_s8, bytearray(2), bytes(8), bytes(16), p[:-2])
n += expect(N.fully_connected_s8, bytearray(2), bytes(8), bytes(16), array('b', bytes(52)))
# pooling: int8 vs int16 views must agree with p
p = array('i', [1, 4, 4, 2, 2, 2, 2, 2, 2, 2, 0, 0, -128, 127])
N.maxpool_s8(bytearray(8), bytes(32), None, p)
n += expect(N.maxpool_s8, bytearray(8), bytes(31), None, p)
n += expect(N.maxpool_s8, array('h', bytes(16)), array('b', bytes(32)), None, p)
n += expect(N.avgpool_s8, array('h', bytes(16)), array('h', bytes(62)), None, p)
# softmax: bits must be 8 or 16 and match the output
p = array('i', [2, 5, 1 << 30, 5, -100, 8])
N.softmax_s8(bytearray(10), bytes(10), None, p)
n += expect(N.softmax_s8, array('h', bytes(20)), bytes(10), None, p)
n += expect(N.softmax_s8, bytearray(10), bytes(9), None, p)
p[5] = 12
n += expect(N.softmax_s8, bytearray(10), bytes(10), None, p)
# broadcast: a stride that walks past the end of b
p = array('i', [1, 1, 1, 2, 3, 0, 0, 0, 3, 1, 0, 0, 0, 3, 1, 0, 0, 0, 1 << 30, -3, -128, 127])
N.mul_int8(array('b', bytes(6)), array('b', bytes(6)), array('b', bytes(6)), p)
n += expect(N.mul_int8, array('b', bytes(6)), array('b', bytes(6)), array('b', bytes(5)), p)
n += expect(N.mul_int8, array('b', bytes(6)), array('h', bytes(12)), array('b', bytes(6)), p)
p[13] = 4
n += expect(N.mul_int8, array('b', bytes(6)), array('b', bytes(6)), array('b', bytes(6)), p)
print(n)
"""


def test_binding_rejects_bad_arguments(mp, built):
    assert int(mp(BAD_ARGS).split()[-1]) == 37


FUZZ = r"""
import tinyml_kernels as N, random
from array import array
random.seed(%d)
names = ('conv_s8', 'depthwise_s8', 'fully_connected_s8', 'avgpool_s8', 'maxpool_s8',
         'softmax_s8', 'add_int8', 'mul_int8', 'mul_int16', 'fully_connected_s8_packed')
heads = {'conv_s8': 20, 'depthwise_s8': 20, 'fully_connected_s8': 7, 'avgpool_s8': 14,
         'fully_connected_s8_packed': 7,
         'maxpool_s8': 14, 'softmax_s8': 6, 'add_int8': 532, 'mul_int8': 22, 'mul_int16': 22}
def val():
    r = random.random()
    if r < 0.6:
        return random.randint(-2, 9)
    if r < 0.8:
        return random.randint(-300, 300)
    return random.getrandbits(32) - (1 << 31)   # randint hangs on 2**32-wide ranges
scratchy = ('conv_s8', 'depthwise_s8', 'fully_connected_s8', 'fully_connected_s8_packed')
ok = err = 0
for i in range(%d):
    name = random.choice(names)
    n = heads[name] + random.choice((0, 0, 3, 6, 9, random.randint(0, 30)))
    p = array('i', [val() for _ in range(n)])
    tc = random.choice('bbh')
    bufs = [array(tc, bytes(random.choice((0, 1, 7, 64, 300, 2000)) * (2 if tc == 'h' else 1)))
            for _ in range(3)]
    args = bufs + [p]
    if name in scratchy and random.random() < 0.5:
        s = bytearray(random.choice((0, 8, 64, 1000, 5000)) + 8)
        args.append(memoryview(s)[random.choice((0, 0, 4, 8)):])
    try:
        if name in scratchy:
            N.scratch_bytes(getattr(N, name), p)
        if name == 'fully_connected_s8' and random.random() < 0.3:
            r = N.pack_weights(N.fully_connected_s8, p, bufs[2])   # packs, or says no
            if r is not None:
                args[2] = r[1]
                name = 'fully_connected_s8_packed'
        getattr(N, name)(*args)
        ok += 1
    except (ValueError, MemoryError):
        err += 1
print(ok, err)
"""


@pytest.mark.parametrize("seed", [1, 2])
def test_binding_random_parameter_blocks_never_crash(mp, built, seed):
    ok, err = map(int, mp(FUZZ % (seed, 3000)).split()[-2:])
    assert ok + err == 3000 and err > 0


NEAR_VALID = r"""
import tinyml_kernels as N, random, json
from array import array
random.seed(%d)
with open(%r) as f:
    CASES = json.load(f)
ok = err = 0
for name, tc, p, la, lb, lo in CASES:
    p = array('i', p)
    sizes = [lo, la, lb]
    r = random.random()
    if r < 0.3:                                 # one parameter off
        i = random.randrange(len(p))
        p[i] = random.choice((p[i] + random.choice((-1, 1)), 0, -1, p[i] * 2, 1 << 20))
    elif r < 0.5:                               # one buffer a little short or long
        i = random.randrange(3)
        sizes[i] = max(0, sizes[i] + random.choice((-2, -1, 1, 3)))
    out, a, b = [array(tc, bytes(n)) for n in sizes]
    args = [out, a, b if lb else None, p]
    try:
        fn = getattr(N, name)
        if name == 'fully_connected_s8':
            packed = N.pack_weights(fn, p, b)
            if packed is not None:
                fn, args[2] = packed
        if name in ('conv_s8', 'depthwise_s8', 'fully_connected_s8'):
            args.append(bytearray(N.scratch_bytes(fn, p)))
        fn(*args)
        ok += 1
    except (ValueError, MemoryError):
        err += 1
print(ok, err)
"""


@pytest.mark.parametrize("seed", [3, 4])
def test_binding_near_valid_calls_run_or_raise(mp, built, tmp_path, seed):
    """Valid calls of every kernel (some fully connected ones packed first, as Model does),
    half of them with one parameter or one buffer length off: each runs or raises ValueError,
    never crashes."""
    rng = random.Random(seed)
    cases = []
    for name in ('conv_s8', 'depthwise_s8', 'fully_connected_s8', 'avgpool_s8', 'maxpool_s8',
                 'softmax_s8', 'add_int8', 'mul_int8'):
        for _ in range(60):
            c = C.GENERATORS[name](rng, name)
            size = array(c.a.typecode).itemsize
            cases.append((MODULE_NAMES[name][0], c.a.typecode, list(c.p), len(c.a) * size,
                          len(c.b) * size if c.b is not None else 0, c.out_bytes()))
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(cases))
    ok, err = map(int, mp(NEAR_VALID % (seed, str(path)), heapsize=16 << 20).split()[-2:])
    assert ok + err == len(cases) and ok > len(cases) // 3 and err > len(cases) // 5


@pytest.mark.parametrize("heap", [300000, 340000, 370000])
def test_scratch_out_of_heap_is_memoryerror_not_a_crash(mp, zoo, heap):
    """Low heap: the arena (kernel scratch included) does not fit at load, or the model runs;
    MemoryError, never a NULL write (the process must exit normally)."""
    out = mp("""
import tinyml
tinyml.use_backend('native')
try:
    m = tinyml.load(%r)
    m.invoke()
    print('invoked')
except MemoryError as e:
    print('MemoryError', e)
""" % str(zoo / "micro_speech_quantized.tflite"), heapsize=heap)
    assert out.split()[0] in ("invoked", "MemoryError")
