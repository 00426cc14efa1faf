/* The DSP-extension inner loops of dot.h (Armv7E-M only; empty elsewhere). Register-allocated
   by hand: gcc spills in these loops. Per four K values (loops unrolled twice):
     tk_dot_2x2_dsp: 1 LDM + 2 LDR + 4 SXTB16 + 8 SMLAD + 1 loop = 16 instructions, 16 MACs
     tk_dot_2x2n_dsp: the same, unrolled four times: 15.25 instructions, 16 MACs
     tk_dot_1x4_dsp: 1 LDM + 4 LDR + 8 SXTB16 + 8 SMLAD + 1 loop = 22 instructions, 16 MACs
     tk_quads_dsp (unpacked rows, eight copies): 3 LDM + 8 SMLAD = 11 instructions, 16 MACs */
#include "dot.h"

#if TK_DSP

/* r0 = acc (saved), r1..r4 = acc values, r5 = packed pair, r6 = row a, r7 = K - 4 (row b
   after the post-increment), r8 = end of row a's groups; per group: r9/r10 column 0,
   r11/r12 column 1 */
#define TK_GROUP_2X2 \
    "ldm r5!, {r9, r10, r11, r12}\n" \
    "ldr lr, [r6], #4\n" \
    "sxtb16 r0, lr\n" \
    "smlad r1, r0, r9, r1\n" \
    "smlad r3, r0, r11, r3\n" \
    "sxtb16 lr, lr, ror #8\n" \
    "smlad r1, lr, r10, r1\n" \
    "smlad r3, lr, r12, r3\n" \
    "ldr lr, [r6, r7]\n" \
    "sxtb16 r0, lr\n" \
    "smlad r2, r0, r9, r2\n" \
    "smlad r4, r0, r11, r4\n" \
    "sxtb16 lr, lr, ror #8\n" \
    "smlad r2, lr, r10, r2\n" \
    "smlad r4, lr, r12, r4\n"

/* two groups per loop pass (an odd count enters at the second) */
__attribute__((naked)) void tk_dot_2x2_dsp(int32_t *acc, const void *cols, const int8_t *w,
                                           int32_t k) {
    __asm__ volatile (
        "push {r4-r11, lr}\n"
        "push {r0}\n"
        "mov r5, r1\n"
        "mov r6, r2\n"
        "sub r7, r3, #4\n"
        "bic r8, r3, #3\n"
        "add r8, r6, r8\n"
        "ldm r0, {r1, r2, r3, r4}\n"
        "subs r0, r8, r6\n"
        "beq 3f\n"
        "tst r0, #4\n"
        "bne 2f\n"
        "1:\n"
        TK_GROUP_2X2
        "2:\n"
        TK_GROUP_2X2
        "cmp r6, r8\n"
        "bne 1b\n"
        "3:\n"
        "pop {r0}\n"
        "stm r0, {r1, r2, r3, r4}\n"
        "pop {r4-r11, pc}\n");
}

/* end of a row pair of tk_dot_2x2n_dsp / _w16_dsp (r0 = the job): its four accumulators
   stored at job->acc, which advances; the next pair while job->pairs counts down */
#define TK_MAT_PAIR_DONE \
    "ldr lr, [r0, #16]\n" \
    "stm lr!, {r1, r2, r3, r4}\n" \
    "str lr, [r0, #16]\n" \
    "ldr lr, [r0, #20]\n" \
    "subs lr, lr, #1\n" \
    "str lr, [r0, #20]\n" \
    "bne 1b\n" \
    "pop {r0}\n" \
    "pop {r4-r11, pc}\n"

/* tk_dot_2x2_dsp over job->pairs consecutive row pairs (dot.h), four groups per loop pass
   entered by the group count mod 4; per pair the accumulators start at the rows' biases and
   end in job->acc. [sp] = job. */
__attribute__((naked)) void tk_dot_2x2n_dsp(tk_mat_job_t *job) {
    __asm__ volatile (
        "push {r4-r11, lr}\n"
        "push {r0}\n"
        "ldr r7, [r0, #8]\n"
        "sub r7, r7, #4\n"
        "1:\n"
        "ldr r0, [sp]\n"
        "ldr r5, [r0, #0]\n"
        "ldr r6, [r0, #4]\n"
        "ldr lr, [r0, #12]\n"
        "ldm lr!, {r1, r2}\n"
        "str lr, [r0, #12]\n"
        "mov r3, r1\n"
        "mov r4, r2\n"
        "add lr, r6, r7, lsl #1\n"      /* next pair: w + 2K */
        "add lr, lr, #8\n"
        "str lr, [r0, #4]\n"
        "ldr r8, [r0, #24]\n"
        "adds r8, r6, r8\n"
        "subs r0, r8, r6\n"
        "beq 9f\n"
        "tst r0, #8\n"
        "beq 5f\n"
        "tst r0, #4\n"
        "bne 3f\n"
        "b 4f\n"
        "5:\n"
        "tst r0, #4\n"
        "bne 6f\n"
        "2:\n"
        TK_GROUP_2X2
        "3:\n"
        TK_GROUP_2X2
        "4:\n"
        TK_GROUP_2X2
        "6:\n"
        TK_GROUP_2X2
        "cmp r6, r8\n"
        "bne 2b\n"
        "9:\n"
        "ldr r0, [sp]\n"
        TK_MAT_PAIR_DONE);
}

/* tk_dot_2x2n_dsp over rows unpacked beforehand (tk_unpack_rows_dsp: per group the words
   (w0, w2), (w1, w3)), job->w pointing at them: per group 1 LDM of the pair + 2 LDM of the
   rows + 8 SMLAD = 11 instructions, 16 MACs. r6 / r7 = rows a / b, r8 = end of row a;
   two groups per loop pass. */
#define TK_GROUP_2X2_W16 \
    "ldm r5!, {r9, r10, r11, r12}\n" \
    "ldm r6!, {r0, lr}\n" \
    "smlad r1, r0, r9, r1\n" \
    "smlad r3, r0, r11, r3\n" \
    "smlad r1, lr, r10, r1\n" \
    "smlad r3, lr, r12, r3\n" \
    "ldm r7!, {r0, lr}\n" \
    "smlad r2, r0, r9, r2\n" \
    "smlad r4, r0, r11, r4\n" \
    "smlad r2, lr, r10, r2\n" \
    "smlad r4, lr, r12, r4\n"

__attribute__((naked)) void tk_dot_2x2n_w16_dsp(tk_mat_job_t *job) {
    __asm__ volatile (
        "push {r4-r11, lr}\n"
        "push {r0}\n"
        "1:\n"
        "ldr r0, [sp]\n"
        "ldr r5, [r0, #0]\n"
        "ldr r6, [r0, #4]\n"
        "ldr r8, [r0, #8]\n"
        "add r7, r6, r8, lsl #1\n"
        "mov r8, r7\n"
        "ldr lr, [r0, #12]\n"
        "ldm lr!, {r1, r2}\n"
        "str lr, [r0, #12]\n"
        "mov r3, r1\n"
        "mov r4, r2\n"
        "subs r0, r8, r6\n"
        "beq 9f\n"
        "tst r0, #8\n"             /* odd group count: enter at the second copy */
        "bne 3f\n"
        "2:\n"
        TK_GROUP_2X2_W16
        "3:\n"
        TK_GROUP_2X2_W16
        "cmp r6, r8\n"
        "bne 2b\n"
        "9:\n"
        "ldr r0, [sp]\n"
        "str r7, [r0, #4]\n"       /* next pair's row a */
        TK_MAT_PAIR_DONE);
}

/* Columns times rows in blocks of one column and four rows ("quads"), requantized in place:
   tk_quads_dsp (dot.h). Per group of four K values: LDM of the column's two words, 2 LDM of
   the four rows' unpacked words, 8 SMLAD = 11 instructions, 16 MACs. r0 = column, r1 = the
   stream, r2 = the column's end, r3..r6 = the quad's accumulators, r7/r8 = column words,
   r9..r12 = two rows' words, lr = out. */
#define TK_GROUP_1X4_W16 \
    "ldm.w r0!, {r7, r8}\n" \
    "ldm.w r1!, {r9, r10, r11, r12}\n" \
    "smlad r3, r9, r7, r3\n" \
    "smlad r3, r10, r8, r3\n" \
    "smlad r4, r11, r7, r4\n" \
    "smlad r4, r12, r8, r4\n" \
    "ldm.w r1!, {r9, r10, r11, r12}\n" \
    "smlad r5, r9, r7, r5\n" \
    "smlad r5, r10, r8, r5\n" \
    "smlad r6, r11, r7, r6\n" \
    "smlad r6, r12, r8, r6\n"

/* accumulator A (register) of a channel with constants m, Ra, e, mask (registers; dot.h
   tk_mm_rq_words) to its output, saturated by SAT (ssat: int8; usat: [0, 255], the clamped
   outputs less act_min) in A */
#define TK_MM_RQ(SAT, A, M, RA, E, MASK) \
    "smmlar " RA ", " A ", " M ", " RA "\n" \
    "and " MASK ", " MASK ", " A ", asr #31\n" \
    "add " RA ", " RA ", " MASK "\n" \
    "asr " RA ", " RA ", " E "\n" \
    SAT " " A ", #8, " RA "\n"

/* outputs A..D less act_min (each in [0, 255], usat) as the bytes of A, clamped to act_max
   and offset back (BOUNDS: the words tk_clamp4 gives; K, L scratch) */
#define TK_BYTES4_CLAMP(A, B, C, D, K, L, BOUNDS) \
    "bfi " A ", " B ", #8, #8\n" \
    "bfi " A ", " C ", #16, #8\n" \
    "bfi " A ", " D ", #24, #8\n" \
    "ldrd " K ", " L ", " BOUNDS "\n" \
    "uqadd8 " A ", " A ", " K "\n" \
    "usub8 " A ", " A ", " K "\n" \
    "uadd8 " A ", " A ", " L "\n"

/* frame: [sp] the group loop's entry (8 copies, entered by the group count mod 8), [sp, #4]
   the pixel's column, [sp, #8] its end, [sp, #12] / [sp, #16] the stream and out_skip,
   [sp, #20] the columns' end, [sp, #24] / [sp, #28] tk_clamp4, [sp, #32] the stream's end.
   Per quad: 11 per group + 35 (clamped: + 4). */
#define TK_QUADS(NAME, SAT, PACK) \
__attribute__((naked)) void NAME(const tk_quads_job_t *job) { \
    __asm__ volatile ( \
        "push {r4-r11, lr}\n" \
        "sub sp, sp, #40\n" \
        "ldm r0, {r1, r2, r3, r4, r5, r6, r7, r8}\n" \
        "ldr r9, [r0, #32]\n" \
        "strd r3, r9, [sp, #12]\n"     /* the stream, out_skip */ \
        "str r4, [sp, #32]\n" \
        "strd r7, r8, [sp, #24]\n" \
        "add r9, r1, r6, lsl #3\n" \
        "strd r1, r9, [sp, #4]\n" \
        "str r2, [sp, #20]\n" \
        "mov lr, r5\n" \
        "mov r1, r3\n" \
        "adr.w r7, 5f\n" \
        "and r8, r6, #7\n" \
        "rsb r8, r8, #8\n" \
        "and r8, r8, #7\n" \
        "mov r9, #44\n"                 /* bytes per copy: 11 32-bit instructions */ \
        "mla r7, r8, r9, r7\n" \
        "orr r7, r7, #1\n" \
        "str r7, [sp]\n" \
        "1:\n" \
        "ldm r1!, {r3, r4, r5, r6}\n" \
        "ldrd r0, r2, [sp, #4]\n" \
        "ldr r7, [sp]\n" \
        "bx r7\n" \
        "5:\n" \
        TK_GROUP_1X4_W16 TK_GROUP_1X4_W16 TK_GROUP_1X4_W16 TK_GROUP_1X4_W16 \
        TK_GROUP_1X4_W16 TK_GROUP_1X4_W16 TK_GROUP_1X4_W16 TK_GROUP_1X4_W16 \
        "cmp r0, r2\n" \
        "bne 5b\n" \
        "ldm r1!, {r0, r2, r7, r8, r9, r10, r11, r12}\n" \
        TK_MM_RQ(SAT, "r3", "r0", "r2", "r7", "r8") \
        TK_MM_RQ(SAT, "r4", "r9", "r10", "r11", "r12") \
        "ldm r1!, {r0, r2, r7, r8, r9, r10, r11, r12}\n" \
        TK_MM_RQ(SAT, "r5", "r0", "r2", "r7", "r8") \
        TK_MM_RQ(SAT, "r6", "r9", "r10", "r11", "r12") \
        PACK \
        "str r3, [lr], #4\n" \
        "ldr r7, [sp, #32]\n" \
        "cmp r1, r7\n" \
        "bne 1b\n" \
        "ldrd r0, r2, [sp, #4]\n"       /* next pixel: its column follows */ \
        "sub r7, r2, r0\n" \
        "add r7, r2, r7\n" \
        "strd r2, r7, [sp, #4]\n" \
        "ldrd r1, r7, [sp, #12]\n" \
        "add lr, lr, r7\n"              /* out_skip */ \
        "ldr r7, [sp, #20]\n" \
        "cmp r2, r7\n" \
        "bne 1b\n" \
        "add sp, sp, #40\n" \
        "pop {r4-r11, pc}\n"); \
}
TK_QUADS(tk_quads_dsp, "ssat",
         "bfi r3, r4, #8, #8\n" "bfi r3, r5, #16, #8\n" "bfi r3, r6, #24, #8\n")
TK_QUADS(tk_quads_clamp_dsp, "usat", TK_BYTES4_CLAMP("r3", "r4", "r5", "r6", "r7", "r8", "[sp, #24]"))

/* one run's first eight inputs (r2) as two groups at r0 (r4..r6, r12: the four words), its
   ninth input to NINTH */
#define TK_PACK_RUN9(NINTH) \
    "ldr r5, [r2]\n" \
    "ldr r12, [r2, #4]\n" \
    "ldrb " NINTH ", [r2, #8]\n" \
    "sxtab16 r4, r3, r5\n" \
    "sxtab16 r5, r3, r5, ror #8\n" \
    "sxtab16 r6, r3, r12\n" \
    "sxtab16 r12, r3, r12, ror #8\n" \
    "stm r0!, {r4, r5, r6, r12}\n"

/* r3 = off2, r7 = row stride, r8 = step - 2 row strides: 33 instructions a column */
__attribute__((naked)) void tk_pack_3x9_dsp(uint32_t *dst, uint32_t *dst_end, const int8_t *src,
                                            const tk_runs_geom_t *g) {
    __asm__ volatile (
        "push {r4-r10, lr}\n"
        "ldm r3, {r3, r7, r8}\n"
        "sub r8, r8, r7, lsl #1\n"
        "1:\n"
        TK_PACK_RUN9("lr")
        "add r2, r2, r7\n"
        TK_PACK_RUN9("r9")
        "add r2, r2, r7\n"
        TK_PACK_RUN9("r10")
        "orr lr, lr, r10, lsl #16\n"
        "sxtab16 lr, r3, lr\n"
        "sxtab16 r9, r3, r9\n"          /* high half: times a 0 weight */
        "strd lr, r9, [r0], #8\n"
        "add r2, r2, r8\n"
        "cmp r0, r1\n"
        "bne 1b\n"
        "pop {r4-r10, pc}\n");
}

/* packed columns (6 words each, from dst to dst_end) of windows of three runs of three
   inputs, the first window at src: conv.c's row-run column (r0[0..3), r1[0..3), r2[0..3),
   then 3 values whose weights are 0) plus the offset. r3 = off2, r7 = row stride, r11 = step:
   20 instructions a column */
__attribute__((naked)) void tk_pack_3x3_dsp(uint32_t *dst, uint32_t *dst_end, const int8_t *src,
                                            const tk_runs_geom_t *g) {
    __asm__ volatile (
        "push {r4-r11, lr}\n"
        "ldm r3, {r3, r7, r11}\n"
        "1:\n"
        "ldr r4, [r2]\n"               /* r0[0..3) and a byte not used */
        "add lr, r2, r7\n"
        "ldrb r5, [lr]\n"
        "bfi r4, r5, #24, #8\n"        /* r0[0..3), r1[0] */
        "ldrh r5, [lr, #1]\n"
        "add lr, lr, r7\n"
        "ldrh r6, [lr]\n"
        "orr r5, r5, r6, lsl #16\n"    /* r1[1..3), r2[0..2) */
        "ldrb r9, [lr, #2]\n"          /* r2[2] */
        "sxtab16 r6, r3, r5\n"
        "sxtab16 r8, r3, r5, ror #8\n"
        "sxtab16 r5, r3, r4, ror #8\n"
        "sxtab16 r4, r3, r4\n"
        "sxtab16 r9, r3, r9\n"
        "stm r0!, {r4, r5, r6, r8, r9, r10}\n"   /* r10: the last word's weights are 0 */
        "add r2, r2, r11\n"
        "cmp r0, r1\n"
        "bne 1b\n"
        "pop {r4-r11, pc}\n");
}

/* out_offset + clamp of lr (r5..r7 = out_offset, act_min, act_max), then STORE */
#define TK_RQ_CLAMP(STORE) \
    "add lr, lr, r5\n" \
    "cmp lr, r6\n" \
    "it lt\n" \
    "movlt lr, r6\n" \
    "cmp lr, r7\n" \
    "it gt\n" \
    "movgt lr, r7\n" \
    STORE "\n"
/* shift <= -1 (e = -shift): tk_rq_shr's floor((a m + 2**30 + 2**(30+e) - 2**31 [a < 0])
   / 2**(31+e)) of the accumulator at [r0, #A]; r8 = m, r10 = e - 1, r9:r4 = the constant for
   a >= 0 less 2**31 (e >= 2: 2**(e-2) : 2**30, e = 1: 0 : 3 * 2**30); for a < 0 adding
   2**31 to the low word and -1 to the high word with the carry gives it */
#define TK_RQ_OUT(A, STORE) \
    "ldr r11, [r0, #" A "]\n" \
    "and r12, r11, #0x80000000\n" \
    "adds r12, r12, r4\n" \
    "adc lr, r9, r11, asr #31\n" \
    "smlal r12, lr, r11, r8\n" \
    "asr lr, lr, r10\n" \
    TK_RQ_CLAMP(STORE)
/* shift >= 0 (multiplier > 1 or = 1): floor(((a << shift) m + 2**30) / 2**31), r10 = shift */
#define TK_RQ_OUT_LEFT(A, STORE) \
    "ldr r11, [r0, #" A "]\n" \
    "lsl r11, r11, r10\n" \
    "mov r12, #0x40000000\n" \
    "mov lr, #0\n" \
    "smlal r12, lr, r11, r8\n" \
    "lsl lr, lr, #1\n" \
    "orr lr, lr, r12, lsr #31\n" \
    TK_RQ_CLAMP(STORE)
/* the next channel's constants (tk_rq_table_dsp); to LEFT if its shift is >= 0 */
#define TK_RQ_CHANNEL(LEFT) \
    "ldm r3!, {r4, r8, r9, r10}\n" \
    "cmp r10, #0\n" \
    "blt " LEFT "\n"

/* 2x2 blocks' requantization (dot.h): r0 = acc, r1 = out (column 0), r2 = stride,
   r3 = table; [sp] = acc_end. Per pair with shifts <= -1: 2 x 3 + 4 x 13 + 4 = 62
   instructions. */
__attribute__((naked)) void tk_rq_2x2n_dsp(const tk_rq_job_t *job) {
    __asm__ volatile (
        "push {r4-r11, lr}\n"
        "ldr r1, [r0, #28]\n"
        "push {r1}\n"
        "mov r12, r0\n"
        "ldm r12, {r0, r1, r2, r3, r5, r6, r7}\n"
        "1:\n"
        TK_RQ_CHANNEL("5f")
        TK_RQ_OUT("8", "strb lr, [r1, r2]")
        TK_RQ_OUT("0", "strb lr, [r1], #1")
        "2:\n"
        TK_RQ_CHANNEL("6f")
        TK_RQ_OUT("12", "strb lr, [r1, r2]")
        TK_RQ_OUT("4", "strb lr, [r1], #1")
        "3:\n"
        "add r0, r0, #16\n"
        "ldr r12, [sp]\n"
        "cmp r0, r12\n"
        "bne 1b\n"
        "pop {r1}\n"
        "pop {r4-r11, pc}\n"
        "5:\n"
        "mvn r10, r10\n"
        TK_RQ_OUT_LEFT("8", "strb lr, [r1, r2]")
        TK_RQ_OUT_LEFT("0", "strb lr, [r1], #1")
        "b 2b\n"
        "6:\n"
        "mvn r10, r10\n"
        TK_RQ_OUT_LEFT("12", "strb lr, [r1, r2]")
        TK_RQ_OUT_LEFT("4", "strb lr, [r1], #1")
        "b 3b\n");
}

/* r1..r4 = acc, r5 = packed column, r6 = row 0, r9/r10/r11 = ws-4, 2ws-4, 3ws-4 (rows 1..3 after
   the post-increment), r8 = end of row 0's groups; per group r7/r12 = the column words */
#define TK_GROUP_1X4 \
    "ldm r5!, {r7, r12}\n" \
    "ldr lr, [r6], #4\n" \
    "sxtb16 r0, lr\n" \
    "smlad r1, r0, r7, r1\n" \
    "sxtb16 lr, lr, ror #8\n" \
    "smlad r1, lr, r12, r1\n" \
    "ldr lr, [r6, r9]\n" \
    "sxtb16 r0, lr\n" \
    "smlad r2, r0, r7, r2\n" \
    "sxtb16 lr, lr, ror #8\n" \
    "smlad r2, lr, r12, r2\n" \
    "ldr lr, [r6, r10]\n" \
    "sxtb16 r0, lr\n" \
    "smlad r3, r0, r7, r3\n" \
    "sxtb16 lr, lr, ror #8\n" \
    "smlad r3, lr, r12, r3\n" \
    "ldr lr, [r6, r11]\n" \
    "sxtb16 r0, lr\n" \
    "smlad r4, r0, r7, r4\n" \
    "sxtb16 lr, lr, ror #8\n" \
    "smlad r4, lr, r12, r4\n"

/* WS puts the row stride in r12: k (r3), or the fifth argument, on the stack */
#define TK_DOT_1X4_DSP(NAME, ARGS, WS) \
__attribute__((naked)) void NAME ARGS { \
    __asm__ volatile ( \
        "push {r4-r11, lr}\n" \
        "push {r0}\n" \
        WS \
        "mov r5, r1\n" \
        "mov r6, r2\n" \
        "sub r9, r12, #4\n" \
        "add r10, r9, r12\n" \
        "add r11, r10, r12\n" \
        "bic r8, r3, #3\n" \
        "add r8, r6, r8\n" \
        "ldm r0, {r1, r2, r3, r4}\n" \
        "subs r0, r8, r6\n" \
        "beq 3f\n" \
        "tst r0, #4\n" \
        "bne 2f\n" \
        "1:\n" \
        TK_GROUP_1X4 \
        "2:\n" \
        TK_GROUP_1X4 \
        "cmp r6, r8\n" \
        "bne 1b\n" \
        "3:\n" \
        "pop {r0}\n" \
        "stm r0, {r1, r2, r3, r4}\n" \
        "pop {r4-r11, pc}\n"); \
}
TK_DOT_1X4_DSP(tk_dot_1x4_dsp, (int32_t *acc, const void *cols, const int8_t *w, int32_t k),
               "mov r12, r3\n")
TK_DOT_1X4_DSP(tk_dot_1x4s_dsp, (int32_t *acc, const void *cols, const int8_t *w, int32_t k,
                                 int32_t ws), "ldr r12, [sp, #40]\n")

/* Depthwise windows for groups of four channels (depth multiplier 1, dilation_w 1), job as
   in dot.h. Per tap: LDR + LDM (the unpacked weights) + 2 SXTAB16 + SMLABB/SMLATT x 4 = 8
   instructions, 4 MACs. r1 = x row, r2 = unpacked weights, r3 = C, r8 = offset pair,
   r4..r7 = the group's channels 0..3. */
#define TK_DW_TAP(X_OFF) \
    "ldr r11, [r1" X_OFF "]\n" \
    "ldm r2!, {r12, lr}\n" \
    "sxtab16 r0, r8, r11\n" \
    "sxtab16 r11, r8, r11, ror #8\n" \
    "smlabb r4, r0, r12, r4\n" \
    "smlatt r6, r0, r12, r6\n" \
    "smlabb r5, r11, lr, r5\n" \
    "smlatt r7, r11, lr, r7\n"
#define TK_DW_ROW TK_DW_TAP("") TK_DW_TAP(", r3") TK_DW_TAP(", r3, lsl #1")

/* the group's outputs from r4..r7 (channels 0..3) with its constants at r2 (advanced over
   them), stored by STORE (r4: the four bytes); the act bounds at BOUNDS. r0, r11, r12, lr
   scratch. */
#define TK_DW_OUT(STORE, BOUNDS) \
    "ldm r2!, {r0, r11, r12, lr}\n" \
    TK_MM_RQ("usat", "r4", "r0", "r11", "r12", "lr") \
    "ldm r2!, {r0, r11, r12, lr}\n" \
    TK_MM_RQ("usat", "r5", "r0", "r11", "r12", "lr") \
    "ldm r2!, {r0, r11, r12, lr}\n" \
    TK_MM_RQ("usat", "r6", "r0", "r11", "r12", "lr") \
    "ldm r2!, {r0, r11, r12, lr}\n" \
    TK_MM_RQ("usat", "r7", "r0", "r11", "r12", "lr") \
    TK_BYTES4_CLAMP("r4", "r5", "r6", "r7", "r0", "r11", BOUNDS) \
    STORE "\n"

/* the frame of the 3x3 routines: [sp] end of the chunk, [sp, #4] / [sp, #8] tk_clamp4,
   [sp, #12] pixels left, [sp, #16] / [sp, #20] x / out from a pixel's last group to the next
   pixel's first, [sp, #24] the chunk; then r1 = x, r3 = C, r8 = offset pair, r9 = out,
   r10 = input row stride */
#define TK_DW_FRAME \
    "push {r4-r11, lr}\n" \
    "ldr r2, [r0, #4]\n" \
    "ldr r5, [r0, #72]\n" \
    "ldrd r6, r7, [r0, #52]\n" \
    "ldrd r9, r10, [r0, #60]\n" \
    "ldr r11, [r0, #68]\n" \
    "mov r12, r2\n" \
    "push {r5-r7, r9-r12}\n" \
    "ldr r1, [r0, #0]\n" \
    "ldr r9, [r0, #8]\n" \
    "ldr r3, [r0, #16]\n" \
    "ldr r10, [r0, #20]\n" \
    "ldr r8, [r0, #24]\n"
#define TK_DW_STORE "str r4, [r9], #4"
/* after a pixel's last group: the next pixel from 1b, or the end */
#define TK_DW_NEXT_PIXEL \
    "ldr r0, [sp, #12]\n" \
    "subs r0, r0, #1\n" \
    "beq 9f\n" \
    "str r0, [sp, #12]\n" \
    "ldrd r0, r11, [sp, #16]\n" \
    "add r1, r1, r0\n" \
    "add r9, r9, r11\n" \
    "ldr r2, [sp, #24]\n" \
    "b 1b\n" \
    "9:\n" \
    "add sp, sp, #28\n" \
    "pop {r4-r11, pc}\n"

/* all nine taps of a 3x3 filter inside the input: a group's biases, taps and constants are
   consecutive, so r2 walks the chunk. Per group: 72 + 40 instructions. */
__attribute__((naked)) void tk_dw_3x3_dsp(const tk_dw_job_t *job) {
    __asm__ volatile (
        TK_DW_FRAME
        "1:\n"
        "ldm r2!, {r4, r5, r6, r7}\n"
        TK_DW_ROW
        "add r1, r1, r10\n"
        TK_DW_ROW
        "add r1, r1, r10\n"
        TK_DW_ROW
        "sub r1, r1, r10, lsl #1\n"     /* back to row 0, next group */
        "add r1, r1, #4\n"
        TK_DW_OUT(TK_DW_STORE, "[sp, #4]")
        "ldr r0, [sp]\n"
        "cmp r2, r0\n"
        "bne 1b\n"
        TK_DW_NEXT_PIXEL);
}

/* clipped windows of a 3x3 filter: as tk_dw_3x3_dsp, the taps' weights read at
   fixed offsets from the group (LDRD), rows ROWS of the filter taps starting at T (the x
   pointer at the window's first tap), XBACK bringing r1 back to the window's first row. Per
   group: 8 per tap + 1 per row + 38. */
#define TK_DW_TAPW(X_OFF, T) \
    "ldr r11, [r1" X_OFF "]\n" \
    "ldrd r12, lr, [r2, #(16 + 8 * " #T ")]\n" \
    "sxtab16 r0, r8, r11\n" \
    "sxtab16 r11, r8, r11, ror #8\n" \
    "smlabb r4, r0, r12, r4\n" \
    "smlatt r6, r0, r12, r6\n" \
    "smlabb r5, r11, lr, r5\n" \
    "smlatt r7, r11, lr, r7\n"
#define TK_DW_ROW3W(T) TK_DW_TAPW("", T) TK_DW_TAPW(", r3", (T + 1)) \
    TK_DW_TAPW(", r3, lsl #1", (T + 2))
#define TK_DW_ROW2W(T) TK_DW_TAPW("", T) TK_DW_TAPW(", r3", (T + 1))
#define TK_DW_DOWN "add r1, r1, r10\n"
#define TK_DW_CLIPPED(NAME, ROWS, XBACK) \
__attribute__((naked)) void NAME(const tk_dw_job_t *job) { \
    __asm__ volatile ( \
        TK_DW_FRAME \
        "1:\n" \
        "ldm r2, {r4, r5, r6, r7}\n" \
        ROWS \
        XBACK \
        "add r1, r1, #4\n" \
        "add r2, r2, #88\n"             /* the group's constants */ \
        TK_DW_OUT(TK_DW_STORE, "[sp, #4]") \
        "ldr r0, [sp]\n" \
        "cmp r2, r0\n" \
        "bne 1b\n" \
        TK_DW_NEXT_PIXEL); \
}
#define TK_DW_UP1 "sub r1, r1, r10\n"
#define TK_DW_UP2 "sub r1, r1, r10, lsl #1\n"
TK_DW_CLIPPED(tk_dw_r01_c012_dsp, TK_DW_ROW3W(0) TK_DW_DOWN TK_DW_ROW3W(3), TK_DW_UP1)
TK_DW_CLIPPED(tk_dw_r12_c012_dsp, TK_DW_ROW3W(3) TK_DW_DOWN TK_DW_ROW3W(6), TK_DW_UP1)
TK_DW_CLIPPED(tk_dw_r012_c01_dsp,
              TK_DW_ROW2W(0) TK_DW_DOWN TK_DW_ROW2W(3) TK_DW_DOWN TK_DW_ROW2W(6), TK_DW_UP2)
TK_DW_CLIPPED(tk_dw_r012_c12_dsp,
              TK_DW_ROW2W(1) TK_DW_DOWN TK_DW_ROW2W(4) TK_DW_DOWN TK_DW_ROW2W(7), TK_DW_UP2)
TK_DW_CLIPPED(tk_dw_r01_c01_dsp, TK_DW_ROW2W(0) TK_DW_DOWN TK_DW_ROW2W(3), TK_DW_UP1)
TK_DW_CLIPPED(tk_dw_r01_c12_dsp, TK_DW_ROW2W(1) TK_DW_DOWN TK_DW_ROW2W(4), TK_DW_UP1)
TK_DW_CLIPPED(tk_dw_r12_c01_dsp, TK_DW_ROW2W(3) TK_DW_DOWN TK_DW_ROW2W(6), TK_DW_UP1)
TK_DW_CLIPPED(tk_dw_r12_c12_dsp, TK_DW_ROW2W(4) TK_DW_DOWN TK_DW_ROW2W(7), TK_DW_UP1)

/* clipped or other windows: ny rows of nx taps. Registers as above except r9 = nx * C,
   r10 = tap offset (bytes); [sp] job, [sp, #4] rows left, [sp, #8] group's x, [sp, #12]
   group's unpacked weights, [sp, #16] out, [sp, #20] groups left, [sp, #24] / [sp, #28] the
   act bounds. Per tap: 8 + 3 loop. */
__attribute__((naked)) void tk_dw_window_dsp(const tk_dw_job_t *job) {
    __asm__ volatile (
        "push {r4-r11, lr}\n"
        "sub sp, sp, #28\n"
        "push {r0}\n"
        "ldr r3, [r0, #16]\n"
        "ldr r9, [r0, #32]\n"
        "mul r9, r9, r3\n"
        "ldr r8, [r0, #24]\n"
        "ldr r1, [r0, #0]\n"
        "ldr r2, [r0, #4]\n"
        "ldr r11, [r0, #8]\n"
        "ldr r12, [r0, #12]\n"
        "str r1, [sp, #8]\n"
        "str r2, [sp, #12]\n"
        "str r11, [sp, #16]\n"
        "str r12, [sp, #20]\n"
        "ldrd r11, r12, [r0, #52]\n"
        "strd r11, r12, [sp, #24]\n"
        "1:\n"
        "ldm r2, {r4, r5, r6, r7}\n"
        "ldr r11, [r0, #44]\n"
        "add r2, r2, r11\n"
        "ldr r11, [r0, #28]\n"
        "str r11, [sp, #4]\n"
        "2:\n"
        "movs r10, #0\n"
        "3:\n"
        TK_DW_TAP(", r10")
        "add r10, r10, r3\n"
        "cmp r10, r9\n"
        "bne 3b\n"
        "ldr r0, [sp]\n"
        "ldr r11, [r0, #20]\n"
        "add r1, r1, r11\n"
        "ldr r11, [r0, #36]\n"
        "add r2, r2, r11\n"
        "ldr r11, [sp, #4]\n"
        "subs r11, r11, #1\n"
        "str r11, [sp, #4]\n"
        "bne 2b\n"
        "ldr r2, [sp, #12]\n"
        "ldr r11, [r0, #48]\n"
        "add r2, r2, r11\n"
        TK_DW_OUT("ldr r0, [sp, #16]\n" "str r4, [r0], #4\n" "str r0, [sp, #16]", "[sp, #24]")
        "ldr r0, [sp]\n"
        "ldr r1, [sp, #8]\n"
        "add r1, r1, #4\n"
        "str r1, [sp, #8]\n"
        "ldr r2, [sp, #12]\n"
        "ldr r11, [r0, #40]\n"
        "add r2, r2, r11\n"
        "str r2, [sp, #12]\n"
        "ldr r11, [sp, #20]\n"
        "subs r11, r11, #1\n"
        "str r11, [sp, #20]\n"
        "bne 1b\n"
        "pop {r0}\n"
        "add sp, sp, #28\n"
        "pop {r4-r11, pc}\n");
}

#elif TK_M0

/* Thumb-1 prologue and epilogue of the assembler routines: r4..r11 saved (r8..r11 through low
   registers), lr returned to */
#define TK_M0_SAVE \
    "push {r4-r7, lr}\n" \
    "mov r4, r8\n" \
    "mov r5, r9\n" \
    "mov r6, r10\n" \
    "mov r7, r11\n" \
    "push {r4-r7}\n"
#define TK_M0_RETURN \
    "pop {r4-r7}\n" \
    "mov r8, r4\n" \
    "mov r9, r5\n" \
    "mov r10, r6\n" \
    "mov r11, r7\n" \
    "pop {r4-r7, pc}\n"

/* Cortex-M0 (Thumb-1): per K value 1 LDM + 4 x (LDRSB, MULS, ADD) + ADDS, and a BNE every
   fourth one: 14.25 instructions for 4 MACs. r0 column, r1..r4 rows advanced by K, r5 = -K
   counting up to 0, r6 value, r7 product; accumulators in r8..r11. Row r's element k is read
   as (w + r * ws + K)[k - K]. tk_dot_1x4_m0 has ws = K. */
#define TK_M0_ELEM \
    "ldm r0!, {r6}\n" \
    "ldrsb r7, [r1, r5]\n" \
    "muls r7, r6, r7\n" \
    "add r8, r7\n" \
    "ldrsb r7, [r2, r5]\n" \
    "muls r7, r6, r7\n" \
    "add r9, r7\n" \
    "ldrsb r7, [r3, r5]\n" \
    "muls r7, r6, r7\n" \
    "add r10, r7\n" \
    "ldrsb r7, [r4, r5]\n" \
    "muls r7, r6, r7\n" \
    "add r11, r7\n"

/* WS puts the row stride in r6: k (r3), or the fifth argument, on the stack */
#define TK_DOT_1X4_M0(NAME, ARGS, WS) \
__attribute__((naked)) void NAME ARGS { \
    __asm__ volatile ( \
        ".syntax unified\n" /* gcc hands Thumb-1 inline asm over in divided syntax */ \
        TK_M0_SAVE \
        "push {r0}\n" \
        "ldr r4, [r0, #0]\n" \
        "mov r8, r4\n" \
        "ldr r4, [r0, #4]\n" \
        "mov r9, r4\n" \
        "ldr r4, [r0, #8]\n" \
        "mov r10, r4\n" \
        "ldr r4, [r0, #12]\n" \
        "mov r11, r4\n" \
        "mov r0, r1\n" \
        "negs r5, r3\n" \
        "adds r1, r2, r3\n" \
        WS \
        "adds r2, r1, r6\n" \
        "adds r3, r2, r6\n" \
        "adds r4, r3, r6\n" \
        "lsls r6, r5, #30\n" /* (-K) & 3 = 0, 1, 2, 3: enter at copy 1, 2, 3, 4 */ \
        "beq 1f\n" \
        "lsrs r6, r6, #30\n" \
        "cmp r6, #2\n" \
        "bhi 4f\n" \
        "beq 3f\n" \
        "b 2f\n" \
        "1:\n" \
        TK_M0_ELEM \
        "adds r5, r5, #1\n" \
        "2:\n" \
        TK_M0_ELEM \
        "adds r5, r5, #1\n" \
        "3:\n" \
        TK_M0_ELEM \
        "adds r5, r5, #1\n" \
        "4:\n" \
        TK_M0_ELEM \
        "adds r5, r5, #1\n" \
        "bne 1b\n" \
        "pop {r0}\n" \
        "mov r4, r8\n" \
        "str r4, [r0, #0]\n" \
        "mov r4, r9\n" \
        "str r4, [r0, #4]\n" \
        "mov r4, r10\n" \
        "str r4, [r0, #8]\n" \
        "mov r4, r11\n" \
        "str r4, [r0, #12]\n" \
        TK_M0_RETURN); \
}
TK_DOT_1X4_M0(tk_dot_1x4_m0, (int32_t *acc, const int32_t *col, const int8_t *w, int32_t k),
              "mov r6, r3\n")
TK_DOT_1X4_M0(tk_dot_1x4s_m0, (int32_t *acc, const int32_t *col, const int8_t *w, int32_t k,
                               int32_t ws), "ldr r6, [sp, #40]\n")

/* runs of inputs + offset to an int32 column (dot.h), two values a pass from end - i and
   end + 1 - i: 3.5 instructions a value, 11 a run. r0 -i, r1 col, r2 run end, r3 end + 1,
   r6 offset; r8 n, r9 runs left, r10 stride */
__attribute__((naked)) void tk_col_rows_m0(const tk_col_rows_m0_job_t *job) {
    __asm__ volatile (
        ".syntax unified\n"
        "push {r4-r7, lr}\n"
        "mov r4, r8\n"
        "mov r5, r9\n"
        "mov r6, r10\n"
        "push {r4-r6}\n"
        "ldm r0!, {r1-r6}\n"            /* col, src, n, rows, stride, off */
        "mov r8, r3\n"
        "mov r9, r4\n"
        "mov r10, r5\n"
        "adds r2, r2, r3\n"
        "1:\n"
        "mov r7, r8\n"
        "negs r0, r7\n"
        "adds r3, r2, #1\n"
        "lsrs r7, r7, #1\n"             /* carry: n odd */
        "bcc 2f\n"
        "ldrsb r4, [r2, r0]\n"
        "adds r4, r4, r6\n"
        "stm r1!, {r4}\n"
        "adds r0, r0, #1\n"
        "beq 3f\n"
        "2:\n"
        "ldrsb r4, [r2, r0]\n"
        "ldrsb r5, [r3, r0]\n"
        "adds r4, r4, r6\n"
        "adds r5, r5, r6\n"
        "stm r1!, {r4, r5}\n"
        "adds r0, r0, #2\n"
        "bne 2b\n"
        "3:\n"
        "add r2, r10\n"
        "mov r7, r9\n"
        "subs r7, r7, #1\n"
        "mov r9, r7\n"
        "bne 1b\n"
        "pop {r4-r6}\n"
        "mov r8, r4\n"
        "mov r9, r5\n"
        "mov r10, r6\n"
        "pop {r4-r7, pc}\n");
}

/* blocks of eight channels (dot.h): per K value 1 LDM + 8 x (LDRB, MULS, ADD), per four
   of them an ADDS stepping the weights (LDRB offsets reach 31), per 32 a CMP, BEQ, B
   (a conditional branch does not reach back): 3.17 instructions a MAC. The loop is entered
   at the group that leaves a multiple of 32 values. r0 column, r1 weights, r2 value, r3
   product, accumulators of channels 0-3 in r4-r7 and 4-7 in r8-r11, r12 column end,
   lr -128 * (column sum); [sp] column, [sp, #4] bias, [sp, #8] acc, [sp, #12] acc_end,
   [sp, #16] loop entry */
#define TK_M0_MAC8_W(OFF, ADD) \
    "ldrb r3, [r1, #" OFF "]\n" \
    "muls r3, r2, r3\n" \
    ADD "\n"
#define TK_M0_MAC8_K(K) \
    "ldm r0!, {r2}\n" \
    TK_M0_MAC8_W(K "*8+0", "adds r4, r4, r3") \
    TK_M0_MAC8_W(K "*8+1", "adds r5, r5, r3") \
    TK_M0_MAC8_W(K "*8+2", "adds r6, r6, r3") \
    TK_M0_MAC8_W(K "*8+3", "adds r7, r7, r3") \
    TK_M0_MAC8_W(K "*8+4", "add r8, r3") \
    TK_M0_MAC8_W(K "*8+5", "add r9, r3") \
    TK_M0_MAC8_W(K "*8+6", "add r10, r3") \
    TK_M0_MAC8_W(K "*8+7", "add r11, r3")
#define TK_M0_MAC8_K4 \
    TK_M0_MAC8_K("0") TK_M0_MAC8_K("1") TK_M0_MAC8_K("2") TK_M0_MAC8_K("3") \
    "adds r1, r1, #32\n"

__attribute__((naked)) void tk_dot_1x8_m0(const tk_dot8_m0_job_t *job) {
    __asm__ volatile (
        ".syntax unified\n"
        TK_M0_SAVE
        "ldm r0!, {r1-r6}\n"            /* col, col_end, w, bias, acc, acc_end */
        "mov r12, r2\n"
        "subs r7, r1, r2\n"             /* entry: group (-K / 4) & 7 */
        "lsrs r7, r7, #4\n"
        "movs r0, #7\n"
        "ands r7, r0\n"
        "movs r0, #202\n"              /* bytes of TK_M0_MAC8_K4 */
        "muls r7, r0, r7\n"
        "adr r0, 3f\n"
        "adds r7, r7, r0\n"
        "adds r7, r7, #1\n"             /* Thumb */
        "push {r1, r4, r5, r6, r7}\n"
        "mov r0, r1\n"
        "mov r1, r3\n"
        "movs r3, #0\n"
        "1:\n"                          /* column sum */
        "ldm r0!, {r4-r7}\n"
        "adds r3, r3, r4\n"
        "adds r3, r3, r5\n"
        "adds r3, r3, r6\n"
        "adds r3, r3, r7\n"
        "cmp r0, r12\n"
        "bne 1b\n"
        "lsls r3, r3, #7\n"
        "negs r3, r3\n"
        "mov lr, r3\n"
        "b 2f\n"
        ".balign 4\n"
        "3:\n"
        TK_M0_MAC8_K4 TK_M0_MAC8_K4 TK_M0_MAC8_K4 TK_M0_MAC8_K4
        TK_M0_MAC8_K4 TK_M0_MAC8_K4 TK_M0_MAC8_K4 TK_M0_MAC8_K4
        "cmp r0, r12\n"
        "beq 4f\n"
        "b 3b\n"
        "4:\n"
        "ldr r2, [sp, #8]\n"
        "stm r2!, {r4-r7}\n"
        "mov r4, r8\n"
        "mov r5, r9\n"
        "mov r6, r10\n"
        "mov r7, r11\n"
        "stm r2!, {r4-r7}\n"
        "str r2, [sp, #8]\n"
        "ldr r3, [sp, #12]\n"
        "cmp r2, r3\n"
        "beq 5f\n"
        "2:\n"                          /* block: accumulators = bias - 128 * sum */
        "ldr r2, [sp, #4]\n"
        "ldm r2!, {r4-r7}\n"
        "ldm r2!, {r0, r3}\n"
        "mov r8, r0\n"
        "mov r9, r3\n"
        "ldm r2!, {r0, r3}\n"
        "mov r10, r0\n"
        "mov r11, r3\n"
        "str r2, [sp, #4]\n"
        "add r4, lr\n"
        "add r5, lr\n"
        "add r6, lr\n"
        "add r7, lr\n"
        "add r8, lr\n"
        "add r9, lr\n"
        "add r10, lr\n"
        "add r11, lr\n"
        "ldr r0, [sp]\n"
        "ldr r2, [sp, #16]\n"
        "bx r2\n"
        "5:\n"
        "add sp, sp, #20\n"
        TK_M0_RETURN);
}

/* depthwise windows of 3 rows of 3 (or 2) taps, one channel per pass, the input offset
   folded into the initial values: per tap LDRSB x 2, MULS, ADDS = 4 instructions, plus 2
   per row and 10 per channel. r0 = x, r1 = f, r4 / r2 / r3 = tap offsets 0 / C / 2C,
   r7 = acc; r8 = init, r9 / r11 = input / filter row, r10 / r12 = back to row 0 and on to
   the next channel, lr = x_end; [sp] acc pointer */
#define TK_DW_M0_TAP(K) \
    "ldrsb r5, [r0, " K "]\n" \
    "ldrsb r6, [r1, " K "]\n" \
    "muls r5, r6, r5\n" \
    "adds r7, r7, r5\n"
/* the same adding the input offset (r8) to each input */
#define TK_DW_M0_TAP_OFF(K) \
    "ldrsb r5, [r0, " K "]\n" \
    "ldrsb r6, [r1, " K "]\n" \
    "add r5, r8\n" \
    "muls r5, r6, r5\n" \
    "adds r7, r7, r5\n"

#define TK_DW_3ROWS_M0(NAME, ROW) \
__attribute__((naked)) void NAME(const tk_dw_m0_job_t *job) { \
    __asm__ volatile ( \
        ".syntax unified\n" \
        TK_M0_SAVE \
        "ldr r1, [r0, #8]\n" \
        "ldr r2, [r0, #12]\n" \
        "mov lr, r2\n" \
        "push {r1}\n" \
        "ldr r2, [r0, #36]\n" \
        "mov r8, r2\n" \
        "ldr r2, [r0, #20]\n" \
        "mov r9, r2\n" \
        "lsls r3, r2, #1\n" \
        "negs r3, r3\n" \
        "adds r3, r3, #1\n" \
        "mov r10, r3\n" \
        "ldr r2, [r0, #28]\n" \
        "mov r11, r2\n" \
        "lsls r3, r2, #1\n" \
        "negs r3, r3\n" \
        "adds r3, r3, #1\n" \
        "mov r12, r3\n" \
        "ldr r2, [r0, #16]\n" \
        "lsls r3, r2, #1\n" \
        "ldr r1, [r0, #4]\n" \
        "ldr r0, [r0, #0]\n" \
        "movs r4, #0\n" \
        "1:\n" \
        "mov r5, r8\n" \
        "ldm r5!, {r7}\n" \
        "mov r8, r5\n" \
        ROW \
        "add r0, r9\n" \
        "add r1, r11\n" \
        ROW \
        "add r0, r9\n" \
        "add r1, r11\n" \
        ROW \
        "add r0, r10\n" \
        "add r1, r12\n" \
        "ldr r5, [sp]\n" \
        "stm r5!, {r7}\n" \
        "str r5, [sp]\n" \
        "cmp r0, lr\n" \
        "bne 1b\n" \
        "add sp, sp, #4\n" \
        TK_M0_RETURN); \
}
TK_DW_3ROWS_M0(tk_dw_3x3_m0, TK_DW_M0_TAP("r4") TK_DW_M0_TAP("r2") TK_DW_M0_TAP("r3"))
TK_DW_3ROWS_M0(tk_dw_3x2_m0, TK_DW_M0_TAP("r4") TK_DW_M0_TAP("r2"))

/* clipped windows (dilation_w 1): job->ny rows of NX = 1..3 taps, one channel per pass; the
   taps as in tk_dw_3x3_m0 with the offset added (r8), per row 6 more, per channel 12 + 3.
   r10 / r12 = back by ny rows and on to the next channel, lr = x_end; [sp] acc pointer,
   [sp, #8] rows left, [sp, #12] ny, [sp, #16] init */
#define TK_DW_M0_ROW1 TK_DW_M0_TAP_OFF("r4")
#define TK_DW_M0_ROW2 TK_DW_M0_TAP_OFF("r4") TK_DW_M0_TAP_OFF("r2")
#define TK_DW_M0_ROW3 TK_DW_M0_TAP_OFF("r4") TK_DW_M0_TAP_OFF("r2") TK_DW_M0_TAP_OFF("r3")
#define TK_DW_ROWS_M0(NAME, ROW) \
__attribute__((naked)) void NAME(const tk_dw_m0_job_t *job) { \
    __asm__ volatile ( \
        ".syntax unified\n" \
        TK_M0_SAVE \
        "ldr r1, [r0, #8]\n" \
        "ldr r2, [r0, #12]\n" \
        "mov lr, r2\n" \
        "ldr r3, [r0, #32]\n" \
        "mov r4, r3\n" \
        "ldr r5, [r0, #36]\n" \
        "push {r1, r2, r3, r4, r5}\n" \
        "ldr r2, [r0, #24]\n" \
        "mov r8, r2\n" \
        "ldr r2, [r0, #20]\n" \
        "mov r9, r2\n" \
        "muls r2, r3\n" \
        "negs r2, r2\n" \
        "adds r2, r2, #1\n" \
        "mov r10, r2\n" \
        "ldr r2, [r0, #28]\n" \
        "mov r11, r2\n" \
        "muls r2, r3\n" \
        "negs r2, r2\n" \
        "adds r2, r2, #1\n" \
        "mov r12, r2\n" \
        "ldr r2, [r0, #16]\n" \
        "lsls r3, r2, #1\n" \
        "ldr r1, [r0, #4]\n" \
        "ldr r0, [r0, #0]\n" \
        "movs r4, #0\n" \
        "1:\n" \
        "ldr r5, [sp, #16]\n" \
        "ldm r5!, {r7}\n" \
        "str r5, [sp, #16]\n" \
        "ldr r5, [sp, #12]\n" \
        "str r5, [sp, #8]\n" \
        "2:\n" \
        ROW \
        "add r0, r9\n" \
        "add r1, r11\n" \
        "ldr r5, [sp, #8]\n" \
        "subs r5, r5, #1\n" \
        "str r5, [sp, #8]\n" \
        "bne 2b\n" \
        "add r0, r10\n" \
        "add r1, r12\n" \
        "ldr r5, [sp]\n" \
        "stm r5!, {r7}\n" \
        "str r5, [sp]\n" \
        "cmp r0, lr\n" \
        "bne 1b\n" \
        "add sp, sp, #20\n" \
        TK_M0_RETURN); \
}
TK_DW_ROWS_M0(tk_dw_rows1_m0, TK_DW_M0_ROW1)
TK_DW_ROWS_M0(tk_dw_rows2_m0, TK_DW_M0_ROW2)
TK_DW_ROWS_M0(tk_dw_rows3_m0, TK_DW_M0_ROW3)

/* requantization of acc[c] to out[c] with per-channel constants (dot.h), table entry by
   entry: |a| m from 16-bit halves (4 MULS), the rounding constant added with the carry, the
   high word shifted, the sign restored: 36 instructions a channel (clamps not taken), two
   channels a pass. r0 acc, r1 out, r2 table;
   r8 out_offset, r9 act_min, r10 act_max, r11 table end, r12 sign. */
#define TK_RQ_M0_ACC \
    "ldm r2!, {r3}\n" \
    "ldr r3, [r0, r3]\n"
#define TK_RQ_M0_ABS \
    "asrs r4, r3, #31\n" \
    "eors r3, r4\n" \
    "subs r3, r3, r4\n" \
    "mov r12, r4\n"
/* r3:r7 = r3 * (r4 + (r5 << 16)) for r3 <= 2**31, r4 < 2**16, r5 < 2**15 */
#define TK_RQ_M0_MUL \
    "uxth r6, r3\n" \
    "lsrs r3, r3, #16\n" \
    "mov r7, r6\n" \
    "muls r7, r4\n"                /* lo */ \
    "muls r6, r5\n" \
    "muls r4, r3\n" \
    "muls r3, r5\n"                /* hi */ \
    "adds r6, r6, r4\n"            /* cross < 2**32 */ \
    "lsls r4, r6, #16\n" \
    "lsrs r6, r6, #16\n" \
    "adds r7, r7, r4\n" \
    "adcs r3, r6\n"
/* the sign restored, the output offset added, clamped, stored at out[r6 >> 8] */
#define TK_RQ_M0_OUT \
    "mov r4, r12\n" \
    "eors r3, r4\n" \
    "subs r3, r3, r4\n" \
    "add r3, r8\n" \
    "cmp r3, r9\n" \
    "bge 2f\n" \
    "mov r3, r9\n" \
    "2:\n" \
    "cmp r3, r10\n" \
    "ble 3f\n" \
    "mov r3, r10\n" \
    "3:\n" \
    "lsrs r4, r6, #8\n" \
    "strb r3, [r1, r4]\n"
#define TK_RQ_M0_ONE \
    TK_RQ_M0_ACC \
    TK_RQ_M0_ABS \
    "ldm r2!, {r4, r5}\n"          /* m & 0xFFFF, m >> 16 */ \
    TK_RQ_M0_MUL \
    "ldm r2!, {r4, r5, r6}\n"      /* high and low words of the constant, e - 1 */ \
    "add r5, r12\n"                /* - [a < 0] */ \
    "adds r7, r7, r5\n" \
    "adcs r3, r4\n" \
    "lsrs r3, r6\n" \
    TK_RQ_M0_OUT
/* r0 acc, r1 out, r2 table, r3 = r11 table end, r8 out_offset, r9 act_min, r10 act_max,
   [sp] fix_end */
#define TK_RQ_M0_ENTER \
        ".syntax unified\n" \
        TK_M0_SAVE \
        "ldr r4, [r0, #16]\n" \
        "mov r8, r4\n" \
        "ldr r4, [r0, #20]\n" \
        "mov r9, r4\n" \
        "ldr r4, [r0, #24]\n" \
        "mov r10, r4\n" \
        "ldr r1, [r0, #4]\n" \
        "ldr r2, [r0, #8]\n" \
        "ldr r3, [r0, #12]\n" \
        "mov r11, r3\n" \
        "ldr r4, [r0, #28]\n" \
        "push {r4}\n" \
        "ldr r0, [r0]\n"
/* the table's main entries [tab, tab_end), two a pass, then those of shift >= 0 [tab_end,
   fix_end): SaturatingRoundingDoublingHighMul(a << shift, m) on magnitudes,
   floor((|a| m + 2**30 - [a < 0]) / 2**31), 41 instructions a channel. [sp] fix_end */
__attribute__((naked)) void tk_rq_m0(const tk_rq_m0_job_t *job) {
    __asm__ volatile (
        TK_RQ_M0_ENTER
        "cmp r2, r3\n"
        "beq 5f\n"
        "subs r4, r3, r2\n"
        "lsrs r4, r4, #4\n"           /* carry: an odd number of 24-byte entries */
        "bcs 4f\n"
        "1:\n"
        TK_RQ_M0_ONE
        "4:\n"
        TK_RQ_M0_ONE
        "cmp r2, r11\n"
        "bne 1b\n"
        "5:\n"
        "ldr r4, [sp]\n"
        "mov r11, r4\n"
        "cmp r2, r11\n"
        "beq 6f\n"
        "1:\n"
        TK_RQ_M0_ACC
        "ldr r4, [r2, #8]\n"
        "lsls r3, r4\n"                /* a << shift, wrapping */
        TK_RQ_M0_ABS
        "ldm r2!, {r4, r5}\n"
        TK_RQ_M0_MUL
        "ldm r2!, {r4, r5, r6}\n"      /* shift, 2**30, c << 8 */
        "add r5, r12\n"
        "movs r4, #0\n"
        "adds r7, r7, r5\n"
        "adcs r3, r4\n"
        "lsls r7, r7, #1\n"
        "adcs r3, r3\n"                /* >> 31 */
        TK_RQ_M0_OUT
        "cmp r2, r11\n"
        "bne 1b\n"
        "6:\n"
        "add sp, sp, #4\n"
        TK_M0_RETURN);
}

#else
typedef int tk_dot_dsp_unused;   /* ISO C forbids an empty translation unit */
#endif
