/* int32 / float32 elementwise kernels and CAST: native twins of binary_int32, minmax,
   binary_float and cast in device/tinyml/kernels/python_eltwise.py (same parameter blocks:
   the 15-int broadcast header, then the kernel's own ints). Plain C99, no MicroPython
   headers, no libgcc: int32 division by shifts where the core has no divide instruction,
   float compares of MAXIMUM/MINIMUM on the bit patterns (every arch); binary_float and the
   float casts only where float32 is hardware (TK_HAVE_FLOAT_DSP). */
#ifndef TK_ELTWISE32_H
#define TK_ELTWISE32_H
#include <stddef.h>
#include <stdint.h>
#include "dsp.h"
#include "kernels.h"

/* the broadcast header (BC_HDR ints, kernels.h): out dims d0..d4, a strides, b strides */
enum { BC_D0, BC_D4 = 4, BC_SA0, BC_SA4 = 9, BC_SB0, BC_SB4 = 14 };

/* binary_int32: p[BC_HDR] op, then act_min, act_max. Returns 0, or -1 at the first zero
   divisor (the outputs before it are written, as the python twin leaves them). */
enum { BI_OP = BC_HDR, BI_LO, BI_HI, BI_LEN };
enum { EW_ADD, EW_SUB, EW_MUL, EW_DIV, EW_MAX, EW_MIN, EW_SQDIFF, EW_PRELU };
int tk_binary_int32(int32_t *out, const int32_t *a, const int32_t *b, const int32_t *p);

/* minmax: p[BC_HDR] 1 MAXIMUM / 0 MINIMUM, then the dtype code */
enum { MM_MAX = BC_HDR, MM_DTYPE, MM_LEN };
enum { DT_INT8, DT_INT16, DT_INT32, DT_FLOAT32 };
void tk_minmax(void *out, const void *a, const void *b, const int32_t *p);

/* cast: p = [n, src code, dst code] */
enum { CA_N, CA_SRC, CA_DST, CA_LEN };
enum { CT_INT8, CT_INT16, CT_INT32, CT_UINT32, CT_FLOAT32, CT_BOOL, CT_COUNT };
int tk_cast_elem_size(int32_t code);
/* integer/bool pairs everywhere; pairs with float32 need TK_HAVE_FLOAT_DSP (else unchanged) */
void tk_cast(void *out, const void *a, const int32_t *p);

#if TK_HAVE_FLOAT_DSP
/* binary_float: p[BC_HDR] op, then the activation clamp code (0 none, 1 RELU,
   2 RELU_N1_TO_1, 3 RELU6, 4 +-FLT_MAX) */
enum { BF_OP = BC_HDR, BF_ACT, BF_LEN };
void tk_binary_float(float *out, const float *a, const float *b, const int32_t *p);
#endif
#endif
