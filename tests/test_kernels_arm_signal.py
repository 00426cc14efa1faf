"""The Signal kernels (signal.c), the int32/float32 elementwise kernels and CAST (eltwise32.c)
and the whole-op recurrent kernels with lut_int8 / softmax_f32 (rnn.c, softmax.c) built for
the host with ASan + UBSan and bare-metal for Cortex-M0/M3/M4/M7 under QEMU (harness
native_modules/harness/signal_harness.c, cases from signal_cases.py).

Every buffer after each call (inputs included) and the kernel's return value must be the same
bytes on every build and in the python twins (kernels/python_dsp, python_eltwise, python_rnn;
lstm_int and svdf_int as the per-step python kernels the ops run without them). softmax_f32
has no bit-exact python twin: the ARM builds must equal x64, and x64 TFLM's float softmax
within 1e-6. The float kernels (binary_float, softmax_f32, casts with float32) run on the
cores with float32 hardware only (M4, M7) and the host.
"""
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
NATIVE = ROOT / "native_modules"
sys.path.insert(0, str(NATIVE / "harness"))

import qemu as Q  # noqa: E402
import signal_cases as S  # noqa: E402
from test_kernels_rnn_fused import tflm_softmax_f32  # noqa: E402

QEMU_WHY = Q.missing_tools()
HOST_WHY = None if shutil.which("gcc") else "gcc not installed"
FPU_CPUS = ("cortex-m4", "cortex-m7")


def make(target):
    subprocess.run(["make", "-s", "-C", str(NATIVE), target], check=True)


@pytest.fixture(scope="module")
def host_harness():
    if HOST_WHY:
        pytest.skip("sanitized host harness: %s" % HOST_WHY)
    make("signal-harness-host")
    return NATIVE / "build" / "host" / "signal_harness"


@pytest.fixture(scope="module")
def arm_harnesses(host_harness):
    if QEMU_WHY:
        pytest.skip("QEMU kernel checks: %s" % QEMU_WHY)
    make("signal-harness-arm")


def host_outputs(harness, cases, tmp_path):
    src, dst = tmp_path / "host_cases.bin", tmp_path / "host_out.bin"
    S.write_cases(src, cases)
    res = subprocess.run([str(harness), str(src), str(dst)], capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0 and "runtime error" not in res.stderr, res.stderr[-3000:]
    return S.read_outputs(dst, cases)


def qemu_outputs(cpu, cases, workdir):
    S.write_cases(workdir / "sig_cases.bin", cases)
    elf = NATIVE / "build" / "qemu" / ("signal_harness-%s.elf" % cpu)
    res = subprocess.run(["qemu-system-arm", "-M", Q.MACHINES[cpu], "-nographic", "-monitor",
                          "none", "-serial", "none", "-semihosting-config",
                          "enable=on,target=native", "-kernel", str(elf)],
                         cwd=workdir, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    return S.read_outputs(workdir / "sig_out.bin", cases)


def first_difference(got, want):
    """'' when equal, else which part differs: 'return value' or 'buffer k'"""
    if got[0] != want[0]:
        return "return value %d != %d" % (got[0], want[0])
    for k, (g, w) in enumerate(zip(got[1], want[1])):
        if g != w:
            i = next(i for i in range(len(g)) if g[i] != w[i])
            return "buffer %d byte %d: %s != %s" % (k, i, g[i:i + 8].hex(), w[i:i + 8].hex())
    return ""


def assert_same(cases, got, want, what):
    bad = [(c, first_difference(g, w)) for c, g, w in zip(cases, got, want)
           if w is not None and g != w]
    assert not bad, "%s: %d/%d cases differ, first: %s: %s" % (
        what, len(bad), len(cases), bad[0][0].describe(), bad[0][1])


def assert_softmax_near_tflm(cases, outs):
    checked = 0
    for c, (_, bufs) in zip(cases, outs):
        if c.kernel != "softmax_f32":
            continue
        rows, depth = c.p
        x = np.array(c.bufs[1], dtype=np.float32).reshape(rows, depth)
        want = tflm_softmax_f32(x, c.bufs[2][0]).ravel().astype(np.float64)
        got = np.frombuffer(bufs[0], dtype=np.float32).astype(np.float64)
        tiny = want < 1e-30
        assert np.all(got[tiny] < 1e-30), c.describe()
        rel = np.abs(got[~tiny] - want[~tiny]) / want[~tiny]
        assert rel.max(initial=0.0) < 1e-6, (c.describe(), rel.max())
        checked += 1
    assert checked > 0


def all_cases(seed, rounds, with_float):
    return S.random_cases(seed, rounds, with_float) + S.edge_cases(seed + 1, with_float)


def test_host_sanitized_kernels_match_python(host_harness, tmp_path):
    cases = all_cases(seed=101, rounds=150, with_float=True)
    host = host_outputs(host_harness, cases, tmp_path)
    assert_same(cases, host, [S.python_twin(c) for c in cases], "x64 ASan/UBSan vs python")
    assert_softmax_near_tflm(cases, host)


def test_a_wrong_byte_is_caught(host_harness, tmp_path):
    """the comparison can fail: one flipped output byte, one wrong return value"""
    cases = all_cases(seed=7, rounds=1, with_float=True)
    host = host_outputs(host_harness, cases, tmp_path)
    want = [S.python_twin(c) for c in cases]
    k = next(i for i, c in enumerate(cases) if c.kernel == "lstm_int")
    ret, bufs = want[k]
    wrong = list(want)
    wrong[k] = (ret, [bytes([bufs[0][0] ^ 1]) + bufs[0][1:]] + bufs[1:])
    with pytest.raises(AssertionError, match="buffer 0 byte 0"):
        assert_same(cases, host, wrong, "deliberately wrong")
    k = next(i for i, c in enumerate(cases) if c.kernel == "signal_fft_auto_scale")
    wrong = list(want)
    wrong[k] = (want[k][0] + 1, want[k][1])
    with pytest.raises(AssertionError, match="return value"):
        assert_same(cases, host, wrong, "deliberately wrong")


@pytest.mark.parametrize("cpu", sorted(Q.MACHINES))
def test_qemu_kernels_match_x64_and_python(host_harness, arm_harnesses, tmp_path, cpu):
    cases = all_cases(seed=202, rounds=100, with_float=cpu in FPU_CPUS)
    arm = qemu_outputs(cpu, cases, tmp_path)
    assert_same(cases, arm, host_outputs(host_harness, cases, tmp_path), "%s vs x64" % cpu)
    assert_same(cases, arm, [S.python_twin(c) for c in cases], "%s vs python" % cpu)
