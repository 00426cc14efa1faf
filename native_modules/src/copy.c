/* copy_strided: strided/blocked copy and fill jobs for the data-movement ops (PAD, TRANSPOSE,
   CONCATENATION, STRIDED_SLICE, SPLIT, ...), layout as device/tinyml/kernels/python_copy.py.
   Plain C99, no MicroPython headers; the binding has checked every offset. */
#include "copy.h"

static void copy_bytes(uint8_t *d, const uint8_t *s, int32_t n) {
    if ((((uintptr_t)d ^ (uintptr_t)s) & 3) == 0) {
        while (n > 0 && ((uintptr_t)d & 3)) {
            *d++ = *s++;
            n--;
        }
        uint32_t *dw = (uint32_t *)d;
        const uint32_t *sw = (const uint32_t *)s;
        while (n >= 16) {
            dw[0] = sw[0];
            dw[1] = sw[1];
            dw[2] = sw[2];
            dw[3] = sw[3];
            dw += 4;
            sw += 4;
            n -= 16;
        }
        while (n >= 4) {
            *dw++ = *sw++;
            n -= 4;
        }
        d = (uint8_t *)dw;
        s = (const uint8_t *)sw;
    }
    while (n > 0) {
        *d++ = *s++;
        n--;
    }
}

/* n elements of elem bytes, the value in v[0..elem) */
static void fill_row(uint8_t *d, const uint8_t *v, int elem, int32_t n) {
    if (elem == 1) {
        uint8_t b = v[0];
        while (n > 0 && ((uintptr_t)d & 3)) {
            *d++ = b;
            n--;
        }
        uint32_t w = b * 0x01010101u;
        uint32_t *dw = (uint32_t *)d;
        while (n >= 4) {
            *dw++ = w;
            n -= 4;
        }
        d = (uint8_t *)dw;
        while (n > 0) {
            *d++ = b;
            n--;
        }
        return;
    }
    for (int32_t i = 0; i < n; i++) {
        for (int k = 0; k < elem; k++) {
            *d++ = v[k];
        }
    }
}

void tk_copy_job(uint8_t *out, const uint8_t *a, const int32_t *job, int elem) {
    const int32_t *n = job + CJ_N0, *ds = job + CJ_D0, *ss = job + CJ_S0;
    int fill = job[CJ_MODE];
    uint8_t v[4];
    uint32_t raw = (uint32_t)job[CJ_FILL];
    for (int k = 0; k < 4; k++) {
        v[k] = (uint8_t)(raw >> (8 * k));
    }
    if (n[0] <= 0 || n[1] <= 0 || n[2] <= 0 || n[3] <= 0) {
        return;
    }
    /* byte strides */
    int32_t d0 = ds[0] * elem, d1 = ds[1] * elem, d2 = ds[2] * elem, d3 = ds[3] * elem;
    int32_t s0 = ss[0] * elem, s1 = ss[1] * elem, s2 = ss[2] * elem, s3 = ss[3] * elem;
    int32_t n3 = n[3];
    int row_dst = ds[3] == 1;
    uint8_t *o0 = out + job[CJ_DOFF] * elem;
    const uint8_t *a0 = fill ? a : a + job[CJ_SOFF] * elem;
    for (int32_t i0 = 0; i0 < n[0]; i0++, o0 += d0, a0 += s0) {
        uint8_t *o1 = o0;
        const uint8_t *a1 = a0;
        for (int32_t i1 = 0; i1 < n[1]; i1++, o1 += d1, a1 += s1) {
            uint8_t *o2 = o1;
            const uint8_t *a2 = a1;
            for (int32_t i2 = 0; i2 < n[2]; i2++, o2 += d2, a2 += s2) {
                if (fill) {
                    if (row_dst) {
                        fill_row(o2, v, elem, n3);
                    } else {
                        uint8_t *o = o2;
                        for (int32_t i = 0; i < n3; i++, o += d3) {
                            for (int k = 0; k < elem; k++) {
                                o[k] = v[k];
                            }
                        }
                    }
                } else if (row_dst && ss[3] == 1) {
                    copy_bytes(o2, a2, n3 * elem);
                } else if (elem == 1) {
                    uint8_t *o = o2;
                    const uint8_t *s = a2;
                    int32_t i = 0;
                    for (; i + 4 <= n3; i += 4) {
                        o[0] = s[0];
                        o[d3] = s[s3];
                        o[2 * d3] = s[2 * s3];
                        o[3 * d3] = s[3 * s3];
                        o += 4 * d3;
                        s += 4 * s3;
                    }
                    for (; i < n3; i++, o += d3, s += s3) {
                        *o = *s;
                    }
                } else {
                    uint8_t *o = o2;
                    const uint8_t *s = a2;
                    for (int32_t i = 0; i < n3; i++, o += d3, s += s3) {
                        for (int k = 0; k < elem; k++) {
                            o[k] = s[k];
                        }
                    }
                }
            }
        }
    }
}
