/* Kernel entry points shared by the binding, the host harness and the QEMU harness.
   Plain C99: no MicroPython headers. Each kernel reads its shapes and quantization from the
   int32 parameter block p whose layout matches device/tinyml/kernels/python.py. */
#ifndef TK_KERNELS_H
#define TK_KERNELS_H
#include <stddef.h>
#include <stdint.h>

/* fully_connected_s8(out, in, weights, p)
   p: batches, n_in, n_out, in_offset, out_offset, act_min, act_max,
      bias[n_out], multiplier[n_out], shift[n_out]                              */
enum { FC_BATCHES, FC_IN, FC_OUT, FC_IN_OFFSET, FC_OUT_OFFSET, FC_ACT_MIN, FC_ACT_MAX, FC_HDR };
void tk_fully_connected_s8(int8_t *out, const int8_t *in, const int8_t *w, const int32_t *p);
void tk_fully_connected_s8_ref(int8_t *out, const int8_t *in, const int8_t *w, const int32_t *p);

#endif
