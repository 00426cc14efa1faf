"""quant.py against numpy double math and a transcription of TFLM's QuantizeMultiplier."""
import json
import math
import struct

import numpy as np
import pytest

from tinyml import quant


def f32(x):
    return struct.unpack('<f', struct.pack('<f', x))[0]


def random_scales(n, seed):
    """float32 scales spread over many binades, plus edge cases."""
    rng = np.random.default_rng(seed)
    vals = (10.0 ** rng.uniform(-12, 4, n)).astype(np.float32)
    edge = np.array([1.0, 0.5, 2.0, 1 / 256, 1 / 255, 0.00390625, 3.0517578e-05,
                     np.float32(2 ** -126), np.float32(1.4e-45), np.float32(3.4e38),
                     0.99999994, 1.0000001], dtype=np.float32)
    return [float(v) for v in np.concatenate([edge, vals])]


def tflm_quantize_multiplier(d):
    """Line-by-line transcription of TFLM QuantizeMultiplier on a real double."""
    if d == 0.0:
        return 0, 0
    q, shift = math.frexp(d)
    x = q * (1 << 31)
    q_fixed = int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)   # TfLiteRound
    assert abs(q_fixed) <= 1 << 31
    if q_fixed == 1 << 31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift, q_fixed = 0, 0
    return q_fixed, shift


def as_float(d):
    m, e = d
    return math.ldexp(m, e)


def test_dbl_is_exact():
    for s in random_scales(500, 1):
        assert as_float(quant.dbl(s)) == s
    assert quant.dbl(0.0) == quant.ZERO
    assert as_float(quant.dbl(-0.75)) == -0.75
    assert as_float(quant.dbl_int(12345)) == 12345.0


def test_dbl_rejects_inf_nan():
    with pytest.raises(ValueError):
        quant.dbl(float('inf'))
    with pytest.raises(ValueError):
        quant.dbl(float('nan'))


def test_double_ops_match_numpy():
    a = random_scales(300, 2)
    b = random_scales(300, 3)[::-1]
    for x, y in zip(a, b):
        dx, dy = quant.dbl(x), quant.dbl(y)
        assert as_float(quant.dmul(dx, dy)) == float(np.float64(x) * np.float64(y))
        assert as_float(quant.ddiv(dx, dy)) == float(np.float64(x) / np.float64(y))
        assert as_float(quant.dadd(dx, dy)) == float(np.float64(x) + np.float64(y))
        assert as_float(quant.dsub(dx, dy)) == float(np.float64(x) - np.float64(y))
        assert quant.dcmp(dx, dy) == (x > y) - (x < y)


def test_chained_conv_scale_matches_numpy():
    # conv: (double)in_scale * (double)filter_scale / (double)out_scale
    s = random_scales(600, 4)
    for i in range(0, 600, 3):
        x, y, z = s[i], s[i + 1], s[i + 2]
        d = quant.ddiv(quant.dmul(quant.dbl(x), quant.dbl(y)), quant.dbl(z))
        want = np.float64(x) * np.float64(y) / np.float64(z)
        assert as_float(d) == float(want)
        assert quant.quantize_multiplier(d) == tflm_quantize_multiplier(float(want))


def test_quantize_multiplier_matches_transcription():
    for s in random_scales(2000, 5):
        assert quant.quantize_multiplier(quant.dbl(s)) == tflm_quantize_multiplier(s), s
    rng = np.random.default_rng(6)
    for bits in rng.integers(0, 1 << 64, 2000, dtype=np.uint64):
        d = float(np.uint64(bits).view(np.float64))
        if not math.isfinite(d) or d == 0:
            continue
        m, e = math.frexp(d)
        exact = (int(m * (1 << 53)), e - 53)
        assert quant.quantize_multiplier(exact) == tflm_quantize_multiplier(d), d


def test_quantize_multiplier_edges():
    assert quant.quantize_multiplier(quant.ZERO) == (0, 0)
    assert quant.quantize_multiplier(quant.dbl(1.0)) == (1 << 30, 1)
    # q rounds up to 2**31: the fixup halves it and bumps the shift
    d = (2 ** 53 - 1, -53)
    assert quant.quantize_multiplier(d) == (1 << 30, 1)
    # below 2**-32 flushes to zero
    assert quant.quantize_multiplier(quant.dbl(2.0 ** -33)) == (0, 0)
    assert quant.quantize_multiplier(quant.dbl(2.0 ** -32)) == (1 << 30, -31)


def test_smaller_greater_than_one():
    assert quant.quantize_multiplier_smaller_than_one_exp(quant.dbl(0.25)) == (1 << 30, -1)
    assert quant.quantize_multiplier_greater_than_one(quant.dbl(3.0)) == (3 << 29, 2)
    with pytest.raises(ValueError):
        quant.quantize_multiplier_smaller_than_one_exp(quant.dbl(1.5))
    with pytest.raises(ValueError):
        quant.quantize_multiplier_greater_than_one(quant.dbl(0.5))


def ref_rdbpot(x, e):
    mask = (1 << e) - 1
    rem = x & mask
    thr = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> e) + (1 if rem > thr else 0)


def test_srdhm_and_rounding_shift():
    rng = np.random.default_rng(7)
    xs = [int(v) for v in rng.integers(-2 ** 31, 2 ** 31, 3000)]
    ms = [int(v) for v in rng.integers(0, 2 ** 31, 3000)]
    xs += [-2 ** 31, 2 ** 31 - 1, 0, -1, 1]
    ms += [-2 ** 31, 2 ** 31 - 1, 0, 1, 1 << 30]
    for a, b in zip(xs, ms):
        ab = a * b
        if a == b == -2 ** 31:
            want = 2 ** 31 - 1
        else:
            nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
            t = ab + nudge
            want = t // (1 << 31) if t >= 0 else -((-t) // (1 << 31))
        assert quant.srdhm(a, b) == want
    for x in xs[:500]:
        for e in (0, 1, 5, 13, 31):
            want = ref_rdbpot(x, e)
            # rounding half away from zero of x / 2**e
            exact = x / 2 ** e
            assert abs(want - exact) <= 0.5
            assert quant.rounding_divide_by_pot(x, e) == want


def test_multiply_by_quantized_multiplier():
    rng = np.random.default_rng(8)
    for _ in range(3000):
        x = int(rng.integers(-2 ** 20, 2 ** 20))
        s = float(np.float32(10.0 ** rng.uniform(-6, 1)))
        mult, shift = quant.quantize_multiplier(quant.dbl(s))
        got = quant.multiply_by_quantized_multiplier(x, mult, shift)
        ls, rs = max(shift, 0), max(-shift, 0)
        want = ref_rdbpot(quant.srdhm(x * (1 << ls), mult), rs)
        assert got == want
        assert abs(got - x * s) <= 1 + abs(x * s) * 1e-6


def test_multiply_by_quantized_multiplier_64():
    rng = np.random.default_rng(9)
    for _ in range(2000):
        x = int(rng.integers(-2 ** 47, 2 ** 47))
        s = float(np.float32(10.0 ** rng.uniform(-9, -4)))
        mult, shift = quant.quantize_multiplier(quant.dbl(s))
        red = (mult + (1 << 15)) >> 16 if mult < 0x7FFF0000 else 0x7FFF
        ts = 15 - shift
        want = int((np.int64(x) * np.int64(red) + (np.int64(1) << np.int64(ts - 1))) >> ts)
        want = int(np.int64(want).astype(np.int32))
        assert quant.multiply_by_quantized_multiplier_64(x, mult, shift) == want


def test_on_micropython_matches_cpython(mp):
    scales = random_scales(400, 10)
    triples = [scales[i:i + 3] for i in range(0, 399, 3)]
    want = []
    for x, y, z in triples:
        d = quant.ddiv(quant.dmul(quant.dbl(x), quant.dbl(y)), quant.dbl(z))
        mult, shift = quant.quantize_multiplier(d)
        want.append([list(d), mult, shift,
                     quant.multiply_by_quantized_multiplier(123457, mult, shift),
                     quant.multiply_by_quantized_multiplier_64(-(2 ** 40) + 17, mult, shift)
                     if -31 <= shift < 8 else 0])
    code = """
import json, struct
from tinyml import quant
T = %s
out = []
for bits in T:
    x, y, z = [struct.unpack('<f', struct.pack('<I', b))[0] for b in bits]
    d = quant.ddiv(quant.dmul(quant.dbl(x), quant.dbl(y)), quant.dbl(z))
    mult, shift = quant.quantize_multiplier(d)
    out.append([list(d), mult, shift,
                quant.multiply_by_quantized_multiplier(123457, mult, shift),
                quant.multiply_by_quantized_multiplier_64(-(2 ** 40) + 17, mult, shift)
                if -31 <= shift < 8 else 0])
print(json.dumps(out))
""" % json.dumps([[struct.unpack('<I', struct.pack('<f', v))[0] for v in t] for t in triples])
    assert mp.json(code) == want


def test_tflite_round_and_quantize_real():
    assert [quant.tflite_round(v) for v in (0.5, -0.5, 1.5, 2.5, -2.5, 0.49999997, -0.49999997,
                                             3.0, -7.2)] == [1, -1, 2, 3, -3, 0, 0, 3, -7]
    rng = np.random.default_rng(11)
    for _ in range(2000):
        scale = float(np.float32(10 ** rng.uniform(-4, 1)))
        zp = int(rng.integers(-128, 128))
        v = float(rng.choice([0.0, 6.0, -1.0, 1.0]))
        q = float(np.float32(v) / np.float32(scale))   # float32 division as in TFLM
        want = zp + int(math.copysign(math.floor(abs(q) + 0.5), q))   # exact in double
        assert quant.quantize_real(v, scale, zp) == want


def test_activation_ranges():
    assert quant.activation_range_quantized('NONE', 0.1, 3, 'int8') == (-128, 127)
    assert quant.activation_range_quantized('RELU', 0.1, 3, 'int8') == (3, 127)
    assert quant.activation_range_quantized('RELU6', 0.1, -128, 'int8') == (-128, -68)
    assert quant.activation_range_quantized('RELU_N1_TO_1', 0.01, 0, 'int16') == (-100, 100)
    assert quant.activation_range_quantized('RELU6', 0.01, 100, 'int8') == (100, 127)
    with pytest.raises(ValueError, match='TANH'):
        quant.activation_range_quantized('TANH', 0.1, 0, 'int8')
    assert quant.activation_range_float('RELU6') == (0.0, 6.0)


def test_per_channel_multipliers_match_transcription():
    rng = np.random.default_rng(12)
    for _ in range(50):
        s_in = float(np.float32(10 ** rng.uniform(-3, 0)))
        s_out = float(np.float32(10 ** rng.uniform(-2, 1)))
        fs = tuple(float(np.float32(v)) for v in 10 ** rng.uniform(-4, -1, 8))
        mults, shifts = quant.per_channel_multipliers(s_in, fs, s_out, 8)
        for c in range(8):
            assert (mults[c], shifts[c]) == tflm_quantize_multiplier(s_in * fs[c] / s_out)
        m1, s1 = quant.per_channel_multipliers(s_in, (fs[0],), s_out, 3)
        assert list(m1) == [mults[0]] * 3 and list(s1) == [shifts[0]] * 3
        assert m1.typecode == 'i' and s1.typecode == 'i'      # array('i'), not lists
