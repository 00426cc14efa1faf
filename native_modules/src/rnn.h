/* Recurrent-op kernels (UNIDIRECTIONAL_SEQUENCE_LSTM, SVDF): C twins of
   device/tinyml/kernels/python_rnn.py, bit for bit. Plain C99, no MicroPython headers.
   Parameter-block layouts are python_rnn.py's (names prefixed here: FC_ -> RF_ etc. so they
   do not clash with kernels.h). The binding checks every offset and length first. */
#ifndef TK_RNN_H
#define TK_RNN_H
#include <stddef.h>
#include <stdint.h>

/* lstm_gate_fc: then n_out int32 biases (RF_WIDE: n_out (low, high) pairs) */
enum { RF_BATCHES, RF_OUT, RF_IN, RF_X_START, RF_OUT_START, RF_MULT, RF_SHIFT, RF_MODE,
       RF_WIDE, RF_BIAS };
enum { RF_MODE_WRITE, RF_MODE_ADD, RF_MODE_SIGMOID, RF_MODE_TANH };
/* x: int8 (wide 0) or int16 (wide 1); scratch: tk_rnn_fc_scratch(n_in) bytes, 8-aligned */
void tk_lstm_gate_fc(int16_t *out, const void *x, const int8_t *w, const int32_t *p,
                     void *scratch);
size_t tk_rnn_fc_scratch(int32_t n_in);

/* lstm_cell_update (11 ints) */
enum { RCU_COUNT, RCU_CELL, RCU_F, RCU_I, RCU_G, RCU_FC_MULT, RCU_FC_SHIFT, RCU_IG_MULT,
       RCU_IG_SHIFT, RCU_CLIP_ON, RCU_CLIP, RCU_LEN };
void tk_lstm_cell_update(int16_t *cell, const int16_t *gates, const int32_t *p);

/* lstm_hidden_update (11 ints); hidden is int8 (elem 1) or int16 (elem 2) */
enum { RHU_COUNT, RHU_HIDDEN, RHU_CELL, RHU_O, RHU_TANH_MULT, RHU_TANH_SHIFT, RHU_MULT,
       RHU_SHIFT, RHU_ZP, RHU_MIN, RHU_MAX, RHU_LEN };
void tk_lstm_hidden_update(void *hidden, const int16_t *cell, const int16_t *gates,
                           const int32_t *p, int elem);

/* rnn_copy (3 ints): count elements of elem bytes */
enum { RCP_COUNT, RCP_A_START, RCP_OUT_START, RCP_LEN };
void tk_rnn_copy(void *out, const void *a, const int32_t *p, int elem);

/* svdf_feature: then n_filter int32 biases; state int8 (elem 1) or int16 (elem 2) */
enum { RSF_BATCHES, RSF_IN, RSF_FILTERS, RSF_MEMORY, RSF_MULT, RSF_SHIFT, RSF_STATE_ZP,
       RSF_STATE_MIN, RSF_STATE_MAX, RSF_BIAS };
/* scratch: tk_rnn_fc_scratch(n_input) bytes */
void tk_svdf_feature(void *state, const int8_t *x, const int8_t *wf, const int32_t *p, int elem,
                     void *scratch);

/* svdf_time: then n_unit = n_filter / rank int32 biases (the binding passes n_unit: no
   division here); state and time weights both int8 (elem 1) or both int16 (elem 2) */
enum { RST_BATCHES, RST_FILTERS, RST_MEMORY, RST_RANK, RST_STATE_ZP, RST_MULT, RST_SHIFT,
       RST_OUT_ZP, RST_BIAS };
void tk_svdf_time(int8_t *out, const void *state, const void *wt, const int32_t *p,
                  int32_t n_unit, int elem);

/* lstm_int: a whole int8 (or 16x8, wide 1) UNIDIRECTIONAL_SEQUENCE_LSTM invoke in one call.
   p: the RL_* header, the lstm_cell_update block (RCU_LEN ints), the lstm_hidden_update block
   (RHU_LEN), then 8 lstm_gate_fc blocks of RF_BIAS + n_cell * (1 + wide) ints: the input FCs
   of the input, forget, cell, output gates, then their recurrent FCs. Only the multipliers,
   shifts, modes, clip, zero point, range and biases of the blocks are read: sizes and offsets
   come from the header. x, out and hidden are int8 (int16 when wide); w: the 8 weight
   matrices in block order; gates: 4 * rows * n_cell int16 (rows = batch if time major,
   else 1); scratch: tk_rnn_fc_scratch(max(n_in, n_cell)) bytes. */
enum { RL_BATCH, RL_STEPS, RL_N_IN, RL_N_CELL, RL_TIME_MAJOR, RL_WIDE, RL_HDR };
enum { RL_CU = RL_HDR, RL_HU = RL_CU + RCU_LEN, RL_FC = RL_HU + RHU_LEN };
void tk_lstm_int(void *out, const void *x, void *hidden, int16_t *cell, int16_t *gates,
                 const int8_t *const *w, const int32_t *p, void *scratch);

/* svdf_int: a whole integer SVDF invoke: p = the svdf_feature block, then the svdf_time block
   (which starts at RSF_BIAS + n_filter); scratch as svdf_feature's */
void tk_svdf_int(int8_t *out, const int8_t *x, void *state, const int8_t *wf, const void *wt,
                 const int32_t *p, int32_t n_unit, int elem, void *scratch);

#endif
