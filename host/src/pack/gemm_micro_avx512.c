// Microbenchmark of the instruction sequences inside the avx512vnni kernels
// (sparq_gemm_micro, `sparq bench-gemm --micro`): how many core cycles each
// costs when nothing else limits it, so the GEMM timings can be read as a
// fraction of what the core can do. Each sequence is a loop of independent
// instructions (no dependency chain longer than one iteration) in asm, so
// the compiler cannot change it; the core clock comes from a chain of
// dependent adds (one cycle each). Every timing is the fastest of many short
// runs, interleaved, so other load on a shared machine mostly drops out.
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "sparq_gemm.h"

#define ITERS 400 // loop iterations per timed run (~10-50 us each)
#define ROUNDS 1000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// Registers every sequence may write (the accumulators and temporaries).
#define CLOB                                                                                                           \
    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",         \
        "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25",    \
        "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31"

// 12 independent instructions "op zmm20, zmm21, zmmN" (AT&T operand order).
#define OP12(op)                                                                                                       \
    op " %%zmm20,%%zmm21,%%zmm0\n" op " %%zmm20,%%zmm21,%%zmm1\n" op " %%zmm20,%%zmm21,%%zmm2\n" op                    \
       " %%zmm20,%%zmm21,%%zmm3\n" op " %%zmm20,%%zmm21,%%zmm4\n" op " %%zmm20,%%zmm21,%%zmm5\n" op                    \
       " %%zmm20,%%zmm21,%%zmm6\n" op " %%zmm20,%%zmm21,%%zmm7\n" op " %%zmm20,%%zmm21,%%zmm8\n" op                    \
       " %%zmm20,%%zmm21,%%zmm9\n" op " %%zmm20,%%zmm21,%%zmm10\n" op " %%zmm20,%%zmm21,%%zmm11\n"
// A shuffle into a temporary, then vpdpbusd of it into accumulator A.
#define PAIR(op, T, A) op " %%zmm20,%%zmm21,%%zmm" #T "\nvpdpbusd %%zmm22,%%zmm" #T ",%%zmm" #A "\n"
#define PAIR12(op)                                                                                                     \
    PAIR(op, 12, 0)                                                                                                    \
    PAIR(op, 13, 1) PAIR(op, 14, 2) PAIR(op, 15, 3) PAIR(op, 16, 4) PAIR(op, 17, 5) PAIR(op, 12, 6) PAIR(op, 13, 7)    \
        PAIR(op, 14, 8) PAIR(op, 15, 9) PAIR(op, 16, 10) PAIR(op, 17, 11)
// 12 loads of one kind from the buffer in %0, STEP bytes apart.
#define LD(op, off, r) op " " #off "(%0),%%zmm" #r "\n"
#define LOADS12(op, s)                                                                                                 \
    LD(op, 0 * s, 0)                                                                                                   \
    LD(op, 1 * s, 1) LD(op, 2 * s, 2) LD(op, 3 * s, 3) LD(op, 4 * s, 4) LD(op, 5 * s, 5) LD(op, 6 * s, 6)              \
        LD(op, 7 * s, 7) LD(op, 8 * s, 8) LD(op, 9 * s, 9) LD(op, 10 * s, 10) LD(op, 11 * s, 11)
// The frame kernel's step: a 64-byte table line, then vpdpbusd with the
// weight dword broadcast from memory.
#define FR(off, woff, T, A)                                                                                            \
    "vmovdqa64 " #off "(%0),%%zmm" #T "\nvpdpbusd " #woff "(%1)%{1to16%},%%zmm" #T ",%%zmm" #A "\n"
// The kernels' tiles, 6 rows x 3 blocks of 16 outputs: weights (zmm27-29)
// and, sparse, indices (zmm24-26) loaded once per step, then per row the
// activations and 3 x (select, vpdpbusd).
#define W3 "vmovdqa64 192(%1),%%zmm27\nvmovdqa64 256(%1),%%zmm28\nvmovdqa64 320(%1),%%zmm29\n"
#define I3 "vmovdqa64 (%1),%%zmm24\nvmovdqa64 64(%1),%%zmm25\nvmovdqa64 128(%1),%%zmm26\n"
#define SEL3(sel, a0, a1, a2)                                                                                          \
    sel " %%zmm24,%%zmm18,%%zmm12\nvpdpbusd %%zmm27,%%zmm12,%%zmm" #a0 "\n" sel                                        \
        " %%zmm25,%%zmm18,%%zmm13\nvpdpbusd %%zmm28,%%zmm13,%%zmm" #a1 "\n" sel                                        \
        " %%zmm26,%%zmm18,%%zmm14\nvpdpbusd %%zmm29,%%zmm14,%%zmm" #a2 "\n"
// HEAD's vpshufb row: the row's 16-channel block broadcast to the 4 lanes.
#define ROW_SHUF(off, a0, a1, a2) "vbroadcasti32x4 " #off "(%0),%%zmm18\n" SEL3("vpshufb", a0, a1, a2)
// vpermb row: the aligned 64-byte block that holds it (vpermb takes the
// index first in AT&T order: vpermb data, index, dst).
#define PSEL3(a0, a1, a2)                                                                                              \
    "vpermb %%zmm18,%%zmm24,%%zmm12\nvpdpbusd %%zmm27,%%zmm12,%%zmm" #a0                                               \
    "\nvpermb %%zmm18,%%zmm25,%%zmm13\nvpdpbusd %%zmm28,%%zmm13,%%zmm" #a1                                             \
    "\nvpermb %%zmm18,%%zmm26,%%zmm14\nvpdpbusd %%zmm29,%%zmm14,%%zmm" #a2 "\n"
#define ROW_PERM(off, a0, a1, a2) "vmovdqa64 " #off "(%0),%%zmm18\n" PSEL3(a0, a1, a2)
// Dense row: one dword of the row broadcast, 3 vpdpbusd.
#define ROW_DENSE(off, a0, a1, a2)                                                                                     \
    "vpbroadcastd " #off "(%0),%%zmm18\nvpdpbusd %%zmm27,%%zmm18,%%zmm" #a0 "\nvpdpbusd %%zmm28,%%zmm18,%%zmm" #a1     \
    "\nvpdpbusd %%zmm29,%%zmm18,%%zmm" #a2 "\n"
#define ROWS6(ROW)                                                                                                     \
    ROW(0, 0, 1, 2)                                                                                                    \
    ROW(576, 3, 4, 5) ROW(1152, 6, 7, 8) ROW(1728, 9, 10, 11) ROW(2304, 15, 16, 17) ROW(2880, 19, 21, 22)

// A mixed loop (docs/kernel.md section 21): besides the shuffle pairs, steps
// that select by address, as the frame kernel does: a 64-byte table line
// (16 frames x the 4 activations one output's pattern keeps) and vpdpbusd
// with the output's weight dword broadcast once into a register. Those use
// a load port, not a shuffle pipe.
#define FRR(off, T, A) "vmovdqa64 " #off "(%0),%%zmm" #T "\nvpdpbusd %%zmm23,%%zmm" #T ",%%zmm" #A "\n"
#define MIX2(a, off, b) PAIR("vpermb", 12, a) FRR(off, 13, b)
// Mixed tile body: a 4-row x 3-block vpermb tile (accumulators zmm0-11) and
// 2 outputs x 4 lines of 16 frames (zmm12, 14-17, 19, 21, 22), per step.
#define MPAIR(I, W, A) "vpermb %%zmm18,%%zmm" #I ",%%zmm23\nvpdpbusd %%zmm" #W ",%%zmm23,%%zmm" #A "\n"
#define MROW(off, a0, a1, a2) "vmovdqa64 " #off "(%0),%%zmm18\n" MPAIR(24, 27, a0) MPAIR(25, 28, a1) MPAIR(26, 29, a2)
#define MLINE(off, T, A) "vmovdqa64 " #off "(%0),%%zmm" #T "\nvpdpbusd %%zmm13,%%zmm" #T ",%%zmm" #A "\n"
#define MOUT(woff, l, a0, a1, a2, a3)                                                                                  \
    "vpbroadcastd " #woff "(%1),%%zmm13\n" MLINE(l, 30, a0) MLINE(l + 64, 31, a1) MLINE(l + 128, 30, a2)               \
        MLINE(l + 192, 31, a3)
#define MSTEP(x, l)                                                                                                    \
    I3 W3 MROW(x, 0, 1, 2) MROW(x + 576, 3, 4, 5) MOUT(400, l, 12, 14, 15, 16) MROW(x + 1152, 6, 7, 8)                 \
        MROW(x + 1728, 9, 10, 11) MOUT(404, l + 256, 17, 19, 21, 22)
// The frame part's per-call table: a line = one vpermt2b of a 16-frame x
// 8-channel block, stored; and the shuffles of its 16 x 16 transposes.
#define LINE(off, T)                                                                                                   \
    "vmovdqa64 %%zmm20,%%zmm" #T "\nvpermt2b %%zmm21,%%zmm24,%%zmm" #T "\nvmovdqa64 %%zmm" #T "," #off "(%0)\n"
#define ST(off, r) "vmovdqa64 %%zmm" #r "," #off "(%0)\n"

#define SEQ(NAME, BODY)                                                                                                \
    static void NAME(const uint8_t *m)                                                                                 \
    {                                                                                                                  \
        for (int i = 0; i < ITERS; i++)                                                                                \
            __asm__ volatile(BODY : : "r"(m), "r"(m + 4096) : CLOB, "memory");                                         \
    }
static void seq_add(const uint8_t *m)
{
    (void)m;
    for (int i = 0; i < ITERS; i++)
        __asm__ volatile(".rept 96\nadd $1,%%rax\n.endr\n" : : : "rax");
}
SEQ(seq_dpbusd, OP12("vpdpbusd") OP12("vpdpbusd"))
SEQ(seq_pshufb, OP12("vpshufb") OP12("vpshufb"))
SEQ(seq_permb, OP12("vpermb") OP12("vpermb"))
SEQ(seq_permt2b, OP12("vpermt2b") OP12("vpermt2b"))
SEQ(seq_pair_shufb, PAIR12("vpshufb") PAIR12("vpshufb"))
SEQ(seq_pair_permb, PAIR12("vpermb") PAIR12("vpermb"))
SEQ(seq_load, LOADS12("vmovdqa64", 64) LOADS12("vmovdqa64", 64))
SEQ(seq_bcast16, LOADS12("vbroadcasti32x4", 16) LOADS12("vbroadcasti32x4", 16))
SEQ(seq_bcast4, LOADS12("vpbroadcastd", 4) LOADS12("vpbroadcastd", 4))
SEQ(seq_frame, FR(0, 0, 12, 0) FR(64, 4, 13, 1) FR(128, 8, 14, 2) FR(192, 12, 15, 3) FR(256, 16, 16, 4)
                   FR(320, 20, 17, 5) FR(384, 24, 12, 6) FR(448, 28, 13, 7) FR(512, 32, 14, 8) FR(576, 36, 15, 9)
                       FR(640, 40, 16, 10) FR(704, 44, 17, 11))
SEQ(seq_tile_dense, W3 ROWS6(ROW_DENSE) W3 ROWS6(ROW_DENSE))
SEQ(seq_tile_shufb, I3 W3 ROWS6(ROW_SHUF) I3 W3 ROWS6(ROW_SHUF))
SEQ(seq_tile_permb, I3 W3 ROWS6(ROW_PERM) I3 W3 ROWS6(ROW_PERM))
SEQ(seq_frame_reg,
    FRR(0, 12, 0) FRR(64, 13, 1) FRR(128, 14, 2) FRR(192, 15, 3) FRR(256, 16, 4) FRR(320, 17, 5) FRR(384, 12, 6)
        FRR(448, 13, 7) FRR(512, 14, 8) FRR(576, 15, 9) FRR(640, 16, 10) FRR(704, 17, 11))
SEQ(seq_mix, MIX2(0, 0, 1) MIX2(2, 64, 3) MIX2(4, 128, 5) MIX2(6, 192, 7) MIX2(8, 256, 9) MIX2(10, 320, 11))
SEQ(seq_tile_mixed, MSTEP(0, 2048) MSTEP(64, 2560))
SEQ(seq_store, ST(0, 0) ST(64, 1) ST(128, 2) ST(192, 3) ST(256, 4) ST(320, 5) ST(384, 6) ST(448, 7) ST(512, 8)
                   ST(576, 9) ST(640, 10) ST(704, 11))
SEQ(seq_line, "vmovdqa64 (%1),%%zmm24\n" LINE(0, 0) LINE(64, 1) LINE(128, 2) LINE(192, 3) LINE(256, 4) LINE(320, 5)
                  LINE(384, 6) LINE(448, 7) LINE(512, 8) LINE(576, 9) LINE(640, 10) LINE(704, 11))
SEQ(seq_unpack, OP12("vpunpckldq") OP12("vpunpckldq"))
SEQ(seq_shufi, OP12("vshufi32x4 $0x88,") OP12("vshufi32x4 $0x88,"))

struct seq {
    void (*fn)(const uint8_t *);
    int per_iter; // units per loop iteration
    const char *name, *unit;
};
static const struct seq seqs[] = {
    { seq_add, 96, "add (dependent chain: the clock)", "add" },
    { seq_dpbusd, 24, "vpdpbusd zmm", "instr" },
    { seq_pshufb, 24, "vpshufb zmm", "instr" },
    { seq_permb, 24, "vpermb zmm (VBMI)", "instr" },
    { seq_permt2b, 24, "vpermt2b zmm (VBMI)", "instr" },
    { seq_pair_shufb, 24, "vpshufb + vpdpbusd", "pair" },
    { seq_pair_permb, 24, "vpermb + vpdpbusd", "pair" },
    { seq_load, 24, "load zmm (vmovdqa64)", "load" },
    { seq_bcast16, 24, "vbroadcasti32x4 zmm, m128", "load" },
    { seq_bcast4, 24, "vpbroadcastd zmm, m32", "load" },
    { seq_frame, 12, "frame kernel: line load + vpdpbusd m32{1to16}", "vpdpbusd" },
    { seq_tile_dense, 36, "dense tile body (vpbroadcastd + 3 vpdpbusd per row)", "vpdpbusd" },
    { seq_tile_shufb, 36, "sparse tile body, vbroadcasti32x4 + vpshufb", "pair" },
    { seq_tile_permb, 36, "sparse tile body, 64-byte load + vpermb", "pair" },
    { seq_frame_reg, 12, "frame step, weight in a register: line load + vpdpbusd", "vpdpbusd" },
    { seq_mix, 12, "mixed: vpermb + vpdpbusd pair, then a frame step", "vpdpbusd" },
    { seq_tile_mixed, 40, "mixed tile body: 4x3 vpermb tile + 2 outputs x 4 lines", "vpdpbusd" },
    { seq_store, 12, "store zmm", "store" },
    { seq_line, 12, "frame table line: vpermt2b + store", "line" },
    { seq_unpack, 24, "vpunpckldq zmm (transposes)", "instr" },
    { seq_shufi, 24, "vshufi32x4 zmm (transposes)", "instr" },
};

int sparq_gemm_micro(struct sparq_gemm_micro_row *rows, int max, double *ghz)
{
    const int n = (int)(sizeof seqs / sizeof seqs[0]);
    if (!__builtin_cpu_supports("avx512vnni") || !__builtin_cpu_supports("avx512vbmi") || max < n - 1)
        return 0;
    static _Alignas(64) uint8_t buf[8192];
    memset(buf, 1, sizeof buf); // small codes: no value-dependent timing either way
    double best[sizeof seqs / sizeof seqs[0]];
    for (int s = 0; s < n; s++)
        best[s] = 1e30;
    for (int r = 0; r < ROUNDS; r++)
        for (int s = 0; s < n; s++) {
            double t0 = now_s();
            seqs[s].fn(buf);
            double dt = (now_s() - t0) / ((double)ITERS * seqs[s].per_iter);
            if (dt < best[s])
                best[s] = dt;
        }
    *ghz = 1e-9 / best[0];
    for (int s = 1; s < n; s++)
        rows[s - 1] = (struct sparq_gemm_micro_row){ seqs[s].name, seqs[s].unit, best[s] / best[0] };
    return n - 1;
}
