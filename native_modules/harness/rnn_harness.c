/* The recurrent kernels (src/rnn.c) over a file of cases, for the host (sanitized) and
   bare-metal under QEMU (picolibc semihosting), so tests/test_kernels_rnn_native.py can compare
   the ARM builds with x64 and with kernels/python_rnn.py byte for byte.

   usage: rnn_harness CASES OUT   (no arguments under QEMU: rnn_cases.bin, rnn_out.bin)
   CASES: records of little-endian u32 [kernel, elem, n_p, len_out, len_a, len_b], then p
   (n_p words), the initial out, a, b (each padded to 4 bytes). OUT: every case's out after
   the call, padded to 4 bytes. kernel: 0 lstm_gate_fc, 1 lstm_cell_update,
   2 lstm_hidden_update, 3 rnn_copy, 4 svdf_feature, 5 svdf_time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../src/rnn.h"
#include "harness_io.h"

int main(int argc, char **argv) {
    const char *cases_path = argc == 3 ? argv[1] : "rnn_cases.bin";
    const char *out_path = argc == 3 ? argv[2] : "rnn_out.bin";
    size_t len;
    uint8_t *data = read_all(cases_path, &len);
    FILE *out_f = fopen(out_path, "wb");
    if (!data || !out_f) {
        fprintf(stderr, "rnn_harness: cannot open files\n");
        return 2;
    }
    size_t pos = 0;
    int cases = 0;
    while (pos + 24 <= len) {
        uint32_t h[6];
        memcpy(h, data + pos, sizeof h);
        pos += sizeof h;
        int32_t *p = malloc(h[2] * 4 + 4);
        uint8_t *out = malloc(h[3] + 8), *a = malloc(h[4] + 8), *b = malloc(h[5] + 8);
        memcpy(p, data + pos, h[2] * 4);
        pos += h[2] * 4;
        memcpy(out, data + pos, h[3]);
        pos += pad4(h[3]);
        memcpy(a, data + pos, h[4]);
        pos += pad4(h[4]);
        memcpy(b, data + pos, h[5]);
        pos += pad4(h[5]);
        int elem = (int)h[1];
        void *scratch = NULL;
        switch (h[0]) {
            case 0:
                scratch = malloc(tk_rnn_fc_scratch(p[RF_IN]));
                tk_lstm_gate_fc((int16_t *)out, a, (const int8_t *)b, p, scratch);
                break;
            case 1: tk_lstm_cell_update((int16_t *)out, (const int16_t *)a, p); break;
            case 2:
                tk_lstm_hidden_update(out, (const int16_t *)a, (const int16_t *)b, p, elem);
                break;
            case 3: tk_rnn_copy(out, a, p, elem); break;
            case 4:
                scratch = malloc(tk_rnn_fc_scratch(p[RSF_IN]));
                tk_svdf_feature(out, (const int8_t *)a, (const int8_t *)b, p, elem, scratch);
                break;
            case 5:
                tk_svdf_time((int8_t *)out, a, b, p, (int32_t)h[2] - RST_BIAS, elem);
                break;
            default:
                fprintf(stderr, "rnn_harness: bad kernel %u\n", (unsigned)h[0]);
                return 1;
        }
        static const uint8_t zeros[4];
        fwrite(out, 1, h[3], out_f);
        fwrite(zeros, 1, pad4(h[3]) - h[3], out_f);
        free(p);
        free(out);
        free(a);
        free(b);
        free(scratch);
        cases++;
    }
    fclose(out_f);
    free(data);
    printf("rnn_harness: %d cases\n", cases);
    return 0;
}
