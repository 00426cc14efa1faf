"""Audio features on the board.

    from tinyml import audio
    f = audio.features(samples, preset="mlperf_kws", out="int8")   # one clip -> flat array
    fe = audio.Frontend("micro_speech", model=path_or_bytes)        # streaming, TFLM-exact
    frames = fe.feed(chunk)                                         # int8 frames completed

Presets
-------
mlperf_kws  MLPerf Tiny KWS MFCCs as benchmark/training/keyword_spotting/get_dataset.py computes
            them: clip (padded to 16000 samples) divided by its signed maximum sample
            (tf.reduce_max, not max abs), 480-sample frames, stride 320, FFT 512, periodic Hann,
            magnitude, 40 HTK mel bins 20-4000 Hz, ln(mel + 1e-6), first 10 MFCCs -> [49, 10]
            frame-major. int8 = trunc(feature / 0.5847029 + 83) saturated to [-128, 127]
            (kws_ref_model's input quantization).
            A clip whose maximum sample is 0 (e.g. all zeros) is not divided (TF would produce
            NaN/inf): an all-zero clip gives the features of silence, ln(1e-6) in every mel bin.
micro_speech TFLM's micro_speech front end (30 ms window, 20 ms stride, 40 channels, noise
            reduction, PCAN, log, int8) by running audio_preprocessor_int8.tflite in the tinyml
            engine (its Signal ops are in ops/signal.py), one window per invoke, state kept.
"""
from array import array

from .audio_mfcc import MfccPipeline
from .compat import as_bytes, byte_view

SAMPLE_RATE = 16000

PRESETS = {
    'mlperf_kws': dict(sample_rate=16000, clip_samples=16000, frame_length=480, frame_step=320,
                       fft_length=512, window_kind='hann', periodic=True, num_mel_bins=40,
                       lower_hz=20.0, upper_hz=4000.0, log_offset=1e-6, num_mfcc=10,
                       spectrum='magnitude', normalize='signed_max',
                       input_scale=0.5847029089927673, input_zero_point=83),
}

_pipelines = {}


def _preset(name):
    cfg = PRESETS.get(name)
    if cfg is None:
        raise ValueError('unknown audio preset %r (have %s)' % (name, ', '.join(sorted(PRESETS))))
    return cfg


def _pipeline(name):
    p = _pipelines.get(name)
    if p is None:
        c = _preset(name)
        p = MfccPipeline(c['sample_rate'], c['frame_length'], c['frame_step'], c['fft_length'],
                         c['window_kind'], c['periodic'], c['num_mel_bins'], c['lower_hz'],
                         c['upper_hz'], c['log_offset'], c['num_mfcc'], c['spectrum'])
        p.clip = array('h', bytes(2 * c['clip_samples']))
        p.floats = array('f', bytes(4 * p.num_frames(c['clip_samples']) * c['num_mfcc']))
        _pipelines[name] = p
    return p


def buffer_kind(buf):
    """(itemsize, is_float) of an array/memoryview/bytes-like buffer (MicroPython arrays have no
    typecode: the item size comes from a one-item slice). ValueError for non-buffers."""
    fmt = getattr(buf, 'typecode', None) or getattr(buf, 'format', None)
    if fmt is not None:
        return (_ITEMSIZE.get(fmt.lstrip('<>=@!'), 0), fmt in ('f', 'd', 'e'))
    if isinstance(buf, (bytes, bytearray)):
        return (1, False)
    try:
        mv = memoryview(buf)
    except TypeError:
        raise ValueError('expected a buffer (array, memoryview, bytes), got %s'
                         % type(buf).__name__)
    if len(mv) == 0:
        return (0, False)
    return (len(bytes(mv[0:1])), isinstance(buf[0], float))


_ITEMSIZE = {'b': 1, 'B': 1, 'h': 2, 'H': 2, 'i': 4, 'I': 4, 'l': 4, 'L': 4, 'q': 8, 'Q': 8,
             'f': 4, 'd': 8, 'e': 2}


def int16_samples(samples):
    """samples as an indexable of int16 values; ValueError for other dtypes or an empty buffer."""
    if isinstance(samples, (bytes, bytearray, str)):
        raise ValueError("audio samples must be int16 (array('h')), got %s; wrap raw PCM bytes "
                         "with array('h', data)" % type(samples).__name__)
    size, is_float = buffer_kind(samples)
    if len(samples) == 0:
        raise ValueError('empty audio buffer')
    if is_float or size != 2:
        raise ValueError("audio samples must be int16 (array('h')), got %d-byte %s items"
                         % (size, 'float' if is_float else 'integer'))
    return samples


def quantize_truncate(dst, src, count, scale, zero_point):
    """dst[i] = trunc(src[i] / scale + zero_point) saturated to int8."""
    inv = 1.0 / scale
    for i in range(count):
        v = int(src[i] * inv + zero_point)
        dst[i] = -128 if v < -128 else (127 if v > 127 else v)


def features(samples, preset='mlperf_kws', out='int8', sample_rate=SAMPLE_RATE, into=None):
    """Features of one clip, frame-major: array('b') for out='int8', array('f') for 'float'.

    into: optional preallocated output array of the right type and size (no allocation)."""
    if preset == 'micro_speech':
        raise ValueError("micro_speech is a streaming front end: use Frontend('micro_speech')")
    c = _preset(preset)
    if sample_rate != c['sample_rate']:
        raise ValueError('preset %s needs %d Hz audio, got %r' % (preset, c['sample_rate'],
                                                                  sample_rate))
    if out not in ('int8', 'float'):
        raise ValueError("out must be 'int8' or 'float', got %r" % (out,))
    x = int16_samples(samples)
    n = len(x)
    if n > c['clip_samples']:
        raise ValueError('preset %s takes clips of at most %d samples, got %d'
                         % (preset, c['clip_samples'], n))
    mx = max(x)             # the benchmark divides by the signed maximum, not max(abs)
    if mx > 32767:          # an unsigned 16-bit buffer passes buffer_kind
        raise ValueError('audio samples must be int16, got value %d' % mx)
    p = _pipeline(preset)
    clip = p.clip
    byte_view(clip, 0, 2 * n)[:] = as_bytes(x, 2 * n)[:2 * n]
    if n < len(clip):       # a short clip is zero-padded, and the padding counts in the max
        for i in range(n, len(clip)):
            clip[i] = 0
        mx = max(mx, 0)
    scale = 1.0 / mx if mx != 0 else 1.0
    count = len(p.floats)
    if out == 'float':
        dst = into if into is not None else array('f', bytes(4 * count))
        _check_into(dst, 'f', count)
        p.run(clip, len(clip), dst, scale)
        return dst
    p.run(clip, len(clip), p.floats, scale)
    dst = into if into is not None else array('b', bytes(count))
    _check_into(dst, 'b', count)
    quantize_truncate(dst, p.floats, count, c['input_scale'], c['input_zero_point'])
    return dst


def _check_into(dst, typecode, count):
    size, is_float = buffer_kind(dst)
    if len(dst) != count or size != _ITEMSIZE[typecode] or is_float != (typecode == 'f'):
        raise ValueError("into must be array(%r) of %d elements" % (typecode, count))


def feature_shape(preset='mlperf_kws'):
    """(frames, coefficients) of features(preset)."""
    if preset == 'micro_speech':
        return (49, 40)
    c = _preset(preset)
    p = _pipeline(preset)
    return (p.num_frames(c['clip_samples']), c['num_mfcc'])


def read_wav(src):
    """(array('h') samples, sample_rate) of a PCM16 mono WAV file path or bytes."""
    import struct
    if isinstance(src, str):
        with open(src, 'rb') as f:
            src = f.read()
    buf = memoryview(src)
    if len(buf) < 12 or bytes(buf[0:4]) != b'RIFF' or bytes(buf[8:12]) != b'WAVE':
        raise ValueError('not a RIFF/WAVE file')
    pos = 12
    rate = None
    while pos + 8 <= len(buf):
        tag = bytes(buf[pos:pos + 4])
        size = struct.unpack_from('<I', buf, pos + 4)[0]
        body = pos + 8
        if body + size > len(buf):
            raise ValueError('truncated WAV chunk %r' % tag)
        if tag == b'fmt ':
            fmt, channels, rate = struct.unpack_from('<HHI', buf, body)
            bits = struct.unpack_from('<H', buf, body + 14)[0]
            if fmt != 1 or channels != 1 or bits != 16:
                raise ValueError('only PCM16 mono WAV is supported (format %d, %d ch, %d bit)'
                                 % (fmt, channels, bits))
        elif tag == b'data':
            if rate is None:
                raise ValueError('WAV data chunk before fmt chunk')
            samples = array('h', bytes(buf[body:body + size - (size & 1)]))
            return samples, rate
        pos = body + size + (size & 1)
    raise ValueError('WAV file has no data chunk')


class Framer:
    """Cuts a stream of int16 chunks of any size into overlapping frames (ring buffer).

        pos = 0
        while True:
            pos = framer.fill(chunk, pos)      # consume until a frame is complete
            if not framer.ready:
                break
            framer.take(dst)                   # copy the frame out; advance by `step`
    """

    def __init__(self, length, step):
        if length < 1 or not 1 <= step <= length:
            raise ValueError('need 1 <= step <= length')
        self.length = length
        self.step = step
        self.ring = array('h', bytes(2 * length))
        self.reset()

    def reset(self):
        self.write = 0          # next ring slot to write
        self.count = 0          # samples in the ring that belong to the next frame
        self.ready = False

    def fill(self, chunk, pos):
        ring = self.ring
        n = len(chunk)
        length = self.length
        w = self.write
        c = self.count
        while pos < n and c < length:
            ring[w] = chunk[pos]
            w += 1
            if w == length:
                w = 0
            c += 1
            pos += 1
        self.write = w
        self.count = c
        self.ready = c == length
        return pos

    def take(self, dst):
        """Copy the complete frame (oldest sample first) into dst and drop `step` samples."""
        ring = self.ring
        length = self.length
        r = self.write          # the ring is full: the oldest sample sits at the write slot
        for i in range(length):
            dst[i] = ring[r]
            r += 1
            if r == length:
                r = 0
        self.count = length - self.step
        self.ready = False


class Frontend:
    """Streaming features: feed(chunk) -> memoryview of the frames completed by this chunk.

    'micro_speech': runs audio_preprocessor_int8.tflite (or _float) in the tinyml engine, one
    30 ms window (480 samples) every 20 ms (320), keeping the model's noise/PCAN state across
    frames like TFLM. model is a path, the model bytes, or an already loaded model.
    The returned view (frames x 40, int8 or float) is valid until the next feed()."""

    PRESETS = {'micro_speech': (16000, 480, 320)}

    def __init__(self, preset='micro_speech', model=None, sample_rate=SAMPLE_RATE,
                 max_frames=50):
        if preset not in self.PRESETS:
            if preset in PRESETS:
                raise ValueError('preset %s normalizes by the whole clip: use features()'
                                 % preset)
            raise ValueError('unknown streaming preset %r' % (preset,))
        rate, length, step = self.PRESETS[preset]
        if sample_rate != rate:
            raise ValueError('preset %s needs %d Hz audio, got %r' % (preset, rate, sample_rate))
        if model is None:
            raise ValueError('preset micro_speech needs model= (audio_preprocessor_int8.tflite)')
        if isinstance(model, (str, bytes, bytearray, memoryview)):
            import tinyml
            model = tinyml.load(model)
        self.model = model
        inp, outp = model.inputs[0], model.outputs[0]
        if inp.dtype != 'int16' or inp.nbytes != 2 * length:
            raise ValueError('model input must be int16[%d], got %s %r'
                             % (length, inp.dtype, inp.shape))
        self.channels = outp.nbytes // (4 if outp.dtype == 'float32' else 1)
        self.typecode = 'f' if outp.dtype == 'float32' else 'b'
        if outp.dtype not in ('int8', 'float32'):
            raise ValueError('model output must be int8 or float32, got %s' % outp.dtype)
        self.framer = Framer(length, step)
        self._in = inp.data
        self._out = outp.data
        self._alloc(max_frames)

    def _alloc(self, frames):
        itemsize = 4 if self.typecode == 'f' else 1
        self.frames = array(self.typecode, bytes(itemsize * frames * self.channels))
        mv = memoryview(self.frames)
        self._views = [mv[0:k * self.channels] for k in range(frames + 1)]
        self.capacity = frames

    def reset(self):
        """Forget buffered samples and the model's state (noise estimates)."""
        self.framer.reset()
        self.model.reset()

    def feed(self, chunk):
        x = int16_samples(chunk)
        step = self.framer.step
        pending = self.framer.count + len(x)
        worst = 0 if pending < self.framer.length else 1 + (pending - self.framer.length) // step
        if worst > self.capacity:
            self._alloc(worst)
        frames = self.frames
        ch = self.channels
        out = self._out
        pos = 0
        k = 0
        while True:
            pos = self.framer.fill(x, pos)
            if not self.framer.ready:
                break
            self.framer.take(self._in)
            self.model.invoke()
            base = k * ch
            for j in range(ch):
                frames[base + j] = out[j]
            k += 1
        return self._views[k]
