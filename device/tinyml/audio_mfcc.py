"""Float MFCC pipeline (tf.signal semantics) with preallocated buffers.

    p = MfccPipeline(frame_length=480, frame_step=320, fft_length=512, ...)
    p.run(samples, out, scale)   # one clip -> [num_frames, num_mfcc] floats in out
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
        k = dsp.kernels()
        frames = self.num_frames(num_samples)
        for t in range(frames):
            self.spectrum_frame(k, samples, t * self.frame_step, scale)
            self.mfcc_frame(k, out, t * self.num_mfcc)
        return frames
