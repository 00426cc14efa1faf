"""Setup-time signal math: windows, FFT plans, mel filterbanks, DCT matrices.

Everything here runs once (at preset/plan construction) and returns preallocated arrays;
the per-frame loops live in kernels/python_dsp.py (and the viper/native variants).
Semantics follow tf.signal: hann_window/hamming_window, linear_to_mel_weight_matrix (HTK mel),
mfccs_from_log_mel_spectrograms (DCT-II scaled by 1/sqrt(2 * num_mel_bins)).
"""
import math
from array import array

MAX_FFT = 4096

_forced = None
_chosen = None


def use_dsp(name=None):
    """Force the DSP loops: 'python', 'viper' (native/viper emitters) or 'native' (the C MFCC
    kernel of tinyml_kernels.mpy where it exists, viper loops for the rest); None follows
    tinyml.backend. ValueError for other names."""
    global _forced
    if name not in (None, 'python', 'viper', 'native'):
        raise ValueError("DSP loops are 'python', 'viper' or 'native', got %r" % (name,))
    _forced = name


def _selected():
    name = _forced
    if name is None:
        try:
            import tinyml
            name = tinyml.backend
        except (ImportError, AttributeError):
            name = 'python'
    return name


_native = None


def native_selected():
    """Whether the native DSP loops are selected (use_dsp('native') or the native backend)."""
    return _selected() == 'native'


def native_mfcc():
    """The native float MFCC kernel mfcc_f32 (layout in native_modules/src/dsp.h) when the
    native DSP is selected (use_dsp('native') or the native tinyml backend) and this port's
    tinyml_kernels.mpy has it (x64, Armv7E-M with FPU); else None (python/viper loops)."""
    global _native
    if _selected() != 'native':
        return None
    if _native is None:
        f = False
        try:
            from .kernels import native
            f = native.KERNELS.get('mfcc_f32') or False
        except ImportError:
            pass
        _native = f
    return _native or None


def viper_available():
    try:
        from .kernels import viper_dsp  # noqa: F401
        return True
    except (ImportError, SyntaxError, NotImplementedError, ValueError):
        return False


def kernels():
    """The DSP loop module in use: kernels.viper_dsp when asked for (use_dsp('viper') or a
    viper/native tinyml backend) and this port compiles it, else kernels.python_dsp."""
    global _chosen
    name = 'viper' if _selected() in ('viper', 'native') else 'python'
    if _chosen is None or _chosen[0] != name:
        mod = None
        if name == 'viper' and viper_available():
            from .kernels import viper_dsp as mod
        if mod is None:
            from .kernels import python_dsp as mod
        _chosen = (name, mod)
    return _chosen[1]


def window(kind, length, periodic=True):
    """A window as array('f'): kind 'hann' or 'hamming' (tf.signal semantics)."""
    if length < 1:
        raise ValueError('window length must be >= 1')
    if kind == 'hann':
        a, b = 0.5, 0.5
    elif kind == 'hamming':
        a, b = 0.54, 0.46
    else:
        raise ValueError('unknown window %r' % (kind,))
    w = array('f', bytes(4 * length))
    if length == 1:          # tf.signal: a one-sample window is [1.0]
        w[0] = 1.0
        return w
    denom = length if periodic else length - 1
    for n in range(length):
        w[n] = a - b * math.cos(2.0 * math.pi * n / denom)
    return w


def is_power_of_two(n):
    return n >= 2 and n & (n - 1) == 0


def bit_reversal(n):
    """array('H') mapping i -> bit-reversed i for an n-point radix-2 FFT."""
    bits = 0
    while (1 << bits) < n:
        bits += 1
    rev = array('H', bytes(2 * n))
    for i in range(n):
        r = 0
        x = i
        for _ in range(bits):
            r = (r << 1) | (x & 1)
            x >>= 1
        rev[i] = r
    return rev


class RealFFT:
    """In-place real FFT of a power-of-two length n (2..MAX_FFT) with preallocated buffers.

    Load the frame into .re[0:n//2] (even samples) / .im[0:n//2] (odd samples) with
    load_frame(), call run(); the spectrum bins 0..n//2 are then in .out_re / .out_im.
    """

    def __init__(self, n):
        if not is_power_of_two(n) or n > MAX_FFT:
            raise ValueError('FFT length must be a power of two in 2..%d, got %r' % (MAX_FFT, n))
        self.n = n
        half = n // 2
        self.half = half
        self.re = array('f', bytes(4 * max(half, 1)))
        self.im = array('f', bytes(4 * max(half, 1)))
        self.out_re = array('f', bytes(4 * (half + 1)))
        self.out_im = array('f', bytes(4 * (half + 1)))
        self.bitrev = bit_reversal(half) if half > 1 else array('H', [0])
        # complex twiddles for the n/2-point FFT: e^{-2 pi i k / (n/2)}, k < n/4
        quarter = max(half // 2, 1)
        self.cos_half = array('f', bytes(4 * quarter))
        self.sin_half = array('f', bytes(4 * quarter))
        for k in range(quarter):
            ang = 2.0 * math.pi * k / half
            self.cos_half[k] = math.cos(ang)
            self.sin_half[k] = math.sin(ang)
        # split twiddles for the real-FFT post-processing: e^{-2 pi i k / n}, k <= n/2
        self.cos_full = array('f', bytes(4 * (half + 1)))
        self.sin_full = array('f', bytes(4 * (half + 1)))
        for k in range(half + 1):
            ang = 2.0 * math.pi * k / n
            self.cos_full[k] = math.cos(ang)
            self.sin_full[k] = math.sin(ang)


def hz_to_mel(f):
    """HTK mel scale, as tf.signal: 1127 * ln(1 + f / 700)."""
    return 1127.0 * math.log(1.0 + f / 700.0)


def mel_filterbank(num_mel_bins, num_spectrogram_bins, sample_rate, lower_hz, upper_hz):
    """tf.signal.linear_to_mel_weight_matrix stored sparsely.

    Returns (starts, lengths, offsets, weights): band m covers spectrogram bins
    starts[m] .. starts[m]+lengths[m]-1 with weights[offsets[m] + j]."""
    if num_mel_bins < 1 or num_spectrogram_bins < 2:
        raise ValueError('need num_mel_bins >= 1 and num_spectrogram_bins >= 2')
    nyquist = sample_rate / 2.0
    if not (0.0 <= lower_hz < upper_hz <= nyquist):
        raise ValueError('need 0 <= lower_hz < upper_hz <= sample_rate / 2')
    lo_mel = hz_to_mel(lower_hz)
    hi_mel = hz_to_mel(upper_hz)
    step = (hi_mel - lo_mel) / (num_mel_bins + 1)
    edges = [lo_mel + i * step for i in range(num_mel_bins + 2)]
    bin_mel = [0.0] * num_spectrogram_bins
    for k in range(1, num_spectrogram_bins):   # bin 0 (DC) is zeroed, as tf.signal does
        bin_mel[k] = hz_to_mel(nyquist * k / (num_spectrogram_bins - 1))
    starts = array('H', bytes(2 * num_mel_bins))
    lengths = array('H', bytes(2 * num_mel_bins))
    offsets = array('H', bytes(2 * num_mel_bins))
    flat = []
    for m in range(num_mel_bins):
        left, center, right = edges[m], edges[m + 1], edges[m + 2]
        first = -1
        band = []
        for k in range(1, num_spectrogram_bins):
            mel = bin_mel[k]
            w = min((mel - left) / (center - left), (right - mel) / (right - center))
            if w > 0.0:
                if first < 0:
                    first = k
                band.append((k, w))
        if first < 0:
            first = 1
        last = band[-1][0] if band else first - 1
        starts[m] = first
        lengths[m] = last - first + 1
        offsets[m] = len(flat)
        dense = [0.0] * (last - first + 1)
        for k, w in band:
            dense[k - first] = w
        flat.extend(dense)
    return starts, lengths, offsets, array('f', flat)


def dct_matrix(num_coefficients, num_inputs):
    """Rows of tf.signal.mfccs_from_log_mel_spectrograms: DCT-II * 1/sqrt(2 N), flat array('f')."""
    if not 1 <= num_coefficients <= num_inputs:
        raise ValueError('need 1 <= num_coefficients <= num_inputs')
    scale = 2.0 / math.sqrt(2.0 * num_inputs)
    m = array('f', bytes(4 * num_coefficients * num_inputs))
    for k in range(num_coefficients):
        for n in range(num_inputs):
            m[k * num_inputs + n] = scale * math.cos(math.pi * k * (2 * n + 1) / (2.0 * num_inputs))
    return m
