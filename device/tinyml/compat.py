"""The only module that knows MicroPython vs CircuitPython vs CPython."""
import sys

IS_MICROPYTHON = sys.implementation.name in ('micropython', 'circuitpython')
IS_CIRCUITPY = sys.implementation.name == 'circuitpython'

try:
    from micropython import const
except ImportError:
    def const(x):
        return x


def _viper_works():
    """Whether this port compiles and runs @micropython.viper code. The decorator is handled
    by the compiler (micropython.viper is not an attribute on most ports), so the only test
    is to compile a tiny viper function."""
    if not IS_MICROPYTHON or IS_CIRCUITPY:
        return False
    try:
        ns = {}
        exec('import micropython\n@micropython.viper\ndef f(x: int) -> int:\n'
             '    return x + 1\n', ns)
        return ns['f'](1) == 2
    except Exception:       # SyntaxError (no native emitter), NameError, MemoryError, ...
        return False


HAS_VIPER = _viper_works()


def viper(f):
    """Placeholder decorator: real viper code must spell @micropython.viper (compiler)."""
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
from array import array as _array


def alloc_bytes():
    """Bytes allocated on the heap now (0 where the runtime cannot tell)."""
    return _mem_alloc() if _mem_alloc else 0


import time as _time

if hasattr(_time, 'ticks_us'):
    _ticks_us = _time.ticks_us
    _ticks_diff = _time.ticks_diff
else:
    if hasattr(_time, 'perf_counter'):
        def _ticks_us():
            return int(_time.perf_counter() * 1000000)
    else:   # CircuitPython
        def _ticks_us():
            return _time.monotonic_ns() // 1000

    def _ticks_diff(a, b):
        return a - b


def ticks_us():
    return _ticks_us()


def ticks_diff(a, b):
    return _ticks_diff(a, b)


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
    """Zeroed arena memory: a bytearray (int8 views are forged memoryviews, see _forge_view);
    an array('b') on a MicroPython without forged views (signed int8 slices; building it
    needs a temporary bytes of the same size)."""
    if IS_MICROPYTHON and not (uctypes is not None and _forge_works()):
        from array import array
        return array('b', bytes(nbytes))
    return bytearray(nbytes)


def byte_view(buf, offset, nbytes, arena=False):
    """Unsigned bytes [offset, offset+nbytes) of buf, writable if buf is; no copy.

    arena=True: buf comes from new_arena (an array('b') on MicroPython)."""
    if not IS_MICROPYTHON:
        return memoryview(buf).cast('B')[offset:offset + nbytes]
    code = _mp_typecode(buf, arena)
    if code == 'B':
        return memoryview(buf)[offset:offset + nbytes]
    if uctypes is not None:
        return uctypes.bytearray_at(uctypes.addressof(buf) + offset, nbytes)
    return memoryview(buf)[offset:offset + nbytes]


def _mp_typecode(buf, arena):
    """Typecode of a MicroPython buffer object ('B' for bytes-like), or the arena's 'b'."""
    if isinstance(buf, (bytes, bytearray)):
        return 'B'
    if uctypes is not None and _forge_works() and isinstance(buf, (memoryview, _array)):
        code = _mv_struct(buf).head & 0x7F
        return 'B' if code == 1 else chr(code)
    return 'b' if arena else 'B'


def typed_view(buf, offset, count, dtype, arena=False):
    """count elements of dtype at byte offset of buf (an arena or source bytes), no copy.

    CPython: a memoryview cast to the dtype. MicroPython: a memoryview with the dtype's
    typecode (see _forge_view), else a uctypes array (index only). CircuitPython: StructView.
    """
    code = STRUCT_CODES[dtype]
    nbytes = count * _ITEMSIZE[code]
    if not IS_MICROPYTHON:
        return memoryview(buf).cast('B')[offset:offset + nbytes].cast(code)
    if _ITEMSIZE[code] == 1 and code == _mp_typecode(buf, arena):
        return memoryview(buf)[offset:offset + count]
    if uctypes is not None:
        view = _forge_view(buf, offset, count, code)
        if view is not None:
            return view
        addr = uctypes.addressof(buf) + offset
        if count == 0:
            return uctypes.bytearray_at(addr, 0)
        layout = {'v': (uctypes.ARRAY | 0, _UCTYPES[dtype] | count)}
        return uctypes.struct(addr, layout, uctypes.LITTLE_ENDIAN).v
    return StructView(byte_view(buf, offset, nbytes, arena), code)


# MicroPython's memoryview is an mp_obj_array_t: [type, typecode | offset << 8, len, items]
# (one machine word each; offset in elements, items the base of the buffer so the GC keeps
# it alive). There is no memoryview.cast, so a typed view over existing memory is made by
# taking a fresh 1-element memoryview of the wanted typecode and pointing it at the memory.
# The layout is checked on the fresh object and the whole trick self-tested once; if either
# fails, typed_view falls back to uctypes arrays.
_forge_ok = None


def _mv_struct(mv):
    import sys
    word = 8 if sys.maxsize > (1 << 32) else 4
    wt = uctypes.UINT64 if word == 8 else uctypes.UINT32
    layout = {'head': wt | word, 'len': wt | 2 * word, 'items': wt | 3 * word}
    return uctypes.struct(id(mv), layout, uctypes.NATIVE)


def _forge(base, elem_offset, count, code):
    from array import array
    mv = memoryview(array(code, [0]))
    s = _mv_struct(mv)
    flags = ord(code) | 0x80
    if s.head != flags or s.len != 1 or s.items == 0:
        return None
    s.head = flags | (elem_offset << 8)
    s.len = count
    s.items = base
    return mv


def _base_of(buf):
    """(address of the buffer's base block, byte offset of buf's data from it)."""
    if isinstance(buf, memoryview):
        s = _mv_struct(buf)
        code = s.head & 0x7F
        size = 1 if code == 1 else _ITEMSIZE.get(chr(code))   # 1: bytearray's typecode
        if size is None:
            return None, 0
        return s.items, (s.head >> 8) * size
    return uctypes.addressof(buf), 0


def _forge_works():
    global _forge_ok
    if _forge_ok is None:
        _forge_ok = _forge_self_test()
    return _forge_ok


def _forge_view(buf, offset, count, code):
    if count == 0 or not _forge_works():
        return None
    base, start = _base_of(buf)
    size = _ITEMSIZE[code]
    start += offset
    if base is None or start % size or (base + start) % size:
        return None
    return _forge(base, start // size, count, code)


def _forge_self_test():
    try:
        raw = bytearray(16)
        v = _forge(uctypes.addressof(raw), 1, 3, 'h')
        if v is None:
            return False
        v[0] = 0x1234
        v[2] = -2
        base, start = _base_of(memoryview(raw)[4:])
        w = _forge(base, start // 2, 2, 'h')
        return len(v) == 3 and raw[2:4] == b'\x34\x12' and raw[6:8] == b'\xfe\xff' and \
            v[1:3][1] == -2 and w is not None and w[1] == -2
    except Exception:
        return False


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
