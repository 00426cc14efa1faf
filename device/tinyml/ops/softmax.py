"""SOFTMAX (int8 -> int8/int16, int16, float32) and LOG_SOFTMAX (int8, float32), TFLM semantics."""
from array import array

from .. import quant
from .conv import fail, unsupported, tensor, scale_tuple, zero_point, kernel, binder

SCALED_DIFF_INTEGER_BITS = 5

# TFLM's int16 softmax LUTs (LUTPopulate<int16_t> of exp on [-10, 0] and of 1/(1+x) on
# [0, 1], 513 entries each, little-endian int16), computed with float32 arithmetic and
# glibc expf exactly as TFLM's prepare does; tests/test_ops_dense.py regenerates them.
_INT16_LUTS_HEX = (
    '0200020002000200020002000200020002000200020002000200020002000200020002000200020002000200'
    '0200020002000200020003000300030003000300030003000300030003000300030003000300030003000300'
    '0400040004000400040004000400040004000400040004000400050005000500050005000500050005000500'
    '0500060006000600060006000600060006000700070007000700070007000700070008000800080008000800'
    '08000900090009000900090009000a000a000a000a000a000b000b000b000b000b000c000c000c000c000d00'
    '0d000d000d000e000e000e000e000f000f000f00100010001000110011001100120012001200130013001300'
    '14001400150015001500160016001700170018001800190019001a001a001b001b001c001c001d001d001e00'
    '1e001f00200020002100220022002300240024002500250026002700280028002a002a002b002c002d002d00'
    '2e002f0030003100320033003400350036003700380039003b003c003c003e003f0041004100430044004500'
    '470049004a004b004d004e005000510053005500560058005a005c005d005f00610063006500670069006b00'
    '6d00700072007400760079007b007e0080008300850087008b008d0090009300950098009b009e00a200a500'
    'a800ab00ae00b200b500b900bd00c000c400c800cc00d000d400d900dd00e100e600ea00ef00f300f800fd00'
    '020107010c01110117011c01220128012e0134013a01400147014d0154015a01610168016e0176017d018501'
    '8d0194019d01a501ad01b501be01c701d001d901e201ec01f501ff010a0214021f02290234023f024a025602'
    '62026e027a0286029302a002ad02bb02c902d702e502f4020303120321033103410352036203740385039703'
    'a903bb03ce03e103f50309041d04320447045d0473048904a004b704d004e80401051a0534054e0569058405'
    'a005bc05d905f70515063306530673069306b406d606f9061c07400764078a07b007d607fe07270850087a08'
    'a408d008fc082a0958098709b809e9091b0a4e0a820ab70aec0a240b5c0b960bd00b0c0c490c870cc60c060d'
    '480d8b0dcf0d150e5d0ea50eee0e3a0f870fd50f25107610c9101f117511cd1127128312e1123f13a0130414'
    '6914d0143915a51511168116f3166717dd175618d0184d19cd19501ad41a5c1be51b721c031d941d2a1ec21e'
    '5e1ffc1f9e204221eb2196224423f623ab2464252226e226a7276f283b290b2ae02ab72b942c752d5b2e462f'
    '353027311f321d331e342635323644375b3877399a3ac13bef3c233e5d3f9d40e3412f438344dc453d47a548'
    '144a8a4b074d8c4e1950ad514a53ee549b5650580e5ad55ba55d7d5f60614b634165406749695d6b7b6da46f'
    'd77116746076b678187b857dff7fff7fc07f807f427f027fc37e847e467e087eca7d8d7d4f7d127dd57c987c'
    '5b7c1f7ce37ba77b6c7b317bf47aba7a7f7a457a0a7ad07997795d792379ea78b178787840780778cf779777'
    '60772877f176ba7683764b761576df75a97573753d750875d2749d7468743274fe73ca73957361732e73fa72'
    'c672937260722d72f971c771947162713071fe70cd709b70697038700770d66fa56f746f446f146fe46eb46e'
    '846e546e256ef66dc76d986d686d3a6d0b6ddd6caf6c816c536c256cf86bca6b9d6b706b436b156be96abc6a'
    '906a646a386a0c6ae069b46988695d6932690769dc68b16886685b6831680668dc67b26788675f6735670c67'
    'e266b9668f6666663e661466ec65c3659b6573654b652365fb64d364ac6484645d6435640e64e763c0639963'
    '72634c632563ff62d962b3628d62676241621c62f661d161ab61866160613c611761f260cd60a96085606060'
    '3c601860f45fd05fac5f895f655f415f1e5ffb5ed85eb55e925e6f5e4c5e295e065ee45dc25d9f5d7d5d5b5d'
    '395d175df65cd45cb25c915c705c4e5c2d5c0c5cea5bca5ba95b885b675b465b265b065be55ac55aa55a855a'
    '655a455a255a065ae659c659a7598859685949592a590b59ec58cd58af5890587158535834581658f857da57'
    'bb579d5780576257445726570957eb56cd56b0569356765658563b561e560156e455c755ab558e5572555555'
    '39551c550055e454c854ac549054745458543d5421540554ea53cf53b35398537c53615346532b531053f552'
    'da52bf52a5528a526f5255523a5220520652eb51d151b7519d5183516951505136511c510251e950cf50b650'
    '9c5083506a50505037501e500550ec4fd34fba4fa14f884f704f574f3f4f264f0e4ff54edd4ec54ead4e954e'
    '7c4e644e4c4e354e1d4e054eed4dd64dbe4da64d8f4d784d604d484d324d1a4d034dec4cd44cbd4ca64c904c'
    '794c614c4b4c344c1d4c074cf04bda4bc34bad4b974b804b6a4b544b3e4b284b124bfc4ae64ad04aba4aa54a'
    '8f4a794a644a4e4a384a234a0e4af849e349cd49b849a3498e49794963494e49394925491049fa48e648d148'
    'bc48a84893487f486a48564841482d4819480448f047dc47c847b447a0478c477847644750473c4728471547'
    '0147ed46da46c646b3469f468b467846654651463e462b4618460446f145de45cb45b845a54592457f456c45'
    '5a454745344521450f45fc44e944d744c444b244a0448d447b44694456444444324420440e44fc43ea43d843'
    'c643b443a24390437e436d435b4349433843264314430343f142e042ce42bd42ab429a428942774267425542'
    '4442334222421142ff41ee41de41cd41bc41aa419a41894178416741574146413541254114410441f340e340'
    'd240c240b240a1409140814071406040504040403040204010400040'
)

_int16_luts = None


def int16_luts():
    """The two LUTs as one array('h') of 1026 entries (built once, shared by all models)."""
    global _int16_luts
    if _int16_luts is None:
        _int16_luts = array('h', bytes.fromhex(''.join(_INT16_LUTS_HEX)))
    return _int16_luts


def softmax_int16_params(beta, input_scale):
    """TFLM: QuantizeMultiplier((double)input_scale * (double)beta / (10.0 / 65535.0))."""
    d = quant.ddiv(quant.dmul(quant.dbl(input_scale), quant.dbl(beta)),
                   quant.ddiv(quant.dbl_int(10), quant.dbl_int(65535)))
    return quant.quantize_multiplier(d)


def softmax_int8_params(beta, input_scale):
    """TFLM PreprocessSoftmaxScaling + CalculateInputRadius for int8 input
    -> (input_multiplier, input_left_shift, diff_min)."""
    real = quant.dmul(quant.dmul(quant.dbl(beta), quant.dbl(input_scale)),
                      quant.dbl_int(1 << (31 - SCALED_DIFF_INTEGER_BITS)))
    cap = quant.dbl_int((1 << 31) - 1)
    if quant.dcmp(real, cap) > 0:
        real = cap
    mult, shift = quant.quantize_multiplier_greater_than_one(real)
    # floor(((1 << 5) - 1) * 2**26 / 2**shift), exact in double
    radius = (((1 << SCALED_DIFF_INTEGER_BITS) - 1) << (31 - SCALED_DIFF_INTEGER_BITS)) >> shift
    return mult, shift, -radius


def _rows_depth(op, in_t, out_t):
    if not in_t.shape:
        raise fail(op, 'input must have at least one dimension')
    if tuple(in_t.shape) != tuple(out_t.shape):
        raise fail(op, 'input shape %r != output shape %r' % (in_t.shape, out_t.shape))
    depth = in_t.shape[-1]
    return (in_t.size // depth if depth else 0), depth


def _prepare(m, op, log):
    if not op.inputs or not op.outputs:
        raise fail(op, 'needs one input and one output')
    in_t = tensor(m, op, op.inputs[0], 'input')
    out_t = tensor(m, op, op.outputs[0], 'output')
    rows, depth = _rows_depth(op, in_t, out_t)
    beta = op.options.get('beta', 1.0)
    if in_t.dtype == 'float32' and out_t.dtype == 'float32':
        params = array('i', [rows, depth])
        block = array('f', [beta])
        name = 'log_softmax_f32' if log else 'softmax_f32'
        return binder(m, kernel(m, name, op), op.outputs[0], op.inputs[0], block, params)
    if log:
        return _prepare_log_int8(m, op, in_t, out_t, rows, depth)
    if in_t.dtype == 'int16' and out_t.dtype == 'int16':
        return _prepare_int16(m, op, in_t, out_t, rows, depth, beta)
    if in_t.dtype != 'int8' or out_t.dtype not in ('int8', 'int16'):
        raise unsupported(op, 'input %s, output %s' % (in_t.dtype, out_t.dtype))
    out_scale, out_zp = scale_tuple(out_t)[0], zero_point(out_t)
    if out_t.dtype == 'int8':
        if out_zp != -128 or quant.f32(out_scale) != 1.0 / 256:
            raise fail(op, 'int8 softmax output must have scale 1/256 and zero point -128')
        bits = 8
    else:
        if out_zp != -32768 or abs(out_scale - 1.0 / 65536) > 0.001 / 65536:
            raise fail(op, 'int16 softmax output must have scale 1/65536 and zero point -32768')
        bits = 16
    if not scale_tuple(in_t)[0] > 0:
        raise fail(op, 'input has no quantization scale')
    try:
        mult, shift, diff_min = softmax_int8_params(beta, scale_tuple(in_t)[0])
    except ValueError as e:
        raise fail(op, 'beta * input scale unusable: %s' % e)
    params = array('i', [rows, depth, mult, shift, diff_min, bits])
    return binder(m, kernel(m, 'softmax_s8', op), op.outputs[0], op.inputs[0], None, params)


def _prepare_int16(m, op, in_t, out_t, rows, depth, beta):
    if zero_point(in_t) != 0 or zero_point(out_t) != 0:
        raise fail(op, 'int16 softmax needs zero points 0')
    if abs(scale_tuple(out_t)[0] - 1.0 / 32768) > 0.001 / 32768:
        raise fail(op, 'int16 softmax output must have scale 1/32768')
    if not scale_tuple(in_t)[0] > 0:
        raise fail(op, 'input has no quantization scale')
    mult, shift = softmax_int16_params(beta, scale_tuple(in_t)[0])
    params = array('i', [rows, depth, mult, shift])
    return binder(m, kernel(m, 'softmax_s16', op), op.outputs[0], op.inputs[0],
                     int16_luts(), params)


def log_softmax_int8_params(input_scale):
    """TFLM PreprocessLogSoftmaxScalingExp (beta 1) + CalculateInputRadius
    -> (input_multiplier, input_left_shift, diff_min, reverse_multiplier, reverse_shift)."""
    mult, shift, diff_min = softmax_int8_params(1.0, input_scale)
    divisor = quant.ddiv(quant.dbl_int(1 << (31 - shift)), quant.dbl_int(mult))
    rmult, rshift = quant.quantize_multiplier_smaller_than_one_exp(divisor)
    return mult, shift, diff_min, rmult, rshift


def _prepare_log_int8(m, op, in_t, out_t, rows, depth):
    if in_t.dtype != 'int8' or out_t.dtype != 'int8':
        raise unsupported(op, 'input %s, output %s' % (in_t.dtype, out_t.dtype))
    if zero_point(out_t) != 127 or quant.f32(scale_tuple(out_t)[0]) != 16.0 / 256:
        raise fail(op, 'int8 log softmax output must have scale 16/256 and zero point 127')
    if not scale_tuple(in_t)[0] > 0:
        raise fail(op, 'input has no quantization scale')
    try:
        params = log_softmax_int8_params(scale_tuple(in_t)[0])
    except ValueError as e:
        raise fail(op, 'input scale unusable: %s' % e)
    p = array('i', [rows, depth] + list(params))
    return binder(m, kernel(m, 'log_softmax_s8', op), op.outputs[0], op.inputs[0], None, p)


def prepare_softmax(m, op):
    return _prepare(m, op, False)


def prepare_log_softmax(m, op):
    return _prepare(m, op, True)


OPS = {'SOFTMAX': prepare_softmax, 'LOG_SOFTMAX': prepare_log_softmax}
