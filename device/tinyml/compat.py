"""The only module that knows MicroPython vs CircuitPython vs CPython."""
import sys

IS_MICROPYTHON = sys.implementation.name in ('micropython', 'circuitpython')
IS_CIRCUITPY = sys.implementation.name == 'circuitpython'

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

try:
    import micropython as _mp
    HAS_VIPER = hasattr(_mp, 'viper')
    if HAS_VIPER:
        viper = _mp.viper
        native = _mp.native
except ImportError:
    HAS_VIPER = False

if not HAS_VIPER:
    def viper(f):
        return f

    def native(f):
        return f

try:
    import gc as _gc
    _mem_alloc = _gc.mem_alloc
except (ImportError, AttributeError):
    _mem_alloc = None

try:
    import uctypes
except ImportError:
    uctypes = None

import struct


def alloc_bytes():
    """Bytes allocated on the heap now (0 where the runtime cannot tell)."""
    return _mem_alloc() if _mem_alloc else 0


try:
    import time as _time
    _ticks_us = _time.ticks_us
except AttributeError:
    import time as _time

    def _ticks_us():
        return int(_time.perf_counter() * 1000000)


def ticks_us():
    return _ticks_us()


def ticks_diff(a, b):
    try:
        return _time.ticks_diff(a, b)
    except AttributeError:
        return a - b


def float_bits(f):
    """The IEEE-754 float32 bit pattern of f, as an unsigned int."""
    return struct.unpack('<I', struct.pack('<f', f))[0]


def bits_float(u):
    return struct.unpack('<f', struct.pack('<I', u & 0xFFFFFFFF))[0]


# -- typed views over raw memory -------------------------------------------------------------
# MicroPython has no memoryview.cast: typed access goes through uctypes ARRAY accessors
# (indexable, bounds-checked, no len()/slices); int8 arena views are memoryview slices of an
# array('b'). CPython uses memoryview.cast. Without either (CircuitPython), StructView.

STRUCT_CODES = {'int8': 'b', 'uint8': 'B', 'bool': 'B', 'int16': 'h', 'uint16': 'H',
                'float16': 'e', 'int32': 'i', 'uint32': 'I', 'float32': 'f', 'int64': 'q',
                'uint64': 'Q', 'float64': 'd'}
_ITEMSIZE = {'b': 1, 'B': 1, 'h': 2, 'H': 2, 'e': 2, 'i': 4, 'I': 4, 'f': 4, 'q': 8, 'Q': 8,
             'd': 8}

if uctypes is not None:
    _UCTYPES = {'int8': uctypes.INT8, 'uint8': uctypes.UINT8, 'bool': uctypes.UINT8,
                'int16': uctypes.INT16, 'uint16': uctypes.UINT16, 'float16': uctypes.UINT16,
                'int32': uctypes.INT32, 'uint32': uctypes.UINT32, 'float32': uctypes.FLOAT32,
                'int64': uctypes.INT64, 'uint64': uctypes.UINT64, 'float64': uctypes.FLOAT64}


class StructView:
    """Typed element access to a byte buffer via struct (slow fallback; no uctypes, no cast)."""

    def __init__(self, raw, code):
        self.raw = raw
        self.code = '<' + code
        self.size = _ITEMSIZE[code]
        self.count = len(raw) // self.size

    def __len__(self):
        return self.count

    def _pos(self, i):
        if i < 0:
            i += self.count
        if not 0 <= i < self.count:
            raise IndexError('index out of range')
        return i * self.size

    def __getitem__(self, i):
        return struct.unpack_from(self.code, self.raw, self._pos(i))[0]

    def __setitem__(self, i, v):
        struct.pack_into(self.code, self.raw, self._pos(i), v)


def new_arena(nbytes):
    """Zeroed arena memory: an array('b') on MicroPython (signed int8 slices), else bytearray."""
    if IS_MICROPYTHON:
        from array import array
        return array('b', bytes(nbytes))
    return bytearray(nbytes)


def byte_view(buf, offset, nbytes, arena=False):
    """Unsigned bytes [offset, offset+nbytes) of buf, writable if buf is; no copy.

    arena=True: buf comes from new_arena (an array('b') on MicroPython)."""
    if not IS_MICROPYTHON:
        return memoryview(buf).cast('B')[offset:offset + nbytes]
    if arena and uctypes is not None:
        return uctypes.bytearray_at(uctypes.addressof(buf) + offset, nbytes)
    return memoryview(buf)[offset:offset + nbytes]


def typed_view(buf, offset, count, dtype, arena=False):
    """count elements of dtype at byte offset of buf (an arena or source bytes), no copy.

    CPython: a memoryview cast to the dtype. MicroPython: int8 views of an arena and uint8
    views of bytes are memoryview slices; other dtypes are uctypes arrays (index only).
    Without uctypes (CircuitPython): StructView.
    """
    code = STRUCT_CODES[dtype]
    nbytes = count * _ITEMSIZE[code]
    if not IS_MICROPYTHON:
        return memoryview(buf).cast('B')[offset:offset + nbytes].cast(code)
    if code == ('b' if arena else 'B'):
        return memoryview(buf)[offset:offset + count]
    if uctypes is not None:
        addr = uctypes.addressof(buf) + offset
        if count == 0:
            return uctypes.bytearray_at(addr, 0)
        layout = {'v': (uctypes.ARRAY | 0, _UCTYPES[dtype] | count)}
        return uctypes.struct(addr, layout, uctypes.LITTLE_ENDIAN).v
    return StructView(byte_view(buf, offset, nbytes, arena), code)


def buffer_nbytes(buf):
    """Size in bytes of any buffer-protocol object (arrays of any typecode included)."""
    mv = memoryview(buf)
    if not IS_MICROPYTHON:
        return mv.nbytes
    n = len(mv)
    if n == 0 or isinstance(buf, (bytes, bytearray)):
        return n
    if uctypes is not None:
        return (uctypes.addressof(mv[1:]) - uctypes.addressof(mv)) * n
    return len(bytes(buf))


def as_bytes(buf, nbytes):
    """The raw bytes of buf (any buffer) as an unsigned byte buffer, without copying if possible."""
    if isinstance(buf, (bytes, bytearray)):
        return buf
    if not IS_MICROPYTHON:
        return memoryview(buf).cast('B')
    if uctypes is not None:
        return uctypes.bytearray_at(uctypes.addressof(buf), nbytes)
    return bytes(buf)
