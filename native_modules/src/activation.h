/* Float SOFTMAX and the int8 lookup-table activation: C twins of kernels/python.py
   softmax_f32 and python_eltwise.lut_int8 (implemented in softmax.c). Plain C99, no
   MicroPython headers, no libm: tk_expf is our own. */
#ifndef TK_ACTIVATION_H
#define TK_ACTIVATION_H
#include <stdint.h>
#include "dsp.h"

/* lut_int8: out[i] = table[in[i] & 255] for i < n; table holds 256 int8 values as int32 */
void tk_lut_int8(int8_t *out, const int8_t *in, const int32_t *table, int32_t n);

#if TK_HAVE_FLOAT_DSP
/* e**x in float32, within 2 ulp of the exact value (0 below -104, +inf above 88.73) */
float tk_expf(float x);
/* softmax_f32: TFLM's reference float softmax over rows of depth values, float32
   arithmetic throughout: exp((x - max) * beta), their sum, each exp divided by the sum */
void tk_softmax_f32(float *out, const float *in, int32_t rows, int32_t depth, float beta);
#endif
#endif
