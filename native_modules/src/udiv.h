/* Unsigned 32-bit division without libgcc: Cortex-M0 (armv6m) has no divide instruction and
   the dynamic native modules link no runtime, so its quotient comes from a restoring loop. */
#ifndef TK_UDIV_H
#define TK_UDIV_H
#include <stdint.h>

/* n / d for 0 < d <= 2**31 */
static inline uint32_t tk_udiv32(uint32_t n, uint32_t d) {
#if defined(__arm__) && !defined(__ARM_FEATURE_IDIV)
    uint32_t q = 0, r = 0;
    for (int i = 31; i >= 0; i--) {
        r = (r << 1) | ((n >> i) & 1);
        if (r >= d) {
            r -= d;
            q |= (uint32_t)1 << i;
        }
    }
    return q;
#else
    return n / d;
#endif
}

#endif
