"""A minimal RGB PNG canvas (zlib + struct, no matplotlib) and the arena-over-time plot."""
import struct
import zlib

# 3x5 bitmap digits for axis labels: each glyph is 5 rows of 3 bits.
_GLYPHS = {
    '0': (7, 5, 5, 5, 7), '1': (2, 6, 2, 2, 7), '2': (7, 1, 7, 4, 7), '3': (7, 1, 7, 1, 7),
    '4': (5, 5, 7, 1, 1), '5': (7, 4, 7, 1, 7), '6': (7, 4, 7, 5, 7), '7': (7, 1, 1, 1, 1),
    '8': (7, 5, 7, 5, 7), '9': (7, 5, 7, 1, 7), 'K': (5, 5, 6, 5, 5), 'M': (5, 7, 7, 5, 5),
    '.': (0, 0, 0, 0, 2), ' ': (0, 0, 0, 0, 0), 'B': (6, 5, 6, 5, 6),
}

PALETTE = [
    (78, 121, 167), (242, 142, 43), (225, 87, 89), (118, 183, 178), (89, 161, 79),
    (237, 201, 72), (176, 122, 161), (255, 157, 167), (156, 117, 95), (186, 176, 172),
]


class Canvas:
    """width x height RGB pixels, origin top-left."""

    def __init__(self, width, height, background=(255, 255, 255)):
        self.width = width
        self.height = height
        self.rows = [bytearray(bytes(background) * width) for _ in range(height)]

    def fill_rect(self, x0, y0, x1, y1, color):
        """Fill pixels x0 <= x < x1, y0 <= y < y1 (clipped to the canvas)."""
        x0, x1 = max(0, int(x0)), min(self.width, int(x1))
        y0, y1 = max(0, int(y0)), min(self.height, int(y1))
        if x0 >= x1 or y0 >= y1:
            return
        run = bytes(color) * (x1 - x0)
        for y in range(y0, y1):
            self.rows[y][3 * x0:3 * x1] = run

    def outline_rect(self, x0, y0, x1, y1, color):
        self.fill_rect(x0, y0, x1, y0 + 1, color)
        self.fill_rect(x0, y1 - 1, x1, y1, color)
        self.fill_rect(x0, y0, x0 + 1, y1, color)
        self.fill_rect(x1 - 1, y0, x1, y1, color)

    def text(self, x, y, s, color=(0, 0, 0), scale=2):
        """Draw s (digits, K, M, B, '.', ' ') with its top-left corner at (x, y)."""
        for ch in s:
            for r, bits in enumerate(_GLYPHS.get(ch, _GLYPHS[' '])):
                for c in range(3):
                    if bits & (4 >> c):
                        self.fill_rect(x + c * scale, y + r * scale,
                                       x + (c + 1) * scale, y + (r + 1) * scale, color)
            x += 4 * scale

    def png_bytes(self):
        raw = b''.join(b'\x00' + bytes(row) for row in self.rows)
        header = struct.pack('>IIBBBBB', self.width, self.height, 8, 2, 0, 0, 0)
        return (b'\x89PNG\r\n\x1a\n' + _chunk(b'IHDR', header)
                + _chunk(b'IDAT', zlib.compress(raw, 6)) + _chunk(b'IEND', b''))

    def save(self, path):
        with open(path, 'wb') as f:
            f.write(self.png_bytes())


def _chunk(kind, data):
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', crc)


def png_size(data):
    """(width, height) of PNG bytes; ValueError if they are not a PNG."""
    if data[:8] != b'\x89PNG\r\n\x1a\n' or data[12:16] != b'IHDR':
        raise ValueError('not a PNG')
    return struct.unpack('>II', data[16:24])


def _size_label(n):
    if n >= 1 << 20:
        return '%.1fMB' % (n / 1048576.0)
    if n >= 1024:
        return '%dKB' % (n // 1024)
    return '%dB' % n


def arena_plot(boxes, n_ops, arena_bytes, width=900, height=500):
    """Canvas of the arena over time.

    boxes: (first_op, last_op, offset, nbytes) per planned buffer; x = op index
    (first..last inclusive), y = arena offset growing upwards.
    """
    left, right, top, bottom = 70, 10, 10, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    canvas = Canvas(width, height)
    canvas.outline_rect(left - 1, top - 1, left + plot_w + 1, top + plot_h + 1, (0, 0, 0))
    ops = max(1, n_ops)
    total = max(1, arena_bytes)

    def x_of(op):
        return left + plot_w * op // ops

    def y_of(offset):
        return top + plot_h - plot_h * offset // total

    for i, (first, last, offset, nbytes) in enumerate(boxes):
        x0, x1 = x_of(first), max(x_of(last + 1), x_of(first) + 1)
        y0, y1 = y_of(offset + nbytes), max(y_of(offset), y_of(offset + nbytes) + 1)
        canvas.fill_rect(x0, y0, x1, y1, PALETTE[i % len(PALETTE)])
        canvas.outline_rect(x0, y0, x1, y1, (40, 40, 40))
    canvas.text(4, top, _size_label(arena_bytes))
    canvas.text(4, top + plot_h - 10, '0')
    canvas.text(left, top + plot_h + 8, '0')
    last_label = str(n_ops - 1 if n_ops else 0)
    canvas.text(left + plot_w - 8 * len(last_label), top + plot_h + 8, last_label)
    return canvas
