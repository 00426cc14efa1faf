/* Float32 kernels: native twins of conv_f32, depthwise_f32, fully_connected_f32,
   avgpool_f32, maxpool_f32 in device/tinyml/kernels/python.py (same parameter blocks).
   Plain C99, no MicroPython headers. Built only where single-precision float is hardware
   (TK_HAVE_FLOAT_DSP, dsp.h): armv6m/armv7m soft-float would need libgcc helpers, so the
   names are absent there and the kernel table falls back to the python kernels.
   Accumulation in float32 in TFLM's reference order: bias added after the sum, then clamp.
   b (float32): [act_min, act_max, bias[out], weights...] as documented in python.py. */
#ifndef TK_FLOAT_KERNELS_H
#define TK_FLOAT_KERNELS_H
#include <stddef.h>
#include <stdint.h>
#include "dsp.h"
#include "kernels.h"

#if TK_HAVE_FLOAT_DSP
/* the binding has checked every dimension and every buffer length */
void tk_conv_f32(float *out, const float *in, const float *b, const int32_t *p);
void tk_depthwise_f32(float *out, const float *in, const float *b, const int32_t *p);
void tk_fully_connected_f32(float *out, const float *in, const float *b, const int32_t *p);
/* returns -1 when a window has no input pixel (python raises ValueError) */
int tk_avgpool_f32(float *out, const float *in, const float *b, const int32_t *p);
void tk_maxpool_f32(float *out, const float *in, const float *b, const int32_t *p);

/* quantize_f32(out, a, b, p): QUANTIZE float32 -> int8/int16 (out's typecode), b = [scale],
   p = [n, zero_point, lo, hi] (the output type's range) */
enum { QF_N, QF_ZP, QF_LO, QF_HI, QF_HDR };
void tk_quantize_f32(void *out, const float *in, float scale, const int32_t *p, int elem);
/* dequantize_f32(out, a, b, p): DEQUANTIZE int8/uint8/int16 -> float32, b = [scale],
   p = [n, zero_point, kind] with kind 0 int8, 1 uint8, 2 int16 */
enum { DQ_N, DQ_ZP, DQ_KIND, DQ_HDR };
void tk_dequantize_f32(float *out, const void *in, float scale, const int32_t *p);
#endif
#endif
