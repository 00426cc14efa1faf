"""MEAN, SUM, REDUCE_MAX (TFLM reference semantics).

Prepare resolves the constant axes into two offset lists: where each output's first input
element is, and where its reduced elements are relative to that, both in TFLM's row-major
input order (so float sums add in the same order as TFLM's accumulator). int8/int16 MEAN
and SUM follow QuantizedMeanOrSum, including the eval-time division of the multiplier by
the reduced element count, which is done here once.
"""
import struct

from .. import quant
from ..kernels import codes as K
from .elementwise import (fail, unsupported, io_tensors, scale_of, zp_of, need_scale, dbl,
                          unary_run, QRANGE)


def _axes(op, axis_t, rank):
    if axis_t.dtype != 'int32':
        raise unsupported(op, 'axis tensor dtype %s (expected int32)' % axis_t.dtype)
    if axis_t.data is None:
        raise unsupported(op, 'axis tensor must be constant')
    n = axis_t.size
    if len(axis_t.data) < 4 * n:
        raise fail(op, 'axis tensor holds %d bytes for %d values' % (len(axis_t.data), n))
    axes = []
    for a in struct.unpack('<%di' % n, bytes(axis_t.data[:4 * n])):
        r = a + rank if a < 0 else a
        if r < 0 or r >= rank:
            raise fail(op, 'axis %d out of range for rank %d' % (a, rank))
        if r not in axes:
            axes.append(r)
    return sorted(axes)


def _offsets(dims, strides):
    """Row-major list of sum(index[i] * strides[i]) over all indices of dims."""
    offs = [0]
    for d, s in zip(dims, strides):
        offs = [o + k * s for o in offs for k in range(d)]
    return offs


def _plan(op, in_t, axis_t, out_t):
    """(output bases, reduced offsets) for reducing in_t over the constant axes."""
    shape = in_t.shape
    rank = len(shape)
    axes = _axes(op, axis_t, rank)
    strides = [1] * rank
    for i in range(rank - 2, -1, -1):
        strides[i] = strides[i + 1] * shape[i + 1]
    kept = [i for i in range(rank) if i not in axes]
    bases = _offsets([shape[i] for i in kept], [strides[i] for i in kept])
    red = _offsets([shape[i] for i in axes], [strides[i] for i in axes])
    if out_t.size != len(bases):
        raise fail(op, 'output has %d elements, expected %d' % (out_t.size, len(bases)))
    return bases, red


def _prepare(m, op, kind):
    in_t, axis_t, out_t = io_tensors(m, op, 2)
    bases, red = _plan(op, in_t, axis_t, out_t)
    dt = in_t.dtype
    if out_t.dtype != dt:
        raise unsupported(op, 'input %s but output %s' % (dt, out_t.dtype))
    if in_t.size == 0:
        raise unsupported(op, 'empty input')
    offsets = bases + red
    head = [len(bases), len(red)]
    if kind == 'MAX':
        if dt in QRANGE and (scale_of(in_t) != scale_of(out_t) or zp_of(in_t) != zp_of(out_t)):
            raise unsupported(op, 'quantized REDUCE_MAX needs equal input/output quantization')
        if dt not in ('int8', 'float32'):
            raise unsupported(op, 'dtype %s' % dt)
        name = 'reduce_max' if dt != 'float32' else 'reduce_float'
        return unary_run(m, op, name, head + [K.RF_MAX] + offsets)
    if dt == 'float32':
        code = K.RF_MEAN if kind == 'MEAN' else K.RF_SUM
        return unary_run(m, op, 'reduce_float', head + [code] + offsets)
    if dt not in QRANGE:
        raise unsupported(op, 'dtype %s' % dt)
    need_scale(op, in_t, out_t)
    mult, shift = quant.quantize_multiplier(quant.ddiv(dbl(scale_of(in_t)), dbl(scale_of(out_t))))
    if kind == 'MEAN':
        mult, shift = _divide_multiplier(mult, shift, len(red))
    lo, hi = QRANGE[dt]
    return unary_run(m, op, 'reduce_int',
                     head + [zp_of(in_t), zp_of(out_t), mult, shift, lo, hi] + offsets)


def _divide_multiplier(mult, shift, n):
    """TFLM QuantizedMeanOrSum: fold the division by n into (multiplier, shift)."""
    k = 0
    while n >> (k + 1):
        k += 1                      # floor(log2(n))
    k = min(k, 32, 31 + shift)
    return (mult << k) // n if k >= 0 else (mult >> -k) // n, shift - k


def prepare_mean(m, op):
    return _prepare(m, op, 'MEAN')


def prepare_sum(m, op):
    return _prepare(m, op, 'SUM')


def prepare_reduce_max(m, op):
    return _prepare(m, op, 'MAX')


OPS = {'MEAN': prepare_mean, 'SUM': prepare_sum, 'REDUCE_MAX': prepare_reduce_max}
