"""Float MFCC pipeline (tf.signal semantics) with preallocated buffers.

    p = MfccPipeline(frame_length=480, frame_step=320, fft_length=512, ...)
    p.run(samples, out, scale)   # one clip -> [num_frames, num_mfcc] floats in out

run() calls the native kernel mfcc_f32 (native_modules/src/dsp.c: the whole clip in one call)
when dsp.native_mfcc() offers it, else the per-frame python/viper loops of dsp.kernels().
"""
from array import array

from . import dsp


class MfccPipeline:
    def __init__(self, sample_rate, frame_length, frame_step, fft_length, window_kind,
                 periodic, num_mel_bins, lower_hz, upper_hz, log_offset, num_mfcc,
                 spectrum='magnitude'):
        if frame_length > fft_length:
            raise ValueError('frame_length must be <= fft_length')
        if spectrum not in ('magnitude', 'power'):
            raise ValueError('spectrum must be magnitude or power')
        self.sample_rate = sample_rate
        self.frame_length = frame_length
        self.frame_step = frame_step
        self.fft = dsp.RealFFT(fft_length)
        self.window = dsp.window(window_kind, frame_length, periodic)
        self.num_bins = fft_length // 2 + 1
        self.mel = dsp.mel_filterbank(num_mel_bins, self.num_bins, sample_rate, lower_hz, upper_hz)
        starts, lengths = self.mel[0], self.mel[1]
        self.first_bin = min(starts)
        self.last_bin = max(starts[m] + lengths[m] for m in range(num_mel_bins))
        self.num_mel = num_mel_bins
        self.num_mfcc = num_mfcc
        self.log_offset = log_offset
        self.power = spectrum == 'power'
        self.dct = dsp.dct_matrix(num_mfcc, num_mel_bins)
        self.spec = array('f', bytes(4 * self.num_bins))
        self.mel_out = array('f', bytes(4 * num_mel_bins))
        self.native = None          # (p, tables) for mfcc_f32, built on first native run

    def native_setup(self):
        """Parameter block and float tables of the native mfcc_f32 (layout in dsp.h):
        p = [frames, frame_len, step, fft, num_mel, num_mfcc, power, num_weights,
        starts.., lengths.., offsets..]; tables = [scale, log_offset, window, cos, sin,
        mel weights, dct] with cos/sin(2 pi k / fft) for k <= fft / 2."""
        if self.native is None:
            starts, lengths, offsets, weights = self.mel
            nm = self.num_mel
            p = array('i', bytes(4 * (8 + 3 * nm)))
            p[1] = self.frame_length
            p[2] = self.frame_step
            p[3] = self.fft.n
            p[4] = nm
            p[5] = self.num_mfcc
            p[6] = 1 if self.power else 0
            p[7] = len(weights)
            for m in range(nm):
                p[8 + m] = starts[m]
                p[8 + nm + m] = lengths[m]
                p[8 + 2 * nm + m] = offsets[m]
            tab = array('f', [1.0, self.log_offset])
            for part in (self.window, self.fft.cos_full, self.fft.sin_full, weights, self.dct):
                tab.extend(part)
            self.native = (p, tab)
        return self.native

    def num_frames(self, num_samples):
        if num_samples < self.frame_length:
            return 0
        return 1 + (num_samples - self.frame_length) // self.frame_step

    def spectrum_frame(self, k, samples, start, scale):
        """Windowed FFT spectrum (magnitude or power) of one frame into self.spec."""
        f = self.fft
        k.load_frame_scaled(f.re, f.im, samples, start, self.frame_length, self.window,
                            scale, f.half)
        k.fft_inplace(f.re, f.im, f.half, f.cos_half, f.sin_half, f.bitrev)
        k.rfft_split(f.re, f.im, f.out_re, f.out_im, f.half, f.cos_full, f.sin_full,
                     self.first_bin, self.last_bin)
        count = self.last_bin - self.first_bin
        if self.power:
            k.power(self.spec, f.out_re, f.out_im, self.first_bin, count)
        else:
            k.magnitude(self.spec, f.out_re, f.out_im, self.first_bin, count)

    def mfcc_frame(self, k, out, out_offset):
        starts, lengths, offsets, weights = self.mel
        k.mel_apply(self.mel_out, self.spec, starts, lengths, offsets, weights, self.num_mel)
        k.log_offset(self.mel_out, self.num_mel, self.log_offset)
        k.matvec(out, out_offset, self.dct, self.mel_out, self.num_mfcc, self.num_mel)

    def run(self, samples, num_samples, out, scale):
        """MFCCs of every full frame of samples[0:num_samples] (times scale) into out."""
        frames = self.num_frames(num_samples)
        f = dsp.native_mfcc()
        if f is not None:
            p, tab = self.native_setup()
            p[0] = frames
            tab[0] = scale
            n = frames * self.num_mfcc
            f(out if len(out) == n else memoryview(out)[0:n], samples, tab, p)
            return frames
        k = dsp.kernels()
        for t in range(frames):
            self.spectrum_frame(k, samples, t * self.frame_step, scale)
            self.mfcc_frame(k, out, t * self.num_mfcc)
        return frames
