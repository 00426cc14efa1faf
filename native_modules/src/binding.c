/* The only file that sees MicroPython: argument checking and dispatch to the C kernels.
   Every kernel is called as kernel(out, a, b, p); each buffer length is checked against what
   the parameter block says the kernel will touch, so no argument can make a kernel read or
   write out of bounds. */
#include "py/dynruntime.h"
#include "kernels.h"

typedef struct {
    void *buf;
    size_t len;      /* in bytes */
} span_t;

static span_t get_span(mp_obj_t o, int writable) {
    mp_buffer_info_t bi;
    mp_get_buffer_raise(o, &bi, writable ? MP_BUFFER_WRITE : MP_BUFFER_READ);
    span_t s = {bi.buf, bi.len};
    return s;
}

/* The parameter block: an array('i') (4-byte items); returns its int32 words. */
static const int32_t *get_params(mp_obj_t o, size_t *n_words) {
    mp_buffer_info_t bi;
    mp_get_buffer_raise(o, &bi, MP_BUFFER_READ);
    if (bi.typecode != 'i' && bi.typecode != 'l') {
        mp_raise_ValueError(MP_ERROR_TEXT("p must be array('i')"));
    }
    if (((uintptr_t)bi.buf & 3) != 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("p misaligned"));
    }
    *n_words = bi.len / 4;
    return (const int32_t *)bi.buf;
}

static void need(int ok, const char *what) {
    if (!ok) {
        mp_raise_ValueError(what);
    }
}

static int bit_length(size_t v) {
    int n = 0;
    while (v) {
        v >>= 1;
        n++;
    }
    return n;
}

/* a*b for a, b < 2**31; raises when the product may reach 2**30 (no division: armv6m has none) */
static size_t mul_dims(size_t a, size_t b) {
    need(bit_length(a) + bit_length(b) <= 31, MP_ERROR_TEXT("shape too large"));
    return a * b;
}

static void check_dim(int32_t v, int32_t lo) {
    need(v >= lo && v <= (1 << 24), MP_ERROR_TEXT("bad dimension in p"));
}

static void check_shifts(const int32_t *shift, int32_t n) {
    for (int32_t i = 0; i < n; i++) {
        need(shift[i] >= -31 && shift[i] <= 31, MP_ERROR_TEXT("shift out of range"));
    }
}

static void check_act(int32_t lo, int32_t hi) {
    need(-128 <= lo && lo <= hi && hi <= 127, MP_ERROR_TEXT("bad activation range"));
}

static void check_offset(int32_t v) {
    need(v >= -255 && v <= 255, MP_ERROR_TEXT("offset out of range"));
}

/* ---- fully connected ---- */
static mp_obj_t fully_connected_s8(size_t n_args, const mp_obj_t *args) {
    size_t np;
    const int32_t *p = get_params(args[3], &np);
    need(np >= FC_HDR, MP_ERROR_TEXT("p too short"));
    check_dim(p[FC_BATCHES], 0);
    check_dim(p[FC_IN], 1);
    check_dim(p[FC_OUT], 1);
    need(np == (size_t)FC_HDR + 3 * (size_t)p[FC_OUT], MP_ERROR_TEXT("p length != header + 3*n_out"));
    check_offset(p[FC_IN_OFFSET]);
    check_offset(p[FC_OUT_OFFSET]);
    check_act(p[FC_ACT_MIN], p[FC_ACT_MAX]);
    check_shifts(p + FC_HDR + 2 * p[FC_OUT], p[FC_OUT]);
    span_t out = get_span(args[0], 1), in = get_span(args[1], 0), w = get_span(args[2], 0);
    need(out.len == mul_dims(p[FC_BATCHES], p[FC_OUT]), MP_ERROR_TEXT("out length"));
    need(in.len == mul_dims(p[FC_BATCHES], p[FC_IN]), MP_ERROR_TEXT("input length"));
    need(w.len == mul_dims(p[FC_OUT], p[FC_IN]), MP_ERROR_TEXT("weights length"));
    tk_fully_connected_s8(out.buf, in.buf, w.buf, p);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(fully_connected_s8_obj, 4, 4, fully_connected_s8);

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    MP_DYNRUNTIME_INIT_ENTRY
    mp_store_global(MP_QSTR_ABI, MP_OBJ_NEW_SMALL_INT(1));
    mp_store_global(MP_QSTR_fully_connected_s8, MP_OBJ_FROM_PTR(&fully_connected_s8_obj));
    MP_DYNRUNTIME_INIT_EXIT
}
