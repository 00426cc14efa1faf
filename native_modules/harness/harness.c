/* Runs the C kernels over a file of cases and writes their outputs: the same program is built
   for the host (with -fsanitize=address,undefined) and bare-metal for QEMU (picolibc
   semihosting file I/O), so outputs can be compared byte for byte and instructions counted.

   usage: harness CASES OUT   (without arguments, as under QEMU semihosting: tk_cases.bin
   and tk_out.bin in the current directory)
   CASES: records of little-endian u32 [kernel, n_p, len_out, len_a, len_b], then p (n_p
   words), a, b (each padded to 4 bytes). OUT: every case's output, padded to 4 bytes.
   Each kernel call is bracketed by tk_mark_begin()/tk_mark_end() for instruction counting. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../src/kernels.h"
#include "harness_io.h"

enum {
    K_CONV, K_CONV_REF, K_DW, K_DW_REF, K_FC, K_FC_REF, K_AVGPOOL8, K_AVGPOOL16,
    K_MAXPOOL8, K_MAXPOOL16, K_SOFTMAX, K_ADD8, K_MUL8, K_MUL16, K_FC_PACKED
};

volatile uint32_t tk_marker_sink;

void __attribute__((noinline)) tk_mark_begin(uint32_t kernel) {
    tk_marker_sink = kernel;
    __asm__ volatile ("" ::: "memory");
}

void __attribute__((noinline)) tk_mark_end(uint32_t kernel) {
    tk_marker_sink = kernel;
    __asm__ volatile ("" ::: "memory");
}

static int run(uint32_t kernel, int8_t *out, const int8_t *a, const int8_t *b, const int32_t *p,
               void *scratch) {
    switch (kernel) {
        case K_CONV: tk_conv_s8(out, a, b, p, scratch); return 0;
        case K_CONV_REF: tk_conv_s8_ref(out, a, b, p); return 0;
        case K_DW: tk_depthwise_s8(out, a, b, p, scratch); return 0;
        case K_DW_REF: tk_depthwise_s8_ref(out, a, b, p); return 0;
        case K_FC: tk_fully_connected_s8(out, a, b, p, scratch); return 0;
        case K_FC_REF: tk_fully_connected_s8_ref(out, a, b, p); return 0;
        case K_FC_PACKED: tk_fully_connected_s8_packed(out, a, (const int32_t *)b, p, scratch);
            return 0;
        case K_AVGPOOL8: return tk_avgpool(out, a, p, 1);
        case K_AVGPOOL16: return tk_avgpool(out, a, p, 2);
        case K_MAXPOOL8: tk_maxpool(out, a, p, 1); return 0;
        case K_MAXPOOL16: tk_maxpool(out, a, p, 2); return 0;
        case K_SOFTMAX: tk_softmax_s8(out, a, p); return 0;
        case K_ADD8: tk_add_int8(out, a, b, p); return 0;
        case K_MUL8: tk_mul_q(out, a, b, p, 1); return 0;
        case K_MUL16: tk_mul_q(out, a, b, p, 2); return 0;
    }
    return -2;
}

static size_t scratch_bytes(uint32_t kernel, const int32_t *p) {
    if (kernel == K_CONV) {
        return tk_conv_s8_scratch(p);
    }
    if (kernel == K_DW) {
        return tk_depthwise_s8_scratch(p);
    }
    if (kernel == K_FC) {
        return tk_fully_connected_s8_scratch(p);
    }
    if (kernel == K_FC_PACKED) {
        return tk_fully_connected_s8_packed_scratch(p);
    }
    return 0;
}

/* K_FC_PACKED: the weights b laid out as the model does at load (not counted), or, where the
   arch or layer has no such form, K_FC as the model then calls it */
static uint32_t pack_weights(uint32_t kernel, int8_t **b, const int32_t *p) {
    if (kernel != K_FC_PACKED) {
        return kernel;
    }
    size_t n = tk_fully_connected_s8_packed_bytes(p);
    if (n == 0) {
        return K_FC;
    }
    int32_t *stream = malloc(n);
    tk_fully_connected_s8_pack(stream, *b, p);
    free(*b);
    *b = (int8_t *)stream;
    return kernel;
}

int main(int argc, char **argv) {
    const char *cases_path = argc == 3 ? argv[1] : "tk_cases.bin";
    const char *out_path = argc == 3 ? argv[2] : "tk_out.bin";
    size_t len;
    uint8_t *data = read_all(cases_path, &len);
    FILE *out_f = fopen(out_path, "wb");
    if (!data || !out_f) {
        fprintf(stderr, "harness: cannot open files\n");
        return 2;
    }
    size_t pos = 0;
    int cases = 0;
    while (pos + 20 <= len) {
        uint32_t h[5];
        memcpy(h, data + pos, sizeof h);
        pos += sizeof h;
        /* private copies, so the sanitizer sees exactly the sizes the case declares */
        int32_t *p = malloc(h[1] * 4 + 4);
        int8_t *a = malloc(h[3] + 1), *b = malloc(h[4] + 1), *out = malloc(h[2] + 1);
        memcpy(p, data + pos, h[1] * 4);
        pos += h[1] * 4;
        memcpy(a, data + pos, h[3]);
        pos += pad4(h[3]);
        memcpy(b, data + pos, h[4]);
        pos += pad4(h[4]);
        uint32_t kernel = pack_weights(h[0], &b, p);
        size_t ns = scratch_bytes(kernel, p);
        void *scratch = ns ? malloc(ns) : NULL;
        memset(out, 0x55, h[2]);
        tk_mark_begin(h[0]);
        int rc = run(kernel, out, a, h[4] ? b : NULL, p, scratch);
        tk_mark_end(h[0]);
        if (rc != 0) {
            fprintf(stderr, "harness: case %d kernel %u failed (%d)\n", cases, (unsigned)h[0], rc);
            return 1;
        }
        static const uint8_t zeros[4];
        fwrite(out, 1, h[2], out_f);
        fwrite(zeros, 1, pad4(h[2]) - h[2], out_f);
        free(p);
        free(a);
        free(b);
        free(out);
        free(scratch);
        cases++;
    }
    fclose(out_f);
    free(data);
    printf("harness: %d cases\n", cases);
    return 0;
}
