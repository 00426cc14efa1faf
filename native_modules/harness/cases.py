"""Random kernel cases for the C harness (host with sanitizers, or ARM under QEMU).

Runs under CPython. Each case is (kernel_name, out_len, a, b, p) with a/b typed arrays and p an
array('i') in the layouts of device/tinyml/kernels/python.py; `expected(case)` runs the python
reference kernel on it. write_cases()/read_outputs() speak harness.c's file format.
"""
import pathlib
import random
import struct
import subprocess
from array import array

KERNEL_IDS = {
    'conv_s8': 0, 'conv_s8_ref': 1, 'depthwise_s8': 2, 'depthwise_s8_ref': 3,
    'fully_connected_s8': 4, 'fully_connected_s8_ref': 5, 'avgpool_s8': 6, 'avgpool_s16': 7,
    'maxpool_s8': 8, 'maxpool_s16': 9, 'softmax_s8': 10, 'add_int8': 11, 'mul_int8': 12,
    'mul_int16': 13, 'fully_connected_s8_packed': 14,
}


class Case:
    def __init__(self, kernel, out_items, out_type, a, b, p):
        self.kernel, self.out_items, self.out_type = kernel, out_items, out_type
        self.a, self.b, self.p = a, b, p

    def out_bytes(self):
        return self.out_items * array(self.out_type).itemsize

    def python_name(self):
        """The python kernel with these semantics."""
        return self.kernel.replace('_ref', '').replace('_packed', '')


def _i8(rng, n):
    return array('b', [rng.randint(-128, 127) for _ in range(n)])


def _i16(rng, n):
    return array('h', [rng.randint(-32768, 32767) for _ in range(n)])


def _requant_params(rng, n):
    mults = [rng.randint(1 << 30, (1 << 31) - 1) for _ in range(n)]
    shifts = [rng.randint(-14, 1) for _ in range(n)]
    return mults, shifts


def _act(rng, lo=-128, hi=127):
    if rng.random() < 0.5:
        return lo, hi
    a, b = sorted((rng.randint(lo, hi), rng.randint(lo, hi)))
    return a, b


def _out_size(rng, in_size, k, stride, dil, padding=None):
    eff = (k - 1) * dil + 1
    if padding is None:
        padding = 'SAME' if rng.random() < 0.5 else 'VALID'
    if padding == 'SAME':
        out = (in_size + stride - 1) // stride
    else:                                        # VALID
        out = (in_size + stride - eff) // stride
    if out <= 0:
        out = 1
    total = (out - 1) * stride + eff - in_size
    return out, (total // 2 if total > 0 else 0)


def conv_geometry(rng, batches, in_h, in_w, in_c, k_h, k_w, stride, dil, out_c, dm=1,
                  padding=None):
    out_h, pad_t = _out_size(rng, in_h, k_h, stride[0], dil[0], padding)
    out_w, pad_l = _out_size(rng, in_w, k_w, stride[1], dil[1], padding)
    act = _act(rng)
    return [batches, in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w, stride[0], stride[1],
            dil[0], dil[1], pad_t, pad_l, -rng.randint(-128, 127), rng.randint(-128, 127),
            act[0], act[1], dm]


def conv_case(rng, kernel='conv_s8', shape=None, padding=None):
    """shape: (batches, in_h, in_w, in_c, out_c, k_h, k_w, stride, dil) or None for random;
    padding 'SAME' / 'VALID' or None for random."""
    if shape is None:
        k = rng.choice([1, 1, 2, 3, 3, 5])
        shape = (rng.randint(1, 2), rng.randint(1, 9), rng.randint(1, 9), rng.randint(1, 10),
                 rng.randint(1, 9), k, rng.choice([k, 1, 3]), rng.choice([1, 1, 2, 3]),
                 rng.choice([1, 1, 1, 2]))
    batches, in_h, in_w, in_c, out_c, k_h, k_w, stride, dil = shape
    hdr = conv_geometry(rng, batches, in_h, in_w, in_c, k_h, k_w, (stride, stride), (dil, dil),
                        out_c, 1, padding)
    mults, shifts = _requant_params(rng, out_c)
    bias = [rng.randint(-40000, 40000) for _ in range(out_c)]
    p = array('i', hdr + bias + mults + shifts)
    a = _i8(rng, batches * in_h * in_w * in_c)
    b = _i8(rng, out_c * k_h * k_w * in_c)     # weights: a signed view, as ops pass them
    return Case(kernel, batches * hdr[4] * hdr[5] * out_c, 'b', a, b, p)


def depthwise_case(rng, kernel='depthwise_s8', shape=None, padding=None):
    """shape: (batches, in_h, in_w, in_c, dm, k_h, k_w, stride, dil) or None."""
    if shape is None:
        k = rng.choice([1, 2, 3, 3, 3, 5])
        shape = (rng.randint(1, 2), rng.randint(1, 9), rng.randint(1, 9), rng.randint(1, 11),
                 rng.choice([1, 1, 1, 2, 3]), k, rng.choice([k, k, 1]), rng.choice([1, 1, 2]),
                 rng.choice([1, 1, 1, 2]))
    batches, in_h, in_w, in_c, dm, k_h, k_w, stride, dil = shape
    out_c = in_c * dm
    hdr = conv_geometry(rng, batches, in_h, in_w, in_c, k_h, k_w, (stride, stride), (dil, dil),
                        out_c, dm, padding)
    mults, shifts = _requant_params(rng, out_c)
    bias = [rng.randint(-40000, 40000) for _ in range(out_c)]
    p = array('i', hdr + bias + mults + shifts)
    a = _i8(rng, batches * in_h * in_w * in_c)
    b = _i8(rng, k_h * k_w * out_c)
    return Case(kernel, batches * hdr[4] * hdr[5] * out_c, 'b', a, b, p)


def fc_case(rng, kernel='fully_connected_s8', shape=None):
    """shape: (batches, n_in, n_out) or None."""
    if shape is None:
        shape = (rng.choice([1, 1, 2, 3]), rng.randint(1, 70), rng.randint(1, 13))
    batches, n_in, n_out = shape
    act = _act(rng)
    mults, shifts = _requant_params(rng, n_out)
    if rng.random() < 0.5:                      # per-tensor: repeated
        mults, shifts = [mults[0]] * n_out, [shifts[0]] * n_out
    bias = [rng.randint(-40000, 40000) for _ in range(n_out)]
    p = array('i', [batches, n_in, n_out, -rng.randint(-128, 127), rng.randint(-128, 127),
                    act[0], act[1]] + bias + mults + shifts)
    return Case(kernel, batches * n_out, 'b', _i8(rng, batches * n_in),
                _i8(rng, n_out * n_in), p)


def requant_edge_case(rng, kernel='fully_connected_s8', shifts=range(-31, 1)):
    """Fully connected with one input: each accumulator is a bias (spread over the whole int32
    range, small values, halfway points) plus one product (half the weights 0), and every shift of `shifts` meets
    multipliers 0, 1, 2**30 and 2**31 - 1: the requantization's rounding edges. (Left shifts
    of such accumulators overflow int32, undefined in TFLM too: not among the shifts.)"""
    n_out = 4 * len(shifts)
    bias = []
    for _ in range(n_out):
        r = rng.random()
        if r < 0.3:
            bias.append(rng.randint(-(1 << 31) + (1 << 16), (1 << 31) - (1 << 16)))
        elif r < 0.6:
            bias.append(rng.randint(-300, 300))
        else:                                   # halfway cases of multiplier 2**30
            e = rng.randint(0, 29)
            bias.append(rng.choice([-1, 0, 1, 1 - (1 << e), (1 << e) - 1, 3 * (1 << e) - 1]))
    mults = [[0, 1, 1 << 30, (1 << 31) - 1][i % 4] for i in range(n_out)]
    mults = [m if rng.random() < 0.5 else rng.randint(0, (1 << 31) - 1) for m in mults]
    sh = [shifts[i // 4] for i in range(n_out)]
    batches = 3
    p = array('i', [batches, 1, n_out, -rng.randint(-128, 127), rng.randint(-128, 127), -128, 127]
              + bias + mults + sh)
    w = array('b', [0 if rng.random() < 0.5 else rng.randint(-128, 127) for _ in range(n_out)])
    return Case(kernel, batches * n_out, 'b', _i8(rng, batches), w, p)


def pool_case(rng, kernel='avgpool_s8', shape=None):
    """shape: (in_h, in_w, ch, k_h, k_w, stride) with VALID padding, or None for random."""
    if shape is not None:
        in_h, in_w, ch, k_h, k_w, s = shape
        out_h, out_w = (in_h - k_h) // s + 1, (in_w - k_w) // s + 1
        p = array('i', [1, in_h, in_w, ch, out_h, out_w, k_h, k_w, s, s, 0, 0, -128, 127])
        return Case(kernel, out_h * out_w * ch, 'b', _i8(rng, in_h * in_w * ch), None, p)
    wide = kernel.endswith('16')
    batches, in_h, in_w, ch = rng.randint(1, 2), rng.randint(1, 9), rng.randint(1, 9), rng.randint(1, 6)
    k_h, k_w, s = rng.randint(1, 4), rng.randint(1, 4), rng.randint(1, 3)
    out_h, pad_t = _out_size(rng, in_h, k_h, s, 1)
    out_w, pad_l = _out_size(rng, in_w, k_w, s, 1)
    act = _act(rng, -32768, 32767) if wide else _act(rng)
    p = array('i', [batches, in_h, in_w, ch, out_h, out_w, k_h, k_w, s, s, pad_t, pad_l,
                    act[0], act[1]])
    n = batches * in_h * in_w * ch
    a = _i16(rng, n) if wide else _i8(rng, n)
    return Case(kernel, batches * out_h * out_w * ch, 'h' if wide else 'b', a, None, p)


def softmax_params(scale, beta=1.0):
    """TFLM PreprocessSoftmaxScaling + CalculateInputRadius (float approximation: any valid
    parameters will do for comparing backends)."""
    real = min(beta * scale * (1 << 26), (1 << 31) - 1.0)
    shift = 0
    while real >= 1.0:
        real /= 2
        shift += 1
    while real < 0.5:
        real *= 2
        shift -= 1
    mult = int(round(real * (1 << 31)))
    if mult == 1 << 31:
        mult //= 2
        shift += 1
    radius = int(31 * (1 << 26) / (1 << shift)) if shift >= 0 else 1 << 30
    return mult, shift, -radius


def softmax_case(rng, kernel='softmax_s8', bits=None, shape=None):
    rows, depth = shape or (rng.randint(1, 4), rng.randint(1, 40))
    bits = bits or rng.choice([8, 16])
    mult, shift, diff_min = softmax_params(rng.choice([0.02, 0.05, 0.1, 0.25, 1 / 16.0]))
    p = array('i', [rows, depth, mult, shift, diff_min, bits])
    return Case(kernel, rows * depth, 'b' if bits == 8 else 'h', _i8(rng, rows * depth), None, p)


def _broadcast_header(rng):
    dims = [rng.randint(1, 3) for _ in range(4)] + [rng.randint(1, 7)]
    if rng.random() < 0.2:
        dims = [1, 1, 1, 1, rng.randint(1, 40)]
    shapes, strides = [], []
    for _ in range(2):
        shape = [d if rng.random() < 0.7 else 1 for d in dims]
        st, acc = [0] * 5, 1
        for k in range(4, -1, -1):
            st[k] = acc if shape[k] > 1 else 0
            acc *= shape[k]
        shapes.append(acc)
        strides.append(st)
    n = 1
    for d in dims:
        n *= d
    return dims + strides[0] + strides[1], shapes[0], shapes[1], n


def add_case(rng, kernel='add_int8'):
    hdr, na, nb, n = _broadcast_header(rng)
    act = _act(rng)
    table = [rng.randint(-(1 << 28), 1 << 28) for _ in range(512)]
    p = array('i', hdr + [rng.randint(-128, 127), rng.randint(1 << 30, (1 << 31) - 1),
                          rng.randint(-26, -14), act[0], act[1]] + table)
    return Case(kernel, n, 'b', _i8(rng, na), _i8(rng, nb), p)


def mul_case(rng, kernel='mul_int8'):
    hdr, na, nb, n = _broadcast_header(rng)
    wide = kernel == 'mul_int16'
    act = _act(rng, -32768, 32767) if wide else _act(rng)
    offs = [0, 0, 0] if wide else [-rng.randint(-128, 127), -rng.randint(-128, 127),
                                    rng.randint(-128, 127)]
    mult, shift = rng.randint(1 << 30, (1 << 31) - 1), rng.randint(-20, 0 if wide else -6)
    p = array('i', hdr + offs[:2] + [offs[2], mult, shift, act[0], act[1]])
    gen = _i16 if wide else _i8
    return Case(kernel, n, 'h' if wide else 'b', gen(rng, na), gen(rng, nb), p)


GENERATORS = {
    'conv_s8': conv_case, 'conv_s8_ref': conv_case, 'depthwise_s8': depthwise_case,
    'depthwise_s8_ref': depthwise_case, 'fully_connected_s8': fc_case,
    'fully_connected_s8_ref': fc_case, 'fully_connected_s8_packed': fc_case, 'avgpool_s8': pool_case, 'avgpool_s16': pool_case,
    'maxpool_s8': pool_case, 'maxpool_s16': pool_case, 'softmax_s8': softmax_case,
    'add_int8': add_case, 'mul_int8': mul_case, 'mul_int16': mul_case,
}


def random_cases(seed, per_kernel, kernels=None):
    rng = random.Random(seed)
    out = []
    for name in kernels or GENERATORS:
        for _ in range(per_kernel):
            out.append(GENERATORS[name](rng, name))
    return out


def _pad(raw):
    return raw + bytes(-len(raw) % 4)


def write_cases(path, cases):
    with open(path, 'wb') as f:
        for c in cases:
            a = c.a.tobytes()
            b = bytes(c.b) if isinstance(c.b, bytes) else (c.b.tobytes() if c.b is not None else b'')
            f.write(struct.pack('<5I', KERNEL_IDS[c.kernel], len(c.p), c.out_bytes(), len(a), len(b)))
            f.write(c.p.tobytes())
            f.write(_pad(a))
            f.write(_pad(b))


def read_outputs(path, cases):
    """The harness output file split into one typed array per case."""
    with open(path, 'rb') as f:
        raw = f.read()
    outs, pos = [], 0
    for c in cases:
        n = c.out_bytes()
        outs.append(array(c.out_type, raw[pos:pos + n]))
        pos += n + (-n % 4)
    if pos != len(raw):
        raise ValueError('harness output has %d bytes, expected %d' % (len(raw), pos))
    return outs


def expected(case, kernels_module):
    """Run the python reference kernel on the case."""
    out = array(case.out_type, bytes(case.out_bytes()))
    getattr(kernels_module, case.python_name())(out, case.a, case.b, case.p)
    return out


HOST_HARNESS = pathlib.Path(__file__).resolve().parent.parent / "build" / "host" / "harness"


def run_host(cases, workdir):
    """Outputs of the host build (make harness-host: ASan + UBSan); AssertionError on a
    failed run or a sanitizer report."""
    src, dst = pathlib.Path(workdir) / "host_cases.bin", pathlib.Path(workdir) / "host_out.bin"
    write_cases(src, cases)
    res = subprocess.run([str(HOST_HARNESS), str(src), str(dst)], capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stderr[-4000:]
    assert "runtime error" not in res.stderr, res.stderr[-4000:]
    return read_outputs(dst, cases)
