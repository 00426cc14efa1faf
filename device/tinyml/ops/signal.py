"""TFLM Signal library custom ops (SignalWindow, SignalRfft, ... SignalPCAN), bit-exact.

Custom options are flexbuffer maps, read by flexbuffer_map() below (bounds-checked).
The arithmetic lives in audio_fixed.py; these wrappers validate the op, bind views once
and return run() closures. State (the spectral-subtraction noise estimate) lives in
m.persistent() memory, zeroed by m.reset() like TFLM's Reset.
"""
import struct
from array import array

from .. import compat, dsp
from .. import audio_fixed as fx
from ..errors import ModelError
from . import KernelStep, not_supported
from .elementwise import fail
from ..kernels import codes as K

# ------------------------------------------------------------------ flexbuffers

_FBT_NULL, _FBT_INT, _FBT_UINT, _FBT_FLOAT = 0, 1, 2, 3
_FBT_INDIRECT_INT, _FBT_INDIRECT_UINT, _FBT_INDIRECT_FLOAT = 6, 7, 8
_FBT_MAP = 9
_FBT_BOOL = 26
_UINT = {1: '<B', 2: '<H', 4: '<I', 8: '<Q'}
_INT = {1: '<b', 2: '<h', 4: '<i', 8: '<q'}
_FLOAT = {4: '<f', 8: '<d'}


def _fb_read(buf, pos, width, table, what):
    fmt = table.get(width)
    if fmt is None:
        raise ModelError('flexbuffer: bad %s width %d' % (what, width))
    if pos < 0 or pos + width > len(buf):
        raise ModelError('flexbuffer: %s at %d outside %d bytes' % (what, pos, len(buf)))
    return struct.unpack_from(fmt, buf, pos)[0]


def _fb_key(buf, pos):
    if pos < 0 or pos >= len(buf):
        raise ModelError('flexbuffer: key at %d outside buffer' % pos)
    end = pos
    n = len(buf)
    while end < n and buf[end] != 0:
        end += 1
    if end >= n:
        raise ModelError('flexbuffer: unterminated key')
    return bytes(buf[pos:end]).decode()


def _fb_scalar(buf, pos, width, packed):
    kind = packed >> 2
    inner = 1 << (packed & 3)
    if kind == _FBT_INT:
        return _fb_read(buf, pos, width, _INT, 'int')
    if kind in (_FBT_UINT, _FBT_BOOL):
        v = _fb_read(buf, pos, width, _UINT, 'uint')
        return bool(v) if kind == _FBT_BOOL else v
    if kind == _FBT_FLOAT:
        return _fb_read(buf, pos, width, _FLOAT, 'float')
    if kind in (_FBT_INDIRECT_INT, _FBT_INDIRECT_UINT, _FBT_INDIRECT_FLOAT):
        target = pos - _fb_read(buf, pos, width, _UINT, 'offset')
        table = _INT if kind == _FBT_INDIRECT_INT else (
            _UINT if kind == _FBT_INDIRECT_UINT else _FLOAT)
        return _fb_read(buf, target, inner, table, 'indirect value')
    if kind == _FBT_NULL:
        return None
    raise ModelError('flexbuffer: unsupported value type %d in op options' % kind)


def flexbuffer_map(data):
    """A flat flexbuffer map of scalars -> dict (keys str; values int/float/bool/None)."""
    buf = memoryview(data)
    n = len(buf)
    if n < 3:
        raise ModelError('flexbuffer: %d bytes is too short' % n)
    root_width = buf[n - 1]
    packed = buf[n - 2]
    root = n - 2 - root_width
    if packed >> 2 != _FBT_MAP:
        raise ModelError('flexbuffer: root is type %d, expected a map' % (packed >> 2))
    width = 1 << (packed & 3)
    vals = root - _fb_read(buf, root, root_width, _UINT, 'root offset')
    count = _fb_read(buf, vals - width, width, _UINT, 'map size')
    keys_width = _fb_read(buf, vals - 2 * width, width, _UINT, 'key width')
    keys_at = vals - 3 * width
    keys = keys_at - _fb_read(buf, keys_at, width, _UINT, 'keys offset')
    if count > n or vals + count * (width + 1) > n:
        raise ModelError('flexbuffer: map of %d entries overruns the buffer' % count)
    if _fb_read(buf, keys - keys_width, keys_width, _UINT, 'keys size') != count:
        raise ModelError('flexbuffer: key and value counts differ')
    out = {}
    for i in range(count):
        kpos = keys + i * keys_width
        key = _fb_key(buf, kpos - _fb_read(buf, kpos, keys_width, _UINT, 'key offset'))
        out[key] = _fb_scalar(buf, vals + i * width, width, buf[vals + count * width + i])
    return out


# ------------------------------------------------------------------ helpers


def _options(op, *names):
    if op.custom is None:
        raise fail(op, 'missing custom options')
    opts = flexbuffer_map(op.custom)
    for name in names:
        if name not in opts:
            raise fail(op, 'custom option %r missing' % name)
    return opts


def _check(m, op, n_in, n_out, in_types, out_types):
    if len(op.inputs) != n_in or len(op.outputs) != n_out:
        raise fail(op, 'expected %d inputs / %d outputs, got %d / %d'
                   % (n_in, n_out, len(op.inputs), len(op.outputs)))
    for idx, want in zip(op.inputs + op.outputs, in_types + out_types):
        if idx < 0:
            raise fail(op, 'missing tensor')
        t = m.tensors[idx]
        if want is not None and t.dtype != want:
            raise not_supported(op, 'tensor %d is %s, expected %s' % (idx, t.dtype, want))


def _size(m, i):
    return m.tensors[i].size


def _last_dim(m, i):
    shape = m.tensors[i].shape
    return shape[-1] if shape else 1


def _native(m, name):
    """The C kernel `name` (native_modules/src/signal.c, python twin in kernels/python_dsp)
    when the native DSP is selected and the model's kernel table has it, else None."""
    return getattr(m.kernels, name, None) if dsp.native_selected() else None


def _fast(name):
    """The viper variant of kernel `name` when the viper DSP loops are selected, else None."""
    k = dsp.kernels()
    return getattr(k, name, None) if hasattr(k, 'bfly4') else None


def _bind_native(m, kernel, out_index, a_index, b_index, p, b=None):
    """bind(scratch) -> run() = kernel(out, a, b, p) on the tensors' views; b is tensor
    b_index's view, else the given buffer."""
    def make(scratch):
        bb = m.view(b_index) if b_index is not None else b
        return kernel, m.view(out_index), m.view(a_index), bb, p
    return KernelStep(make)


def _bind_spectral_native(m, op, kernel, cfg, noise, n):
    """SignalFilterBankSpectralSubtraction, two kernel steps: the kernel updates the noise
    state, then the state is copied to the estimate output (cast uint32 -> uint32)."""
    p = array('i', [n] + [int(v) for v in cfg])
    copy = getattr(m.kernels, 'cast')
    p_copy = array('i', [n, K.CT_UINT32, K.CT_UINT32])

    def make(scratch):
        inp, out, est = m.view(op.inputs[0]), m.view(op.outputs[0]), m.view(op.outputs[1])
        return [(kernel, out, inp, noise, p), (copy, est, noise, None, p_copy)]
    return KernelStep(make)


def _bind_filter_bank_native(m, op, kernel, p_weights, p_unweights):
    """SignalFilterBank, two kernel steps: the weighted half (mode 0), then the unweighted
    half added (mode 1)."""
    def make(scratch):
        inp, weights, unweights = (m.view(i) for i in op.inputs[:3])
        out = m.view(op.outputs[0])
        return [(kernel, out, inp, weights, p_weights), (kernel, out, inp, unweights, p_unweights)]
    return KernelStep(make)


# ------------------------------------------------------------------ ops


def prepare_window(m, op):
    _check(m, op, 2, 1, ('int16', 'int16'), ('int16',))
    shift = _options(op, 'shift')['shift']
    weights_t = m.tensors[op.inputs[1]]
    if len(weights_t.shape) != 1:
        raise fail(op, 'weights must be 1-D')
    size = weights_t.shape[0]
    total = _size(m, op.inputs[0])
    if total % size or _size(m, op.outputs[0]) != total:
        raise fail(op, 'input size %d is not a multiple of the %d window weights'
                   % (total, size))

    native = _native(m, 'signal_window')
    if native is not None:
        p = array('i', [total // size, size, shift])
        return 0, _bind_native(m, native, op.outputs[0], op.inputs[0], op.inputs[1], p)

    def bind(scratch):
        inp, w, out = m.view(op.inputs[0]), m.view(op.inputs[1]), m.view(op.outputs[0])
        window = _fast('apply_window') or fx.apply_window

        def run():
            for base in range(0, total, size):
                window(inp, w, size, shift, out, base)
        return run
    return 0, bind


def prepare_fft_auto_scale(m, op):
    _check(m, op, 1, 2, ('int16',), ('int16', 'int32'))
    n = _size(m, op.outputs[0])
    if _size(m, op.inputs[0]) != n:
        raise fail(op, 'size mismatch')

    native = _native(m, 'signal_fft_auto_scale')
    if native is not None:       # the kernel stores the shift in b[0], the int32 output
        return 0, _bind_native(m, native, op.outputs[0], op.inputs[0], op.outputs[1],
                               array('i', [n]))

    def bind(scratch):
        inp, out, bits = m.view(op.inputs[0]), m.view(op.outputs[0]), m.view(op.outputs[1])
        scale = _fast('fft_auto_scale') or fx.fft_auto_scale

        def run():
            bits[0] = scale(inp, n, out)
        return run
    return 0, bind


def prepare_rfft(m, op):
    _check(m, op, 1, 1, (None,), (None,))
    opts = _options(op, 'fft_length')
    if m.tensors[op.inputs[0]].dtype != 'int16' or m.tensors[op.outputs[0]].dtype != 'int16':
        raise not_supported(op, 'only the int16 RFFT is implemented')
    nfft = opts['fft_length']
    try:
        fft = fx.KissFftR16(nfft)
    except ValueError as e:
        raise not_supported(op, str(e))
    in_len = _last_dim(m, op.inputs[0])
    out_len = _last_dim(m, op.outputs[0])
    total = _size(m, op.inputs[0])
    if in_len > nfft or out_len != nfft + 2 or total % in_len:
        raise fail(op, 'shapes do not fit fft_length %d' % nfft)
    native = _native(m, 'signal_rfft')
    if native is not None:
        p = array('i', [total // in_len, in_len, out_len, fft.ncfft, len(fft.stages)]
                  + fft.stage_params)
        return 0, _bind_native(m, native, op.outputs[0], op.inputs[0], None, p, fft.plan)
    work = array('h', bytes(2 * nfft))

    def bind(scratch):
        inp, out = m.view(op.inputs[0]), m.view(op.outputs[0])
        out_rows = [compat.typed_view(m.raw(op.outputs[0]), r * out_len * 2, out_len, 'int16',
                                      True) for r in range(total // in_len)]

        copy16 = _fast('copy16')
        if copy16 is not None and total == in_len:
            def run_fast():
                copy16(inp, work, in_len)
                fft.run(work, out)
            return run_fast

        def run():
            row = 0
            for base in range(0, total, in_len):
                for i in range(in_len):
                    work[i] = inp[base + i]
                fft.run(work, out_rows[row] if row else out)
                row += 1
        return run
    return 0, bind


def prepare_energy(m, op):
    _check(m, op, 1, 1, ('int16',), ('uint32',))
    opts = _options(op, 'start_index', 'end_index')
    start, end = opts['start_index'], opts['end_index']
    n_out = _size(m, op.outputs[0])
    if not 0 <= start <= end <= n_out or 2 * end > _size(m, op.inputs[0]):
        raise fail(op, 'bad index range %d..%d' % (start, end))

    native = _native(m, 'signal_energy')
    if native is not None:
        p = array('i', [n_out, start, end])
        return 0, _bind_native(m, native, op.outputs[0], op.inputs[0], None, p)

    def bind(scratch):
        inp, out = m.view(op.inputs[0]), m.view(op.outputs[0])
        energy = _fast('spectrum_to_energy') or fx.spectrum_to_energy

        def run():
            energy(inp, start, end, out)
        return run
    return 0, bind


def prepare_filter_bank(m, op):
    _check(m, op, 6, 1, ('uint32', 'int16', 'int16', 'int16', 'int16', 'int16'), ('uint64',))
    channels = _options(op, 'num_channels')['num_channels']
    for i in op.inputs[3:]:
        if _size(m, i) != channels + 1:
            raise fail(op, 'tensor %d must have %d entries' % (i, channels + 1))
    if _size(m, op.outputs[0]) != channels:
        raise fail(op, 'output must have %d channels' % channels)
    fs, ws, wd = (m.view(i) for i in op.inputs[3:])
    n_in, n_w = _size(m, op.inputs[0]), _size(m, op.inputs[1])
    for c in range(channels + 1):
        if fs[c] < 0 or ws[c] < 0 or wd[c] < 0 or fs[c] + wd[c] > n_in or ws[c] + wd[c] > n_w:
            raise fail(op, 'channel %d reads outside its inputs' % c)

    native = _native(m, 'signal_filter_bank')
    if native is not None:
        tables = [channels] + list(fs) + list(ws) + list(wd)
        return 0, _bind_filter_bank_native(m, op, native, array('i', [0] + tables),
                                           array('i', [1] + tables))

    def bind(scratch):
        views = [m.view(i) for i in op.inputs]
        out = m.view(op.outputs[0])

        def run():
            fx.filterbank_accumulate(views[0], views[1], views[2], views[3], views[4], views[5],
                                     channels, out)
        return run
    return 0, bind


def prepare_filter_bank_square_root(m, op):
    _check(m, op, 2, 1, ('uint64', 'int32'), ('uint32',))
    n = _size(m, op.inputs[0])
    native = _native(m, 'signal_filter_bank_sqrt')
    if native is not None:
        return 0, _bind_native(m, native, op.outputs[0], op.inputs[0], op.inputs[1],
                               array('i', [n]))

    def bind(scratch):
        inp, bits, out = m.view(op.inputs[0]), m.view(op.inputs[1]), m.view(op.outputs[0])

        def run():
            fx.filterbank_sqrt(inp, n, bits[0], out)
        return run
    return 0, bind


def prepare_spectral_subtraction(m, op):
    _check(m, op, 1, 2, ('uint32',), ('uint32', 'uint32'))
    o = _options(op, 'num_channels', 'smoothing', 'one_minus_smoothing', 'alternate_smoothing',
                 'alternate_one_minus_smoothing', 'min_signal_remaining', 'smoothing_bits',
                 'spectral_subtraction_bits', 'clamping')
    n = o['num_channels']
    for i in (op.inputs[0], op.outputs[0], op.outputs[1]):
        if _size(m, i) != n:
            raise fail(op, 'tensors must have num_channels=%d entries' % n)
    cfg = (o['smoothing'], o['one_minus_smoothing'], o['alternate_smoothing'],
           o['alternate_one_minus_smoothing'], o['min_signal_remaining'], o['smoothing_bits'],
           o['spectral_subtraction_bits'], bool(o['clamping']))
    state = m.persistent(4 * n)
    noise = compat.typed_view(state, 0, n, 'uint32')
    native = _native(m, 'signal_spectral_subtraction')
    if native is not None:
        return 0, _bind_spectral_native(m, op, native, cfg, noise, n)

    def bind(scratch):
        inp, out, est = m.view(op.inputs[0]), m.view(op.outputs[0]), m.view(op.outputs[1])

        def run():
            fx.spectral_subtraction(cfg, inp, out, noise, n)
            for i in range(n):
                est[i] = noise[i]
        return run
    return 0, bind


def prepare_pcan(m, op):
    _check(m, op, 3, 1, ('uint32', 'uint32', 'int16'), ('uint32',))
    snr_shift = _options(op, 'snr_shift')['snr_shift']
    n = _size(m, op.inputs[0])
    if _size(m, op.inputs[1]) != n or _size(m, op.outputs[0]) != n:
        raise fail(op, 'size mismatch')
    if _size(m, op.inputs[2]) < 4 * 32 - 6 + 3:
        raise fail(op, 'gain LUT too short')

    native = _native(m, 'signal_pcan')
    if native is not None:
        lut = m.view(op.inputs[2])
        p = array('i', [n, snr_shift] + [lut[i] for i in range(4 * 32 - 6 + 3)])
        return 0, _bind_native(m, native, op.outputs[0], op.inputs[0], op.inputs[1], p)

    def bind(scratch):
        inp, noise, lut, out = (m.view(op.inputs[0]), m.view(op.inputs[1]), m.view(op.inputs[2]),
                                m.view(op.outputs[0]))

        def run():
            fx.pcan(lut, snr_shift, noise, inp, out, n)
        return run
    return 0, bind


def prepare_filter_bank_log(m, op):
    _check(m, op, 1, 1, ('uint32',), ('int16',))
    o = _options(op, 'input_correction_bits', 'output_scale')
    n = _size(m, op.inputs[0])
    bits, scale = o['input_correction_bits'], o['output_scale']
    native = _native(m, 'signal_filter_bank_log')
    if native is not None:
        p = array('i', [n, scale, bits])
        return 0, _bind_native(m, native, op.outputs[0], op.inputs[0], None, p)

    def bind(scratch):
        inp, out = m.view(op.inputs[0]), m.view(op.outputs[0])

        def run():
            fx.filterbank_log(inp, n, scale, bits, out)
        return run
    return 0, bind


OPS = {
    'SignalWindow': prepare_window,
    'SignalFftAutoScale': prepare_fft_auto_scale,
    'SignalRfft': prepare_rfft,
    'SignalEnergy': prepare_energy,
    'SignalFilterBank': prepare_filter_bank,
    'SignalFilterBankSquareRoot': prepare_filter_bank_square_root,
    'SignalFilterBankSpectralSubtraction': prepare_spectral_subtraction,
    'SignalPCAN': prepare_pcan,
    'SignalFilterBankLog': prepare_filter_bank_log,
}
