/* The only file that sees MicroPython: argument checking and dispatch to the C kernels.
   Every kernel is kernel(out, a, b, p) as in device/tinyml/kernels/python.py. Each buffer is
   checked against what the parameter block says the kernel will touch (out exactly, inputs at
   least), and every value that steers memory access is range-checked, so no argument can make
   a kernel read or write out of bounds: bad arguments raise ValueError. */
#include "py/dynruntime.h"
#include "kernels.h"

#define DIM_MAX (1 << 24)

typedef struct {
    void *buf;
    size_t len;         /* bytes */
    int elem;           /* item size from the typecode: 1 (b, B, bytearray) or 2 (h, H), else 0 */
} span_t;

/* [scratch bytearray]: a module global, so the GC keeps the buffer alive between calls */
mp_obj_t scratch_holder;   /* not static: mpy_ld cannot relocate static bss */

/* defined below; mpy_init comes first because armv6m reaches it with a short branch */
static const mp_obj_fun_builtin_var_t conv_s8_obj;
static const mp_obj_fun_builtin_var_t conv_s8_ref_obj;
static const mp_obj_fun_builtin_var_t depthwise_s8_obj;
static const mp_obj_fun_builtin_var_t depthwise_s8_ref_obj;
static const mp_obj_fun_builtin_var_t fully_connected_s8_obj;
static const mp_obj_fun_builtin_var_t fully_connected_s8_ref_obj;
static const mp_obj_fun_builtin_var_t fully_connected_s8_packed_obj;
static const mp_obj_fun_builtin_var_t avgpool_s8_obj;
static const mp_obj_fun_builtin_var_t maxpool_s8_obj;
static const mp_obj_fun_builtin_var_t softmax_s8_obj;
static const mp_obj_fun_builtin_var_t add_int8_obj;
static const mp_obj_fun_builtin_var_t mul_q_obj;
/* dsp */
#include "dsp.h"
#if TK_HAVE_FLOAT_DSP
static const mp_obj_fun_builtin_var_t mfcc_f32_obj;
static const mp_obj_fun_builtin_var_t log_f32_obj;
#endif
/* rnn */
static const mp_obj_fun_builtin_var_t lstm_gate_fc_obj;
static const mp_obj_fun_builtin_var_t lstm_cell_update_obj;
static const mp_obj_fun_builtin_var_t lstm_hidden_update_obj;
static const mp_obj_fun_builtin_var_t rnn_copy_obj;
static const mp_obj_fun_builtin_var_t svdf_feature_obj;
static const mp_obj_fun_builtin_var_t svdf_time_obj;
/* float */
#include "float_kernels.h"
#if TK_HAVE_FLOAT_DSP
static const mp_obj_fun_builtin_var_t conv_f32_obj;
static const mp_obj_fun_builtin_var_t depthwise_f32_obj;
static const mp_obj_fun_builtin_var_t fully_connected_f32_obj;
static const mp_obj_fun_builtin_var_t avgpool_f32_obj;
static const mp_obj_fun_builtin_var_t maxpool_f32_obj;
static const mp_obj_fun_builtin_var_t quantize_f32_obj;
static const mp_obj_fun_builtin_var_t dequantize_f32_obj;
#endif
/* copy */
static const mp_obj_fun_builtin_var_t copy_strided_obj;
static const mp_obj_fun_builtin_var_t requant_int16_obj;
static const mp_obj_fun_builtin_var_t reduce_int_obj;
/* rnn fused */
static const mp_obj_fun_builtin_var_t lstm_int_obj;
static const mp_obj_fun_builtin_var_t svdf_int_obj;
static const mp_obj_fun_builtin_var_t lut_int8_obj;
#if TK_HAVE_FLOAT_DSP
static const mp_obj_fun_builtin_var_t softmax_f32_obj;
#endif
/* signal */
#include "dsp.h"
static const mp_obj_fun_builtin_var_t signal_window_obj;
static const mp_obj_fun_builtin_var_t signal_fft_auto_scale_obj;
static const mp_obj_fun_builtin_var_t signal_rfft_obj;
static const mp_obj_fun_builtin_var_t signal_energy_obj;
static const mp_obj_fun_builtin_var_t signal_filter_bank_obj;
static const mp_obj_fun_builtin_var_t signal_filter_bank_sqrt_obj;
static const mp_obj_fun_builtin_var_t signal_spectral_subtraction_obj;
static const mp_obj_fun_builtin_var_t signal_pcan_obj;
static const mp_obj_fun_builtin_var_t signal_filter_bank_log_obj;
static const mp_obj_fun_builtin_var_t binary_int32_obj;
static const mp_obj_fun_builtin_var_t minmax_obj;
static const mp_obj_fun_builtin_var_t cast_obj;
#if TK_HAVE_FLOAT_DSP
static const mp_obj_fun_builtin_var_t cast_float_obj;
static const mp_obj_fun_builtin_var_t binary_float_obj;
#endif
/* steps */
static const mp_obj_fun_builtin_fixed_t run_steps_obj;
static const mp_obj_fun_builtin_fixed_t scratch_bytes_obj;
static const mp_obj_fun_builtin_fixed_t pack_weights_obj;

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    MP_DYNRUNTIME_INIT_ENTRY
    mp_obj_t none = mp_const_none;
    scratch_holder = mp_obj_new_list(1, &none);
    mp_store_global(MP_QSTR__scratch, scratch_holder);
    mp_store_global(MP_QSTR_ABI, MP_OBJ_NEW_SMALL_INT(2));
    mp_store_global(MP_QSTR_conv_s8, MP_OBJ_FROM_PTR(&conv_s8_obj));
    mp_store_global(MP_QSTR_depthwise_s8, MP_OBJ_FROM_PTR(&depthwise_s8_obj));
    mp_store_global(MP_QSTR_fully_connected_s8, MP_OBJ_FROM_PTR(&fully_connected_s8_obj));
    mp_store_global(MP_QSTR_fully_connected_s8_packed,
                    MP_OBJ_FROM_PTR(&fully_connected_s8_packed_obj));
    mp_store_global(MP_QSTR_avgpool_s8, MP_OBJ_FROM_PTR(&avgpool_s8_obj));
    mp_store_global(MP_QSTR_maxpool_s8, MP_OBJ_FROM_PTR(&maxpool_s8_obj));
    mp_store_global(MP_QSTR_avgpool_s16, MP_OBJ_FROM_PTR(&avgpool_s8_obj));   /* by typecode */
    mp_store_global(MP_QSTR_maxpool_s16, MP_OBJ_FROM_PTR(&maxpool_s8_obj));
    mp_store_global(MP_QSTR_softmax_s8, MP_OBJ_FROM_PTR(&softmax_s8_obj));
    mp_store_global(MP_QSTR_add_int8, MP_OBJ_FROM_PTR(&add_int8_obj));
    mp_store_global(MP_QSTR_mul_int8, MP_OBJ_FROM_PTR(&mul_q_obj));
    mp_store_global(MP_QSTR_mul_int16, MP_OBJ_FROM_PTR(&mul_q_obj));
    mp_store_global(MP_QSTR__conv_s8_ref, MP_OBJ_FROM_PTR(&conv_s8_ref_obj));
    mp_store_global(MP_QSTR__depthwise_s8_ref, MP_OBJ_FROM_PTR(&depthwise_s8_ref_obj));
    mp_store_global(MP_QSTR__fully_connected_s8_ref, MP_OBJ_FROM_PTR(&fully_connected_s8_ref_obj));
    /* dsp */
#if TK_HAVE_FLOAT_DSP
    mp_store_global(MP_QSTR_mfcc_f32, MP_OBJ_FROM_PTR(&mfcc_f32_obj));
    mp_store_global(MP_QSTR__log_f32, MP_OBJ_FROM_PTR(&log_f32_obj));
#endif
    /* rnn */
    mp_store_global(MP_QSTR_lstm_gate_fc, MP_OBJ_FROM_PTR(&lstm_gate_fc_obj));
    mp_store_global(MP_QSTR_lstm_cell_update, MP_OBJ_FROM_PTR(&lstm_cell_update_obj));
    mp_store_global(MP_QSTR_lstm_hidden_update, MP_OBJ_FROM_PTR(&lstm_hidden_update_obj));
    mp_store_global(MP_QSTR_rnn_copy, MP_OBJ_FROM_PTR(&rnn_copy_obj));
    mp_store_global(MP_QSTR_svdf_feature, MP_OBJ_FROM_PTR(&svdf_feature_obj));
    mp_store_global(MP_QSTR_svdf_time, MP_OBJ_FROM_PTR(&svdf_time_obj));
    /* float */
#if TK_HAVE_FLOAT_DSP
    mp_store_global(MP_QSTR_conv_f32, MP_OBJ_FROM_PTR(&conv_f32_obj));
    mp_store_global(MP_QSTR_depthwise_f32, MP_OBJ_FROM_PTR(&depthwise_f32_obj));
    mp_store_global(MP_QSTR_fully_connected_f32, MP_OBJ_FROM_PTR(&fully_connected_f32_obj));
    mp_store_global(MP_QSTR_avgpool_f32, MP_OBJ_FROM_PTR(&avgpool_f32_obj));
    mp_store_global(MP_QSTR_maxpool_f32, MP_OBJ_FROM_PTR(&maxpool_f32_obj));
    mp_store_global(MP_QSTR_quantize_f32, MP_OBJ_FROM_PTR(&quantize_f32_obj));
    mp_store_global(MP_QSTR_dequantize_f32, MP_OBJ_FROM_PTR(&dequantize_f32_obj));
#endif
    /* copy */
    mp_store_global(MP_QSTR_copy_strided, MP_OBJ_FROM_PTR(&copy_strided_obj));
    mp_store_global(MP_QSTR_requant_int16, MP_OBJ_FROM_PTR(&requant_int16_obj));
    mp_store_global(MP_QSTR_reduce_int, MP_OBJ_FROM_PTR(&reduce_int_obj));
    /* rnn fused */
    mp_store_global(MP_QSTR_lstm_int, MP_OBJ_FROM_PTR(&lstm_int_obj));
    mp_store_global(MP_QSTR_svdf_int, MP_OBJ_FROM_PTR(&svdf_int_obj));
    mp_store_global(MP_QSTR_lut_int8, MP_OBJ_FROM_PTR(&lut_int8_obj));
#if TK_HAVE_FLOAT_DSP
    mp_store_global(MP_QSTR_softmax_f32, MP_OBJ_FROM_PTR(&softmax_f32_obj));
#endif
    /* signal */
    mp_store_global(MP_QSTR_signal_window, MP_OBJ_FROM_PTR(&signal_window_obj));
    mp_store_global(MP_QSTR_signal_fft_auto_scale, MP_OBJ_FROM_PTR(&signal_fft_auto_scale_obj));
    mp_store_global(MP_QSTR_signal_rfft, MP_OBJ_FROM_PTR(&signal_rfft_obj));
    mp_store_global(MP_QSTR_signal_energy, MP_OBJ_FROM_PTR(&signal_energy_obj));
    mp_store_global(MP_QSTR_signal_filter_bank, MP_OBJ_FROM_PTR(&signal_filter_bank_obj));
    mp_store_global(MP_QSTR_signal_filter_bank_sqrt, MP_OBJ_FROM_PTR(&signal_filter_bank_sqrt_obj));
    mp_store_global(MP_QSTR_signal_spectral_subtraction,
                    MP_OBJ_FROM_PTR(&signal_spectral_subtraction_obj));
    mp_store_global(MP_QSTR_signal_pcan, MP_OBJ_FROM_PTR(&signal_pcan_obj));
    mp_store_global(MP_QSTR_signal_filter_bank_log, MP_OBJ_FROM_PTR(&signal_filter_bank_log_obj));
    mp_store_global(MP_QSTR_binary_int32, MP_OBJ_FROM_PTR(&binary_int32_obj));
    mp_store_global(MP_QSTR_minmax, MP_OBJ_FROM_PTR(&minmax_obj));
    mp_store_global(MP_QSTR_cast, MP_OBJ_FROM_PTR(&cast_obj));
#if TK_HAVE_FLOAT_DSP
    mp_store_global(MP_QSTR_cast_float, MP_OBJ_FROM_PTR(&cast_float_obj));
    mp_store_global(MP_QSTR_binary_float, MP_OBJ_FROM_PTR(&binary_float_obj));
#endif
    /* steps */
    mp_store_global(MP_QSTR_run_steps, MP_OBJ_FROM_PTR(&run_steps_obj));
    mp_store_global(MP_QSTR_scratch_bytes, MP_OBJ_FROM_PTR(&scratch_bytes_obj));
    mp_store_global(MP_QSTR_pack_weights, MP_OBJ_FROM_PTR(&pack_weights_obj));
    MP_DYNRUNTIME_INIT_EXIT
}

static void need(int ok, const char *what) {
    if (!ok) {
        mp_raise_ValueError(what);
    }
}

static span_t get_span(mp_obj_t o, int writable) {
    mp_buffer_info_t bi;
    mp_get_buffer_raise(o, &bi, writable ? MP_BUFFER_WRITE : MP_BUFFER_READ);
    span_t s = {bi.buf, bi.len, 0};
    int t = bi.typecode & 0x7F;
    if (t == 'b' || t == 'B' || t == 1) {     /* 1: bytearray's internal typecode */
        s.elem = 1;
    } else if (t == 'h' || t == 'H') {
        s.elem = 2;
        need(((uintptr_t)bi.buf & 1) == 0, MP_ERROR_TEXT("int16 buffer misaligned"));
    }
    return s;
}

/* the parameter block: an array('i'), 4-byte aligned */
static const int32_t *get_params(mp_obj_t o, size_t *n_words) {
    mp_buffer_info_t bi;
    mp_get_buffer_raise(o, &bi, MP_BUFFER_READ);
    int t = bi.typecode & 0x7F;
    need((t == 'i' || t == 'l') && ((uintptr_t)bi.buf & 3) == 0 && (bi.len & 3) == 0,
         MP_ERROR_TEXT("p must be an array('i')"));
    *n_words = bi.len / 4;
    return (const int32_t *)bi.buf;
}

static int bit_length(uint32_t v) {
    int n = 0;
    while (v) {
        v >>= 1;
        n++;
    }
    return n;
}

/* a*b for a, b in [0, 2**24]; raises when the product may reach 2**30 (no division helper
   exists on armv6m) */
static size_t mul_dims(size_t a, size_t b) {
    need(bit_length(a) + bit_length(b) <= 31, MP_ERROR_TEXT("shape too large"));
    return a * b;
}

static size_t mul4(size_t a, size_t b, size_t c, size_t d) {
    return mul_dims(mul_dims(a, b), mul_dims(c, d));
}

static void check_dims(const int32_t *p, int first, int last, int32_t lo) {
    for (int i = first; i <= last; i++) {
        need(p[i] >= lo && p[i] <= DIM_MAX, MP_ERROR_TEXT("dimension out of range in p"));
    }
}

static void check_range(int32_t v, int32_t lo, int32_t hi, const char *what) {
    need(v >= lo && v <= hi, what);
}

static void check_shifts(const int32_t *shift, int32_t n, int32_t hi) {
    for (int32_t i = 0; i < n; i++) {
        check_range(shift[i], -31, hi, MP_ERROR_TEXT("shift out of range"));
    }
}

/* requantization multipliers are >= 0 (TFLM's are in [2**30, 2**31) or 0) */
static void check_mults(const int32_t *mult, int32_t n) {
    for (int32_t i = 0; i < n; i++) {
        need(mult[i] >= 0, MP_ERROR_TEXT("negative multiplier"));
    }
}

static void check_act(int32_t lo, int32_t hi, int elem) {
    int32_t top = elem == 2 ? 32767 : 127;
    need(-top - 1 <= lo && lo <= hi && hi <= top, MP_ERROR_TEXT("bad activation range"));
}

static void check_out(span_t s, size_t n) {
    need(s.len == n, MP_ERROR_TEXT("out length does not match p"));
}

static void check_in(span_t s, size_t n, const char *what) {
    need(s.len >= n, what);
}

static void *get_scratch(size_t n) {
    mp_obj_t held = mp_obj_subscr(scratch_holder, MP_OBJ_NEW_SMALL_INT(0), MP_OBJ_SENTINEL);
    if (held != mp_const_none) {
        mp_buffer_info_t bi;
        mp_get_buffer_raise(held, &bi, MP_BUFFER_RW);
        if (bi.len >= n) {
            return bi.buf;
        }
    }
    n = (n + 7) & ~(size_t)7;
    void *mem = m_malloc(n);    /* the dynamic runtime's m_malloc returns NULL when out of heap */
    if (mem == NULL) {
        mp_raise_msg((mp_obj_type_t *)mp_load_global(MP_QSTR_MemoryError),
                     "tinyml: no heap for kernel scratch");
    }
    mp_obj_subscr(scratch_holder, MP_OBJ_NEW_SMALL_INT(0), mp_obj_new_bytearray_by_ref(n, mem));
    return mem;
}

static int apart(const void *a, size_t na, const void *b, size_t nb) {
    return (uintptr_t)a + na <= (uintptr_t)b || (uintptr_t)b + nb <= (uintptr_t)a;
}

/* The scratch of a kernel call: args[4], a writable buffer the caller planned (Model puts it
   in the arena), checked for length, alignment and overlap with the call's output and input;
   the module's own buffer when the call has no fifth argument. */
static void *call_scratch(size_t n_args, const mp_obj_t *args, size_t n, const void *out,
                          size_t n_out, const void *in, size_t n_in) {
    if (n_args < 5 || args[4] == mp_const_none) {
        return n ? get_scratch(n) : NULL;
    }
    mp_buffer_info_t bi;
    mp_get_buffer_raise(args[4], &bi, MP_BUFFER_WRITE);
    need(bi.len >= n, MP_ERROR_TEXT("scratch shorter than the kernel needs"));
    need(((uintptr_t)bi.buf & 7) == 0, MP_ERROR_TEXT("scratch not 8-byte aligned"));
    need(apart(bi.buf, n, out, n_out) && apart(bi.buf, n, in, n_in),
         MP_ERROR_TEXT("scratch overlaps an operand"));
    return bi.buf;
}

/* ---------------------------------------------------------------- conv / depthwise */

/* The conv/depthwise header checks shared by the int8 and float32 kernels; returns the
   filter's element count. */
static size_t conv_geometry(const int32_t *p, size_t np, int depthwise) {
    need(np >= CV_HDR, MP_ERROR_TEXT("p too short"));
    check_dims(p, CV_BATCHES, CV_BATCHES, 0);
    check_dims(p, CV_IN_H, CV_IN_C, 1);
    check_dims(p, CV_OUT_H, CV_OUT_W, 0);
    check_dims(p, CV_OUT_C, CV_DIL_W, 1);
    check_range(p[CV_PAD_TOP], -DIM_MAX, DIM_MAX, MP_ERROR_TEXT("bad padding"));
    check_range(p[CV_PAD_LEFT], -DIM_MAX, DIM_MAX, MP_ERROR_TEXT("bad padding"));
    check_range(p[CV_IN_OFFSET], -255, 255, MP_ERROR_TEXT("in_offset out of range"));
    /* strides and dilations times positions must stay far from int overflow */
    mul_dims(p[CV_OUT_H], p[CV_STRIDE_H]);
    mul_dims(p[CV_OUT_W], p[CV_STRIDE_W]);
    mul_dims(p[CV_K_H], p[CV_DIL_H]);
    mul_dims(p[CV_K_W], p[CV_DIL_W]);
    size_t out_c = (size_t)p[CV_OUT_C];
    if (depthwise) {
        check_dims(p, CV_DEPTH_MULT, CV_DEPTH_MULT, 1);
        need(mul_dims(p[CV_IN_C], p[CV_DEPTH_MULT]) == out_c,
             MP_ERROR_TEXT("out_c != in_c * depth_multiplier"));
        return mul_dims(mul_dims(p[CV_K_H], p[CV_K_W]), out_c);
    }
    size_t K = mul_dims(mul_dims(p[CV_K_H], p[CV_K_W]), p[CV_IN_C]);
    need(K <= DIM_MAX, MP_ERROR_TEXT("filter too large"));
    return mul_dims(K, out_c);
}

/* the int8 conv/depthwise parameter block; n_filter: the filter's element count */
static const int32_t *conv_s8_params(mp_obj_t p_obj, int depthwise, size_t *n_filter) {
    size_t np;
    const int32_t *p = get_params(p_obj, &np);
    *n_filter = conv_geometry(p, np, depthwise);
    check_range(p[CV_OUT_OFFSET], -255, 255, MP_ERROR_TEXT("out_offset out of range"));
    check_act(p[CV_ACT_MIN], p[CV_ACT_MAX], 1);
    int32_t out_c = p[CV_OUT_C];
    need(np == (size_t)CV_HDR + 3 * (size_t)out_c, MP_ERROR_TEXT("p length != 20 + 3*out_c"));
    check_mults(p + CV_HDR + out_c, out_c);
    check_shifts(p + CV_HDR + 2 * out_c, out_c, 31);
    return p;
}

static const int32_t *check_conv(size_t n_args, const mp_obj_t *args, span_t *out, span_t *in,
                                 span_t *w, int depthwise) {
    size_t n_filter;
    const int32_t *p = conv_s8_params(args[3], depthwise, &n_filter);
    int32_t out_c = p[CV_OUT_C];
    *out = get_span(args[0], 1);
    *in = get_span(args[1], 0);
    *w = get_span(args[2], 0);
    check_out(*out, mul4(p[CV_BATCHES], p[CV_OUT_H], p[CV_OUT_W], out_c));
    check_in(*in, mul4(p[CV_BATCHES], p[CV_IN_H], p[CV_IN_W], p[CV_IN_C]),
             MP_ERROR_TEXT("input shorter than p says"));
    check_in(*w, n_filter, MP_ERROR_TEXT("filter shorter than p says"));
    return p;
}

static mp_obj_t conv_s8(size_t n_args, const mp_obj_t *args) {
    span_t out, in, w;
    const int32_t *p = check_conv(n_args, args, &out, &in, &w, 0);
    tk_conv_s8(out.buf, in.buf, w.buf, p, call_scratch(n_args, args, tk_conv_s8_scratch(p),
                                                           out.buf, out.len, in.buf, in.len));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(conv_s8_obj, 4, 5, conv_s8);

static mp_obj_t conv_s8_ref(size_t n_args, const mp_obj_t *args) {
    span_t out, in, w;
    const int32_t *p = check_conv(n_args, args, &out, &in, &w, 0);
    tk_conv_s8_ref(out.buf, in.buf, w.buf, p);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(conv_s8_ref_obj, 4, 4, conv_s8_ref);

static mp_obj_t depthwise_s8(size_t n_args, const mp_obj_t *args) {
    span_t out, in, w;
    const int32_t *p = check_conv(n_args, args, &out, &in, &w, 1);
    tk_depthwise_s8(out.buf, in.buf, w.buf, p,
                    call_scratch(n_args, args, tk_depthwise_s8_scratch(p), out.buf, out.len,
                                 in.buf, in.len));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(depthwise_s8_obj, 4, 5, depthwise_s8);

static mp_obj_t depthwise_s8_ref(size_t n_args, const mp_obj_t *args) {
    span_t out, in, w;
    const int32_t *p = check_conv(n_args, args, &out, &in, &w, 1);
    tk_depthwise_s8_ref(out.buf, in.buf, w.buf, p);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(depthwise_s8_ref_obj, 4, 4, depthwise_s8_ref);

/* ---------------------------------------------------------------- fully connected */

static const int32_t *fc_s8_params(mp_obj_t p_obj) {
    size_t np;
    const int32_t *p = get_params(p_obj, &np);
    need(np >= FC_HDR, MP_ERROR_TEXT("p too short"));
    check_dims(p, FC_BATCHES, FC_BATCHES, 0);
    check_dims(p, FC_IN, FC_OUT, 1);
    need(np == (size_t)FC_HDR + 3 * (size_t)p[FC_OUT], MP_ERROR_TEXT("p length != 7 + 3*out"));
    check_range(p[FC_IN_OFFSET], -255, 255, MP_ERROR_TEXT("in_offset out of range"));
    check_range(p[FC_OUT_OFFSET], -255, 255, MP_ERROR_TEXT("out_offset out of range"));
    check_act(p[FC_ACT_MIN], p[FC_ACT_MAX], 1);
    check_mults(p + FC_HDR + p[FC_OUT], p[FC_OUT]);
    check_shifts(p + FC_HDR + 2 * p[FC_OUT], p[FC_OUT], 31);
    return p;
}

static const int32_t *check_fc(const mp_obj_t *args, span_t *out, span_t *in, span_t *w) {
    const int32_t *p = fc_s8_params(args[3]);
    *out = get_span(args[0], 1);
    *in = get_span(args[1], 0);
    *w = get_span(args[2], 0);
    check_out(*out, mul_dims(p[FC_BATCHES], p[FC_OUT]));
    check_in(*in, mul_dims(p[FC_BATCHES], p[FC_IN]), MP_ERROR_TEXT("input shorter than p says"));
    check_in(*w, mul_dims(p[FC_OUT], p[FC_IN]), MP_ERROR_TEXT("weights shorter than p says"));
    return p;
}

static mp_obj_t fully_connected_s8(size_t n_args, const mp_obj_t *args) {
    span_t out, in, w;
    const int32_t *p = check_fc(args, &out, &in, &w);
    tk_fully_connected_s8(out.buf, in.buf, w.buf, p,
                          call_scratch(n_args, args, tk_fully_connected_s8_scratch(p), out.buf,
                                       out.len, in.buf, in.len));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(fully_connected_s8_obj, 4, 5, fully_connected_s8);

static mp_obj_t fully_connected_s8_ref(size_t n_args, const mp_obj_t *args) {
    span_t out, in, w;
    const int32_t *p = check_fc(args, &out, &in, &w);
    tk_fully_connected_s8_ref(out.buf, in.buf, w.buf, p);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(fully_connected_s8_ref_obj, 4, 4,
                                           fully_connected_s8_ref);

/* fully_connected_s8_packed(out, in, stream, p[, scratch]): stream from pack_weights */
static mp_obj_t fully_connected_s8_packed(size_t n_args, const mp_obj_t *args) {
    const int32_t *p = fc_s8_params(args[3]);
    span_t out = get_span(args[0], 1), in = get_span(args[1], 0), stream = get_span(args[2], 0);
    size_t n = tk_fully_connected_s8_stream_bytes(p);
    check_out(out, mul_dims(p[FC_BATCHES], p[FC_OUT]));
    check_in(in, mul_dims(p[FC_BATCHES], p[FC_IN]), MP_ERROR_TEXT("input shorter than p says"));
    need(n != 0, MP_ERROR_TEXT("layer has no packed weights on this arch"));
    check_in(stream, n, MP_ERROR_TEXT("packed weights shorter than p says"));
    need(((uintptr_t)stream.buf & 3) == 0, MP_ERROR_TEXT("packed weights not 4-byte aligned"));
    tk_fully_connected_s8_packed(out.buf, in.buf, stream.buf, p,
                                 call_scratch(n_args, args, tk_fully_connected_s8_packed_scratch(p),
                                              out.buf, out.len, in.buf, in.len));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(fully_connected_s8_packed_obj, 4, 5,
                                           fully_connected_s8_packed);

/* ---------------------------------------------------------------- pooling */

/* The pooling header checks shared by the int8/int16 and float32 kernels. */
static const int32_t *pool_params(mp_obj_t p_obj) {
    size_t np;
    const int32_t *p = get_params(p_obj, &np);
    need(np == PL_HDR, MP_ERROR_TEXT("p length != 14"));
    check_dims(p, PL_BATCHES, PL_BATCHES, 0);
    check_dims(p, PL_IN_H, PL_CH, 1);
    check_dims(p, PL_OUT_H, PL_OUT_W, 0);
    check_dims(p, PL_K_H, PL_STRIDE_W, 1);
    check_range(p[PL_PAD_TOP], -DIM_MAX, DIM_MAX, MP_ERROR_TEXT("bad padding"));
    check_range(p[PL_PAD_LEFT], -DIM_MAX, DIM_MAX, MP_ERROR_TEXT("bad padding"));
    mul_dims(p[PL_OUT_H], p[PL_STRIDE_H]);
    mul_dims(p[PL_OUT_W], p[PL_STRIDE_W]);
    mul_dims(p[PL_K_H], p[PL_K_W]);
    return p;
}

static const int32_t *check_pool(const mp_obj_t *args, span_t *out, span_t *in) {
    const int32_t *p = pool_params(args[3]);
    *out = get_span(args[0], 1);
    *in = get_span(args[1], 0);
    need(in->elem != 0 && in->elem == out->elem, MP_ERROR_TEXT("pool buffers must be int8 or int16"));
    check_act(p[PL_ACT_MIN], p[PL_ACT_MAX], in->elem);
    check_out(*out, mul_dims(mul4(p[PL_BATCHES], p[PL_OUT_H], p[PL_OUT_W], p[PL_CH]), out->elem));
    check_in(*in, mul_dims(mul4(p[PL_BATCHES], p[PL_IN_H], p[PL_IN_W], p[PL_CH]), in->elem),
             MP_ERROR_TEXT("input shorter than p says"));
    return p;
}

static mp_obj_t avgpool_s8(size_t n_args, const mp_obj_t *args) {
    span_t out, in;
    const int32_t *p = check_pool(args, &out, &in);
    need(tk_avgpool(out.buf, in.buf, p, in.elem) == 0,
         MP_ERROR_TEXT("average pool window outside the input"));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(avgpool_s8_obj, 4, 4, avgpool_s8);

static mp_obj_t maxpool_s8(size_t n_args, const mp_obj_t *args) {
    span_t out, in;
    const int32_t *p = check_pool(args, &out, &in);
    tk_maxpool(out.buf, in.buf, p, in.elem);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(maxpool_s8_obj, 4, 4, maxpool_s8);

/* ---------------------------------------------------------------- softmax */

static mp_obj_t softmax_s8(size_t n_args, const mp_obj_t *args) {
    size_t np;
    const int32_t *p = get_params(args[3], &np);
    need(np == SM_HDR, MP_ERROR_TEXT("p length != 6"));
    check_dims(p, SM_ROWS, SM_ROWS, 0);
    check_dims(p, SM_DEPTH, SM_DEPTH, 1);
    check_range(p[SM_LSHIFT], 0, 31, MP_ERROR_TEXT("input_left_shift out of range"));
    check_range(p[SM_DIFF_MIN], -DIM_MAX, 0, MP_ERROR_TEXT("diff_min must be <= 0"));
    need(p[SM_BITS] == 8 || p[SM_BITS] == 16, MP_ERROR_TEXT("output bits must be 8 or 16"));
    span_t out = get_span(args[0], 1), in = get_span(args[1], 0);
    int out_elem = p[SM_BITS] / 8;
    need(out.elem == 0 || out.elem == out_elem, MP_ERROR_TEXT("out type does not match bits"));
    need(out_elem == 1 || ((uintptr_t)out.buf & 1) == 0, MP_ERROR_TEXT("int16 buffer misaligned"));
    size_t n = mul_dims(p[SM_ROWS], p[SM_DEPTH]);
    check_out(out, mul_dims(n, out_elem));
    check_in(in, n, MP_ERROR_TEXT("input shorter than p says"));
    tk_softmax_s8(out.buf, in.buf, p);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(softmax_s8_obj, 4, 4, softmax_s8);

/* ---------------------------------------------------------------- broadcast elementwise */

/* items of the dense output; checks that every index the strides produce is inside a and b */
static size_t check_broadcast(const int32_t *p, span_t a, span_t b, int elem) {
    check_dims(p, 0, BC_DIMS - 1, 0);
    check_dims(p, BC_DIMS, 3 * BC_DIMS - 1, 0);
    size_t n = mul_dims(mul_dims(p[0], p[1]), mul_dims(mul_dims(p[2], p[3]), p[4]));
    if (n == 0) {
        return 0;
    }
    size_t last_a = 0, last_b = 0;
    for (int k = 0; k < BC_DIMS; k++) {
        last_a += mul_dims(p[k] - 1, p[BC_DIMS + k]);
        last_b += mul_dims(p[k] - 1, p[2 * BC_DIMS + k]);
        need(last_a < DIM_MAX * (size_t)8 && last_b < DIM_MAX * (size_t)8,
             MP_ERROR_TEXT("strides too large"));
    }
    check_in(a, mul_dims(last_a + 1, elem), MP_ERROR_TEXT("a shorter than p says"));
    check_in(b, mul_dims(last_b + 1, elem), MP_ERROR_TEXT("b shorter than p says"));
    return n;
}

static mp_obj_t add_int8(size_t n_args, const mp_obj_t *args) {
    size_t np;
    const int32_t *p = get_params(args[3], &np);
    need(np == ADD_LEN, MP_ERROR_TEXT("p length != 532"));
    check_range(p[ADD_OUT_SHIFT], -31, 0, MP_ERROR_TEXT("shift out of range"));
    check_act(p[ADD_ACT_MIN], p[ADD_ACT_MAX], 1);
    span_t out = get_span(args[0], 1), a = get_span(args[1], 0), b = get_span(args[2], 0);
    size_t n = check_broadcast(p, a, b, 1);
    check_out(out, n);
    if (n) {     /* with an empty innermost dim the outer loops would spin for nothing */
        tk_add_int8(out.buf, a.buf, b.buf, p);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(add_int8_obj, 4, 4, add_int8);

/* mul_int8 and mul_int16: the item size comes from the buffers' typecodes */
static mp_obj_t mul_q(size_t n_args, const mp_obj_t *args) {
    size_t np;
    const int32_t *p = get_params(args[3], &np);
    need(np == MUL_LEN, MP_ERROR_TEXT("p length != 22"));
    check_shifts(p + MUL_OUT_SHIFT, 1, 31);
    span_t out = get_span(args[0], 1), a = get_span(args[1], 0), b = get_span(args[2], 0);
    int elem = out.elem;
    need(elem != 0 && a.elem == elem && b.elem == elem,
         MP_ERROR_TEXT("mul buffers must all be int8 or all int16"));
    check_act(p[MUL_ACT_MIN], p[MUL_ACT_MAX], elem);
    size_t n = check_broadcast(p, a, b, elem);
    check_out(out, mul_dims(n, elem));
    if (n) {
        tk_mul_q(out.buf, a.buf, b.buf, p, elem);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mul_q_obj, 4, 4, mul_q);

/* ---- dsp kernels ---- */
/* mfcc_f32(out, samples, tables, p): float MFCC frames (layout in dsp.h; built by
   device/tinyml/audio_mfcc.py); _log_f32(out, a): out[i] = ln(a[i]) (tests the own logf).
   Only where float is hardware (TK_HAVE_FLOAT_DSP); elsewhere the names are absent and
   audio_mfcc.py keeps its python/viper loops. */
#if TK_HAVE_FLOAT_DSP
static float *get_f32(mp_obj_t o, int writable, size_t *n) {
    mp_buffer_info_t bi;
    mp_get_buffer_raise(o, &bi, writable ? MP_BUFFER_WRITE : MP_BUFFER_READ);
    need((bi.typecode & 0x7F) == 'f' && ((uintptr_t)bi.buf & 3) == 0,
         MP_ERROR_TEXT("expected an array('f')"));
    *n = bi.len / 4;
    return (float *)bi.buf;
}

static mp_obj_t mfcc_f32(size_t n_args, const mp_obj_t *args) {
    size_t np;
    const int32_t *p = get_params(args[3], &np);
    need(np >= MF_HDR, MP_ERROR_TEXT("p too short"));
    check_dims(p, MF_FRAMES, MF_FRAMES, 0);
    check_dims(p, MF_FRAME_LEN, MF_NUM_MFCC, 1);
    check_range(p[MF_POWER], 0, 1, MP_ERROR_TEXT("power must be 0 or 1"));
    check_dims(p, MF_NUM_WEIGHTS, MF_NUM_WEIGHTS, 0);
    int32_t n = p[MF_FFT], h = n >> 1, nm = p[MF_NUM_MEL];
    need(n >= 4 && n <= 4096 && (n & (n - 1)) == 0,
         MP_ERROR_TEXT("fft length must be a power of two in 4..4096"));
    need(p[MF_FRAME_LEN] <= n, MP_ERROR_TEXT("frame length > fft length"));
    need(nm <= 4096 && p[MF_NUM_MFCC] <= nm, MP_ERROR_TEXT("need num_mfcc <= num_mel <= 4096"));
    need(np == (size_t)MF_HDR + 3 * (size_t)nm, MP_ERROR_TEXT("p length != 8 + 3*num_mel"));
    const int32_t *starts = p + MF_HDR, *lens = starts + nm, *offs = lens + nm;
    for (int32_t m = 0; m < nm; m++) {
        check_range(starts[m], 0, h, MP_ERROR_TEXT("mel band start outside the spectrum"));
        check_range(lens[m], 0, h + 1 - starts[m], MP_ERROR_TEXT("mel band outside the spectrum"));
        check_range(offs[m], 0, p[MF_NUM_WEIGHTS] - lens[m],
                    MP_ERROR_TEXT("mel band outside the weights"));
    }
    mul_dims(p[MF_NUM_MFCC], nm);
    size_t n_out, n_tab;
    float *out = get_f32(args[0], 1, &n_out);
    const float *tab = get_f32(args[2], 0, &n_tab);
    need(n_tab >= tk_mfcc_tables_len(p), MP_ERROR_TEXT("tables shorter than p says"));
    mp_buffer_info_t bi;
    mp_get_buffer_raise(args[1], &bi, MP_BUFFER_READ);
    need((bi.typecode & 0x7F) == 'h' && ((uintptr_t)bi.buf & 1) == 0,
         MP_ERROR_TEXT("samples must be an array('h')"));
    int32_t frames = p[MF_FRAMES];
    need(n_out == mul_dims(frames, p[MF_NUM_MFCC]), MP_ERROR_TEXT("out length does not match p"));
    if (frames == 0) {
        return mp_const_none;
    }
    size_t need_samples = mul_dims(frames - 1, p[MF_STEP]) + (size_t)p[MF_FRAME_LEN];
    need(bi.len / 2 >= need_samples, MP_ERROR_TEXT("samples shorter than p says"));
    tk_mfcc_f32(out, (const int16_t *)bi.buf, tab, p, get_scratch(tk_mfcc_scratch(p)));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(mfcc_f32_obj, 4, 4, mfcc_f32);

static mp_obj_t log_f32(size_t n_args, const mp_obj_t *args) {
    size_t n_out, n_in;
    float *out = get_f32(args[0], 1, &n_out);
    const float *in = get_f32(args[1], 0, &n_in);
    need(n_out == n_in, MP_ERROR_TEXT("out length != input length"));
    for (size_t i = 0; i < n_in; i++) {
        out[i] = tk_logf(in[i]);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(log_f32_obj, 2, 2, log_f32);
#endif
/* ---- dsp kernels ---- */

/* ---- rnn kernels ---- */
/* UNIDIRECTIONAL_SEQUENCE_LSTM / SVDF kernels (rnn.c), layouts of kernels/python_rnn.py.
   Offsets in p are element indices; every element a kernel touches is checked in range. */
#include "rnn.h"

/* item size of a buffer from its typecode: 1 (b B bytearray), 2 (h H), 4 (i I f), else 0 */
static int rnn_elem(mp_obj_t o, int writable, void **buf, size_t *len) {
    mp_buffer_info_t bi;
    mp_get_buffer_raise(o, &bi, writable ? MP_BUFFER_WRITE : MP_BUFFER_READ);
    *buf = bi.buf;
    *len = bi.len;
    int t = bi.typecode & 0x7F, lc = t | 0x20;
    /* arithmetic, not an if-chain: gcc turns that into a jump table that needs libgcc's
       __gnu_thumb1_case_uqi on armv6m */
    int e = ((lc == 'b') | (t == 1)) + 2 * (lc == 'h') + 4 * ((lc == 'i') | (t == 'f'));
    need(e != 0 && ((uintptr_t)bi.buf & (e - 1)) == 0,
         MP_ERROR_TEXT("rnn buffers must be aligned int8, int16, int32 or float32"));
    return e;
}

/* start + count elements of elem bytes lie inside a buffer of len bytes */
static void rnn_inside(int32_t start, size_t count, int elem, size_t len, const char *what) {
    need(start >= 0 && start <= DIM_MAX && count <= (size_t)DIM_MAX * 4, what);
    need(mul_dims((size_t)start + count, elem) <= len, what);
}

static const int32_t *rnn_params(mp_obj_t o, size_t want, int exact, size_t *np) {
    const int32_t *p = get_params(o, np);
    need(exact ? *np == want : *np >= want, MP_ERROR_TEXT("p length does not match the kernel"));
    return p;
}

static void rnn_requant(int32_t mult, int32_t shift) {
    need(mult >= 0, MP_ERROR_TEXT("negative multiplier"));
    check_range(shift, -31, 31, MP_ERROR_TEXT("shift out of range"));
}

/* the scalar fields of a gate FC block (mode, requantization) */
static void check_gate_block(const int32_t *p, int wide) {
    check_range(p[RF_MODE], 0, 3, MP_ERROR_TEXT("bad mode"));
    need(p[RF_MULT] >= 0, MP_ERROR_TEXT("negative multiplier"));
    /* wide: TFLM's 64-bit requantization needs 15 - shift in [1, 46] */
    check_range(p[RF_SHIFT], -31, wide ? 14 : 31, MP_ERROR_TEXT("shift out of range"));
}

static void check_cell_block(const int32_t *p) {
    rnn_requant(p[RCU_FC_MULT], p[RCU_FC_SHIFT]);
    rnn_requant(p[RCU_IG_MULT], p[RCU_IG_SHIFT]);
    check_range(p[RCU_CLIP], -65536, 65536, MP_ERROR_TEXT("cell clip out of range"));
}

static void check_hidden_block(const int32_t *p, int elem) {
    check_range(p[RHU_TANH_SHIFT], 0, 31, MP_ERROR_TEXT("tanh shift out of range"));
    rnn_requant(p[RHU_MULT], p[RHU_SHIFT]);
    check_range(p[RHU_ZP], -65536, 65536, MP_ERROR_TEXT("zero point out of range"));
    check_act(p[RHU_MIN], p[RHU_MAX], elem);
}

static mp_obj_t lstm_gate_fc(size_t n_args, const mp_obj_t *args) {
    size_t np;
    const int32_t *p = rnn_params(args[3], RF_BIAS, 0, &np);
    check_dims(p, RF_BATCHES, RF_BATCHES, 0);
    check_dims(p, RF_OUT, RF_IN, 1);
    /* the int32 dot product must not overflow before the bias is added (rnn.c) */
    check_range(p[RF_IN], 1, 1 << 16, MP_ERROR_TEXT("n_in above 65536"));
    check_range(p[RF_WIDE], 0, 1, MP_ERROR_TEXT("bad wide flag"));
    int wide = p[RF_WIDE];
    need(np == (size_t)RF_BIAS + (size_t)(wide ? 2 : 1) * (size_t)p[RF_OUT],
         MP_ERROR_TEXT("p length != 9 + n_out (x2 when wide)"));
    check_gate_block(p, wide);
    void *out, *x, *w;
    size_t lo, lx, lw;
    need(rnn_elem(args[0], 1, &out, &lo) == 2, MP_ERROR_TEXT("gates must be int16"));
    need(rnn_elem(args[1], 0, &x, &lx) == (wide ? 2 : 1),
         MP_ERROR_TEXT("x must be int8 (int16 when wide)"));
    need(rnn_elem(args[2], 0, &w, &lw) == 1, MP_ERROR_TEXT("weights must be int8"));
    rnn_inside(p[RF_OUT_START], mul_dims(p[RF_BATCHES], p[RF_OUT]), 2, lo,
               MP_ERROR_TEXT("gates shorter than p says"));
    rnn_inside(p[RF_X_START], mul_dims(p[RF_BATCHES], p[RF_IN]), wide ? 2 : 1, lx,
               MP_ERROR_TEXT("x shorter than p says"));
    need(mul_dims(p[RF_OUT], p[RF_IN]) <= lw, MP_ERROR_TEXT("weights shorter than p says"));
    tk_lstm_gate_fc(out, x, w, p, get_scratch(tk_rnn_fc_scratch(p[RF_IN])));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(lstm_gate_fc_obj, 4, 4, lstm_gate_fc);

static mp_obj_t lstm_cell_update(size_t n_args, const mp_obj_t *args) {
    size_t np;
    const int32_t *p = rnn_params(args[3], RCU_LEN, 1, &np);
    check_dims(p, RCU_COUNT, RCU_COUNT, 0);
    check_cell_block(p);
    void *cell, *gates;
    size_t lc, lg;
    need(rnn_elem(args[0], 1, &cell, &lc) == 2 && rnn_elem(args[1], 0, &gates, &lg) == 2,
         MP_ERROR_TEXT("cell and gates must be int16"));
    size_t n = p[RCU_COUNT];
    rnn_inside(p[RCU_CELL], n, 2, lc, MP_ERROR_TEXT("cell shorter than p says"));
    rnn_inside(p[RCU_F], n, 2, lg, MP_ERROR_TEXT("gates shorter than p says"));
    rnn_inside(p[RCU_I], n, 2, lg, MP_ERROR_TEXT("gates shorter than p says"));
    rnn_inside(p[RCU_G], n, 2, lg, MP_ERROR_TEXT("gates shorter than p says"));
    tk_lstm_cell_update(cell, gates, p);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(lstm_cell_update_obj, 4, 4, lstm_cell_update);

static mp_obj_t lstm_hidden_update(size_t n_args, const mp_obj_t *args) {
    size_t np;
    const int32_t *p = rnn_params(args[3], RHU_LEN, 1, &np);
    check_dims(p, RHU_COUNT, RHU_COUNT, 0);
    void *hidden, *cell, *gates;
    size_t lh, lc, lg;
    int elem = rnn_elem(args[0], 1, &hidden, &lh);
    need(elem == 1 || elem == 2, MP_ERROR_TEXT("hidden must be int8 or int16"));
    check_hidden_block(p, elem);
    need(rnn_elem(args[1], 0, &cell, &lc) == 2 && rnn_elem(args[2], 0, &gates, &lg) == 2,
         MP_ERROR_TEXT("cell and gates must be int16"));
    size_t n = p[RHU_COUNT];
    rnn_inside(p[RHU_HIDDEN], n, elem, lh, MP_ERROR_TEXT("hidden shorter than p says"));
    rnn_inside(p[RHU_CELL], n, 2, lc, MP_ERROR_TEXT("cell shorter than p says"));
    rnn_inside(p[RHU_O], n, 2, lg, MP_ERROR_TEXT("gates shorter than p says"));
    tk_lstm_hidden_update(hidden, cell, gates, p, elem);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(lstm_hidden_update_obj, 4, 4, lstm_hidden_update);

static mp_obj_t rnn_copy(size_t n_args, const mp_obj_t *args) {
    size_t np;
    const int32_t *p = rnn_params(args[3], RCP_LEN, 1, &np);
    check_dims(p, RCP_COUNT, RCP_COUNT, 0);
    void *out, *a;
    size_t lo, la;
    int elem = rnn_elem(args[0], 1, &out, &lo);
    need(rnn_elem(args[1], 0, &a, &la) == elem, MP_ERROR_TEXT("copy between different item sizes"));
    rnn_inside(p[RCP_OUT_START], p[RCP_COUNT], elem, lo, MP_ERROR_TEXT("out shorter than p says"));
    rnn_inside(p[RCP_A_START], p[RCP_COUNT], elem, la, MP_ERROR_TEXT("a shorter than p says"));
    tk_rnn_copy(out, a, p, elem);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(rnn_copy_obj, 4, 4, rnn_copy);

/* a typed rnn buffer: base, length in bytes, item size (rnn_elem's) */
static span_t rnn_buf(mp_obj_t o, int writable) {
    span_t r;
    r.elem = rnn_elem(o, writable, &r.buf, &r.len);
    return r;
}

/* the svdf_feature block p of np words against its buffers */
static void check_svdf_feature(const int32_t *p, size_t np, span_t state, span_t x,
                               span_t wf) {
    need(np >= RSF_BIAS, MP_ERROR_TEXT("p length does not match the kernel"));
    check_dims(p, RSF_BATCHES, RSF_BATCHES, 0);
    check_dims(p, RSF_IN, RSF_MEMORY, 1);
    check_range(p[RSF_IN], 1, 1 << 16, MP_ERROR_TEXT("n_input above 65536"));
    need(np == (size_t)RSF_BIAS + (size_t)p[RSF_FILTERS], MP_ERROR_TEXT("p length != 9 + n_filter"));
    rnn_requant(p[RSF_MULT], p[RSF_SHIFT]);
    int elem = state.elem;
    need(elem == 1 || elem == 2, MP_ERROR_TEXT("state must be int8 or int16"));
    int32_t top = elem == 2 ? 32767 : 127;
    need(p[RSF_STATE_MIN] == -top - 1 && p[RSF_STATE_MAX] == top,
         MP_ERROR_TEXT("state range does not match the state type"));
    check_range(p[RSF_STATE_ZP], -top - 1, top, MP_ERROR_TEXT("state zero point out of range"));
    need(x.elem == 1 && wf.elem == 1, MP_ERROR_TEXT("x and feature weights must be int8"));
    size_t n_state = mul_dims(mul_dims(p[RSF_BATCHES], p[RSF_FILTERS]), p[RSF_MEMORY]);
    need(mul_dims(n_state, elem) == state.len, MP_ERROR_TEXT("state length does not match p"));
    need(mul_dims(p[RSF_BATCHES], p[RSF_IN]) <= x.len, MP_ERROR_TEXT("x shorter than p says"));
    need(mul_dims(p[RSF_FILTERS], p[RSF_IN]) <= wf.len, MP_ERROR_TEXT("weights shorter than p says"));
}

static mp_obj_t svdf_feature(size_t n_args, const mp_obj_t *args) {
    size_t np;
    const int32_t *p = get_params(args[3], &np);
    span_t state = rnn_buf(args[0], 1), x = rnn_buf(args[1], 0), wf = rnn_buf(args[2], 0);
    check_svdf_feature(p, np, state, x, wf);
    tk_svdf_feature(state.buf, x.buf, wf.buf, p, state.elem,
                    get_scratch(tk_rnn_fc_scratch(p[RSF_IN])));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(svdf_feature_obj, 4, 4, svdf_feature);

/* the svdf_time block p of np words against its buffers; returns n_unit */
static int32_t check_svdf_time(const int32_t *p, size_t np, span_t out, span_t state,
                               span_t wt) {
    need(np >= RST_BIAS, MP_ERROR_TEXT("p length does not match the kernel"));
    check_dims(p, RST_BATCHES, RST_BATCHES, 0);
    check_dims(p, RST_FILTERS, RST_RANK, 1);
    size_t n_unit = np - RST_BIAS;     /* n_filter / rank biases: no division needed */
    need(mul_dims(n_unit, p[RST_RANK]) == (size_t)p[RST_FILTERS],
         MP_ERROR_TEXT("p length != 8 + n_filter / rank"));
    rnn_requant(p[RST_MULT], p[RST_SHIFT]);
    check_range(p[RST_OUT_ZP], -65536, 65536, MP_ERROR_TEXT("zero point out of range"));
    need(out.elem == 1, MP_ERROR_TEXT("out must be int8"));
    int elem = state.elem;
    need((elem == 1 || elem == 2) && wt.elem == elem,
         MP_ERROR_TEXT("state and time weights must both be int8 or both int16"));
    int32_t top = elem == 2 ? 32767 : 127;
    check_range(p[RST_STATE_ZP], -top - 1, top, MP_ERROR_TEXT("state zero point out of range"));
    size_t per_batch = mul_dims(p[RST_FILTERS], p[RST_MEMORY]);
    check_out((span_t){out.buf, out.len, 1}, mul_dims(p[RST_BATCHES], n_unit));
    need(mul_dims(mul_dims(p[RST_BATCHES], per_batch), elem) <= state.len,
         MP_ERROR_TEXT("state shorter than p says"));
    need(mul_dims(per_batch, elem) <= wt.len, MP_ERROR_TEXT("time weights shorter than p says"));
    return (int32_t)n_unit;
}

static mp_obj_t svdf_time(size_t n_args, const mp_obj_t *args) {
    size_t np;
    const int32_t *p = get_params(args[3], &np);
    span_t out = rnn_buf(args[0], 1), state = rnn_buf(args[1], 0), wt = rnn_buf(args[2], 0);
    int32_t n_unit = check_svdf_time(p, np, out, state, wt);
    tk_svdf_time(out.buf, state.buf, wt.buf, p, n_unit, state.elem);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(svdf_time_obj, 4, 4, svdf_time);
/* ---- rnn kernels ---- */

/* ---- copy/requant kernels ---- */
#include "copy.h"

/* lowest and highest element offset one copy job touches through (off, strides) */
static void copy_extent(const int32_t *n, int32_t off, const int32_t *st, int64_t *lo,
                        int64_t *hi) {
    check_range(off, 0, 1 << 30, MP_ERROR_TEXT("offset out of range in p"));
    int64_t l = off, h = off;
    for (int d = 0; d < 4; d++) {
        int32_t s = st[d];
        check_range(s, -DIM_MAX, DIM_MAX, MP_ERROR_TEXT("stride out of range in p"));
        uint32_t mag = s < 0 ? (uint32_t)-s : (uint32_t)s;
        int32_t t = (int32_t)mul_dims((size_t)(n[d] - 1), mag);
        if (s < 0) {
            l -= t;
        } else {
            h += t;
        }
    }
    *lo = l;
    *hi = h;
}

/* copy_strided(out, a, b, p): p = [elem 1|2|4, n_jobs, jobs of CJ_LEN words]; b unused */
static mp_obj_t copy_strided(size_t n_args, const mp_obj_t *args) {
    size_t np;
    const int32_t *p = get_params(args[3], &np);
    need(np >= CP_HDR, MP_ERROR_TEXT("p too short"));
    int32_t elem = p[CP_ELEM];
    need(elem == 1 || elem == 2 || elem == 4, MP_ERROR_TEXT("element size must be 1, 2 or 4"));
    int sh = elem == 4 ? 2 : elem - 1;
    int32_t jobs = p[CP_JOBS];
    check_range(jobs, 0, 1 << 16, MP_ERROR_TEXT("job count out of range"));
    need(np == (size_t)CP_HDR + (size_t)jobs * CJ_LEN, MP_ERROR_TEXT("p length != 2 + 16 * jobs"));
    span_t out = get_span(args[0], 1);
    span_t a = get_span(args[1], 0);
    int64_t n_out = (int64_t)(out.len >> sh), n_a = (int64_t)(a.len >> sh);
    for (int32_t j = 0; j < jobs; j++) {
        const int32_t *job = p + CP_HDR + j * CJ_LEN;
        check_range(job[CJ_MODE], 0, 1, MP_ERROR_TEXT("job mode must be 0 or 1"));
        check_dims(job, CJ_N0, CJ_N3, 0);
        if (job[CJ_N0] == 0 || job[CJ_N1] == 0 || job[CJ_N2] == 0 || job[CJ_N3] == 0) {
            continue;
        }
        mul4(job[CJ_N0], job[CJ_N1], job[CJ_N2], job[CJ_N3]);
        int64_t lo, hi;
        copy_extent(job + CJ_N0, job[CJ_DOFF], job + CJ_D0, &lo, &hi);
        need(lo >= 0 && hi < n_out, MP_ERROR_TEXT("copy job outside out"));
        if (!job[CJ_MODE]) {
            copy_extent(job + CJ_N0, job[CJ_SOFF], job + CJ_S0, &lo, &hi);
            need(lo >= 0 && hi < n_a, MP_ERROR_TEXT("copy job outside a"));
        }
    }
    for (int32_t j = 0; j < jobs; j++) {
        tk_copy_job((uint8_t *)out.buf, (const uint8_t *)a.buf, p + CP_HDR + j * CJ_LEN, elem);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(copy_strided_obj, 4, 4, copy_strided);
/* typed buffer of requant_int16: element size 1/2/4 from the typecode, *uns for B/H */
static void *rq_buf(mp_obj_t o, int writable, size_t *len, int *elem, int *uns) {
    mp_buffer_info_t bi;
    mp_get_buffer_raise(o, &bi, writable ? MP_BUFFER_WRITE : MP_BUFFER_READ);
    int t = bi.typecode & 0x7F;
    *uns = t == 'B' || t == 'H';
    *elem = (t == 'b' || t == 'B') ? 1 : (t == 'h' || t == 'H') ? 2 : (t == 'i' || t == 'l') ? 4 : 0;
    need(*elem != 0 && ((uintptr_t)bi.buf & (*elem - 1)) == 0,
         MP_ERROR_TEXT("requant_int16 needs int8/int16/int32 arrays"));
    *len = bi.len;
    return bi.buf;
}

static mp_obj_t requant_int16(size_t n_args, const mp_obj_t *args) {
    size_t np;
    const int32_t *p = get_params(args[3], &np);
    need(np == RQ_LEN, MP_ERROR_TEXT("p length != 11"));
    check_dims(p, RQ_N, RQ_N, 0);
    size_t lo_len, la;
    int oe, ou, ae, au;
    void *out = rq_buf(args[0], 1, &lo_len, &oe, &ou);
    const void *a = rq_buf(args[1], 0, &la, &ae, &au);
    size_t n = p[RQ_N];
    check_out((span_t){out, lo_len, oe}, mul_dims(n, oe));
    check_in((span_t){(void *)a, la, ae}, mul_dims(n, ae), MP_ERROR_TEXT("a shorter than p says"));
    check_range(p[RQ_MODE], 0, 1, MP_ERROR_TEXT("mode must be 0 or 1"));
    check_range(p[RQ_NEGATE], 0, 1, MP_ERROR_TEXT("negate flag must be 0 or 1"));
    check_range(p[RQ_IZP], -65536, 65536, MP_ERROR_TEXT("zero point out of range"));
    need(ae < 4 || p[RQ_IZP] == 0 || !p[RQ_MODE], MP_ERROR_TEXT("int32 input needs zero point 0"));
    check_shifts(p + RQ_SPOS, 1, 31);
    check_shifts(p + RQ_SNEG, 1, 31);
    check_mults(p + RQ_MPOS, 1);
    check_mults(p + RQ_MNEG, 1);
    int64_t top = oe == 4 ? (int64_t)INT32_MAX : oe == 2 ? (ou ? 65535 : 32767) : (ou ? 255 : 127);
    int64_t bottom = ou ? 0 : -top - 1;
    need(bottom <= p[RQ_LO] && p[RQ_LO] <= p[RQ_HI] && p[RQ_HI] <= top,
         MP_ERROR_TEXT("bad clamp range for the output type"));
    tk_requant_int16(out, oe, a, ae, au, p);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(requant_int16_obj, 4, 4, requant_int16);
static mp_obj_t reduce_int(size_t n_args, const mp_obj_t *args) {
    size_t np;
    const int32_t *p = get_params(args[3], &np);
    need(np >= RI_HDR, MP_ERROR_TEXT("p too short"));
    check_dims(p, RI_N_OUT, RI_N_RED, 0);
    need(np == (size_t)RI_HDR + (size_t)p[RI_N_OUT] + (size_t)p[RI_N_RED],
         MP_ERROR_TEXT("p length != 8 + n_out + n_red"));
    size_t lo_len, la;
    int oe, ou, ae, au;
    void *out = rq_buf(args[0], 1, &lo_len, &oe, &ou);
    const void *a = rq_buf(args[1], 0, &la, &ae, &au);
    need(oe < 4 && ae < 4, MP_ERROR_TEXT("reduce_int needs int8/int16 arrays"));
    check_out((span_t){out, lo_len, oe}, mul_dims(p[RI_N_OUT], oe));
    check_range(p[RI_IZP], -65536, 65536, MP_ERROR_TEXT("zero point out of range"));
    check_range(p[RI_OZP], -65536, 65536, MP_ERROR_TEXT("zero point out of range"));
    check_shifts(p + RI_SHIFT, 1, 31);
    check_mults(p + RI_MULT, 1);
    int32_t top = oe == 2 ? (ou ? 65535 : 32767) : (ou ? 255 : 127);
    int32_t bottom = ou ? 0 : -top - 1;
    need(bottom <= p[RI_LO] && p[RI_LO] <= p[RI_HI] && p[RI_HI] <= top,
         MP_ERROR_TEXT("bad clamp range for the output type"));
    /* every base + offset inside a: all >= 0 and max base + max offset < elements of a */
    int32_t mb = 0, mr = 0;
    for (int32_t i = 0; i < p[RI_N_OUT]; i++) {
        int32_t v = p[RI_HDR + i];
        need(v >= 0 && v <= DIM_MAX, MP_ERROR_TEXT("offset out of range in p"));
        mb = v > mb ? v : mb;
    }
    for (int32_t i = 0; i < p[RI_N_RED]; i++) {
        int32_t v = p[RI_HDR + p[RI_N_OUT] + i];
        need(v >= 0 && v <= DIM_MAX, MP_ERROR_TEXT("offset out of range in p"));
        mr = v > mr ? v : mr;
    }
    if (p[RI_N_OUT] > 0 && p[RI_N_RED] > 0) {
        need((size_t)(mb + mr) < (la >> (ae - 1)), MP_ERROR_TEXT("a shorter than p says"));
    }
    tk_reduce_int(out, oe, a, ae, au, p);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(reduce_int_obj, 4, 4, reduce_int);
/* ---- copy/requant kernels ---- */

/* ---- float kernels ---- */
/* conv_f32, depthwise_f32, fully_connected_f32, avgpool_f32, maxpool_f32 (float_kernels.c):
   the python kernels' parameter blocks; out/a/b array('f') (or 'f' memoryviews), b =
   [act_min, act_max, bias..., weights...]. Only where float is hardware; elsewhere the
   names are absent and the table keeps the python kernels. */
#if TK_HAVE_FLOAT_DSP
static const float *fk_f32(mp_obj_t o, int writable, size_t *n) {
    mp_buffer_info_t bi;
    mp_get_buffer_raise(o, &bi, writable ? MP_BUFFER_WRITE : MP_BUFFER_READ);
    need((bi.typecode & 0x7F) == 'f' && ((uintptr_t)bi.buf & 3) == 0,
         MP_ERROR_TEXT("float kernels need aligned float32 buffers"));
    *n = bi.len / 4;
    return (const float *)bi.buf;
}

static const int32_t *fk_conv(const mp_obj_t *args, float **out, const float **in,
                              const float **b, int depthwise) {
    size_t np, n_out, n_in, n_b;
    const int32_t *p = get_params(args[3], &np);
    size_t nw = conv_geometry(p, np, depthwise);
    int32_t out_c = p[CV_OUT_C];
    *out = (float *)fk_f32(args[0], 1, &n_out);
    *in = fk_f32(args[1], 0, &n_in);
    *b = fk_f32(args[2], 0, &n_b);
    need(n_out == mul4(p[CV_BATCHES], p[CV_OUT_H], p[CV_OUT_W], out_c),
         MP_ERROR_TEXT("out length does not match p"));
    need(n_in >= mul4(p[CV_BATCHES], p[CV_IN_H], p[CV_IN_W], p[CV_IN_C]),
         MP_ERROR_TEXT("input shorter than p says"));
    need(n_b >= 2 + (size_t)out_c + nw, MP_ERROR_TEXT("b shorter than p says"));
    return p;
}

static mp_obj_t conv_f32(size_t n_args, const mp_obj_t *args) {
    float *out;
    const float *in, *b;
    const int32_t *p = fk_conv(args, &out, &in, &b, 0);
    tk_conv_f32(out, in, b, p);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(conv_f32_obj, 4, 4, conv_f32);

static mp_obj_t depthwise_f32(size_t n_args, const mp_obj_t *args) {
    float *out;
    const float *in, *b;
    const int32_t *p = fk_conv(args, &out, &in, &b, 1);
    tk_depthwise_f32(out, in, b, p);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(depthwise_f32_obj, 4, 4, depthwise_f32);

static mp_obj_t fully_connected_f32(size_t n_args, const mp_obj_t *args) {
    size_t np, n_out, n_in, n_b;
    const int32_t *p = get_params(args[3], &np);
    need(np >= 3, MP_ERROR_TEXT("p too short"));
    check_dims(p, FC_BATCHES, FC_BATCHES, 0);
    check_dims(p, FC_IN, FC_OUT, 1);
    float *out = (float *)fk_f32(args[0], 1, &n_out);
    const float *in = fk_f32(args[1], 0, &n_in);
    const float *b = fk_f32(args[2], 0, &n_b);
    need(n_out == mul_dims(p[FC_BATCHES], p[FC_OUT]), MP_ERROR_TEXT("out length does not match p"));
    need(n_in >= mul_dims(p[FC_BATCHES], p[FC_IN]), MP_ERROR_TEXT("input shorter than p says"));
    need(n_b >= 2 + (size_t)p[FC_OUT] + mul_dims(p[FC_OUT], p[FC_IN]),
         MP_ERROR_TEXT("b shorter than p says"));
    tk_fully_connected_f32(out, in, b, p);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(fully_connected_f32_obj, 4, 4, fully_connected_f32);

static const int32_t *fk_pool(const mp_obj_t *args, float **out, const float **in,
                              const float **b) {
    size_t n_out, n_in, n_b;
    const int32_t *p = pool_params(args[3]);
    *out = (float *)fk_f32(args[0], 1, &n_out);
    *in = fk_f32(args[1], 0, &n_in);
    *b = fk_f32(args[2], 0, &n_b);
    need(n_out == mul4(p[PL_BATCHES], p[PL_OUT_H], p[PL_OUT_W], p[PL_CH]),
         MP_ERROR_TEXT("out length does not match p"));
    need(n_in >= mul4(p[PL_BATCHES], p[PL_IN_H], p[PL_IN_W], p[PL_CH]),
         MP_ERROR_TEXT("input shorter than p says"));
    need(n_b >= 2, MP_ERROR_TEXT("b shorter than p says"));
    return p;
}

static mp_obj_t avgpool_f32(size_t n_args, const mp_obj_t *args) {
    float *out;
    const float *in, *b;
    const int32_t *p = fk_pool(args, &out, &in, &b);
    need(tk_avgpool_f32(out, in, b, p) == 0,
         MP_ERROR_TEXT("average pool window outside the input"));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(avgpool_f32_obj, 4, 4, avgpool_f32);

static mp_obj_t maxpool_f32(size_t n_args, const mp_obj_t *args) {
    float *out;
    const float *in, *b;
    const int32_t *p = fk_pool(args, &out, &in, &b);
    tk_maxpool_f32(out, in, b, p);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(maxpool_f32_obj, 4, 4, maxpool_f32);

static mp_obj_t quantize_f32(size_t n_args, const mp_obj_t *args) {
    size_t np, n_in, n_b;
    const int32_t *p = get_params(args[3], &np);
    need(np == QF_HDR, MP_ERROR_TEXT("p length != 4"));
    check_dims(p, QF_N, QF_N, 0);
    span_t out = get_span(args[0], 1);
    const float *in = fk_f32(args[1], 0, &n_in);
    const float *b = fk_f32(args[2], 0, &n_b);
    need(out.elem != 0, MP_ERROR_TEXT("out must be int8 or int16"));
    check_act(p[QF_LO], p[QF_HI], out.elem);
    check_out(out, mul_dims(p[QF_N], out.elem));
    need(n_in >= (size_t)p[QF_N], MP_ERROR_TEXT("input shorter than p says"));
    need(n_b >= 1, MP_ERROR_TEXT("b must hold the scale"));
    tk_quantize_f32(out.buf, in, b[0], p, out.elem);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(quantize_f32_obj, 4, 4, quantize_f32);

static mp_obj_t dequantize_f32(size_t n_args, const mp_obj_t *args) {
    size_t np, n_out, n_b;
    const int32_t *p = get_params(args[3], &np);
    need(np == DQ_HDR, MP_ERROR_TEXT("p length != 3"));
    check_dims(p, DQ_N, DQ_N, 0);
    check_range(p[DQ_KIND], 0, 2, MP_ERROR_TEXT("kind must be 0, 1 or 2"));
    check_range(p[DQ_ZP], -65536, 65536, MP_ERROR_TEXT("zero point out of range"));
    float *out = (float *)fk_f32(args[0], 1, &n_out);
    span_t in = get_span(args[1], 0);
    const float *b = fk_f32(args[2], 0, &n_b);
    int elem = p[DQ_KIND] == 2 ? 2 : 1;
    need(in.elem == elem, MP_ERROR_TEXT("input type does not match kind"));
    need(n_out == (size_t)p[DQ_N], MP_ERROR_TEXT("out length does not match p"));
    check_in(in, mul_dims(p[DQ_N], elem), MP_ERROR_TEXT("input shorter than p says"));
    need(n_b >= 1, MP_ERROR_TEXT("b must hold the scale"));
    tk_dequantize_f32(out, in.buf, b[0], p);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(dequantize_f32_obj, 4, 4, dequantize_f32);
#endif
/* ---- float kernels ---- */

/* ---- rnn fused ---- */
/* Whole-op recurrent kernels (rnn.h): lstm_int(out, x, bufs, p) runs a whole int8 / 16x8
   UNIDIRECTIONAL_SEQUENCE_LSTM invoke, bufs = (hidden, cell, gates, 4 input weights,
   4 recurrent weights); svdf_int(out, x, bufs, p) a whole integer SVDF invoke, bufs =
   (state, feature weights, time weights). Then lut_int8 and softmax_f32 (activation.h). */
#include "activation.h"

static span_t fused_buf(mp_obj_t o, int writable, int elem, size_t min_len,
                           const char *what) {
    span_t r = rnn_buf(o, writable);
    need(r.elem == elem && r.len >= min_len, what);
    return r;
}

static mp_obj_t *fused_items(mp_obj_t o, size_t n) {
    size_t len;
    mp_obj_t *items;
    mp_obj_get_array(o, &len, &items);
    need(len == n, MP_ERROR_TEXT("wrong number of buffers in b"));
    return items;
}

/* the header and the scalar fields of every block; returns the words of one gate FC block */
static size_t check_lstm_params(const int32_t *p, size_t np) {
    need(np >= RL_FC, MP_ERROR_TEXT("p too short"));
    check_dims(p, RL_BATCH, RL_STEPS, 0);
    /* both FC depths keep the int32 dot product from overflowing (rnn.c) */
    check_range(p[RL_N_IN], 1, 1 << 16, MP_ERROR_TEXT("n_in out of range"));
    check_range(p[RL_N_CELL], 1, 1 << 16, MP_ERROR_TEXT("n_cell out of range"));
    check_range(p[RL_TIME_MAJOR], 0, 1, MP_ERROR_TEXT("bad time_major flag"));
    check_range(p[RL_WIDE], 0, 1, MP_ERROR_TEXT("bad wide flag"));
    int wide = p[RL_WIDE];
    size_t fc_len = RF_BIAS + mul_dims(p[RL_N_CELL], 1 + wide);
    need(np == RL_FC + 8 * fc_len, MP_ERROR_TEXT("p length != 28 + 8 * (9 + n_cell (x2 wide))"));
    check_cell_block(p + RL_CU);
    check_hidden_block(p + RL_HU, 1 + wide);
    for (int g = 0; g < 8; g++) {
        check_gate_block(p + RL_FC + g * fc_len, wide);
    }
    return fc_len;
}

static size_t lstm_int_scratch(const int32_t *p) {
    return tk_rnn_fc_scratch(p[RL_N_IN] > p[RL_N_CELL] ? p[RL_N_IN] : p[RL_N_CELL]);
}

static mp_obj_t lstm_int(size_t n_args, const mp_obj_t *args) {
    size_t np;
    const int32_t *p = get_params(args[3], &np);
    check_lstm_params(p, np);
    int elem = 1 + p[RL_WIDE];
    size_t n_in = p[RL_N_IN], n_cell = p[RL_N_CELL], batch = p[RL_BATCH];
    size_t seq = mul_dims(batch, p[RL_STEPS]), n_state = mul_dims(batch, n_cell);
    size_t rows = p[RL_TIME_MAJOR] ? batch : 1;
    span_t out = rnn_buf(args[0], 1);
    need(out.elem == elem && out.len == mul_dims(mul_dims(seq, n_cell), elem),
         MP_ERROR_TEXT("out length does not match p"));
    span_t x = fused_buf(args[1], 0, elem, mul_dims(mul_dims(seq, n_in), elem),
                            MP_ERROR_TEXT("x shorter than p says (or of the wrong type)"));
    mp_obj_t *b = fused_items(args[2], 11);
    span_t hidden = fused_buf(b[0], 1, elem, mul_dims(n_state, elem),
                                 MP_ERROR_TEXT("hidden shorter than p says (or of the wrong type)"));
    span_t cell = fused_buf(b[1], 1, 2, mul_dims(n_state, 2),
                               MP_ERROR_TEXT("cell must be int16, batch * n_cell long"));
    span_t gates = fused_buf(b[2], 1, 2, mul_dims(mul_dims(4 * rows, n_cell), 2),
                                MP_ERROR_TEXT("gates must be int16, 4 * rows * n_cell long"));
    const int8_t *w[8];
    for (int g = 0; g < 8; g++) {
        w[g] = fused_buf(b[3 + g], 0, 1, mul_dims(n_cell, g < 4 ? n_in : n_cell),
                         MP_ERROR_TEXT("weights must be int8, n_cell * depth long")).buf;
    }
    void *scratch = call_scratch(n_args, args, lstm_int_scratch(p), out.buf, out.len,
                                 x.buf, x.len);
    tk_lstm_int(out.buf, x.buf, hidden.buf, cell.buf, gates.buf, w, p, scratch);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(lstm_int_obj, 4, 5, lstm_int);

static mp_obj_t svdf_int(size_t n_args, const mp_obj_t *args) {
    size_t np;
    const int32_t *p = get_params(args[3], &np);
    need(np >= RSF_BIAS, MP_ERROR_TEXT("p too short"));
    check_dims(p, RSF_FILTERS, RSF_FILTERS, 1);
    size_t nf = RSF_BIAS + (size_t)p[RSF_FILTERS];
    need(np >= nf, MP_ERROR_TEXT("p too short"));
    mp_obj_t *b = fused_items(args[2], 3);
    span_t out = rnn_buf(args[0], 1), x = rnn_buf(args[1], 0);
    span_t state = rnn_buf(b[0], 1), wf = rnn_buf(b[1], 0), wt = rnn_buf(b[2], 0);
    check_svdf_feature(p, nf, state, x, wf);
    const int32_t *pt = p + nf;
    int32_t n_unit = check_svdf_time(pt, np - nf, out, state, wt);
    need(pt[RST_BATCHES] == p[RSF_BATCHES] && pt[RST_FILTERS] == p[RSF_FILTERS] &&
         pt[RST_MEMORY] == p[RSF_MEMORY], MP_ERROR_TEXT("feature and time blocks disagree"));
    tk_svdf_int(out.buf, x.buf, state.buf, wf.buf, wt.buf, p, n_unit, state.elem,
                call_scratch(n_args, args, tk_rnn_fc_scratch(p[RSF_IN]), out.buf, out.len,
                             x.buf, x.len));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(svdf_int_obj, 4, 5, svdf_int);

/* lut_int8(out, a, b, p): p = [n, 256 table bytes] (python_eltwise.lut_int8); b unused. The
   table holds int8 or uint8 outputs (QUANTIZE between int8 and uint8 uses it too). */
static mp_obj_t lut_int8(size_t n_args, const mp_obj_t *args) {
    size_t np;
    const int32_t *p = get_params(args[3], &np);
    need(np == 257, MP_ERROR_TEXT("p length != 257"));
    check_dims(p, 0, 0, 0);
    for (int i = 1; i < 257; i++) {
        check_range(p[i], -128, 255, MP_ERROR_TEXT("table value outside a byte"));
    }
    span_t out = get_span(args[0], 1), in = get_span(args[1], 0);
    need(out.elem == 1 && in.elem == 1, MP_ERROR_TEXT("lut_int8 needs int8 buffers"));
    check_out(out, p[0]);
    check_in(in, p[0], MP_ERROR_TEXT("input shorter than p says"));
    tk_lut_int8(out.buf, in.buf, p + 1, p[0]);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(lut_int8_obj, 4, 4, lut_int8);

#if TK_HAVE_FLOAT_DSP
/* softmax_f32(out, a, b, p): p = [rows, depth], b = [beta] (kernels/python.py) */
static mp_obj_t softmax_f32(size_t n_args, const mp_obj_t *args) {
    size_t np, n_out, n_in, n_b;
    const int32_t *p = get_params(args[3], &np);
    need(np == 2, MP_ERROR_TEXT("p length != 2"));
    check_dims(p, 0, 0, 0);
    check_dims(p, 1, 1, 1);
    float *out = (float *)fk_f32(args[0], 1, &n_out);
    const float *in = fk_f32(args[1], 0, &n_in);
    const float *b = fk_f32(args[2], 0, &n_b);
    size_t n = mul_dims(p[0], p[1]);
    need(n_out == n, MP_ERROR_TEXT("out length does not match p"));
    need(n_in >= n, MP_ERROR_TEXT("input shorter than p says"));
    need(n_b >= 1, MP_ERROR_TEXT("b must hold beta"));
    tk_softmax_f32(out, in, p[0], p[1], b[0]);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(softmax_f32_obj, 4, 4, softmax_f32);
#endif
/* ---- rnn fused ---- */
/* ---- signal ---- */
/* TFLM Signal ops (signal.c) and the int32/float32 elementwise kernels and CAST
   (eltwise32.c), parameter blocks as in python_dsp.signal_* and python_eltwise. */
#include "signal.h"
#include "eltwise32.h"

/* a buffer of elem-byte items, aligned to min(elem, 4); *n = its item count */
static void *sig_buf(mp_obj_t o, int writable, int elem, size_t *n) {
    mp_buffer_info_t bi;
    mp_get_buffer_raise(o, &bi, writable ? MP_BUFFER_RW : MP_BUFFER_READ);
    size_t align = elem < 4 ? (size_t)elem : 4;
    need(((uintptr_t)bi.buf & (align - 1)) == 0 && (bi.len & (size_t)(elem - 1)) == 0,
         MP_ERROR_TEXT("buffer misaligned for its element size"));
    *n = bi.len >> (elem == 8 ? 3 : elem >> 1);
    return bi.buf;
}

static const int32_t *sig_params(mp_obj_t o, size_t want) {
    size_t np;
    const int32_t *p = get_params(o, &np);
    need(np == want, MP_ERROR_TEXT("p has the wrong length"));
    return p;
}

static mp_obj_t signal_window(size_t n_args, const mp_obj_t *args) {
    const int32_t *p = sig_params(args[3], SW_LEN);
    check_dims(p, SW_ROWS, SW_SIZE, 0);
    check_range(p[SW_SHIFT], 0, 31, MP_ERROR_TEXT("shift out of range"));
    size_t no, na, nw, total = mul_dims(p[SW_ROWS], p[SW_SIZE]);
    int16_t *out = sig_buf(args[0], 1, 2, &no);
    const int16_t *a = sig_buf(args[1], 0, 2, &na);
    const int16_t *w = sig_buf(args[2], 0, 2, &nw);
    need(no == total && na >= total && nw >= (size_t)p[SW_SIZE],
         MP_ERROR_TEXT("buffer lengths do not match p"));
    tk_signal_window(out, a, w, p);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(signal_window_obj, 4, 4, signal_window);

/* b: None, or the int32 buffer (SignalFftAutoScale's second output) that takes the shift */
static mp_obj_t signal_fft_auto_scale(size_t n_args, const mp_obj_t *args) {
    const int32_t *p = sig_params(args[3], SA_LEN);
    check_dims(p, SA_N, SA_N, 0);
    size_t no, na, nb = 1;
    int16_t *out = sig_buf(args[0], 1, 2, &no);
    const int16_t *a = sig_buf(args[1], 0, 2, &na);
    int32_t *bits = args[2] == mp_const_none ? NULL : sig_buf(args[2], 1, 4, &nb);
    need(no == (size_t)p[SA_N] && na >= no && nb >= 1,
         MP_ERROR_TEXT("buffer lengths do not match p"));
    int32_t shift = tk_signal_fft_auto_scale(out, a, p);
    if (bits != NULL) {
        bits[0] = shift;
    }
    return MP_OBJ_NEW_SMALL_INT(shift);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(signal_fft_auto_scale_obj, 4, 4,
                                           signal_fft_auto_scale);

/* every butterfly stays inside the n complex points and its twiddle table */
static void check_rfft_stages(const int32_t *st, int32_t stages, int32_t n) {
    for (int32_t s = 0; s < stages; s++, st += 3) {
        need(st[0] == 2 || st[0] == 4, MP_ERROR_TEXT("radix must be 2 or 4"));
        check_range(st[1], 1, n, MP_ERROR_TEXT("stage length out of range"));
        check_range(st[2], 0, n, MP_ERROR_TEXT("stage stride out of range"));
        need(mul_dims(mul_dims(st[0] - 1, st[2]), st[1] - 1) < (size_t)n,
             MP_ERROR_TEXT("twiddle index outside the table"));
    }
}

static mp_obj_t signal_rfft(size_t n_args, const mp_obj_t *args) {
    size_t np;
    const int32_t *p = get_params(args[3], &np);
    need(np >= SR_HDR, MP_ERROR_TEXT("p too short"));
    check_dims(p, SR_ROWS, SR_OUT_LEN, 0);
    check_range(p[SR_N], 2, 1 << 14, MP_ERROR_TEXT("fft size out of range"));
    check_range(p[SR_STAGES], 0, 32, MP_ERROR_TEXT("stage count out of range"));
    need(np == SR_HDR + 3 * (size_t)p[SR_STAGES], MP_ERROR_TEXT("p length != 5 + 3 * stages"));
    int32_t n = p[SR_N];
    need((n & 1) == 0 && p[SR_OUT_LEN] >= 2 * n + 2, MP_ERROR_TEXT("out row shorter than n + 1 bins"));
    check_rfft_stages(p + SR_HDR, p[SR_STAGES], n);
    size_t no, na, nb;
    int16_t *out = sig_buf(args[0], 1, 2, &no);
    const int16_t *a = sig_buf(args[1], 0, 2, &na);
    const int16_t *plan = sig_buf(args[2], 0, 2, &nb);
    need(no == mul_dims(p[SR_ROWS], p[SR_OUT_LEN]) && na >= mul_dims(p[SR_ROWS], p[SR_IN_LEN])
         && nb >= 4 * (size_t)n, MP_ERROR_TEXT("buffer lengths do not match p"));
    tk_signal_rfft(out, a, plan, p);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(signal_rfft_obj, 4, 4, signal_rfft);

static mp_obj_t signal_energy(size_t n_args, const mp_obj_t *args) {
    const int32_t *p = sig_params(args[3], SE_LEN);
    check_dims(p, SE_N_OUT, SE_END, 0);
    size_t no, na;
    uint32_t *out = sig_buf(args[0], 1, 4, &no);
    const int16_t *a = sig_buf(args[1], 0, 2, &na);
    need(p[SE_START] <= p[SE_END] && p[SE_END] <= p[SE_N_OUT], MP_ERROR_TEXT("bad index range"));
    need(no == (size_t)p[SE_N_OUT] && na >= 2 * (size_t)p[SE_END],
         MP_ERROR_TEXT("buffer lengths do not match p"));
    tk_signal_energy(out, a, p);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(signal_energy_obj, 4, 4, signal_energy);

static mp_obj_t signal_filter_bank(size_t n_args, const mp_obj_t *args) {
    size_t np;
    const int32_t *p = get_params(args[3], &np);
    need(np >= SF_HDR, MP_ERROR_TEXT("p too short"));
    check_range(p[SF_MODE], 0, 1, MP_ERROR_TEXT("mode must be 0 or 1"));
    check_dims(p, SF_CHANNELS, SF_CHANNELS, 0);
    size_t c1 = (size_t)p[SF_CHANNELS] + 1;
    need(np == SF_HDR + 3 * c1, MP_ERROR_TEXT("p length != 2 + 3 * (channels + 1)"));
    size_t no, na, nw;
    uint64_t *out = sig_buf(args[0], 1, 8, &no);
    const uint32_t *a = sig_buf(args[1], 0, 4, &na);
    const int16_t *w = sig_buf(args[2], 0, 2, &nw);
    need(no == c1 - 1, MP_ERROR_TEXT("out length does not match p"));
    const int32_t *fs = p + SF_HDR, *ws = fs + c1, *width = ws + c1;
    for (size_t c = 0; c < c1; c++) {
        need(fs[c] >= 0 && ws[c] >= 0 && width[c] >= 0 && fs[c] <= DIM_MAX && ws[c] <= DIM_MAX
             && width[c] <= DIM_MAX, MP_ERROR_TEXT("channel index out of range"));
        need((size_t)fs[c] + width[c] <= na && (size_t)ws[c] + width[c] <= nw,
             MP_ERROR_TEXT("channel reads outside its inputs"));
    }
    tk_signal_filter_bank(out, a, w, p);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(signal_filter_bank_obj, 4, 4, signal_filter_bank);

/* b: the int32 tensor holding the shift (SignalFftAutoScale's output) */
static mp_obj_t signal_filter_bank_sqrt(size_t n_args, const mp_obj_t *args) {
    const int32_t *p = sig_params(args[3], 1);
    check_dims(p, 0, 0, 0);
    size_t no, na, nb;
    uint32_t *out = sig_buf(args[0], 1, 4, &no);
    const uint64_t *a = sig_buf(args[1], 0, 8, &na);
    const int32_t *bits = sig_buf(args[2], 0, 4, &nb);
    need(no == (size_t)p[0] && na >= no && nb >= 1, MP_ERROR_TEXT("buffer lengths do not match p"));
    need(bits[0] >= 0, MP_ERROR_TEXT("negative shift count"));
    tk_signal_filter_bank_sqrt(out, a, p[0], bits[0]);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(signal_filter_bank_sqrt_obj, 4, 4,
                                           signal_filter_bank_sqrt);

/* b: the noise estimate state, updated in place */
static mp_obj_t signal_spectral_subtraction(size_t n_args, const mp_obj_t *args) {
    const int32_t *p = sig_params(args[3], SS_LEN);
    check_dims(p, SS_N, SS_N, 0);
    for (int i = SS_SMOOTH; i <= SS_MIN_REMAINING; i++) {
        check_range(p[i], 0, 65535, MP_ERROR_TEXT("smoothing value out of range"));
    }
    check_range(p[SS_SMOOTH_BITS], 0, 31, MP_ERROR_TEXT("shift out of range"));
    check_range(p[SS_SUB_BITS], 0, 31, MP_ERROR_TEXT("shift out of range"));
    check_range(p[SS_CLAMPING], 0, 1, MP_ERROR_TEXT("clamping must be 0 or 1"));
    size_t no, na, nb;
    uint32_t *out = sig_buf(args[0], 1, 4, &no);
    const uint32_t *a = sig_buf(args[1], 0, 4, &na);
    uint32_t *noise = sig_buf(args[2], 1, 4, &nb);
    need(no == (size_t)p[SS_N] && na >= no && nb >= no, MP_ERROR_TEXT("buffer lengths do not match p"));
    tk_signal_spectral_subtraction(out, a, noise, p);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(signal_spectral_subtraction_obj, 4, 4,
                                           signal_spectral_subtraction);

/* b: the noise estimate; p carries the gain LUT */
static mp_obj_t signal_pcan(size_t n_args, const mp_obj_t *args) {
    const int32_t *p = sig_params(args[3], SP_LUT + SP_LUT_LEN);
    check_dims(p, SP_N, SP_N, 0);
    check_range(p[SP_SNR_SHIFT], 0, 63, MP_ERROR_TEXT("shift out of range"));
    for (int i = 0; i < SP_LUT_LEN; i++) {
        check_range(p[SP_LUT + i], -32768, 32767, MP_ERROR_TEXT("gain LUT entry is not int16"));
    }
    size_t no, na, nb;
    uint32_t *out = sig_buf(args[0], 1, 4, &no);
    const uint32_t *a = sig_buf(args[1], 0, 4, &na);
    const uint32_t *noise = sig_buf(args[2], 0, 4, &nb);
    need(no == (size_t)p[SP_N] && na >= no && nb >= no, MP_ERROR_TEXT("buffer lengths do not match p"));
    tk_signal_pcan(out, a, noise, p);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(signal_pcan_obj, 4, 4, signal_pcan);

static mp_obj_t signal_filter_bank_log(size_t n_args, const mp_obj_t *args) {
    const int32_t *p = sig_params(args[3], SL_LEN);
    check_dims(p, SL_N, SL_N, 0);
    check_range(p[SL_BITS], 0, 31, MP_ERROR_TEXT("shift out of range"));
    size_t no, na;
    int16_t *out = sig_buf(args[0], 1, 2, &no);
    const uint32_t *a = sig_buf(args[1], 0, 4, &na);
    need(no == (size_t)p[SL_N] && na >= no, MP_ERROR_TEXT("buffer lengths do not match p"));
    tk_signal_filter_bank_log(out, a, p);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(signal_filter_bank_log_obj, 4, 4,
                                           signal_filter_bank_log);

/* the broadcast header: dims >= 0 (d4 >= 1 unless empty), strides >= 0; returns the output
   element count and checks that a and b hold every element the strides reach */
static size_t bc_check(const int32_t *p, size_t na, size_t nb) {
    check_dims(p, BC_D0, BC_D4, 0);
    check_dims(p, BC_SA0, BC_SB4, 0);
    size_t n = mul_dims(mul_dims(p[0], p[1]), mul4(p[2], p[3], p[4], 1));
    if (n == 0) {
        return 0;
    }
    size_t last_a = 0, last_b = 0;
    for (int d = 0; d < 5; d++) {
        last_a += mul_dims(p[d] - 1, p[BC_SA0 + d]);
        last_b += mul_dims(p[d] - 1, p[BC_SB0 + d]);
        need(last_a <= DIM_MAX * 5 && last_b <= DIM_MAX * 5, MP_ERROR_TEXT("stride too large"));
    }
    need(last_a < na && last_b < nb, MP_ERROR_TEXT("input shorter than p says"));
    return n;
}

static mp_obj_t binary_int32(size_t n_args, const mp_obj_t *args) {
    const int32_t *p = sig_params(args[3], BI_LEN);
    check_range(p[BI_OP], EW_ADD, EW_PRELU, MP_ERROR_TEXT("unknown op code"));
    need(p[BI_LO] <= p[BI_HI], MP_ERROR_TEXT("bad activation range"));
    size_t no, na, nb;
    int32_t *out = sig_buf(args[0], 1, 4, &no);
    const int32_t *a = sig_buf(args[1], 0, 4, &na);
    const int32_t *b = sig_buf(args[2], 0, 4, &nb);
    need(no == bc_check(p, na, nb), MP_ERROR_TEXT("out length does not match p"));
    if (tk_binary_int32(out, a, b, p)) {
        mp_raise_msg((mp_obj_type_t *)mp_load_global(MP_QSTR_ZeroDivisionError),
                     MP_ERROR_TEXT("int32 DIV by zero"));
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(binary_int32_obj, 4, 4, binary_int32);

static mp_obj_t minmax(size_t n_args, const mp_obj_t *args) {
    const int32_t *p = sig_params(args[3], MM_LEN);
    check_range(p[MM_MAX], 0, 1, MP_ERROR_TEXT("p[15] must be 0 or 1"));
    check_range(p[MM_DTYPE], DT_INT8, DT_FLOAT32, MP_ERROR_TEXT("unknown dtype code"));
    int elem = p[MM_DTYPE] == DT_INT8 ? 1 : (p[MM_DTYPE] == DT_INT16 ? 2 : 4);
    size_t no, na, nb;
    void *out = sig_buf(args[0], 1, elem, &no);
    const void *a = sig_buf(args[1], 0, elem, &na);
    const void *b = sig_buf(args[2], 0, elem, &nb);
    need(no == bc_check(p, na, nb), MP_ERROR_TEXT("out length does not match p"));
    tk_minmax(out, a, b, p);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(minmax_obj, 4, 4, minmax);

static void cast_checked(const mp_obj_t *args, int allow_float) {
    const int32_t *p = sig_params(args[3], CA_LEN);
    check_dims(p, CA_N, CA_N, 0);
    check_range(p[CA_SRC], 0, CT_COUNT - 1, MP_ERROR_TEXT("unknown dtype code"));
    check_range(p[CA_DST], 0, CT_COUNT - 1, MP_ERROR_TEXT("unknown dtype code"));
    need(allow_float || (p[CA_SRC] != CT_FLOAT32 && p[CA_DST] != CT_FLOAT32),
         MP_ERROR_TEXT("float32 casts are cast_float"));
    size_t no, na;
    void *out = sig_buf(args[0], 1, tk_cast_elem_size(p[CA_DST]), &no);
    const void *a = sig_buf(args[1], 0, tk_cast_elem_size(p[CA_SRC]), &na);
    need(no == (size_t)p[CA_N] && na >= no, MP_ERROR_TEXT("buffer lengths do not match p"));
    tk_cast(out, a, p);
}

static mp_obj_t cast(size_t n_args, const mp_obj_t *args) {
    cast_checked(args, 0);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(cast_obj, 4, 4, cast);

#if TK_HAVE_FLOAT_DSP
static mp_obj_t cast_float(size_t n_args, const mp_obj_t *args) {
    cast_checked(args, 1);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(cast_float_obj, 4, 4, cast_float);

static mp_obj_t binary_float(size_t n_args, const mp_obj_t *args) {
    const int32_t *p = sig_params(args[3], BF_LEN);
    check_range(p[BF_OP], EW_ADD, EW_PRELU, MP_ERROR_TEXT("unknown op code"));
    check_range(p[BF_ACT], 0, 4, MP_ERROR_TEXT("unknown activation code"));
    size_t no, na, nb;
    float *out = sig_buf(args[0], 1, 4, &no);
    const float *a = sig_buf(args[1], 0, 4, &na);
    const float *b = sig_buf(args[2], 0, 4, &nb);
    need(no == bc_check(p, na, nb), MP_ERROR_TEXT("out length does not match p"));
    tk_binary_float(out, a, b, p);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(binary_float_obj, 4, 4, binary_float);
#endif
/* ---- signal ---- */
/* ---- steps ---- */

/* scratch_bytes(fn, p): the scratch bytes the call fn(out, a, b, p, scratch) needs, after the
   checks fn makes of p; 0 for kernels that need none. Model plans it in the arena. */
static mp_obj_t scratch_bytes(mp_obj_t fn, mp_obj_t p_obj) {
    size_t n = 0, np, n_filter;
    const void *f = MP_OBJ_TO_PTR(fn);
    if (f == &conv_s8_obj) {
        n = tk_conv_s8_scratch(conv_s8_params(p_obj, 0, &n_filter));
    } else if (f == &depthwise_s8_obj) {
        n = tk_depthwise_s8_scratch(conv_s8_params(p_obj, 1, &n_filter));
    } else if (f == &fully_connected_s8_obj) {
        n = tk_fully_connected_s8_scratch(fc_s8_params(p_obj));
    } else if (f == &fully_connected_s8_packed_obj) {
        n = tk_fully_connected_s8_packed_scratch(fc_s8_params(p_obj));
    } else if (f == &lstm_int_obj) {
        const int32_t *p = get_params(p_obj, &np);
        check_lstm_params(p, np);
        n = lstm_int_scratch(p);
    } else if (f == &svdf_int_obj) {
        const int32_t *p = get_params(p_obj, &np);
        need(np > RSF_IN, MP_ERROR_TEXT("p too short"));
        check_range(p[RSF_IN], 1, 1 << 16, MP_ERROR_TEXT("n_input above 65536"));
        n = tk_rnn_fc_scratch(p[RSF_IN]);
    }
    return mp_obj_new_int_from_uint(n);
}
static MP_DEFINE_CONST_FUN_OBJ_2(scratch_bytes_obj, scratch_bytes);

/* pack_weights(fn, p, w): (fn', w') to call instead of fn(out, in, w, p) when the arch runs
   the layer faster from weights laid out once (fully_connected_s8 small enough: the quads
   stream, kernels.h), else None. Model calls it at load. */
static mp_obj_t pack_weights(mp_obj_t fn, mp_obj_t p_obj, mp_obj_t w_obj) {
    if (MP_OBJ_TO_PTR(fn) != &fully_connected_s8_obj) {
        return mp_const_none;
    }
    const int32_t *p = fc_s8_params(p_obj);
    span_t w = get_span(w_obj, 0);
    check_in(w, mul_dims(p[FC_OUT], p[FC_IN]), MP_ERROR_TEXT("weights shorter than p says"));
    size_t n = tk_fully_connected_s8_packed_bytes(p);
    if (n == 0) {
        return mp_const_none;
    }
    int32_t *stream = m_malloc(n);
    if (stream == NULL) {
        mp_raise_msg((mp_obj_type_t *)mp_load_global(MP_QSTR_MemoryError),
                     "tinyml: no heap for packed weights");
    }
    tk_fully_connected_s8_pack(stream, w.buf, p);
    mp_obj_t pair[2] = {MP_OBJ_FROM_PTR(&fully_connected_s8_packed_obj),
                        mp_obj_new_bytearray_by_ref(n, stream)};
    return mp_obj_new_tuple(2, pair);
}
static MP_DEFINE_CONST_FUN_OBJ_3(pack_weights_obj, pack_weights);

/* One invoke's run steps walked in C (Model.invoke on this backend): a step is a tuple
   (fn, out, a, b, p), called as fn(out, a, b, p), or (fn, out, a, b, p, scratch), called as
   fn(out, a, b, p, scratch), or any other object, called with no arguments. Exceptions propagate unchanged. Only a tuple of steps is taken: a list could be
   resized by a step while its items are walked. */
static mp_obj_t run_steps(mp_obj_t steps_in) {
    const mp_obj_type_t *tuple_type = &mp_type_tuple;
    if (mp_obj_get_type(steps_in) != tuple_type) {
        mp_raise_TypeError(MP_ERROR_TEXT("run_steps takes a tuple of steps"));
    }
    mp_obj_tuple_t *steps = MP_OBJ_TO_PTR(steps_in);
    for (size_t i = 0; i < steps->len; i++) {
        mp_obj_t step = steps->items[i];
        if (mp_obj_get_type(step) != tuple_type) {
            mp_call_function_n_kw(step, 0, 0, NULL);
            continue;
        }
        mp_obj_tuple_t *call = MP_OBJ_TO_PTR(step);
        need(call->len == 5 || call->len == 6,
             MP_ERROR_TEXT("a kernel step is (fn, out, a, b, p[, scratch])"));
        mp_call_function_n_kw(call->items[0], call->len - 1, 0, call->items + 1);
    }
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_1(run_steps_obj, run_steps);
