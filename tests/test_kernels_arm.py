"""The ARM builds of the C kernels under QEMU (bare metal, picolibc semihosting).

Cortex-M0 code runs on mps2-an385 (a Cortex-M3 board: it executes the armv6m build unchanged),
the Cortex-M3 (armv7m, no DSP) build on the same board,
Cortex-M4 on mps2-an386, Cortex-M7 on mps2-an500. Outputs must equal, byte for byte, the x64
build of the same C (the sanitized host harness) and the python reference kernels; instruction
counts come from single-stepped execution traces between marker functions.
"""
import pathlib
import random
import subprocess
import sys
from array import array

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
NATIVE = ROOT / "native_modules"
sys.path.insert(0, str(NATIVE / "harness"))

import cases as C  # noqa: E402
import qemu as Q  # noqa: E402
import perf  # noqa: E402
import stack  # noqa: E402
from tinyml.kernels import python as K  # noqa: E402

WHY = Q.missing_tools()
pytestmark = pytest.mark.skipif(WHY is not None, reason="QEMU kernel checks: %s" % WHY)


@pytest.fixture(scope="module")
def built():
    Q.build()
    subprocess.run(["make", "-s", "-C", str(NATIVE), "harness-host"], check=True)


def assert_same(cases, got, want, what):
    bad = [i for i, (g, w) in enumerate(zip(got, want)) if list(g) != list(w)]
    assert not bad, "%s: %d/%d cases differ, first: %s p=%s" % (
        what, len(bad), len(cases), cases[bad[0]].kernel, list(cases[bad[0]].p[:20]))


def check_cases(cpu, cases, tmp_path):
    """The cpu's outputs equal the x64 build's and the python kernels', byte for byte."""
    arm = Q.run_cases(cpu, cases, tmp_path)
    assert_same(cases, arm, C.run_host(cases, tmp_path), "%s vs x64 build" % cpu)
    assert_same(cases, arm, [C.expected(c, K) for c in cases], "%s vs python kernels" % cpu)


@pytest.mark.parametrize("cpu", sorted(Q.MACHINES))
def test_qemu_random_cases_match_x64_and_python(built, tmp_path, cpu):
    cases = C.random_cases(seed=77, per_kernel=12)
    check_cases(cpu, cases, tmp_path)


def test_qemu_cortex_m0_big_shapes(built, tmp_path):
    """Whole KWS DS-CNN layers on the Cortex-M0 build (no DSP, no divide, 16-bit multiplies
    in the requantization)."""
    cases = [c for _, c in perf.kws_cases()]
    arm = Q.run_cases("cortex-m0", cases, tmp_path)
    assert_same(cases, arm, [C.expected(c, K) for c in cases], "cortex-m0 KWS layers")


def block_shape_cases(rng):
    """Shapes that reach every branch of the blocked DSP loops: channel counts across the
    chunk sizes with 1..3 left over, clipped and whole depthwise windows of 1..5 taps a row,
    K % 4 tails, odd pixel counts."""
    cases = []
    for in_c, k, stride, pad in [(70, 3, 1, 'SAME'), (36, 3, 2, 'SAME'), (33, 3, 1, 'VALID'),
                                 (68, 5, 1, 'SAME'), (40, 2, 1, 'SAME'), (35, 1, 1, 'VALID'),
                                 (12, 3, 1, 'SAME'), (4, 3, 1, 'SAME')]:
        cases.append(C.depthwise_case(rng, shape=(2, 7, 5, in_c, 1, k, k, stride, 1),
                                      padding=pad))
    cases.append(C.depthwise_case(rng, shape=(1, 9, 8, 24, 1, 3, 3, 1, 2), padding='SAME'))
    # one input channel, depth multiplier > 1: run as the conv of the transposed filter
    for shape, pad in [((1, 11, 9, 1, 8, 3, 3, 2, 1), 'SAME'), ((1, 12, 10, 1, 5, 4, 3, 1, 1),
                                                                'VALID'),
                       ((2, 7, 8, 1, 3, 3, 3, 1, 2), 'SAME'), ((1, 49, 40, 1, 8, 10, 8, 2, 1),
                                                               'SAME')]:
        cases.append(C.depthwise_case(rng, shape=shape, padding=pad))
    # several channel chunks (64 channels of 3x3, fewer for larger filters), 1..3-tap border
    # rows, strides, a tail, and shifts across [-31, 1] (assembler table or C fix-ups)
    for in_c, k, stride, pad in [(136, 3, 1, 'SAME'), (76, 7, 2, 'SAME'), (20, 2, 2, 'SAME'),
                                 (68, 4, 1, 'SAME'), (8, 3, 3, 'SAME')]:
        c = C.depthwise_case(rng, shape=(1, 6, 9, in_c, 1, k, k, stride, 1), padding=pad)
        out_c = c.p[6]
        for i in range(out_c):
            c.p[20 + 2 * out_c + i] = rng.randint(-31, 1)
            if rng.random() < 0.3:
                c.p[20 + out_c + i] = rng.choice([0, 1, 1 << 30, (1 << 31) - 1])
        c.p[18] = 127 if rng.random() < 0.5 else c.p[18]
        cases.append(c)
    for in_c, out_c, k in [(64, 70, 1), (13, 67, 1), (3, 37, 3), (32, 66, 3), (5, 3, 1)]:
        cases.append(C.conv_case(rng, shape=(1, 5, 3, in_c, out_c, k, k, 1, 1),
                                 padding='SAME'))
    # kernel rows of three inputs (row runs with leftovers only), quads and not
    for shape, pad in [((1, 9, 7, 1, 8, 3, 3, 1, 1), 'SAME'), ((2, 6, 9, 3, 4, 3, 1, 2, 1), 'SAME'),
                       ((1, 10, 8, 1, 12, 5, 3, 2, 1), 'VALID'), ((1, 7, 7, 1, 6, 3, 3, 1, 1),
                                                                   'SAME')]:
        cases.append(C.conv_case(rng, shape=shape, padding=pad))
    # Cortex-M0 blocks of eight channels (16 pixels and more): K / 4 % 8 = 0..7 (loop
    # entries), K % 4 padding, channels left over, a filter just over the re-laid size limit
    for in_c, out_c, k in [(4, 8, 1), (8, 9, 1), (12, 16, 1), (16, 8, 1), (20, 17, 1),
                           (24, 35, 1), (28, 9, 1), (13, 16, 1), (36, 8, 1), (44, 8, 1),
                           (3, 24, 3), (5, 8, 3), (128, 131, 1), (132, 128, 1)]:
        cases.append(C.conv_case(rng, shape=(1, 5, 4, in_c, out_c, k, k, 1, 1),
                                 padding='SAME'))
    # fully connected: pairs of rows with one left over; single rows of more than one
    # FC_CHUNK (fully_connected.c), with a partial last chunk
    for batches, n_in, n_out in [(3, 64, 70), (2, 67, 37), (1, 130, 9), (4, 5, 66),
                                 (1, 1100, 9), (3, 1027, 6), (1, 4000, 4)]:
        cases.append(C.fc_case(rng, shape=(batches, n_in, n_out)))
    return cases


@pytest.mark.parametrize("cpu", ["cortex-m0", "cortex-m4"])
def test_qemu_block_shapes_and_requantization_edges(built, tmp_path, cpu):
    rng = random.Random(5)
    cases = block_shape_cases(rng) + [C.requant_edge_case(rng) for _ in range(6)]
    check_cases(cpu, cases, tmp_path)


def conv_column_cases(rng):
    """Conv column layouts: RGB stems (3x3, 3 channels) with strides and SAME / VALID padding
    at sizes with whole and clipped windows, kernel rows of run % 4 = 0..3 (leftover groups
    and reordered filter rows), too few pixels for the reordering, runs under 4 bytes,
    dilated rows, batches and odd pixel counts; 1x1 with unpacked filter rows (odd group and
    channel counts, strides) and too few pixels for them."""
    cases = []
    for shape, pad in [((1, 13, 11, 3, 8, 3, 3, 2, 1), 'SAME'), ((1, 12, 12, 3, 8, 3, 3, 2, 1), 'SAME'),
                       ((2, 9, 10, 3, 5, 3, 3, 1, 1), 'VALID'), ((1, 11, 9, 3, 16, 3, 3, 2, 1), 'VALID'),
                       ((1, 7, 7, 5, 6, 3, 3, 1, 1), 'SAME'), ((1, 8, 6, 2, 7, 3, 3, 1, 1), 'SAME'),
                       ((1, 6, 9, 3, 4, 2, 5, 1, 1), 'SAME'), ((1, 15, 8, 1, 9, 10, 4, 2, 1), 'SAME'),
                       ((1, 3, 3, 3, 8, 3, 3, 1, 1), 'SAME'), ((1, 9, 9, 1, 4, 3, 3, 1, 1), 'SAME'),
                       ((1, 9, 7, 4, 5, 3, 3, 1, 2), 'SAME'), ((1, 10, 9, 7, 3, 3, 3, 3, 1), 'SAME'),
                       ((1, 5, 4, 12, 9, 1, 1, 1, 1), 'VALID'), ((2, 7, 6, 8, 6, 1, 1, 2, 1), 'VALID'),
                       ((1, 3, 2, 16, 8, 1, 1, 1, 1), 'VALID')]:
        cases.append(C.conv_case(rng, shape=shape, padding=pad))
    c = C.conv_case(rng, shape=(1, 12, 8, 3, 6, 3, 3, 1, 1), padding='SAME')
    c.p[11] = 2                                  # dilation_h 2, dilation_w 1
    cases.append(c)
    for pad_l in (-4, 5):                        # windows wholly left / right of the input
        c = C.conv_case(rng, shape=(1, 6, 3, 3, 4, 3, 3, 1, 1), padding='SAME')
        c.p[14] = pad_l
        cases.append(c)
    return cases


@pytest.mark.parametrize("cpu", ["cortex-m0", "cortex-m4"])
def test_qemu_conv_column_layouts(built, tmp_path, cpu):
    cases = conv_column_cases(random.Random(11))
    check_cases(cpu, cases, tmp_path)


def conv_quad_cases(rng):
    """Conv shapes whole pixels of which run in quads of output channels on DSP (out_c a
    multiple of 4, filter rows unpacked; the requantization from SMMLAR with weights scaled
    by 2**(max(shift, 0) + 1)): every channel within the quads' limits (shifts -21..7,
    multipliers 0, 1, 2**30, 2**31 - 1, biases to 2**28 where the scaled accumulator fits),
    and, with out_offset (less act_min when clamped) 0, shifts down to -31; then one channel
    past them (shift -26 with that offset large, 8, bias 2**28 with a left shift: the blocked
    pairs run instead); input offsets at the int8 ends, clamped and unclamped outputs, pixel
    counts across the columns per call."""
    cases = []
    shapes = [((1, 9, 11, 3, 8, 3, 3, 2, 1), 'SAME'), ((2, 7, 9, 3, 4, 3, 3, 1, 1), 'SAME'),
              ((1, 12, 7, 3, 12, 3, 3, 2, 1), 'VALID'), ((1, 6, 7, 16, 12, 1, 1, 1, 1), 'VALID'),
              ((1, 13, 5, 1, 16, 10, 4, 2, 1), 'SAME'), ((1, 7, 6, 4, 8, 3, 3, 1, 1), 'SAME'),
              ((1, 40, 9, 3, 4, 3, 3, 1, 1), 'SAME')]
    for i, (shape, pad) in enumerate(shapes * 3):
        c = C.conv_case(rng, shape=shape, padding=pad)
        out_c = c.p[6]
        bias, mult, shift = 20, 20 + out_c, 20 + 2 * out_c
        for j in range(out_c):
            c.p[shift + j] = rng.randint(-21, 7)
            if rng.random() < 0.3:
                c.p[mult + j] = rng.choice([0, 1, 1 << 30, (1 << 31) - 1])
            if c.p[shift + j] < 0 and rng.random() < 0.3:
                c.p[bias + j] = rng.choice([-1, 1]) * ((1 << 28) - 1)
        if i >= len(shapes):
            j = rng.randrange(out_c)
            c.p[shift + j], c.p[bias + j] = rng.choice([(-26, c.p[bias + j]), (8, 1000),
                                                        (1, 1 << 28)])
        c.p[15] = [-127, 128, c.p[15]][i % 3]
        c.p[17], c.p[18] = [(-128, 127), (-100, 127), (-128, 90), (-7, 12)][i % 4]
        if i % 3 == 1:                  # out_offset - act_min (clamped) or out_offset 0
            c.p[16] = 0 if (c.p[17], c.p[18]) == (-128, 127) else c.p[17]
            c.p[shift + rng.randrange(out_c)] = rng.randint(-31, -22)
        elif i >= len(shapes):
            c.p[16] = c.p[17] + 150 if c.p[17] < -22 else 127
        cases.append(c)
    return cases


def depthwise_rq_cases(rng):
    """Depthwise layers requantized in the DSP tap routines (weights and biases scaled, SMMLAR):
    3x3 windows whole and clipped every way (paddings 0..2, strides, dilation_h 2; rows of
    one tap row), shifts -21..7 and, with out_offset - act_min 0, down to -31; then one
    channel past the limits (shift -26 with out_offset - act_min 200, or 8: the C loop runs)."""
    cases = []
    shapes = [((1, 7, 6, 8, 1, 3, 3, 1, 1), 'SAME'), ((2, 9, 8, 16, 1, 3, 3, 2, 1), 'SAME'),
              ((1, 6, 9, 12, 1, 3, 3, 1, 1), 'VALID'), ((1, 25, 5, 64, 1, 3, 3, 1, 1), 'SAME')]
    for i, (shape, pad) in enumerate(shapes * 3):
        c = C.depthwise_case(rng, shape=shape, padding=pad)
        out_c = c.p[6]
        bias, mult, shift = 20, 20 + out_c, 20 + 2 * out_c
        c.p[13] = [c.p[13], 2, 0][i % 3]
        c.p[14] = [c.p[14], 2, 1][i % 3]
        for j in range(out_c):
            c.p[shift + j] = rng.randint(-21, 7)
            if rng.random() < 0.3:
                c.p[mult + j] = rng.choice([0, 1, 1 << 30, (1 << 31) - 1])
        c.p[17], c.p[18] = [(-128, 127), (-100, 127), (-7, 12)][i % 3]
        if i % 2:
            c.p[16] = c.p[17]
            c.p[shift + rng.randrange(out_c)] = rng.randint(-31, -22)
        if i >= len(shapes) * 2:
            c.p[shift + rng.randrange(out_c)] = rng.choice([-26, 8])
            c.p[16], c.p[17], c.p[18] = 72, -128, 127       # out_offset - act_min 200
        cases.append(c)
    c = C.depthwise_case(rng, shape=(1, 12, 8, 8, 1, 3, 3, 1, 1), padding='SAME')
    c.p[11] = 2                                  # dilation_h 2
    cases.append(c)
    return cases


@pytest.mark.parametrize("cpu", ["cortex-m4", "cortex-m7"])
def test_qemu_conv_quads(built, tmp_path, cpu):
    cases = conv_quad_cases(random.Random(12))
    check_cases(cpu, cases, tmp_path)


@pytest.mark.parametrize("cpu", ["cortex-m4", "cortex-m7"])
def test_qemu_depthwise_requantization_limits(built, tmp_path, cpu):
    cases = depthwise_rq_cases(random.Random(14))
    check_cases(cpu, cases, tmp_path)


def test_qemu_conv_quads_wide_input_offsets(built, tmp_path):
    """Input offsets past the int8 zero points (the binding takes -255..255; the python
    kernels do not): padding of RGB-stem windows cannot be a zero-point byte then."""
    cases = conv_quad_cases(random.Random(13))
    for i, c in enumerate(cases):
        c.p[15] = [200, -255, 129, -128][i % 4]
    arm = Q.run_cases("cortex-m4", cases, tmp_path)
    assert_same(cases, arm, C.run_host(cases, tmp_path), "cortex-m4 vs x64 build")


LABELS = ('conv 3x3 s2, VWW stem (48x48x3 crop) -> 24x24x8', 'conv 3x3, 8x8x32 -> 8x8x32', 'conv 1x1, KWS 25x5x64 -> 64',
          'depthwise 3x3, KWS 25x5x64', 'fully connected, 512 -> 128')


def test_instruction_counts_cortex_m4(built, tmp_path):
    """Exact executed instructions per MAC on Cortex-M4 for tinyml's kernels and for the naive
    C loop (TFLM's reference loop compiled the same way)."""
    opt = {l: n / m for l, n, m in perf.per_mac("cortex-m4", "opt", tmp_path, LABELS)}
    ref = {l: n / m for l, n, m in perf.per_mac("cortex-m4", "ref", tmp_path, LABELS[4:])}
    assert opt['conv 3x3 s2, VWW stem (48x48x3 crop) -> 24x24x8'] <= 1.43, opt
    assert opt['conv 3x3, 8x8x32 -> 8x8x32'] <= 1.2, opt
    assert opt['fully connected, 512 -> 128'] <= 1.48, opt
    assert opt['conv 1x1, KWS 25x5x64 -> 64'] <= 0.97, opt
    assert opt['depthwise 3x3, KWS 25x5x64'] <= 3.0, opt
    for label in ref:
        assert opt[label] * 3 < ref[label], (opt, ref)


def test_instruction_counts_cortex_m0(built, tmp_path):
    opt = {l: n / m for l, n, m in perf.per_mac("cortex-m0", "opt", tmp_path, LABELS)}
    assert opt['conv 3x3 s2, VWW stem (48x48x3 crop) -> 24x24x8'] <= 6.88, opt
    # 3.767 before the fully connected input was widened in chunks (scratch 64 KB -> 2 KB for
    # micro_speech's 4000-deep layer): the accumulators' bias start costs 0.01
    assert opt['fully connected, 512 -> 128'] <= 3.78, opt
    assert opt['conv 3x3, 8x8x32 -> 8x8x32'] <= 3.59, opt
    assert opt["conv 1x1, KWS 25x5x64 -> 64"] <= 3.975, opt
    assert opt['depthwise 3x3, KWS 25x5x64'] <= 9.72, opt


@pytest.mark.parametrize("cpu", ["cortex-m0", "cortex-m4", "cortex-m7"])
def test_kernel_stack_use(cpu):
    """MicroPython runs native code on the port's task stack (8-16 KB on RP2040 / ESP32) and
    its stack check does not see native frames: kernels keep large buffers in scratch."""
    use = stack.usage(cpu)
    assert max(use.values()) <= 640, use


def pool_cases(rng):
    """Average pools summed channels-inner: channel counts across POOL_CHUNK (64) with 1..3
    left over (SXTAB16 groups of four on Armv7E-M, then single channels), windows of up to
    256 pixels (int16 lanes) and over, clipped windows, int16 elements."""
    cases = []
    for shape in [(25, 5, 64, 25, 5, 1), (8, 8, 70, 8, 8, 1), (17, 16, 5, 17, 16, 1),
                  (16, 16, 131, 16, 16, 1), (9, 9, 67, 3, 3, 2), (6, 7, 3, 2, 2, 2),
                  (12, 10, 130, 5, 4, 3)]:
        for kernel in ('avgpool_s8', 'avgpool_s16', 'maxpool_s8'):
            c = C.pool_case(rng, kernel, shape=shape)
            if kernel.endswith('16'):
                c.a = array('h', [rng.randint(-32768, 32767) for _ in range(len(c.a))])
                c.out_type = 'h'
                c.p[12], c.p[13] = -32768, 32767
            cases.append(c)
    cases += [C.pool_case(rng, k) for k in ('avgpool_s8', 'avgpool_s16') for _ in range(30)]
    return cases


@pytest.mark.parametrize("cpu", ["cortex-m0", "cortex-m4"])
def test_qemu_pools(built, tmp_path, cpu):
    cases = pool_cases(random.Random(21))
    check_cases(cpu, cases, tmp_path)


def conv_3x3_one_channel_cases(rng):
    """3x3 filters over one input channel (grayscale stems; depthwise 1 -> n runs as this
    conv): tk_pack_3x3_dsp for windows inside the image and, clipped, from their window bytes
    (input zero point in int8) or the generic column (not), strides, dilated rows, batches."""
    cases = []
    for shape, pad in [((1, 12, 11, 1, 8, 3, 3, 1, 1), 'SAME'), ((2, 13, 9, 1, 4, 3, 3, 2, 1), 'SAME'),
                       ((1, 10, 10, 1, 12, 3, 3, 1, 1), 'VALID'), ((1, 11, 12, 1, 8, 3, 3, 1, 2), 'SAME'),
                       ((1, 16, 16, 1, 16, 3, 3, 2, 1), 'VALID')]:
        cases.append(C.conv_case(rng, shape=shape, padding=pad))
    for shape in [(1, 12, 11, 1, 8, 3, 3, 2, 1), (1, 9, 9, 1, 4, 3, 3, 1, 1)]:
        c = C.depthwise_case(rng, shape=shape, padding='SAME')
        cases.append(c)
    wide = C.conv_case(rng, shape=(1, 12, 11, 1, 8, 3, 3, 1, 1), padding='SAME')
    wide.p[15] = 200                       # input zero point -200: not an int8 fill byte
    return cases, [wide]


@pytest.mark.parametrize("cpu", ["cortex-m4", "cortex-m7"])
def test_qemu_conv_3x3_one_channel(built, tmp_path, cpu):
    cases, wide = conv_3x3_one_channel_cases(random.Random(22))
    arm = Q.run_cases(cpu, cases + wide, tmp_path)
    assert_same(cases + wide, arm, C.run_host(cases + wide, tmp_path), "%s vs x64 build" % cpu)
    assert_same(cases, arm[:len(cases)], [C.expected(c, K) for c in cases],
                "%s vs python kernels" % cpu)


def conv_quad_block_cases(rng):
    """Quads over blocks of output channels (1x1 filters too large to unpack whole), a last
    block shorter than the others, clamped and full activation ranges; row-run filters that
    large (with and without reordered rows) and too few pixels to block take the 2x2 path."""
    cases = []
    for shape, pad in [((1, 6, 6, 128, 128, 1, 1, 1, 1), 'VALID'), ((1, 5, 4, 100, 48, 1, 1, 1, 1), 'SAME'),
                       ((1, 6, 5, 32, 64, 3, 3, 1, 1), 'SAME'), ((1, 7, 6, 5, 96, 3, 3, 1, 1), 'SAME'),
                       ((2, 4, 4, 64, 72, 1, 1, 1, 1), 'VALID'), ((1, 3, 3, 256, 64, 1, 1, 1, 1), 'VALID')]:
        for _ in range(2):
            cases.append(C.conv_case(rng, shape=shape, padding=pad))
    return cases


@pytest.mark.parametrize("cpu", ["cortex-m4", "cortex-m7"])
def test_qemu_conv_quad_blocks(built, tmp_path, cpu):
    cases = conv_quad_block_cases(random.Random(23))
    check_cases(cpu, cases, tmp_path)
