/* copy_strided job layout (element units), see device/tinyml/kernels/python_copy.py */
#ifndef TK_COPY_H
#define TK_COPY_H
#include <stddef.h>
#include <stdint.h>

/* p = [elem, n_jobs, job 0 (CJ_LEN words), job 1, ...] */
enum { CP_ELEM, CP_JOBS, CP_HDR };
enum {
    CJ_MODE, CJ_FILL, CJ_N0, CJ_N1, CJ_N2, CJ_N3, CJ_DOFF, CJ_D0, CJ_D1, CJ_D2, CJ_D3,
    CJ_SOFF, CJ_S0, CJ_S1, CJ_S2, CJ_S3, CJ_LEN
};
void tk_copy_job(uint8_t *out, const uint8_t *a, const int32_t *job, int elem);

/* requant_int16: p as in python_eltwise.requant_int16 */
enum { RQ_N, RQ_IZP, RQ_OZP, RQ_MPOS, RQ_SPOS, RQ_MNEG, RQ_SNEG, RQ_NEGATE, RQ_LO, RQ_HI, RQ_MODE,
       RQ_LEN };
void tk_requant_int16(void *out, int oe, const void *a, int ae, int au, const int32_t *p);

/* reduce_int: p as in python_eltwise.reduce_int */
enum { RI_N_OUT, RI_N_RED, RI_IZP, RI_OZP, RI_MULT, RI_SHIFT, RI_LO, RI_HI, RI_HDR };
void tk_reduce_int(void *out, int oe, const void *a, int ae, int au, const int32_t *p);
#endif
