"""The native float MFCC kernel (native_modules/src/dsp.c, `mfcc_f32`) on the unix port:
features vs tf.signal / the python loops, its own logf, argument checking, and the fallback
to the python/viper loops when the native DSP is not selected."""
import json
from array import array

import numpy as np
import pytest

from test_audio import WAVS, check_int8, quantize_ref, read_wav, tf_mlperf_mfcc


@pytest.fixture(scope="module")
def tf():
    return pytest.importorskip("tensorflow")


TMP = None


@pytest.fixture(scope="module")
def native(mp, tmp_path_factory):
    global TMP
    TMP = tmp_path_factory.mktemp("dsp_native")
    ok = mp("""
try:
    import tinyml_kernels
    print(hasattr(tinyml_kernels, 'mfcc_f32'))
except ImportError:
    print(False)
""").strip().splitlines()[-1]
    if ok != "True":
        pytest.skip("x64 tinyml_kernels.mpy with mfcc_f32 not built (make -C native_modules)")
    return mp


@pytest.fixture(scope="module")
def clips(zoo, tf):
    return {name: read_wav(zoo / "data" / (name + ".wav"))[0] for name in WAVS}


FEATURES = """
import json
import tinyml
from array import array
from tinyml import audio, dsp
tinyml.use_backend(%r)
dsp.use_dsp(%r)
res = {'native': dsp.native_mfcc() is not None, 'f': {}, 'q': {}}
for name, path in %s:
    with open(path, 'rb') as f:
        x = array('h', f.read())
    res['f'][name] = list(audio.features(x, out='float'))
    res['q'][name] = list(audio.features(x, out='int8'))
print(json.dumps(res))
"""


def run_features(mp, clips, backend="native", dsp=None):
    items = []
    for name, x in clips.items():
        path = TMP / (name + ".raw")
        path.write_bytes(x.astype("<i2").tobytes())
        items.append((name, str(path)))
    return mp.json(FEATURES % (backend, dsp, repr(items)))


def test_native_features_match_tf_signal(native, clips, tf):
    res = run_features(native, clips)
    assert res["native"]
    for name, x in clips.items():
        ref = tf_mlperf_mfcc(tf, x)
        got = np.array(res["f"][name], np.float32).reshape(49, 10)
        assert np.isfinite(got).all()
        assert np.abs(got - ref).max() < 2e-3, name
        check_int8(res["q"][name], ref)


def test_native_matches_python_loops(native, clips):
    nat = run_features(native, clips)
    py = run_features(native, clips, backend="python")
    assert nat["native"] and not py["native"]
    for name in clips:
        a = np.array(nat["f"][name])
        b = np.array(py["f"][name])
        assert np.abs(a - b).max() < 1e-4, name
        assert np.abs(np.array(nat["q"][name]) - np.array(py["q"][name])).max() <= 1


def test_native_edge_clips(native, tf):
    rng = np.random.default_rng(11)
    short = rng.integers(-3000, 3000, size=12000).astype(np.int16)
    neg = rng.integers(-2000, 1000, size=16000).astype(np.int16)
    neg[100] = -30000
    loud = rng.integers(-32768, 32767, size=16000).astype(np.int16)
    clips = {"short": short, "neg": neg, "loud": loud, "zero": np.zeros(16000, np.int16),
             "one": np.array([5], np.int16)}
    res = run_features(native, clips)
    assert res["native"]
    for name in ("short", "neg", "loud"):
        got = np.array(res["f"][name], np.float32).reshape(49, 10)
        assert np.abs(got - tf_mlperf_mfcc(tf, clips[name])).max() < 2e-3, name
    zero = np.array(res["f"]["zero"]).reshape(49, 10)
    mel = tf.fill([49, 40], tf.math.log(tf.constant(1e-6, tf.float32)))
    ref = tf.signal.mfccs_from_log_mel_spectrograms(mel)[..., :10].numpy()
    assert np.isfinite(zero).all() and np.abs(zero - ref).max() < 2e-3
    q = np.array(res["q"]["zero"]).reshape(49, 10)
    assert (q[:, 0] == -128).all()
    assert np.abs(q.ravel() - quantize_ref(ref).ravel().astype(int)).max() <= 1
    assert np.isfinite(res["f"]["one"]).all()


def test_fallback_on_python_and_viper(native, clips, tf):
    some = {"yes_1000ms": clips["yes_1000ms"]}
    ref = tf_mlperf_mfcc(tf, some["yes_1000ms"])
    for backend, dsp in (("python", None), ("native", "python"), ("native", "viper")):
        res = run_features(native, some, backend=backend, dsp=dsp)
        assert not res["native"], (backend, dsp)
        got = np.array(res["f"]["yes_1000ms"], np.float32).reshape(49, 10)
        assert np.abs(got - ref).max() < 2e-3
    res = run_features(native, some, backend="python", dsp="native")
    assert res["native"]      # use_dsp('native') picks the kernel whatever the model backend
    got = np.array(res["f"]["yes_1000ms"], np.float32).reshape(49, 10)
    assert np.abs(got - ref).max() < 2e-3


def test_native_other_geometry_and_power_spectrum(native):
    # hamming, 400/160, 13 coefficients, power spectrum; several FFT sizes: native vs python
    res = native.json("""
import json
from array import array
from tinyml import dsp
from tinyml.audio_mfcc import MfccPipeline
x = array('h', [((i * 7919) % 2001) - 1000 for i in range(4000)])
out = []
for fft, fl, st, nm, nc, spec in ((512, 400, 160, 40, 13, 'power'), (256, 256, 100, 24, 12,
                                  'magnitude'), (1024, 1000, 333, 64, 20, 'magnitude'),
                                  (8, 5, 3, 2, 2, 'power')):
    p = MfccPipeline(16000, fl, st, fft, 'hamming', False, nm, 0.0, 8000.0, 1e-6, nc, spec)
    frames = p.num_frames(3999)
    r = []
    for be in ('python', 'native'):
        dsp.use_dsp(be)
        o = array('f', bytes(4 * (frames * nc + 3)))    # longer than needed: a view is used
        n = p.run(x, 3999, o, 1.0 / 1000)
        r.append(list(o))
    assert n == frames
    out.append(r)
dsp.use_dsp(None)
print(json.dumps([dsp.native_mfcc() is not None, out]))
""")
    assert res[0]
    for py, nat in res[1]:
        py, nat = np.array(py), np.array(nat)
        assert np.all(py[-3:] == 0) and np.all(nat[-3:] == 0)
        assert np.abs(py - nat).max() <= 1e-4 * max(1.0, np.abs(py).max())


def test_own_logf_accuracy(native):
    rng = np.random.default_rng(5)
    xs = np.concatenate([
        np.logspace(-44, 38, 3000), rng.uniform(0.5, 2.0, 3000), rng.uniform(0, 1e-5, 1000),
        np.float32(1e-6) + rng.uniform(0, 1e3, 1000), [1.0, 2.0, np.sqrt(2.0), 0.5, 1e-6,
                                                        1.4e-45, 3.4028235e38]])
    xs = xs.astype(np.float32)
    xs = xs[xs > 0]
    path = TMP / "log_in.f32"
    path.write_bytes(xs.astype("<f4").tobytes())
    res = native.json("""
import json
from array import array
import tinyml_kernels as k
with open(%r, 'rb') as f:
    a = array('f', f.read())
o = array('f', bytes(4 * len(a)))
k._log_f32(o, a)
s = array('f', [0.0, -1.0, float('inf'), float('nan'), -0.0])
so = array('f', bytes(20))
k._log_f32(so, s)
print(json.dumps([list(o), [repr(v) for v in so]]))
""" % str(path))
    got = np.array(res[0], np.float64)
    ref = np.log(xs.astype(np.float64))
    err = np.abs(got - ref)
    # within 1e-6 relative or two float32 ulps of the result, whichever is larger
    tol = np.maximum(1e-6 * np.abs(ref), 2 * np.spacing(np.abs(ref).astype(np.float32)))
    tol = np.maximum(tol, 1.2e-7)      # results near 0 (x near 1): absolute
    assert (err <= tol).all(), (xs[err > tol][:5], err.max())
    assert res[1] == ["-inf", "nan", "inf", "nan", "-inf"]


BAD = """
import json
from array import array
import tinyml_kernels as k
from tinyml.audio_mfcc import MfccPipeline
pl = MfccPipeline(16000, 480, 320, 512, 'hann', True, 40, 20.0, 4000.0, 1e-6, 10)
p0, t0 = pl.native_setup()
p0[0] = 49
x0 = array('h', bytes(32000))
o0 = array('f', bytes(4 * 490))
k.mfcc_f32(o0, x0, t0, p0)              # the good call
def variant(i, v):
    p = array('i', p0)
    p[i] = v
    return p
cases = {
  'out short': (array('f', bytes(4 * 489)), x0, t0, p0),
  'out long': (array('f', bytes(4 * 491)), x0, t0, p0),
  'out int': (array('i', bytes(4 * 490)), x0, t0, p0),
  'samples short': (o0, array('h', bytes(2 * 15839)), t0, p0),
  'samples float': (o0, array('f', bytes(4 * 16000)), t0, p0),
  'samples bytes': (o0, bytearray(32000), t0, p0),
  'tables short': (o0, x0, t0[:-1], p0),
  'tables int': (o0, x0, array('i', bytes(4 * len(t0))), p0),
  'p short': (o0, x0, t0, p0[:-1]),
  'p header only': (o0, x0, t0, p0[:8]),
  'p float': (o0, x0, t0, array('f', bytes(4 * len(p0)))),
  'fft not pow2': (o0, x0, t0, variant(3, 500)),
  'fft huge': (o0, x0, t0, variant(3, 8192)),
  'frame > fft': (o0, x0, t0, variant(1, 513)),
  'frames negative': (o0, x0, t0, variant(0, -1)),
  'frames too many': (array('f', bytes(4 * 500)), x0, t0, variant(0, 50)),
  'step zero': (o0, x0, t0, variant(2, 0)),
  'power 2': (o0, x0, t0, variant(6, 2)),
  'num_mfcc > num_mel': (o0, x0, t0, variant(5, 41)),
  'band start past spectrum': (o0, x0, t0, variant(8, 257)),
  'band past spectrum': (o0, x0, t0, variant(8 + 40, 300)),
  'band length negative': (o0, x0, t0, variant(8 + 40, -1)),
  'band past weights': (o0, x0, t0, variant(8 + 80 + 39, 60000)),
  'weights count huge': (o0, x0, t0, variant(7, 1 << 20)),
}
res = {}
for name in cases:
    try:
        k.mfcc_f32(*cases[name])
        res[name] = 'no error'
    except ValueError:
        res[name] = 'ValueError'
    except TypeError:
        res[name] = 'TypeError'
for name, args in (('log lengths', (array('f', [0.0]), array('f', [1.0, 2.0]))),
                   ('log int', (array('i', [0]), array('f', [1.0])))):
    try:
        k._log_f32(*args)
        res[name] = 'no error'
    except ValueError:
        res[name] = 'ValueError'
print(json.dumps(res))
"""


def test_bad_arguments_raise_value_error(native):
    res = native.json(BAD)
    assert res == {name: "ValueError" for name in res}, res
    assert len(res) == 26


# ---- the same C (dsp.c) on Cortex-M4/M7 under QEMU and on the host with sanitizers ----

DSP_MAIN = r"""
#include <stdio.h>
#include <stdlib.h>
#include "dsp.h"

static void *take(FILE *f, size_t n) {
    void *b = malloc(n ? n : 1);
    if (!b || fread(b, 1, n, f) != n) {
        exit(2);
    }
    return b;
}

int main(void) {
    FILE *f = fopen("dsp_in.bin", "rb");
    if (!f) {
        return 3;
    }
    int32_t *hdr = take(f, 16);          /* p words, table floats, samples, log inputs */
    int32_t *p = take(f, 4 * (size_t)hdr[0]);
    float *tab = take(f, 4 * (size_t)hdr[1]);
    int16_t *x = take(f, 2 * (size_t)hdr[2]);
    float *logs = take(f, 4 * (size_t)hdr[3]);
    fclose(f);
    size_t n_out = (size_t)p[MF_FRAMES] * (size_t)p[MF_NUM_MFCC];
    float *out = malloc(4 * (n_out + (size_t)hdr[3]));
    tk_mfcc_f32(out, x, tab, p, malloc(tk_mfcc_scratch(p)));
    for (int32_t i = 0; i < hdr[3]; i++) {
        out[n_out + i] = tk_logf(logs[i]);
    }
    FILE *o = fopen("dsp_out.bin", "wb");
    if (!o || fwrite(out, 4, n_out + (size_t)hdr[3], o) != n_out + (size_t)hdr[3]) {
        return 4;
    }
    fclose(o);
    return 0;
}
"""

NATIVE = __import__("pathlib").Path(__file__).resolve().parent.parent / "native_modules"
ARM_FLAGS = ["-O2", "-std=c99", "-Wall", "-Werror", "-fno-tree-loop-distribute-patterns",
             "--specs=picolibc.specs", "--oslib=semihost", "--crt0=semihost",
             "-Wl,--defsym=__flash=0", "-Wl,--defsym=__flash_size=0x400000",
             "-Wl,--defsym=__ram=0x20000000", "-Wl,--defsym=__ram_size=0x400000"]
ARM_CPUS = {"cortex-m4": (["-mthumb", "-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16",
                           "-mfloat-abi=hard"], "mps2-an386"),
            "cortex-m7": (["-mthumb", "-mcpu=cortex-m7", "-mfpu=fpv5-d16", "-mfloat-abi=hard"],
                          "mps2-an500")}


def dsp_case(tmp):
    """Writes dsp_in.bin for a 1 s mlperf_kws clip; returns (python-loop features, log inputs)."""
    from tinyml import dsp
    from tinyml.audio_mfcc import MfccPipeline
    pl = MfccPipeline(16000, 480, 320, 512, "hann", True, 40, 20.0, 4000.0, 1e-6, 10)
    p, tab = pl.native_setup()
    rng = np.random.default_rng(9)
    t = np.arange(16000)
    x = (8000 * np.sin(2 * np.pi * 440 * t / 16000) + rng.normal(0, 900, 16000)).astype(np.int16)
    scale = 1.0 / float(x.max())
    p[0] = pl.num_frames(16000)
    tab[0] = scale
    logs = np.concatenate([np.logspace(-44, 38, 500), rng.uniform(1e-6, 1e3, 500)])
    logs = logs.astype(np.float32)
    with open(tmp / "dsp_in.bin", "wb") as f:
        f.write(np.array([len(p), len(tab), len(x), len(logs)], "<i4").tobytes())
        f.write(np.array(p, "<i4").tobytes() + np.array(tab, "<f4").tobytes())
        f.write(x.astype("<i2").tobytes() + logs.tobytes())
    dsp.use_dsp("python")
    try:
        ref = array("f", bytes(4 * 490))
        pl.run(array("h", x.tobytes()), 16000, ref, scale)
    finally:
        dsp.use_dsp(None)
    return np.array(ref), logs


def check_dsp_out(path, ref, logs):
    got = np.fromfile(path, "<f4").astype(np.float64)
    assert len(got) == len(ref) + len(logs)
    assert np.abs(got[:len(ref)] - ref).max() < 1e-4
    lref = np.log(logs.astype(np.float64))
    assert np.all(np.abs(got[len(ref):] - lref) <= np.maximum(1e-6 * np.abs(lref), 1.2e-7))


def test_dsp_c_on_host_with_sanitizers(tmp_path):
    import os
    import shutil
    import subprocess
    cc = shutil.which("gcc")
    if not cc:
        pytest.skip("no gcc")
    (tmp_path / "main.c").write_text(DSP_MAIN)
    exe = tmp_path / "dsp_host"
    subprocess.run([cc, "-std=c99", "-O1", "-g", "-Wall", "-Werror",
                    "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
                    "-I", str(NATIVE / "src"), "-o", str(exe), str(tmp_path / "main.c"),
                    str(NATIVE / "src" / "dsp.c")], check=True)
    ref, logs = dsp_case(tmp_path)
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")     # buffers are exact-size mallocs
    subprocess.run([str(exe)], cwd=tmp_path, check=True, timeout=120, env=env)
    check_dsp_out(tmp_path / "dsp_out.bin", ref, logs)


@pytest.mark.parametrize("cpu", sorted(ARM_CPUS))
def test_dsp_c_on_cortex_m_fpu_under_qemu(tmp_path, cpu):
    import os
    import shutil
    import subprocess
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        if not shutil.which(tool):
            pytest.skip("%s not installed" % tool)
    if not os.path.isdir("/usr/lib/picolibc/arm-none-eabi"):
        pytest.skip("picolibc-arm-none-eabi not installed")
    flags, machine = ARM_CPUS[cpu]
    (tmp_path / "main.c").write_text(DSP_MAIN)
    elf = tmp_path / "dsp.elf"
    subprocess.run(["arm-none-eabi-gcc"] + flags + ARM_FLAGS +
                   ["-I", str(NATIVE / "src"), "-o", str(elf), str(tmp_path / "main.c"),
                    str(NATIVE / "src" / "dsp.c")], check=True)
    # the kernel itself uses the FPU and no library calls
    syms = subprocess.run(["arm-none-eabi-nm", "-u", str(NATIVE / "build" / "armv7emsp" / "obj"
                                                         / "src" / "dsp.o")],
                          capture_output=True, text=True)
    if syms.returncode == 0:
        assert syms.stdout.strip() == ""
    ref, logs = dsp_case(tmp_path)
    subprocess.run(["qemu-system-arm", "-M", machine, "-nographic", "-monitor", "none",
                    "-serial", "none", "-semihosting-config", "enable=on,target=native",
                    "-kernel", str(elf)], cwd=tmp_path, check=True, timeout=300,
                   capture_output=True)
    check_dsp_out(tmp_path / "dsp_out.bin", ref, logs)
