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
