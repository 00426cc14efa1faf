/* Kernel entry points shared by the binding, the host harness and the QEMU harness.
   Plain C99: no MicroPython headers. Each kernel reads shapes and quantization from the int32
   parameter block p, laid out exactly as documented in device/tinyml/kernels/python.py and
   python_eltwise.py. Kernels that need scratch memory say how much via *_scratch(p). */
#ifndef TK_KERNELS_H
#define TK_KERNELS_H
#include <stddef.h>
#include <stdint.h>

/* conv_s8 / depthwise_s8: CONV_HEADER (20 ints) then bias, multiplier, shift [out_c] */
enum {
    CV_BATCHES, CV_IN_H, CV_IN_W, CV_IN_C, CV_OUT_H, CV_OUT_W, CV_OUT_C, CV_K_H, CV_K_W,
    CV_STRIDE_H, CV_STRIDE_W, CV_DIL_H, CV_DIL_W, CV_PAD_TOP, CV_PAD_LEFT,
    CV_IN_OFFSET, CV_OUT_OFFSET, CV_ACT_MIN, CV_ACT_MAX, CV_DEPTH_MULT, CV_HDR
};
size_t tk_conv_s8_scratch(const int32_t *p);
void tk_conv_s8(int8_t *out, const int8_t *in, const int8_t *w, const int32_t *p, void *scratch);
void tk_conv_s8_ref(int8_t *out, const int8_t *in, const int8_t *w, const int32_t *p);

size_t tk_depthwise_s8_scratch(const int32_t *p);
void tk_depthwise_s8(int8_t *out, const int8_t *in, const int8_t *w, const int32_t *p,
                     void *scratch);
void tk_depthwise_s8_ref(int8_t *out, const int8_t *in, const int8_t *w, const int32_t *p);

/* fully_connected_s8: FC_HEADER (7 ints) then bias, multiplier, shift [n_out] */
enum { FC_BATCHES, FC_IN, FC_OUT, FC_IN_OFFSET, FC_OUT_OFFSET, FC_ACT_MIN, FC_ACT_MAX, FC_HDR };
size_t tk_fully_connected_s8_scratch(const int32_t *p);
void tk_fully_connected_s8(int8_t *out, const int8_t *in, const int8_t *w, const int32_t *p,
                           void *scratch);
void tk_fully_connected_s8_ref(int8_t *out, const int8_t *in, const int8_t *w, const int32_t *p);
/* the same with the weights laid out once (at load) as a stream of packed_bytes(p) bytes, 4-byte
   aligned; packed_bytes is 0 where the arch or the layer has no such form. stream_bytes: the
   stream's size whether or not the layer's requantization fits it (what the kernel reads) */
size_t tk_fully_connected_s8_packed_bytes(const int32_t *p);
size_t tk_fully_connected_s8_stream_bytes(const int32_t *p);
void tk_fully_connected_s8_pack(int32_t *stream, const int8_t *w, const int32_t *p);
size_t tk_fully_connected_s8_packed_scratch(const int32_t *p);
void tk_fully_connected_s8_packed(int8_t *out, const int8_t *in, const int32_t *stream,
                                  const int32_t *p, void *scratch);

/* avgpool_s8 / maxpool_s8: POOL_HEADER (14 ints); elements are int8 or int16 (elem_size) */
enum {
    PL_BATCHES, PL_IN_H, PL_IN_W, PL_CH, PL_OUT_H, PL_OUT_W, PL_K_H, PL_K_W,
    PL_STRIDE_H, PL_STRIDE_W, PL_PAD_TOP, PL_PAD_LEFT, PL_ACT_MIN, PL_ACT_MAX, PL_HDR
};
/* returns 0, or -1 when a window lies entirely outside the input (average pool) */
int tk_avgpool(void *out, const void *in, const int32_t *p, int elem_size);
void tk_maxpool(void *out, const void *in, const int32_t *p, int elem_size);

/* softmax_s8: rows, depth, input_multiplier, input_left_shift, diff_min, output bits (8|16) */
enum { SM_ROWS, SM_DEPTH, SM_MULT, SM_LSHIFT, SM_DIFF_MIN, SM_BITS, SM_HDR };
void tk_softmax_s8(void *out, const int8_t *in, const int32_t *p);

/* add_int8 / mul_int8: 5-dim broadcast header (15 ints) then the op's own parameters */
enum { BC_DIMS = 5, BC_HDR = 15 };
enum { ADD_OUT_OFFSET = 15, ADD_OUT_MULT, ADD_OUT_SHIFT, ADD_ACT_MIN, ADD_ACT_MAX,
       ADD_TABLE_A = 20, ADD_TABLE_B = 276, ADD_LEN = 532 };
enum { MUL_IN1_OFFSET = 15, MUL_IN2_OFFSET, MUL_OUT_OFFSET, MUL_OUT_MULT, MUL_OUT_SHIFT,
       MUL_ACT_MIN, MUL_ACT_MAX, MUL_LEN };
void tk_add_int8(int8_t *out, const int8_t *a, const int8_t *b, const int32_t *p);
/* elem_size 1: int8, 2: int16 (mul_int16 shares the layout) */
void tk_mul_q(void *out, const void *a, const void *b, const int32_t *p, int elem_size);

#endif
