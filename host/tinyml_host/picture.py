"""Decode .bmp and .png files to raw pixels for tinyml.image (host side, no Pillow).

read_picture(path) -> (pixels bytes, width, height, fmt) with fmt 'gray' (1 byte/pixel) or
'rgb888' (3 bytes/pixel), rows top to bottom. BMP: uncompressed 8-bit (palette), 24-bit and
32-bit. PNG: 8-bit gray, RGB, palette, gray+alpha, RGBA, not interlaced. Alpha is dropped.
"""
import struct
import zlib

from .term import UserError


def read_picture(path):
    with open(path, 'rb') as f:
        data = f.read()
    try:
        if data[:2] == b'BM':
            return decode_bmp(data)
        if data[:8] == b'\x89PNG\r\n\x1a\n':
            return decode_png(data)
    except (struct.error, IndexError, zlib.error) as e:
        raise UserError('%s: corrupt image (%s)' % (path, e))
    raise UserError('%s: not a BMP or PNG file' % path)


def _gray_palette(palette):
    return all(r == g == b for r, g, b in palette)


def _expand(indices, palette):
    """Palette indices -> gray or rgb888 pixel bytes."""
    if _gray_palette(palette):
        table = bytes(p[0] for p in palette) + bytes(256 - len(palette))
        return bytes(indices).translate(table), 'gray'
    out = bytearray()
    for i in indices:
        out.extend(palette[i])
    return bytes(out), 'rgb888'


def decode_bmp(data):
    offset = struct.unpack_from('<I', data, 10)[0]
    header, width, height, _, bpp, compression = struct.unpack_from('<IiiHHI', data, 14)
    if compression not in (0, 3) or bpp not in (8, 24, 32):
        raise UserError('BMP: only uncompressed 8/24/32-bit images (got %d-bit, compression %d)'
                        % (bpp, compression))
    bottom_up = height > 0
    height = abs(height)
    stride = (width * bpp // 8 + 3) & ~3
    rows = [data[offset + y * stride: offset + y * stride + width * bpp // 8]
            for y in range(height)]
    if bottom_up:
        rows.reverse()
    if bpp == 8:
        colors = struct.unpack_from('<I', data, 46)[0] or 256
        palette = [tuple(data[14 + header + 4 * i + k] for k in (2, 1, 0)) for i in range(colors)]
        pixels, fmt = _expand(b''.join(rows), palette)
        return pixels, width, height, fmt
    step = bpp // 8
    out = bytearray()
    for row in rows:
        for x in range(width):
            b, g, r = row[step * x:step * x + 3]
            out += bytes((r, g, b))
    return bytes(out), width, height, 'rgb888'


def _chunks(data):
    pos = 8
    while pos + 8 <= len(data):
        size, kind = struct.unpack_from('>I4s', data, pos)
        yield kind, data[pos + 8:pos + 8 + size]
        pos += 12 + size


def _paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _unfilter(raw, width, height, bpp):
    stride = width * bpp
    out = bytearray(stride * height)
    prev = bytearray(stride)
    pos = 0
    for y in range(height):
        kind = raw[pos]
        line = bytearray(raw[pos + 1:pos + 1 + stride])
        pos += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                line[x] = (line[x] + _paeth(a, b, c)) & 255
        out[y * stride:(y + 1) * stride] = line
        prev = line
    return bytes(out)


CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def decode_png(data):
    header, idat, palette = None, [], None
    for kind, body in _chunks(data):
        if kind == b'IHDR':
            header = struct.unpack('>IIBBBBB', body)
        elif kind == b'PLTE':
            palette = [tuple(body[i:i + 3]) for i in range(0, len(body), 3)]
        elif kind == b'IDAT':
            idat.append(body)
    if header is None:
        raise UserError('PNG: no IHDR chunk')
    width, height, depth, color, _, _, interlace = header
    if depth != 8 or interlace or color not in CHANNELS:
        raise UserError('PNG: only 8-bit, non-interlaced images (got depth %d, color type %d)'
                        % (depth, color))
    bpp = CHANNELS[color]
    pixels = _unfilter(zlib.decompress(b''.join(idat)), width, height, bpp)
    if color == 3:
        if palette is None:
            raise UserError('PNG: palette image without PLTE')
        rgb, fmt = _expand(pixels, palette)
        return rgb, width, height, fmt
    if color in (0, 4):
        return pixels[::bpp], width, height, 'gray'
    if color == 6:
        return b''.join(pixels[i:i + 3] for i in range(0, len(pixels), 4)), width, height, 'rgb888'
    return pixels, width, height, 'rgb888'
