"""audio.features (mlperf_kws MFCCs) and the dsp building blocks vs tf.signal / numpy."""
import json
import wave
from array import array

import numpy as np
import pytest

from tinyml import audio, dsp
from tinyml.kernels import python_dsp

WAVS = ("yes_1000ms", "no_1000ms", "silence_1000ms", "noise_1000ms")
KWS_SCALE = np.float32(0.5847029089927673)
KWS_ZP = 83


@pytest.fixture(scope="module")
def tf():
    return pytest.importorskip("tensorflow")


def read_wav(path):
    with wave.open(str(path)) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").copy(), w.getframerate()


def tf_mlperf_mfcc(tf, x):
    """MLPerf Tiny KWS features exactly as get_dataset.py builds them (float32)."""
    w = tf.cast(tf.constant(x), tf.float32)
    w = w / tf.reduce_max(w)
    w = tf.pad(w, [[0, 16000 - tf.shape(w)[-1]]])
    stfts = tf.signal.stft(w, frame_length=480, frame_step=320, fft_length=None,
                           window_fn=tf.signal.hann_window)
    spec = tf.abs(stfts)
    mel_w = tf.signal.linear_to_mel_weight_matrix(40, spec.shape[-1], 16000, 20.0, 4000.0)
    mel = tf.tensordot(spec, mel_w, 1)
    return tf.signal.mfccs_from_log_mel_spectrograms(tf.math.log(mel + 1e-6))[..., :10].numpy()


def quantize_ref(f):
    q = np.trunc(f.astype(np.float32) / KWS_SCALE + np.float32(KWS_ZP))
    return np.clip(q, -128, 127).astype(np.int8)


@pytest.fixture(scope="module")
def clips(zoo, tf):
    out = {}
    for name in WAVS:
        x, sr = read_wav(zoo / "data" / (name + ".wav"))
        assert sr == 16000
        out[name] = (x, tf_mlperf_mfcc(tf, x))
    return out


def check_int8(got, ref_float):
    ref = quantize_ref(ref_float).ravel()
    got = np.asarray(got, dtype=np.int16).ravel()
    diff = np.abs(got - ref.astype(np.int16))
    assert diff.max() <= 1, diff.max()
    assert (diff == 0).mean() >= 0.99, (diff == 0).mean()


@pytest.mark.parametrize("name", WAVS)
def test_mlperf_float_matches_tf_signal(clips, name):
    x, ref = clips[name]
    got = np.array(audio.features(array("h", x.tobytes()), out="float")).reshape(49, 10)
    assert np.isfinite(got).all()
    assert np.abs(got - ref).max() < 2e-3


@pytest.mark.parametrize("name", WAVS)
def test_mlperf_int8_matches_quantized_tf_signal(clips, name):
    x, ref = clips[name]
    got = audio.features(array("h", x.tobytes()), preset="mlperf_kws", out="int8")
    assert len(got) == 490
    check_int8(got, ref)


@pytest.mark.parametrize("loops", ["python", "native"])
def test_mlperf_on_unix_port(mp, zoo, clips, loops):
    # 'native': the C mfcc_f32 where the x64 module has it (else viper loops, same contract)
    code = """
import json
from tinyml import audio, dsp
dsp.use_dsp(%r)
res = {}
for name in %r:
    x, sr = audio.read_wav(%r + '/' + name + '.wav')
    f = audio.features(x, out='float')
    q = audio.features(x, out='int8')
    res[name] = [list(f), list(q), sr]
print(json.dumps(res))
""" % (loops, list(WAVS), str(zoo / "data"))
    res = mp.json(code)
    for name in WAVS:
        f, q, sr = res[name]
        assert sr == 16000
        ref = clips[name][1]
        assert np.abs(np.array(f).reshape(49, 10) - ref).max() < 2e-3
        check_int8(q, ref)


def test_mlperf_shorter_clip_is_zero_padded(tf):
    rng = np.random.default_rng(7)
    x = rng.integers(-3000, 3000, size=12000).astype(np.int16)
    got = np.array(audio.features(array("h", x.tobytes()), out="float")).reshape(49, 10)
    assert np.abs(got - tf_mlperf_mfcc(tf, x)).max() < 2e-3


def test_mlperf_divides_by_signed_max_not_abs_max(tf):
    # max abs sample is negative: signed-max normalization gives a different scale
    rng = np.random.default_rng(3)
    x = rng.integers(-2000, 1000, size=16000).astype(np.int16)
    x[100] = -30000
    got = np.array(audio.features(array("h", x.tobytes()), out="float")).reshape(49, 10)
    assert np.abs(got - tf_mlperf_mfcc(tf, x)).max() < 2e-3
    absmax = x.astype(np.float64) / 30000.0
    other = np.array(audio.features(array("h", (absmax * x.max()).astype(np.int16).tobytes()),
                                    out="float"))
    assert not np.allclose(other, got.ravel(), atol=1e-2)


def test_all_zero_clip_is_silence_not_nan(tf):
    got = np.array(audio.features(array("h", bytes(32000)), out="float")).reshape(49, 10)
    assert np.isfinite(got).all()
    mel = tf.fill([49, 40], tf.math.log(tf.constant(1e-6, tf.float32)))
    ref = tf.signal.mfccs_from_log_mel_spectrograms(mel)[..., :10].numpy()
    assert np.abs(got - ref).max() < 2e-3
    q = np.array(audio.features(array("h", bytes(32000))))
    # coefficients 1.. are 0 +- rounding noise, which truncation may send to zp - 1
    assert np.abs(q.astype(int) - quantize_ref(ref).ravel().astype(int)).max() <= 1
    assert (q.reshape(49, 10)[:, 0] == -128).all()


def test_into_buffer_is_filled():
    x = array("h", (np.arange(16000) % 200 - 100).astype(np.int16).tobytes())
    into = array("b", bytes(490))
    r = audio.features(x, into=into)
    assert r is into
    assert list(into) == list(audio.features(x))
    with pytest.raises(ValueError):
        audio.features(x, into=array("b", bytes(10)))
    with pytest.raises(ValueError):
        audio.features(x, out="float", into=array("b", bytes(490)))


@pytest.mark.parametrize("bad, kw", [
    (array("f", [0.0] * 100), {}),
    (array("i", [0] * 100), {}),
    (b"\x00\x01" * 100, {}),
    (array("h"), {}),
    (array("h", [0] * 16001), {}),
    (array("h", [0] * 100), {"sample_rate": 8000}),
    (array("h", [0] * 100), {"preset": "nope"}),
    (array("h", [0] * 100), {"out": "int16"}),
    ([0] * 100, {}),
])
def test_bad_input_raises_value_error(bad, kw):
    with pytest.raises(ValueError):
        audio.features(bad, **kw)


def test_bad_input_on_unix_port(mp):
    res = mp.json("""
import json
from array import array
from tinyml import audio
cases = [(array('f', [0.0] * 10), {}), (array('i', [0] * 10), {}), (array('h'), {}),
         (bytearray(20), {}), (array('h', [0] * 10), {'sample_rate': 44100}),
         (array('H', [40000] * 10), {}), (array('h', [0] * 16001), {})]
out = []
for buf, kw in cases:
    try:
        audio.features(buf, **kw)
        out.append('no error')
    except ValueError:
        out.append('ValueError')
print(json.dumps(out))
""")
    assert res == ["ValueError"] * 7


def test_read_wav_rejects_non_pcm16(tmp_path):
    p = tmp_path / "s.wav"
    with wave.open(str(p), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(bytes(400))
    with pytest.raises(ValueError):
        audio.read_wav(str(p))
    with pytest.raises(ValueError):
        audio.read_wav(b"RIFX0000WAVE")


# ---------------------------------------------------------------- building blocks


@pytest.mark.parametrize("kind, periodic, n", [("hann", True, 480), ("hann", False, 480),
                                               ("hamming", True, 256), ("hamming", False, 400),
                                               ("hann", True, 1)])
def test_windows_match_tf(tf, kind, periodic, n):
    fn = tf.signal.hann_window if kind == "hann" else tf.signal.hamming_window
    ref = fn(n, periodic=periodic).numpy()
    assert np.abs(np.array(dsp.window(kind, n, periodic)) - ref).max() < 1e-6


@pytest.mark.parametrize("n", [2, 4, 8, 64, 256, 512, 1024])
def test_rfft_matches_numpy(n):
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n).astype(np.float32)
    f = dsp.RealFFT(n)
    ones = array("f", [1.0] * n)
    python_dsp.load_frame_scaled(f.re, f.im, array("f", x), 0, n, ones, 1.0, f.half)
    python_dsp.fft_inplace(f.re, f.im, f.half, f.cos_half, f.sin_half, f.bitrev)
    python_dsp.rfft_split(f.re, f.im, f.out_re, f.out_im, f.half, f.cos_full, f.sin_full)
    ref = np.fft.rfft(x.astype(np.float64))
    got = np.array(f.out_re) + 1j * np.array(f.out_im)
    assert np.abs(got - ref).max() < 1e-5 * max(1.0, np.abs(ref).max())


def test_fft_rejects_bad_lengths():
    for n in (0, 1, 3, 100, 8192):
        with pytest.raises(ValueError):
            dsp.RealFFT(n)


@pytest.mark.parametrize("mels, bins, sr, lo, hi", [(40, 257, 16000, 20.0, 4000.0),
                                                    (40, 257, 16000, 125.0, 7500.0),
                                                    (64, 513, 22050, 0.0, 11025.0),
                                                    (10, 129, 8000, 300.0, 3000.0)])
def test_mel_filterbank_matches_tf(tf, mels, bins, sr, lo, hi):
    ref = tf.signal.linear_to_mel_weight_matrix(mels, bins, sr, lo, hi).numpy()
    starts, lengths, offsets, weights = dsp.mel_filterbank(mels, bins, sr, lo, hi)
    dense = np.zeros((bins, mels), np.float32)
    for m in range(mels):
        for j in range(lengths[m]):
            dense[starts[m] + j, m] = weights[offsets[m] + j]
    assert np.abs(dense - ref).max() < 1e-5
    # sparse: stored weights are not many more than the nonzeros
    assert len(weights) <= np.count_nonzero(ref) + 2 * mels


def test_dct_matches_tf_mfcc(tf):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 40)).astype(np.float32)
    ref = tf.signal.mfccs_from_log_mel_spectrograms(x).numpy()[:, :13]
    m = np.array(dsp.dct_matrix(13, 40)).reshape(13, 40)
    assert np.abs(x @ m.T - ref).max() < 1e-4


# ---------------------------------------------------------------- streaming (Framer, Frontend)


class HarnessModel:
    """Duck-typed loaded model over test_signal_ops.Harness (Signal ops + numpy builtins)."""

    class T:
        def __init__(self, data, dtype, nbytes, shape):
            self.data, self.dtype, self.nbytes, self.shape = data, dtype, nbytes, shape

    def __init__(self, model_bytes):
        from test_signal_ops import Harness
        h = self.h = Harness(model_bytes)
        i, o = h.graph.inputs[0], h.graph.outputs[0]
        ti, to = h.tensors[i], h.tensors[o]
        self.inputs = [self.T(h.view(i), ti.dtype, ti.nbytes, ti.shape)]
        self.outputs = [self.T(h.view(o), to.dtype, to.nbytes, to.shape)]

    def invoke(self):
        for s in self.h.steps:
            s()

    def reset(self):
        self.h.reset()


@pytest.mark.parametrize("length, step", [(480, 320), (5, 2), (4, 4), (3, 1)])
@pytest.mark.parametrize("chunk", [1, 3, 7, 320, 1000])
def test_framer_yields_strided_frames_for_any_chunk_size(length, step, chunk):
    x = np.arange(2000, dtype=np.int16)
    fr = audio.Framer(length, step)
    got = []
    dst = array("h", bytes(2 * length))
    for s in range(0, len(x), chunk):
        c = array("h", x[s:s + chunk].tobytes())
        pos = 0
        while True:
            pos = fr.fill(c, pos)
            if not fr.ready:
                break
            fr.take(dst)
            got.append(list(dst))
        assert pos == len(c)
    ref = [list(x[s:s + length]) for s in range(0, len(x) - length + 1, step)]
    assert got == ref


def test_framer_rejects_bad_geometry():
    for length, step in ((0, 1), (4, 0), (4, 5)):
        with pytest.raises(ValueError):
            audio.Framer(length, step)


@pytest.fixture(scope="module")
def preproc_int8(zoo):
    return (zoo / "audio_preprocessor_int8.tflite").read_bytes()


@pytest.mark.parametrize("chunk", [1, 160, 320, 333, 4000, 16000])
def test_frontend_micro_speech_streams_tflm_frames(zoo, preproc_int8, chunk):
    from test_signal_ops import frames_of, tflm_frames
    x, _ = read_wav(zoo / "data" / "yes_1000ms.wav")
    ref = tflm_frames(preproc_int8, frames_of(x))
    fe = audio.Frontend("micro_speech", model=HarnessModel(preproc_int8))
    got = []
    counts = []
    for s in range(0, len(x), chunk):
        v = fe.feed(array("h", x[s:s + chunk].tobytes()))
        counts.append(len(v) // 40)
        got.extend(np.frombuffer(bytes(v), np.int8).reshape(-1, 40))
    assert sum(counts) == 49
    assert (np.array(got) == ref).all()
    fe.reset()
    v = fe.feed(array("h", x.tobytes()))
    assert (np.frombuffer(bytes(v), np.int8).reshape(-1, 40) == ref).all()


def test_frontend_float_model(zoo):
    from test_signal_ops import frames_of, tflm_frames
    model = (zoo / "audio_preprocessor_float.tflite").read_bytes()
    x, _ = read_wav(zoo / "data" / "no_1000ms.wav")
    fe = audio.Frontend("micro_speech", model=HarnessModel(model))
    v = fe.feed(array("h", x.tobytes()))
    got = np.array(v.tolist() if hasattr(v, "tolist") else list(v), np.float32).reshape(-1, 40)
    assert (got == tflm_frames(model, frames_of(x))).all()


def test_micro_speech_end_to_end_class_scores(zoo, preproc_int8):
    """wav -> Frontend -> micro_speech_quantized (TFLM) == the corpus' TFLM class scores."""
    from tflite_micro.python.tflite_micro import runtime
    real = np.load(zoo / "micro_speech_quantized_real.npz")
    clf = runtime.Interpreter.from_bytes((zoo / "micro_speech_quantized.tflite").read_bytes())
    for k, label in enumerate(real["labels"]):
        x, _ = read_wav(zoo / "data" / str(label).split()[0])
        fe = audio.Frontend("micro_speech", model=HarnessModel(preproc_int8))
        feats = np.frombuffer(bytes(fe.feed(array("h", x.tobytes()))), np.int8)
        assert (feats == real["input_0"][k].ravel()).all(), label
        clf.set_input(feats.reshape(1, 1960), 0)
        clf.invoke()
        assert (clf.get_output(0) == real["output_0"][k]).all(), label


def test_frontend_in_engine(zoo, preproc_int8):
    from test_signal_ops import _engine_or_skip, frames_of, tflm_frames
    m = _engine_or_skip(preproc_int8)
    x, _ = read_wav(zoo / "data" / "no_1000ms.wav")
    fe = audio.Frontend("micro_speech", model=m)
    got = np.frombuffer(bytes(fe.feed(array("h", x.tobytes()))), np.int8).reshape(-1, 40)
    assert (got == tflm_frames(preproc_int8, frames_of(x))).all()


def test_frontend_bad_input(zoo, preproc_int8):
    hm = HarnessModel(preproc_int8)
    with pytest.raises(ValueError):
        audio.Frontend("micro_speech")                      # no model
    with pytest.raises(ValueError):
        audio.Frontend("mlperf_kws", model=hm)              # not streamable
    with pytest.raises(ValueError):
        audio.Frontend("nope", model=hm)
    with pytest.raises(ValueError):
        audio.Frontend("micro_speech", model=hm, sample_rate=8000)
    fe = audio.Frontend("micro_speech", model=hm)
    for bad in (array("h"), array("f", [0.0] * 10), b"\x00" * 10, [1, 2, 3]):
        with pytest.raises(ValueError):
            fe.feed(bad)


def test_frontend_framing_on_unix_port(mp):
    """Frontend + Framer on MicroPython, with a stand-in model whose output is a checksum."""
    code = """
import json
from array import array
from tinyml import audio
class T:
    def __init__(self, data, dtype, nbytes):
        self.data, self.dtype, self.nbytes, self.shape = data, dtype, nbytes, ()
class Fake:
    def __init__(self):
        self.inputs = [T(array('h', bytes(960)), 'int16', 960)]
        self.outputs = [T(array('b', bytes(4)), 'int8', 4)]
        self.calls = 0
    def invoke(self):
        x = self.inputs[0].data
        o = self.outputs[0].data
        o[0] = x[0] % 127; o[1] = x[479] % 127; o[2] = (x[0] + x[479]) % 100; o[3] = self.calls % 100
        self.calls += 1
    def reset(self):
        self.calls = 0
fe = audio.Frontend('micro_speech', model=Fake())
res = []
x = array('h', [(i * 7) % 30000 for i in range(16000)])
for s in range(0, 16000, 777):
    v = fe.feed(x[s:s + 777])
    res.extend(list(v))
print(json.dumps(res))
"""
    got = mp.json(code)
    x = [(i * 7) % 30000 for i in range(16000)]
    ref = []
    for k, s in enumerate(range(0, 16000 - 480 + 1, 320)):
        ref += [x[s] % 127, x[s + 479] % 127, (x[s] + x[s + 479]) % 100, k % 100]
    assert got == ref


@pytest.mark.parametrize("loops", ["python", "viper"])
def test_micro_speech_end_to_end_on_unix_port(mp, zoo, loops):
    """On MicroPython: wav -> Frontend (preprocessor in the tinyml engine) -> micro_speech
    model in the engine == the corpus' TFLM features and class scores, both DSP loop sets."""
    real = np.load(zoo / "micro_speech_quantized_real.npz")
    res = mp.json("""
import json
import tinyml
from tinyml import audio, dsp
dsp.use_dsp(%r)
Z = %r
fe = audio.Frontend('micro_speech', model=Z + '/audio_preprocessor_int8.tflite')
clf = tinyml.load(Z + '/micro_speech_quantized.tflite')
res = []
for name in ('yes', 'no', 'silence', 'noise'):
    fe.reset()
    x, sr = audio.read_wav(Z + '/data/%%s_1000ms.wav' %% name)
    f = fe.feed(x)
    inp = clf.inputs[0].data
    for i in range(1960):
        inp[i] = f[i]
    clf.invoke()
    out = clf.get_output(0)
    res.append([list(f), [out[i] for i in range(4)]])
print(json.dumps([dsp.kernels().__name__, res]))
""" % (loops, str(zoo)))
    name, res = res
    assert name.endswith("viper_dsp" if loops == "viper" else "python_dsp")
    for k, (feats, scores) in enumerate(res):
        assert feats == list(real["input_0"][k].ravel())
        assert scores == list(real["output_0"][k].ravel())


def test_power_spectrum_and_helpers():
    from tinyml.audio_mfcc import MfccPipeline
    p = MfccPipeline(16000, 400, 160, 512, "hamming", False, 40, 0.0, 8000.0, 1e-6, 13,
                     spectrum="power")
    rng = np.random.default_rng(2)
    x = rng.integers(-20000, 20000, 400).astype(np.int16)
    p.spectrum_frame(python_dsp, array("h", x.tobytes()), 0, 1.0 / 32768)
    ref = np.abs(np.fft.rfft(x / 32768.0 * np.hamming(400), 512)) ** 2
    got = np.array(p.spec)[p.first_bin:p.last_bin]
    assert np.allclose(got, ref[p.first_bin:p.last_bin], rtol=1e-4, atol=1e-6)
    assert audio.feature_shape("mlperf_kws") == (49, 10)
    assert audio.feature_shape("micro_speech") == (49, 40)
    with pytest.raises(ValueError):
        dsp.use_dsp("cuda")
    assert list(audio.int16_samples(array("h", [1, -2]))) == [1, -2]
    with pytest.raises(ValueError):
        MfccPipeline(16000, 600, 160, 512, "hann", True, 40, 0.0, 8000.0, 1e-6, 13)
    with pytest.raises(ValueError):
        dsp.mel_filterbank(40, 257, 16000, 4000.0, 20.0)
    with pytest.raises(ValueError):
        dsp.dct_matrix(41, 40)
    with pytest.raises(ValueError):
        dsp.window("blackman", 10)
