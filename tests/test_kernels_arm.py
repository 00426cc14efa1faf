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


def host_outputs(cases, tmp_path):
    src, dst = tmp_path / "host_cases.bin", tmp_path / "host_out.bin"
    C.write_cases(src, cases)
    subprocess.run([str(NATIVE / "build" / "host" / "harness"), str(src), str(dst)], check=True,
                   capture_output=True)
    return C.read_outputs(dst, cases)


def assert_same(cases, got, want, what):
    bad = [i for i, (g, w) in enumerate(zip(got, want)) if list(g) != list(w)]
    assert not bad, "%s: %d/%d cases differ, first: %s p=%s" % (
        what, len(bad), len(cases), cases[bad[0]].kernel, list(cases[bad[0]].p[:20]))


@pytest.mark.parametrize("cpu", sorted(Q.MACHINES))
def test_qemu_random_cases_match_x64_and_python(built, tmp_path, cpu):
    cases = C.random_cases(seed=77, per_kernel=12)
    arm = Q.run_cases(cpu, cases, tmp_path)
    assert_same(cases, arm, host_outputs(cases, tmp_path), "%s vs x64 build" % cpu)
    assert_same(cases, arm, [C.expected(c, K) for c in cases], "%s vs python kernels" % cpu)


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
    # Cortex-M0 blocks of eight channels (16 pixels and more): K / 4 % 8 = 0..7 (loop
    # entries), K % 4 padding, channels left over, a filter just over the re-laid size limit
    for in_c, out_c, k in [(4, 8, 1), (8, 9, 1), (12, 16, 1), (16, 8, 1), (20, 17, 1),
                           (24, 35, 1), (28, 9, 1), (13, 16, 1), (36, 8, 1), (44, 8, 1),
                           (3, 24, 3), (5, 8, 3), (128, 131, 1), (132, 128, 1)]:
        cases.append(C.conv_case(rng, shape=(1, 5, 4, in_c, out_c, k, k, 1, 1),
                                 padding='SAME'))
    for batches, n_in, n_out in [(3, 64, 70), (2, 67, 37), (1, 130, 9), (4, 5, 66)]:
        cases.append(C.fc_case(rng, shape=(batches, n_in, n_out)))
    return cases


@pytest.mark.parametrize("cpu", ["cortex-m0", "cortex-m4"])
def test_qemu_block_shapes_and_requantization_edges(built, tmp_path, cpu):
    rng = random.Random(5)
    cases = block_shape_cases(rng) + [C.requant_edge_case(rng) for _ in range(6)]
    arm = Q.run_cases(cpu, cases, tmp_path)
    assert_same(cases, arm, host_outputs(cases, tmp_path), "%s vs x64 build" % cpu)
    assert_same(cases, arm, [C.expected(c, K) for c in cases], "%s vs python kernels" % cpu)


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
    arm = Q.run_cases(cpu, cases, tmp_path)
    assert_same(cases, arm, host_outputs(cases, tmp_path), "%s vs x64 build" % cpu)
    assert_same(cases, arm, [C.expected(c, K) for c in cases], "%s vs python kernels" % cpu)


LABELS = ('conv 3x3 s2, VWW stem (48x48x3 crop) -> 24x24x8', 'conv 3x3, 8x8x32 -> 8x8x32', 'conv 1x1, KWS 25x5x64 -> 64',
          'depthwise 3x3, KWS 25x5x64', 'fully connected, 512 -> 128')


def test_instruction_counts_cortex_m4(built, tmp_path):
    """Exact executed instructions per MAC on Cortex-M4 for tinyml's kernels and for the naive
    C loop (TFLM's reference loop compiled the same way)."""
    opt = {l: n / m for l, n, m in perf.per_mac("cortex-m4", "opt", tmp_path, LABELS)}
    ref = {l: n / m for l, n, m in perf.per_mac("cortex-m4", "ref", tmp_path, LABELS[4:])}
    assert opt['conv 3x3 s2, VWW stem (48x48x3 crop) -> 24x24x8'] <= 2.65, opt
    assert opt['conv 3x3, 8x8x32 -> 8x8x32'] <= 1.2, opt
    assert opt['fully connected, 512 -> 128'] <= 1.48, opt
    assert opt['conv 1x1, KWS 25x5x64 -> 64'] <= 1.21, opt     # K = 64: requantization shows
    assert opt['depthwise 3x3, KWS 25x5x64'] <= 3.75, opt
    for label in ref:
        assert opt[label] * 3 < ref[label], (opt, ref)


def test_instruction_counts_cortex_m0(built, tmp_path):
    opt = {l: n / m for l, n, m in perf.per_mac("cortex-m0", "opt", tmp_path, LABELS)}
    assert opt['conv 3x3 s2, VWW stem (48x48x3 crop) -> 24x24x8'] <= 6.88, opt
    assert opt['fully connected, 512 -> 128'] <= 3.77, opt
    assert opt['conv 3x3, 8x8x32 -> 8x8x32'] <= 3.59, opt
    assert opt["conv 1x1, KWS 25x5x64 -> 64"] <= 3.975, opt
    assert opt['depthwise 3x3, KWS 25x5x64'] <= 9.72, opt


@pytest.mark.parametrize("cpu", ["cortex-m0", "cortex-m4", "cortex-m7"])
def test_kernel_stack_use(cpu):
    """MicroPython runs native code on the port's task stack (8-16 KB on RP2040 / ESP32) and
    its stack check does not see native frames: kernels keep large buffers in scratch."""
    use = stack.usage(cpu)
    assert max(use.values()) <= 640, use
