"""TFLM Signal custom ops (ops/signal.py) vs TFLM running audio_preprocessor_{int8,float}.tflite.

The Signal ops run inside a small numpy harness (the graph from tinyml.reader; the few builtin
ops of these models done in numpy), frame by frame with state, so they are checked
independently of the other ops' modules; test_audio_frontend_* run the whole model in the
tinyml engine.
"""
import json
import struct
import wave
from array import array

import numpy as np
import pytest

from tinyml import audio_fixed as fx
from tinyml import compat, reader
from tinyml.errors import ModelError, UnsupportedOpError
from tinyml.ops import signal as sig

NP = {'int8': np.int8, 'uint8': np.uint8, 'int16': np.int16, 'int32': np.int32,
      'uint32': np.uint32, 'uint64': np.uint64, 'float32': np.float32, 'int64': np.int64}


def wav(path):
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").copy()


def frames_of(x, n=480, step=320):
    return [x[s:s + n] for s in range(0, len(x) - n + 1, step)]


class Harness:
    """A stand-in for tinyml.model.Model: numpy tensors, Signal ops from ops/signal.py."""

    def __init__(self, buf):
        self.graph = reader.read(buf)
        self.tensors = self.graph.tensors
        self.arrays = {}
        for t in self.tensors:
            if t.data is None:
                self.arrays[t.index] = np.zeros(max(t.size, 1), NP[t.dtype])
        self._persistent = []
        self.steps = []
        for op in self.graph.ops:
            if op.name.startswith('Signal'):
                scratch, bind = sig.OPS[op.name](self, op)
                self.steps.append(bind(None))
            else:
                self.steps.append(self._numpy_op(op))

    def view(self, i):
        t = self.tensors[i]
        if t.data is not None:
            return compat.typed_view(t.data, 0, t.size, t.dtype)
        return memoryview(self.arrays[i]).cast('B').cast(np.dtype(NP[t.dtype]).char)

    def raw(self, i):
        return memoryview(self.arrays[i]).cast('B')

    def persistent(self, n):
        b = bytearray(n)
        self._persistent.append(b)
        return b

    def reset(self):
        for b in self._persistent:
            b[:] = bytes(len(b))

    def value(self, i):
        t = self.tensors[i]
        if t.data is not None:
            return np.frombuffer(bytes(t.data), NP[t.dtype]).reshape(t.shape)
        return self.arrays[i]

    def _numpy_op(self, op):
        def run():
            a = [self.value(i) for i in op.inputs]
            out = self.arrays[op.outputs[0]]
            name = op.name
            if name == 'RESHAPE':
                r = a[0]
            elif name == 'CAST':
                r = a[0].astype(out.dtype)
            elif name == 'STRIDED_SLICE':
                r = a[0].ravel()[int(a[1][0]):int(a[2][0]):int(a[3][0])]
            elif name == 'CONCATENATION':
                r = np.concatenate([x.ravel() for x in a])
            elif name in ('MUL', 'ADD', 'MAXIMUM', 'MINIMUM'):
                f = {'MUL': np.multiply, 'ADD': np.add, 'MAXIMUM': np.maximum,
                     'MINIMUM': np.minimum}[name]
                r = f(a[0], a[1])
            elif name == 'DIV':
                r = np.trunc(a[0].astype(np.float64) / a[1]).astype(np.int64)
            else:
                raise AssertionError('harness lacks ' + name)
            out[:] = np.asarray(r).ravel().astype(out.dtype)
        return run

    def invoke(self, frame):
        self.arrays[self.graph.inputs[0]][:] = frame
        for s in self.steps:
            s()
        return self.arrays[self.graph.outputs[0]].copy()


def tflm_frames(model_bytes, frames):
    from tflite_micro.python.tflite_micro import runtime
    it = runtime.Interpreter.from_bytes(model_bytes)
    out = []
    for f in frames:
        it.set_input(f.reshape(1, -1).astype(np.int16), 0)
        it.invoke()
        out.append(it.get_output(0).copy())
    return np.array(out)


@pytest.fixture(scope="module")
def int8_model(zoo):
    return (zoo / "audio_preprocessor_int8.tflite").read_bytes()


@pytest.fixture(scope="module")
def float_model(zoo):
    return (zoo / "audio_preprocessor_float.tflite").read_bytes()


@pytest.mark.parametrize("clip", ["yes_1000ms", "no_1000ms", "noise_1000ms", "silence_1000ms"])
def test_int8_preprocessor_stateful_bit_exact(zoo, int8_model, clip):
    frames = frames_of(wav(zoo / "data" / (clip + ".wav")))
    ref = tflm_frames(int8_model, frames)
    h = Harness(int8_model)
    got = np.array([h.invoke(f) for f in frames])
    assert got.shape == ref.shape == (49, 40)
    assert (got == ref).all(), np.argwhere(got != ref)[:5]


def test_int8_preprocessor_matches_upstream_features(zoo, int8_model):
    feats = np.load(zoo / "data" / "micro_speech_features.npz")
    for k, label in enumerate(feats["labels"]):
        h = Harness(int8_model)
        frames = frames_of(wav(zoo / "data" / (str(label) + ".wav")))
        got = np.array([h.invoke(f) for f in frames])
        assert (got == feats["features"][k]).all(), label


def test_float_preprocessor_stateful_bit_exact(zoo, float_model):
    frames = frames_of(wav(zoo / "data" / "yes_1000ms.wav"))
    ref = tflm_frames(float_model, frames)
    h = Harness(float_model)
    got = np.array([h.invoke(f) for f in frames])
    assert got.dtype == np.float32
    assert (got == ref).all()


@pytest.mark.parametrize("sample", [0, 1, 2, 3])
def test_npz_samples_from_reset_state(zoo, int8_model, sample):
    d = np.load(zoo / "audio_preprocessor_int8.npz")
    h = Harness(int8_model)
    got = h.invoke(d["input_0"][sample].ravel())
    assert (got == d["output_0"][sample]).all()


def test_reset_restores_initial_state(zoo, int8_model):
    frames = frames_of(wav(zoo / "data" / "yes_1000ms.wav"))
    h = Harness(int8_model)
    first = h.invoke(frames[20])
    later = [h.invoke(f) for f in frames[:5]]
    assert not all((first == x).all() for x in later)
    h.reset()
    assert (h.invoke(frames[20]) == first).all()


def test_full_scale_noise_bit_exact(int8_model):
    # full-range noise and square waves push the fixed-point FFT to its int16 wrap-arounds
    rng = np.random.default_rng(5)
    frames = [rng.integers(-32768, 32767, 480, endpoint=True).astype(np.int16) for _ in range(6)]
    sq = np.where((np.arange(480) // 3) % 2 == 0, 32767, -32768).astype(np.int16)
    frames += [sq, -sq.astype(np.int32).clip(-32768, 32767).astype(np.int16),
               np.full(480, -32768, np.int16), np.zeros(480, np.int16)]
    ref = tflm_frames(int8_model, frames)
    h = Harness(int8_model)
    got = np.array([h.invoke(f) for f in frames])
    assert (got == ref).all()


# ------------------------------------------------------------------ the engine, when complete


def _engine_or_skip(model_bytes):
    import tinyml
    try:
        return tinyml.load(model_bytes)
    except UnsupportedOpError as e:
        if 'Signal' in str(e):
            raise
        pytest.skip('engine lacks a builtin op of this model yet: %s' % e)


def test_engine_runs_preprocessor_bit_exact(zoo, int8_model):
    m = _engine_or_skip(int8_model)
    frames = frames_of(wav(zoo / "data" / "no_1000ms.wav"))
    ref = tflm_frames(int8_model, frames)
    got = []
    for f in frames:
        m.set_input(0, f.astype(np.int16).tobytes())
        m.invoke()
        got.append(np.array(list(m.get_output(0)), np.int8))
    assert (np.array(got) == ref).all()


# ------------------------------------------------------------------ pieces


def test_flexbuffer_map_reads_options(int8_model):
    g = reader.read(int8_model)
    opts = {op.name: sig.flexbuffer_map(op.custom) for op in g.ops if op.custom is not None}
    assert opts['SignalWindow'] == {'shift': 12}
    assert opts['SignalRfft'] == {'T': 7, 'fft_length': 512}
    assert opts['SignalEnergy'] == {'end_index': 241, 'start_index': 5}
    ss = opts['SignalFilterBankSpectralSubtraction']
    assert ss['clamping'] is False and ss['smoothing'] == 409 and ss['num_channels'] == 40
    assert opts['SignalFilterBankLog'] == {'input_correction_bits': 3, 'output_scale': 64}


def test_flexbuffer_matches_python_flexbuffers():
    flexbuffers = pytest.importorskip("flatbuffers.flexbuffers")
    for d in ({'a': 1, 'bb': -300, 'c': True, 'f': 2.5},
              {'big': 1 << 40, 'neg': -(1 << 33), 'z': 0},
              {'k%02d' % i: i * 1000 for i in range(30)}):
        assert sig.flexbuffer_map(flexbuffers.Dumps(d)) == d


@pytest.mark.parametrize("bad", [b"", b"\x00\x01", b"\x05\x24\x01", b"\xff" * 16,
                                 b"\x00" * 5 + b"\x02\x24\x01"])
def test_flexbuffer_rejects_garbage(bad):
    with pytest.raises(ModelError):
        sig.flexbuffer_map(bad)


def test_flexbuffer_truncations_never_crash(int8_model):
    g = reader.read(int8_model)
    custom = bytes([op for op in g.ops if op.name == 'SignalFilterBankSpectralSubtraction'][0]
                   .custom)
    for cut in range(1, len(custom)):
        try:
            sig.flexbuffer_map(custom[cut:])
        except ModelError:
            pass


@pytest.mark.parametrize("nfft", [4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096])
def test_kiss_twiddles_equal_double_precision_table(nfft):
    # the table is built in integers (no float math), so a single-precision board gets it too
    import math
    f = fx.KissFftR16(nfft)
    h = nfft // 2
    pi = 3.141592653589793238462643383279502884197169399375105820974944
    for i in range(h):
        ph = -2 * pi * i / h
        assert (f.tw_r[i], f.tw_i[i]) == (math.floor(.5 + 32767 * math.cos(ph)),
                                          math.floor(.5 + 32767 * math.sin(ph))), i
    for i in range(h // 2):
        ph = -3.14159265358979323846264338327 * ((i + 1) / h + .5)
        assert (f.sup_r[i], f.sup_i[i]) == (math.floor(.5 + 32767 * math.cos(ph)),
                                            math.floor(.5 + 32767 * math.sin(ph))), i


def test_kiss_twiddles_same_on_unix_port(mp):
    got = mp.json("""
import json
from tinyml import audio_fixed as fx
f = fx.KissFftR16(512)
print(json.dumps([list(f.tw_r), list(f.tw_i), list(f.sup_r), list(f.sup_i)]))
""")
    f = fx.KissFftR16(512)
    assert got == [list(f.tw_r), list(f.tw_i), list(f.sup_r), list(f.sup_i)]


@pytest.mark.parametrize("x", [0, 1, 2, 3, 4, 15, 16, 17, 255, 65535, 65536, 1 << 31,
                               (1 << 32) - 1, 1 << 32, (1 << 40) + 12345, (1 << 64) - 1])
def test_sqrt64_is_floor_sqrt_rounded(x):
    import math
    r = fx.sqrt64(x)
    s = math.isqrt(x)
    assert r in (s, s + 1)


def test_log32_tracks_ln():
    import math
    for x in (2, 3, 10, 1000, 65535, 1 << 20, (1 << 32) - 1):
        assert abs(fx.log32(x, 64) / 64.0 - math.log(x)) < 0.02


def test_signal_ops_on_unix_port(mp, zoo, int8_model):
    """The same fixed-point kernels on MicroPython give the TFLM frames (Harness-free chain)."""
    frames = frames_of(wav(zoo / "data" / "yes_1000ms.wav"))[10:16]
    ref = tflm_frames(int8_model, frames)
    code = """
import json
from array import array
from tinyml import reader, compat
from tinyml import audio_fixed as fx
from tinyml.ops import signal as sig
g = reader.read(open(%r, 'rb').read())
t = g.tensors
def cview(i):
    return compat.typed_view(t[i].data, 0, t[i].size, t[i].dtype)
ops = {op.name: op for op in g.ops}
o = {k: sig.flexbuffer_map(v.custom) for k, v in ops.items() if v.custom is not None}
win = cview(ops['SignalWindow'].inputs[1])
fbi = [cview(i) for i in ops['SignalFilterBank'].inputs[1:]]
lut = cview(ops['SignalPCAN'].inputs[2])
ss = o['SignalFilterBankSpectralSubtraction']
cfg = (ss['smoothing'], ss['one_minus_smoothing'], ss['alternate_smoothing'],
       ss['alternate_one_minus_smoothing'], ss['min_signal_remaining'], ss['smoothing_bits'],
       ss['spectral_subtraction_bits'], ss['clamping'])
fft = fx.KissFftR16(512)
w = array('h', bytes(960)); s = array('h', bytes(1024)); spec = array('h', bytes(2 * 514))
en = array('I', bytes(4 * 257)); fb = array('Q', bytes(8 * 40)); sq = array('I', bytes(160))
out = array('I', bytes(160)); noise = array('I', bytes(160)); pc = array('I', bytes(160))
lg = array('h', bytes(80))
frames = %r
res = []
for fr in frames:
    x = array('h', fr)
    fx.apply_window(x, win, 480, o['SignalWindow']['shift'], w)
    bits = fx.fft_auto_scale(w, 480, s)
    fft.run(s, spec)
    fx.spectrum_to_energy(spec, 5, 241, en)
    for i in range(257):
        if i < 5 or i >= 241:
            en[i] = 0
    fx.filterbank_accumulate(en, fbi[0], fbi[1], fbi[2], fbi[3], fbi[4], 40, fb)
    fx.filterbank_sqrt(fb, 40, bits, sq)
    fx.spectral_subtraction(cfg, sq, out, noise, 40)
    fx.pcan(lut, o['SignalPCAN']['snr_shift'], noise, out, pc, 40)
    fx.filterbank_log(pc, 40, 64, 3, lg)
    q = []
    for v in lg:
        r = int((v * 256 + 333) / 666) - 128
        q.append(-128 if r < -128 else (127 if r > 127 else r))
    res.append(q)
print(json.dumps(res))
""" % (str(zoo / "audio_preprocessor_int8.tflite"), [list(map(int, f)) for f in frames])
    # the chain restarts from a zero noise estimate: compare with a TFLM run of these 6 frames
    got = np.array(mp.json(code))
    assert (got == ref).all()


def test_viper_fixed_point_kernels_bit_identical_on_unix_port(mp, zoo):
    """kernels/viper_dsp's KISS FFT / window / energy == the python reference, bit for bit."""
    x = wav(zoo / "data" / "yes_1000ms.wav")
    rng = np.random.default_rng(11)
    frames = [x[4000:4480], x[8000:8480], rng.integers(-32768, 32767, 480, endpoint=True),
              np.r_[np.full(3, -32768), np.arange(477) - 200], np.full(480, -32768),
              np.zeros(480, int), np.r_[np.arange(240) * 7, -np.arange(240) * 5]]
    code = """
import json
from array import array
from tinyml import dsp, audio_fixed as fx
from tinyml.kernels import viper_dsp as v
frames = %r
fft = fx.KissFftR16(512)
win = array('h', [(i * 37) %% 4096 for i in range(480)])
out = []
for name in ('python', 'viper'):
    dsp.use_dsp(name)
    res = []
    for fr in frames:
        a = array('h', fr)
        w = array('h', bytes(1024))
        if name == 'python':
            fx.apply_window(a, win, 480, 12, w)
        else:
            v.apply_window(a, win, 480, 12, w, 0)
        s = array('h', bytes(1024))
        bits = (fx if name == 'python' else v).fft_auto_scale(a, 480, s)
        res.append([list(s), bits])
        s = array('h', bytes(1024))
        bits = fx.fft_auto_scale(w, 480, s)
        spec = array('h', bytes(1028))
        fft.run(s, spec)
        en = array('I', bytes(4 * 257))
        (fx if name == 'python' else v).spectrum_to_energy(spec, 0, 257, en)
        res.append([list(w), bits, list(spec), list(en)])
    out.append(res)
dsp.use_dsp(None)
print(json.dumps([dsp.viper_available(), out[0] == out[1], out[0]]))
""" % [list(map(int, f)) for f in frames]
    avail, same, ref = mp.json(code)
    assert avail
    assert same
    # and the python path on the unix port equals CPython's
    for fr, (scaled, sbits), (w, bits, spec, en) in zip(frames, ref[0::2], ref[1::2]):
        s0 = array("h", bytes(960))
        assert fx.fft_auto_scale(array("h", [int(v) for v in fr]), 480, s0) == sbits
        assert list(s0) == scaled[:480]
        win = array("h", [(i * 37) % 4096 for i in range(480)])
        ww = array("h", bytes(1024))
        fx.apply_window(array("h", [int(v) for v in fr]), win, 480, 12, ww)
        assert list(ww) == w
        s = array("h", bytes(1024))
        assert fx.fft_auto_scale(ww, 480, s) == bits
        sp = array("h", bytes(1028))
        fx.KissFftR16(512).run(s, sp)
        assert list(sp) == spec


def test_viper_mfcc_loops_match_python_on_unix_port(mp, zoo):
    res = mp.json("""
import json
from tinyml import audio, dsp
x, sr = audio.read_wav(%r)
dsp.use_dsp('python')
a = audio.features(x, out='float')
dsp.use_dsp('viper')
b = audio.features(x, out='float')
name = dsp.kernels().__name__
dsp.use_dsp(None)
print(json.dumps([name, max(abs(a[i] - b[i]) for i in range(len(a)))]))
""" % str(zoo / "data" / "no_1000ms.wav"))
    assert res[0].endswith("viper_dsp")
    assert res[1] == 0.0


def _flex(**options):
    import flatbuffers.flexbuffers as fb
    return memoryview(fb.Dumps(options))


BAD_SIGNAL_OPS = [
    # (op, attribute to replace, its bad value (a function of the op), error)
    ('SignalWindow', 'custom', lambda op: None, ModelError),
    ('SignalRfft', 'custom', lambda op: _flex(T=7, fft_length=500), UnsupportedOpError),
    ('SignalRfft', 'custom', lambda op: _flex(T=7, fft_length=256),   # 480 samples > 256
     ModelError),
    ('SignalEnergy', 'custom', lambda op: _flex(start_index=5, end_index=300), ModelError),
    ('SignalFilterBank', 'inputs', lambda op: op.inputs[:5], ModelError),
    ('SignalPCAN', 'inputs', lambda op: (op.inputs[0], op.inputs[1], op.inputs[0]),  # LUT dtype
     UnsupportedOpError),
    ('SignalFilterBankSpectralSubtraction', 'custom', lambda op: _flex(num_channels=40),
     ModelError),
]


@pytest.mark.parametrize('name, field, bad, error', BAD_SIGNAL_OPS)
def test_bad_signal_ops_raise_model_errors(int8_model, name, field, bad, error):
    import copy
    h = Harness(int8_model)
    op = copy.copy({op.name: op for op in h.graph.ops}[name])
    setattr(op, field, bad(op))
    with pytest.raises(error):
        sig.OPS[name](h, op)
