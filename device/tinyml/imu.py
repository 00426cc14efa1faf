"""IMU streams -> model input windows and window features.

    w = imu.Windower(axes=3, length=128, step=32)
    n = w.push(chunk)                    # chunk: interleaved samples [x0 y0 z0 x1 ...], any size
    while w.ready:
        w.take(dst)                      # dst gets length*axes values, time-major (oldest first)

    norm = imu.Normalizer(axes=3, mean=(0, 0, 1000), std=(500, 500, 500))
    norm.apply(dst, out, scale=s, zero_point=zp)      # per-axis (x - mean) / std, quantized

    imu.features(window, axes=3, out=f)  # per axis: mean, std, rms, min, max, zc, ptp

Feature definitions (per axis, population statistics over the window):
    mean, std = sqrt(mean((x - mean)^2)), rms = sqrt(mean(x^2)), min, max,
    zero crossings = #{i >= 1 : (x[i-1] < 0) != (x[i] < 0)} (about='mean' uses x - mean),
    peak-to-peak = max - min.
"""
import math
from array import array

from . import compat
from .audio import buffer_kind

FEATURES = ('mean', 'std', 'rms', 'min', 'max', 'zero_crossings', 'peak_to_peak')


class Windower:
    """Sliding windows (length samples, hop step) over an interleaved multi-axis stream.

    Samples move as raw bytes (memoryview block copies), so floats are never boxed: push()
    and take() allocate only a few small view objects per call."""

    def __init__(self, axes, length, step, typecode='f'):
        if axes < 1 or length < 1 or not 1 <= step:
            raise ValueError('need axes >= 1, length >= 1, step >= 1')
        itemsize = {'f': 4, 'h': 2, 'i': 4, 'b': 1}.get(typecode)
        if itemsize is None:
            raise ValueError("typecode must be 'f', 'h', 'i' or 'b'")
        self.axes = axes
        self.length = length
        self.step = step
        self.size = axes * length
        self.itemsize = itemsize
        self.is_float = typecode == 'f'
        self.ring = array(typecode, bytes(itemsize * self.size))
        self.ring_bytes = memoryview(compat.as_bytes(self.ring, itemsize * self.size))
        self.reset()

    def reset(self):
        self.write = 0          # next ring slot (in values)
        self.filled = 0         # values gathered towards the next window
        self.skip = 0           # values still to drop when step > length
        self.ready = False
        self._last = None
        self._last_view = None

    def _chunk_bytes(self, chunk):
        if chunk is self._last and len(chunk) == self._last_view[1]:   # push(chunk, pos) loop
            return self._last_view
        size, is_float = buffer_kind(chunk)
        n = len(chunk)
        if n == 0:
            raise ValueError('empty chunk')
        if size != self.itemsize or is_float != self.is_float:
            raise ValueError('chunk items must match the window typecode (%d-byte %s)'
                             % (self.itemsize, 'float' if self.is_float else 'int'))
        self._last = chunk
        self._last_view = (memoryview(compat.as_bytes(chunk, n * size)), n)
        return self._last_view

    def push(self, chunk, pos=0):
        """Consume chunk[pos:] until a window is ready (then stop); returns the new pos."""
        src, n = self._chunk_bytes(chunk)
        ring = self.ring_bytes
        isz = self.itemsize
        size = self.size
        w = self.write
        while pos < n and not self.ready:
            if self.skip:
                drop = min(self.skip, n - pos)
                self.skip -= drop
                pos += drop
                continue
            run = min(size - self.filled, n - pos, size - w)
            ring[w * isz:(w + run) * isz] = src[pos * isz:(pos + run) * isz]
            w += run
            if w == size:
                w = 0
            pos += run
            self.filled += run
            self.ready = self.filled == size
        self.write = w
        return pos

    def take(self, dst):
        """Copy the ready window (oldest sample first) into dst; hop by step."""
        if not self.ready:
            raise ValueError('no window ready')
        isz = self.itemsize
        size = self.size
        out = memoryview(compat.as_bytes(dst, size * isz))
        if len(out) < size * isz:
            raise ValueError('dst must hold %d values' % size)
        ring = self.ring_bytes
        r = self.write          # full ring: the oldest value sits at the write slot
        head = (size - r) * isz
        out[0:head] = ring[r * isz:size * isz]
        out[head:size * isz] = ring[0:r * isz]
        if self.step >= self.length:
            self.filled = 0
            self.skip = (self.step - self.length) * self.axes
        else:
            self.filled = (self.length - self.step) * self.axes
        self.ready = False
        return dst


class Normalizer:
    """Per-axis (x - mean[a]) / std[a] over time-major interleaved data, optionally quantized."""

    def __init__(self, axes, mean=0.0, std=1.0):
        mean = tuple(mean) if isinstance(mean, (tuple, list)) else (mean,) * axes
        std = tuple(std) if isinstance(std, (tuple, list)) else (std,) * axes
        if len(mean) != axes or len(std) != axes:
            raise ValueError('mean and std need one value per axis (%d)' % axes)
        for s in std:
            if s == 0:
                raise ValueError('std must be non-zero')
        self.axes = axes
        self.mean = array('f', mean)
        self.inv_std = array('f', [1.0 / s for s in std])

    @classmethod
    def fit(cls, data, axes):
        """Mean / population std per axis of interleaved data."""
        n = len(data) // axes
        if n == 0 or n * axes != len(data):
            raise ValueError('data must hold whole samples of %d axes' % axes)
        mean = [0.0] * axes
        for i in range(n * axes):
            mean[i % axes] += data[i]
        mean = [m / n for m in mean]
        var = [0.0] * axes
        for i in range(n * axes):
            d = data[i] - mean[i % axes]
            var[i % axes] += d * d
        std = [math.sqrt(v / n) or 1.0 for v in var]
        return cls(axes, mean, std)

    def apply(self, src, dst, count=None, scale=None, zero_point=0, qmin=-128, qmax=127):
        """dst = normalized src; with scale: round_half_away(v / scale) + zp, saturated."""
        n = len(src) if count is None else count
        axes = self.axes
        if n % axes:
            raise ValueError('data must hold whole samples of %d axes' % axes)
        mean = self.mean
        inv = self.inv_std
        a = 0
        if scale is None:
            for i in range(n):
                dst[i] = (src[i] - mean[a]) * inv[a]
                a += 1
                if a == axes:
                    a = 0
            return dst
        if scale <= 0:
            raise ValueError('scale must be positive')
        qs = 1.0 / scale
        for i in range(n):
            v = (src[i] - mean[a]) * inv[a] * qs
            q = int(v + 0.5) if v >= 0 else -int(0.5 - v)
            q += zero_point
            dst[i] = qmin if q < qmin else (qmax if q > qmax else q)
            a += 1
            if a == axes:
                a = 0
        return dst


def features(window, axes, out=None, about='zero', count=None):
    """Per-axis features (FEATURES order, axis-major) of interleaved time-major data."""
    n_values = len(window) if count is None else count
    if axes < 1 or n_values == 0 or n_values % axes:
        raise ValueError('window must hold whole samples of %d axes' % axes)
    if about not in ('zero', 'mean'):
        raise ValueError("about must be 'zero' or 'mean'")
    n = n_values // axes
    nf = len(FEATURES)
    if out is None:
        out = array('f', bytes(4 * nf * axes))
    for a in range(axes):
        s = 0.0
        sq = 0.0
        lo = hi = window[a]
        for i in range(a, n_values, axes):
            v = window[i]
            s += v
            sq += v * v
            if v < lo:
                lo = v
            if v > hi:
                hi = v
        mean = s / n
        var = 0.0
        for i in range(a, n_values, axes):
            d = window[i] - mean
            var += d * d
        centre = mean if about == 'mean' else 0
        zc = 0
        prev = window[a] - centre < 0
        for i in range(a + axes, n_values, axes):
            neg = window[i] - centre < 0
            if neg != prev:
                zc += 1
            prev = neg
        base = a * nf
        out[base] = mean
        out[base + 1] = math.sqrt(var / n)
        out[base + 2] = math.sqrt(sq / n)
        out[base + 3] = lo
        out[base + 4] = hi
        out[base + 5] = zc
        out[base + 6] = hi - lo
    return out
