/* TFLM Signal library ops (micro_speech front end), bit-exact native twins of the
   signal_* kernels in device/tinyml/kernels/python_dsp.py (arithmetic of audio_fixed.py).
   Plain C99, no MicroPython headers, no libgcc: 64-bit products and variable 64-bit shifts
   are built from 32-bit pieces (Cortex-M0 has neither). The binding has checked every
   length, index and shift count named below. */
#ifndef TK_SIGNAL_H
#define TK_SIGNAL_H
#include <stddef.h>
#include <stdint.h>

/* signal_window: out[r*size+i] = sat16((a[r*size+i] * w[i]) >> shift), shift 0..31 */
enum { SW_ROWS, SW_SIZE, SW_SHIFT, SW_LEN };
void tk_signal_window(int16_t *out, const int16_t *a, const int16_t *w, const int32_t *p);

/* signal_fft_auto_scale: returns the shift; out = a << shift (int16 wrap) */
enum { SA_N, SA_LEN };
int32_t tk_signal_fft_auto_scale(int16_t *out, const int16_t *a, const int32_t *p);

/* signal_rfft: KISS FFT fixed-point 16 kiss_fftr per row, computed in place in the out row.
   plan (int16) = tw_r[n] tw_i[n] sup_r[n/2] sup_i[n/2] perm[n], n = fft_length / 2;
   p = [rows, in_len, out_len, n, n_stages, (radix 2|4, m, fstride) per stage, innermost
   first as executed]. Input samples past in_len are zero. */
enum { SR_ROWS, SR_IN_LEN, SR_OUT_LEN, SR_N, SR_STAGES, SR_HDR };
void tk_signal_rfft(int16_t *out, const int16_t *a, const int16_t *plan, const int32_t *p);

/* signal_energy: out[i] = re[i]^2 + im[i]^2 (uint32 wrap) for start <= i < end */
enum { SE_N_OUT, SE_START, SE_END, SE_LEN };
void tk_signal_energy(uint32_t *out, const int16_t *a, const int32_t *p);

/* signal_filter_bank: one half of TFLM FilterbankAccumulateChannels, uint64 wrap.
   p = [mode, channels, fs[channels+1], ws[channels+1], width[channels+1]];
   mode 0: out[c-1] = sum w[ws_c + j] * a[fs_c + j] over channel c = 1..channels (b = weights)
   mode 1: out[c-1] += the same over channel c-1 (b = unweights) */
enum { SF_MODE, SF_CHANNELS, SF_HDR };
void tk_signal_filter_bank(uint64_t *out, const uint32_t *a, const int16_t *w, const int32_t *p);

/* signal_filter_bank_sqrt: out[i] = Sqrt64(a[i]) >> shift (0 when shift >= 32) */
void tk_signal_filter_bank_sqrt(uint32_t *out, const uint64_t *a, int32_t n, int32_t shift);

/* signal_spectral_subtraction: b = the noise estimate (updated in place);
   smoothing values 0..65535, bit counts 0..31 */
enum { SS_N, SS_SMOOTH, SS_ONE_MINUS, SS_ALT_SMOOTH, SS_ALT_ONE_MINUS, SS_MIN_REMAINING,
       SS_SMOOTH_BITS, SS_SUB_BITS, SS_CLAMPING, SS_LEN };
void tk_signal_spectral_subtraction(uint32_t *out, const uint32_t *a, uint32_t *noise,
                                    const int32_t *p);

/* signal_pcan: b = noise estimate, p = [n, snr_shift 0..63, gain lut (125 entries, int16)] */
enum { SP_N, SP_SNR_SHIFT, SP_LUT, SP_LUT_LEN = 125 };
void tk_signal_pcan(uint32_t *out, const uint32_t *a, const uint32_t *noise, const int32_t *p);

/* signal_filter_bank_log: p = [n, output_scale, input_correction_bits 0..31] */
enum { SL_N, SL_SCALE, SL_BITS, SL_LEN };
void tk_signal_filter_bank_log(int16_t *out, const uint32_t *a, const int32_t *p);
#endif
