"""Camera frames -> model input: crop, resize (nearest / bilinear), channel conversion, quantize.

    from tinyml import image
    q = image.Quantizer(scale=t.scale, zero_point=t.zero_point, dtype='int8')   # once
    image.preprocess(img, 96, 96, 1, quantizer=q, into=m.inputs[0].data)      # per frame

Sources: a buffer with width/height/fmt ('gray' 1 B/px, 'rgb565' 2 B/px little-endian unless
byteorder='big', 'rgb888' 3 B/px R,G,B) or an OpenMV image.Image (duck-typed: width(),
height(), format(), bytearray(); the layout is inferred from the bytes per pixel).

Conventions (documented, tested):
  * RGB565 -> RGB888 by bit replication: (r5 << 3 | r5 >> 2), (g6 << 2 | g6 >> 4).
  * RGB -> gray: (38 R + 75 G + 15 B) >> 7 (OpenMV's integer luma); gray -> RGB replicates.
  * Channel conversion happens per source pixel, before resizing.
  * nearest: src = floor((dst + 0.5) * in / out); bilinear: half-pixel centres, edge clamp
    (tf.image.resize / cv2 INTER_LINEAR geometry) with exact integer weights (the source
    position is a fraction over 2 * out), so the result is the exact bilinear value rounded
    half up.
  * quantization: real = (pixel * pixel_scale - mean[c]) / std[c];
    q = round_half_away(real / scale) + zero_point, saturated; uint8 -> int8 without a scale
    is pixel - 128. A 256-entry table per channel makes the per-pixel cost one lookup.
"""
import math
from array import array

FORMATS = {'gray': 1, 'grayscale': 1, 'rgb565': 2, 'rgb888': 3}
_FORMAT_OF_BPP = {1: 'gray', 2: 'rgb565', 3: 'rgb888'}


def _fmt(fmt):
    f = FORMATS.get(fmt.lower() if isinstance(fmt, str) else fmt)
    if f is None:
        raise ValueError('unknown pixel format %r (use gray, rgb565 or rgb888)' % (fmt,))
    return _FORMAT_OF_BPP[f]


def _is_openmv_image(obj):
    return hasattr(obj, 'bytearray') and callable(getattr(obj, 'width', None))


def _check_crop(x, y, w, h, width, height):
    if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > width or y + h > height:
        raise ValueError('crop %r outside the %dx%d image' % ((x, y, w, h), width, height))


def _new_array(dtype, n):
    """A zeroed array of n model-input values of dtype ('int8', 'uint8' or 'float32')."""
    if dtype == 'float32':
        return array('f', bytes(4 * n))
    return array('b' if dtype == 'int8' else 'B', bytes(n))


def source(src, width=None, height=None, fmt=None):
    """(buffer, width, height, fmt) of a raw buffer or an OpenMV-like image."""
    if _is_openmv_image(src):
        width, height = src.width(), src.height()
        buf = src.bytearray()
        if fmt is None:
            if width <= 0 or height <= 0:
                raise ValueError('empty image')
            per = len(buf) // (width * height)
            if per not in (1, 2, 3) or per * width * height != len(buf):
                raise ValueError('image format %r: %d bytes for %dx%d pixels'
                                 % (src.format(), len(buf), width, height))
            fmt = _FORMAT_OF_BPP[per]
        src = buf
    if width is None or height is None or fmt is None:
        raise ValueError('raw buffers need width, height and fmt')
    fmt = _fmt(fmt)
    if width <= 0 or height <= 0:
        raise ValueError('image size must be positive, got %rx%r' % (width, height))
    if isinstance(src, str):
        raise ValueError('image data must be a bytes-like buffer')
    try:
        n = len(src)
    except TypeError:
        raise ValueError('image data must be a bytes-like buffer, got %s' % type(src).__name__)
    if n != width * height * FORMATS[fmt]:
        raise ValueError('%dx%d %s needs %d bytes, got %d'
                         % (width, height, fmt, width * height * FORMATS[fmt], n))
    return src, width, height, fmt


def crop(src, x, y, w, h, width=None, height=None, fmt=None, into=None):
    """The w x h rectangle at (x, y), same pixel format, as a bytearray (or into)."""
    buf, width, height, fmt = source(src, width, height, fmt)
    _check_crop(x, y, w, h, width, height)
    bpp = FORMATS[fmt]
    out = into if into is not None else bytearray(w * h * bpp)
    if len(out) != w * h * bpp:
        raise ValueError('into must hold %d bytes' % (w * h * bpp))
    row = w * bpp
    mv = memoryview(buf)
    for r in range(h):
        s = ((y + r) * width + x) * bpp
        out[r * row:(r + 1) * row] = mv[s:s + row]
    return out


class Quantizer:
    """uint8 pixel -> model input value, one 256-entry table per channel."""

    def __init__(self, scale=None, zero_point=0, dtype='int8', mean=(0.0,), std=(1.0,),
                 pixel_scale=1.0 / 255.0, channels=1):
        if dtype not in ('int8', 'uint8', 'float32'):
            raise ValueError('dtype must be int8, uint8 or float32')
        if scale is not None and scale <= 0:
            raise ValueError('scale must be positive')
        mean = tuple(mean) if isinstance(mean, (tuple, list)) else (mean,)
        std = tuple(std) if isinstance(std, (tuple, list)) else (std,)
        if len(mean) not in (1, channels) or len(std) not in (1, channels):
            raise ValueError('mean/std need 1 or %d values' % channels)
        for s in std:
            if s == 0:
                raise ValueError('std must be non-zero')
        self.dtype = dtype
        self.channels = channels
        lo, hi = (-128, 127) if dtype == 'int8' else (0, 255)
        self.tables = []
        for c in range(channels):
            m = mean[c if len(mean) > 1 else 0]
            sd = std[c if len(std) > 1 else 0]
            t = _new_array(dtype, 256)
            for p in range(256):
                if scale is None:
                    if dtype == 'float32':
                        t[p] = (p * pixel_scale - m) / sd
                    else:
                        t[p] = p - 128 if dtype == 'int8' else p
                    continue
                real = (p * pixel_scale - m) / sd
                v = real / scale
                q = (int(math.floor(v + 0.5)) if v >= 0 else -int(math.floor(0.5 - v)))
                q += zero_point
                t[p] = lo if q < lo else (hi if q > hi else q)
            self.tables.append(t)

    def apply(self, pixels, out, count):
        """out[i] = table[i % channels][pixels[i]] for i < count."""
        ch = self.channels
        if ch == 1:
            t = self.tables[0]
            for i in range(count):
                out[i] = t[pixels[i]]
            return
        for c in range(ch):
            t = self.tables[c]
            for i in range(c, count, ch):
                out[i] = t[pixels[i]]


def to_int8(pixels, into=None):
    """uint8 pixels -> int8 (x - 128)."""
    n = len(pixels)
    out = into if into is not None else array('b', bytes(n))
    for i in range(n):
        out[i] = pixels[i] - 128
    return out


def _channels_of(buf, fmt, idx, out_ch, little, dst, d):
    """Write pixel idx of buf converted to out_ch uint8 channels into dst[d:]."""
    if fmt == 'gray':
        v = buf[idx]
        dst[d] = v
        if out_ch == 3:
            dst[d + 1] = v
            dst[d + 2] = v
        return
    if fmt == 'rgb888':
        o = 3 * idx
        r, g, b = buf[o], buf[o + 1], buf[o + 2]
    else:
        o = 2 * idx
        v = (buf[o] | (buf[o + 1] << 8)) if little else ((buf[o] << 8) | buf[o + 1])
        r5 = v >> 11
        g6 = (v >> 5) & 63
        b5 = v & 31
        r = (r5 << 3) | (r5 >> 2)
        g = (g6 << 2) | (g6 >> 4)
        b = (b5 << 3) | (b5 >> 2)
    if out_ch == 1:
        dst[d] = (38 * r + 75 * g + 15 * b) >> 7
    else:
        dst[d] = r
        dst[d + 1] = g
        dst[d + 2] = b


def _axis_nearest(n_in, n_out, offset):
    idx = array('H', bytes(2 * n_out))
    for i in range(n_out):
        s = (2 * i + 1) * n_in // (2 * n_out)
        idx[i] = offset + (s if s < n_in else n_in - 1)
    return idx


def _axis_bilinear(n_in, n_out, offset):
    """(i0, i1, w1, den) per output index, half-pixel centres, edge clamp: the source
    position is exactly i0 + w1/den with den = 2 * n_out (rational, no rounding)."""
    den = 2 * n_out
    i0 = array('H', bytes(2 * n_out))
    i1 = array('H', bytes(2 * n_out))
    w1 = array('H', bytes(2 * n_out))
    for i in range(n_out):
        num = (2 * i + 1) * n_in - n_out          # (i + 0.5) * n_in / n_out - 0.5, times den
        if num < 0:
            num = 0
        lo = num // den
        frac = num - lo * den
        if lo >= n_in - 1:
            lo, frac = n_in - 1, 0
        i0[i] = offset + lo
        i1[i] = offset + (lo + 1 if lo + 1 < n_in else lo)
        w1[i] = frac
    return i0, i1, w1, den


class Resizer:
    """Preplanned crop + resize + channel conversion for fixed geometry (no per-frame setup).

    run(buf, into) writes out_w * out_h * channels uint8 values into `into`."""

    def __init__(self, width, height, fmt, out_w, out_h, channels, method='bilinear',
                 crop=None, byteorder='little'):
        self.fmt = _fmt(fmt)
        if channels not in (1, 3):
            raise ValueError('channels must be 1 or 3')
        if out_w <= 0 or out_h <= 0:
            raise ValueError('output size must be positive')
        if method not in ('nearest', 'bilinear'):
            raise ValueError("method must be 'nearest' or 'bilinear'")
        if byteorder not in ('little', 'big'):
            raise ValueError("byteorder must be 'little' or 'big'")
        x, y, w, h = crop if crop is not None else (0, 0, width, height)
        _check_crop(x, y, w, h, width, height)
        self.width, self.height = width, height
        self.out_w, self.out_h, self.channels = out_w, out_h, channels
        self.method = method
        self.little = byteorder == 'little'
        self.nbytes = width * height * FORMATS[self.fmt]
        if method == 'nearest':
            self.xs = _axis_nearest(w, out_w, x)
            self.ys = _axis_nearest(h, out_h, y)
        else:
            self.xs = _axis_bilinear(w, out_w, x)
            self.ys = _axis_bilinear(h, out_h, y)
        self.px = array('B', bytes(4 * channels))   # the 4 neighbours' channels

    def run(self, buf, into):
        if len(buf) != self.nbytes:
            raise ValueError('frame must be %d bytes, got %d' % (self.nbytes, len(buf)))
        if self.method == 'nearest':
            self._nearest(buf, into)
        else:
            self._bilinear(buf, into)
        return into

    def _nearest(self, buf, out):
        xs, ys, ch, fmt, lt, W = self.xs, self.ys, self.channels, self.fmt, self.little, self.width
        d = 0
        for oy in range(self.out_h):
            row = ys[oy] * W
            for ox in range(self.out_w):
                _channels_of(buf, fmt, row + xs[ox], ch, lt, out, d)
                d += ch
        return out

    def _bilinear(self, buf, out):
        """Exact bilinear value rounded half up: weights are integers over dx * dy."""
        x0, x1, wx, dx = self.xs
        y0, y1, wy, dy = self.ys
        ch, fmt, lt, W, px = self.channels, self.fmt, self.little, self.width, self.px
        den = 2 * dx * dy
        half = dx * dy
        d = 0
        for oy in range(self.out_h):
            r0 = y0[oy] * W
            r1 = y1[oy] * W
            b = wy[oy]
            a = dy - b
            for ox in range(self.out_w):
                _channels_of(buf, fmt, r0 + x0[ox], ch, lt, px, 0)
                _channels_of(buf, fmt, r0 + x1[ox], ch, lt, px, ch)
                _channels_of(buf, fmt, r1 + x0[ox], ch, lt, px, 2 * ch)
                _channels_of(buf, fmt, r1 + x1[ox], ch, lt, px, 3 * ch)
                q = wx[ox]
                p = dx - q
                for c in range(ch):
                    top = px[c] * p + px[ch + c] * q
                    bot = px[2 * ch + c] * p + px[3 * ch + c] * q
                    out[d + c] = (2 * (top * a + bot * b) + half) // den
                d += ch
        return out


def resize(src, out_w, out_h, channels=None, method='bilinear', width=None, height=None,
           fmt=None, crop=None, byteorder='little', into=None):
    """Crop (optional) + resize + convert to `channels` (1 or 3; default: the source's),
    as a bytearray of uint8 (or into)."""
    buf, width, height, fmt = source(src, width, height, fmt)
    if channels is None:
        channels = 1 if fmt == 'gray' else 3
    r = Resizer(width, height, fmt, out_w, out_h, channels, method, crop, byteorder)
    out = into if into is not None else bytearray(out_w * out_h * channels)
    if len(out) != out_w * out_h * channels:
        raise ValueError('into must hold %d values' % (out_w * out_h * channels))
    return r.run(buf, out)


def preprocess(src, out_w, out_h, channels, quantizer=None, method='bilinear', width=None,
               height=None, fmt=None, crop=None, byteorder='little', into=None):
    """Camera frame -> model input values (int8 = pixel - 128 unless a Quantizer is given)."""
    pixels = resize(src, out_w, out_h, channels, method, width, height, fmt, crop, byteorder)
    q = _quantizer_for(quantizer, channels)
    n = out_w * out_h * channels
    if into is None:
        into = _new_array(q.dtype, n)
    q.apply(pixels, into, n)
    return into


def _quantizer_for(quantizer, channels):
    """quantizer (default: pixel - 128 to int8), checked against the channel count."""
    q = quantizer if quantizer is not None else Quantizer(channels=channels)
    if q.channels != channels:
        raise ValueError('quantizer is for %d channels, image has %d' % (q.channels, channels))
    return q


class Preprocessor:
    """Resizer + Quantizer with a preallocated pixel buffer: run(frame, into) allocates nothing.

        pre = image.Preprocessor(320, 240, 'rgb565', 96, 96, 1, image.Quantizer())
        pre.run(img, m.inputs[0].data)"""

    def __init__(self, width, height, fmt, out_w, out_h, channels, quantizer=None,
                 method='bilinear', crop=None, byteorder='little'):
        self.resizer = Resizer(width, height, fmt, out_w, out_h, channels, method, crop,
                               byteorder)
        self.quantizer = _quantizer_for(quantizer, channels)
        self.count = out_w * out_h * channels
        self.pixels = bytearray(self.count)

    def run(self, frame, into):
        buf = frame.bytearray() if _is_openmv_image(frame) else frame
        self.resizer.run(buf, self.pixels)
        self.quantizer.apply(self.pixels, into, self.count)
        return into
