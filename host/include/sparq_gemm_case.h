// sparq-layer: pack
// A random GEMM test case and its reference results: the known-answer check
// that `sparq selftest`, the link tests and bench-accel run on a device.
#ifndef SPARQ_GEMM_CASE_H
#define SPARQ_GEMM_CASE_H

#include <stddef.h>
#include <stdint.h>

#include "sparq_format.h"
#include "sparq_gemm.h"

struct sparq_gemm_case {
    int t, out, in;
    float *wf;                       // (out, in) weights before packing: integers in [-1000, 1000]
    struct sparq_packed w;           // wf packed at (width, kept), full grid
    int8_t *x;                       // (t, in) random activations
    struct sparq_requant_params *qp; // (out) random requantization
    int32_t *y;                      // (t, out) output buffer, filled with y0 by make
    int8_t *y8;                      // (t, out) int8 output buffer
    int32_t *y0;                     // (t, out) random start for accumulating GEMMs
    int32_t *want;                   // (t, out) x * w^T
    int32_t *want_acc;               // (t, out) y0 + x * w^T, wrapping like the hardware
    int8_t *want8;                   // (t, out) want requantized with qp
};

// Draws a case from *rng (sparq_rng) and computes its references.
// SPARQ_ENOMEM / the packer's error; the case is then empty (free is safe).
int sparq_gemm_case_make(struct sparq_gemm_case *c, int t, int out, int in, int width, int kept, uint64_t *rng);
// Recomputes want, want_acc and want8 after the caller changed x, wf or qp
// (wf is re-packed).
int sparq_gemm_case_reference(struct sparq_gemm_case *c, int width, int kept);
// Entries of y (against want, or want_acc if accumulate) and of y8 (against
// want8, if y8 is not NULL) that differ.
size_t sparq_gemm_case_mismatches(const struct sparq_gemm_case *c, const int32_t *y, int accumulate,
                                  const int8_t *y8);
void sparq_gemm_case_free(struct sparq_gemm_case *c);
// The device's two-matrix chain (docs/accelerator.md) on t rows of c1->x:
// W1, requantize with c1->qp, the table lut (NULL: identity), W2, requantize
// with c2->qp, into want (t, c2->out). SPARQ_ENOMEM if scratch memory is short.
int sparq_gemm_case_chain_ref(int8_t *want, const struct sparq_gemm_case *c1, const struct sparq_gemm_case *c2,
                              const int8_t *lut, int t);

#endif
