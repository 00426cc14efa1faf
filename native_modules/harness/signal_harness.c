/* The Signal kernels (src/signal.c), the int32/float32 elementwise kernels and CAST
   (src/eltwise32.c) and the whole-op recurrent kernels with lut_int8 / softmax_f32 (src/rnn.c,
   src/softmax.c) over a file of cases, for the host (sanitized) and bare-metal under QEMU
   (picolibc semihosting), so tests/test_kernels_arm_signal.py can compare the ARM builds with
   x64 and the python twins byte for byte.

   usage: signal_harness CASES OUT   (no arguments under QEMU: sig_cases.bin, sig_out.bin)
   CASES: records of little-endian u32 [kernel, arg, n_p, n_bufs], n_bufs buffer byte lengths,
   then p (n_p words) and each buffer (padded to 4 bytes). Buffer roles per kernel: see run().
   OUT: per case the kernel's int32 return value, then every buffer after the call (inputs
   too: a kernel writing its inputs shows), each padded to 4 bytes.
   The float kernels (binary_float, softmax_f32, float casts) exist only where float32 is
   hardware (TK_HAVE_FLOAT_DSP); elsewhere their ids fail the run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../src/signal.h"
#include "../src/eltwise32.h"
#include "../src/rnn.h"
#include "../src/activation.h"
#include "harness_io.h"

enum {
    K_WINDOW, K_AUTO_SCALE, K_RFFT, K_ENERGY, K_FILTER_BANK, K_FILTER_BANK_SQRT,
    K_SPECTRAL_SUBTRACTION, K_PCAN, K_FILTER_BANK_LOG, K_BINARY_INT32, K_MINMAX, K_CAST,
    K_BINARY_FLOAT, K_LSTM_INT, K_SVDF_INT, K_LUT_INT8, K_SOFTMAX_F32, K_COUNT
};

#define MAX_BUFS 13

typedef struct {
    uint32_t kernel, arg, n_p, n_bufs;
    uint32_t len[MAX_BUFS];
    int32_t *p;
    void *buf[MAX_BUFS];
} case_t;

/* lstm_int: bufs = out, x, hidden, cell, gates, 8 weight matrices */
static int run_lstm(case_t *c) {
    const int32_t *p = c->p;
    int32_t depth = p[RL_N_IN] > p[RL_N_CELL] ? p[RL_N_IN] : p[RL_N_CELL];
    void *scratch = malloc(tk_rnn_fc_scratch(depth));
    const int8_t *w[8];
    for (int g = 0; g < 8; g++) {
        w[g] = c->buf[5 + g];
    }
    tk_lstm_int(c->buf[0], c->buf[1], c->buf[2], c->buf[3], c->buf[4], w, p, scratch);
    free(scratch);
    return 0;
}

/* svdf_int: bufs = out, x, state, feature weights, time weights; arg = state elem size */
static int run_svdf(case_t *c) {
    const int32_t *p = c->p;
    int32_t n_unit = (int32_t)c->n_p - (RSF_BIAS + p[RSF_FILTERS]) - RST_BIAS;
    void *scratch = malloc(tk_rnn_fc_scratch(p[RSF_IN]));
    tk_svdf_int(c->buf[0], c->buf[1], c->buf[2], c->buf[3], c->buf[4], p, n_unit,
                (int)c->arg, scratch);
    free(scratch);
    return 0;
}

#if TK_HAVE_FLOAT_DSP
static int run_float(case_t *c) {
    void **b = c->buf;
    switch (c->kernel) {
        case K_BINARY_FLOAT: tk_binary_float(b[0], b[1], b[2], c->p); return 0;
        case K_SOFTMAX_F32:
            tk_softmax_f32(b[0], b[1], c->p[0], c->p[1], ((const float *)b[2])[0]);
            return 0;
    }
    return -2;
}
#else
static int run_float(case_t *c) {
    fprintf(stderr, "signal_harness: kernel %u needs float32 hardware\n", (unsigned)c->kernel);
    return -2;
}
#endif

/* the kernel's return value (0 for void kernels); buffer roles as in binding.c */
static int32_t run(case_t *c) {
    void **b = c->buf;
    const int32_t *p = c->p;
    switch (c->kernel) {
        case K_WINDOW: tk_signal_window(b[0], b[1], b[2], p); return 0;
        case K_AUTO_SCALE: return tk_signal_fft_auto_scale(b[0], b[1], p);
        case K_RFFT: tk_signal_rfft(b[0], b[1], b[2], p); return 0;
        case K_ENERGY: tk_signal_energy(b[0], b[1], p); return 0;
        case K_FILTER_BANK: tk_signal_filter_bank(b[0], b[1], b[2], p); return 0;
        case K_FILTER_BANK_SQRT:
            tk_signal_filter_bank_sqrt(b[0], b[1], p[0], ((const int32_t *)b[2])[0]);
            return 0;
        case K_SPECTRAL_SUBTRACTION: tk_signal_spectral_subtraction(b[0], b[1], b[2], p); return 0;
        case K_PCAN: tk_signal_pcan(b[0], b[1], b[2], p); return 0;
        case K_FILTER_BANK_LOG: tk_signal_filter_bank_log(b[0], b[1], p); return 0;
        case K_BINARY_INT32: return tk_binary_int32(b[0], b[1], b[2], p);
        case K_MINMAX: tk_minmax(b[0], b[1], b[2], p); return 0;
        case K_CAST: tk_cast(b[0], b[1], p); return 0;
        case K_LSTM_INT: return run_lstm(c);
        case K_SVDF_INT: return run_svdf(c);
        case K_LUT_INT8: tk_lut_int8(b[0], b[1], p + 1, p[0]); return 0;
        case K_BINARY_FLOAT: case K_SOFTMAX_F32: return run_float(c);
    }
    return -2;
}

/* one case from data at *pos into private buffers of exactly the declared sizes, so the
   sanitizer sees any access past them; returns 0 at the end of the data */
static int read_case(const uint8_t *data, size_t len, size_t *pos, case_t *c) {
    if (*pos + 16 > len) {
        return 0;
    }
    memcpy(c, data + *pos, 16);
    *pos += 16;
    if (c->n_bufs > MAX_BUFS || c->kernel >= K_COUNT) {
        return -1;
    }
    memcpy(c->len, data + *pos, 4 * c->n_bufs);
    *pos += 4 * c->n_bufs;
    c->p = malloc(4 * c->n_p + 4);
    memcpy(c->p, data + *pos, 4 * c->n_p);
    *pos += 4 * c->n_p;
    for (uint32_t i = 0; i < c->n_bufs; i++) {
        c->buf[i] = malloc(c->len[i]);
        if (!c->buf[i]) {          /* picolibc: malloc(0) may be NULL */
            c->buf[i] = malloc(1);
        }
        memcpy(c->buf[i], data + *pos, c->len[i]);
        *pos += pad4(c->len[i]);
    }
    return *pos <= len ? 1 : -1;
}

static void write_case(FILE *f, const case_t *c, int32_t ret) {
    static const uint8_t zeros[4];
    fwrite(&ret, 4, 1, f);
    for (uint32_t i = 0; i < c->n_bufs; i++) {
        fwrite(c->buf[i], 1, c->len[i], f);
        fwrite(zeros, 1, pad4(c->len[i]) - c->len[i], f);
    }
}

static void free_case(case_t *c) {
    for (uint32_t i = 0; i < c->n_bufs; i++) {
        free(c->buf[i]);
    }
    free(c->p);
}

int main(int argc, char **argv) {
    const char *cases_path = argc == 3 ? argv[1] : "sig_cases.bin";
    const char *out_path = argc == 3 ? argv[2] : "sig_out.bin";
    size_t len, pos = 0;
    uint8_t *data = read_all(cases_path, &len);
    FILE *out_f = fopen(out_path, "wb");
    if (!data || !out_f) {
        fprintf(stderr, "signal_harness: cannot open files\n");
        return 2;
    }
    int cases = 0, got;
    case_t c;
    while ((got = read_case(data, len, &pos, &c)) == 1) {
        int32_t ret = run(&c);
        if (ret == -2) {
            fprintf(stderr, "signal_harness: case %d kernel %u failed\n", cases,
                    (unsigned)c.kernel);
            return 1;
        }
        write_case(out_f, &c, ret);
        free_case(&c);
        cases++;
    }
    if (got < 0) {
        fprintf(stderr, "signal_harness: malformed case %d\n", cases);
        return 1;
    }
    fclose(out_f);
    free(data);
    printf("signal_harness: %d cases\n", cases);
    return 0;
}
