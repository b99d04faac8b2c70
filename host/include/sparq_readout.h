// sparq-layer: compress
// The int8 read-out of a compressed matmul, defined once (docs/format.md §5,
// docs/modelfile.md "Read-out"). The device requantizes every int32
// accumulator of output channel o to int8 with sparq_requant(acc, 0, mult_o,
// shift_o), mult_o / 2^shift_o = 127 / A_o, where A_o is the channel's clip
// level in accumulator units; the host reads the int8 result back as
//   y[t][o] = q[t][o] * (s_row[t] * deq_o) + bias[o],   deq_o = s_w[o] * 2^shift_o / mult_o
// (s_row: the per-row activation scale, s_w: the weight scale). The int8
// output scale of row t, channel o is therefore s_row[t] * deq_o; the
// per-row factor stays on the host because the device's parameters are per
// channel. Compression-aware fine-tuning calibrates A_o and simulates exactly
// this path (sparq_readout_acc + sparq_readout_apply); the model file carries
// A_o in a versioned section per packed matmul.
#ifndef SPARQ_READOUT_H
#define SPARQ_READOUT_H

#include <stddef.h>
#include <stdint.h>

#include "sparq_gemm.h"
#include "sparq_modelfile.h"

// Section "readout" (i32[1]) holds this version; each calibrated packed
// matmul T has a section "T.q8clip" (f32[out], A_o > 0).
#define SPARQ_READOUT_VERSION 1
#define SPARQ_READOUT_SECTION "readout"
#define SPARQ_READOUT_SUFFIX ".q8clip"

// Channel parameters from a clip level (accumulator units, finite, > 0) and
// the channel's weight scale: bias 0, mult/shift from 127 / clip
// (sparq_requant_from_scale), *deq = w_scale * 2^shift / mult (float).
int sparq_readout_channel(double clip, float w_scale, struct sparq_requant_params *p, float *deq);

// The host's side of one result (the runtime computes exactly this).
static inline float sparq_readout_dequant(int8_t q, float row_scale, float deq, float bias)
{
    return (float)q * (row_scale * deq) + bias;
}

// Per-row int8 activation codes as the runtime makes them: s = sparq_act_row_scale,
// code = clamp(rintf(x / s), -127, 127). xcode (N, IN) as float, rs (N).
void sparq_readout_quantize_rows(float *xcode, float *rs, const float *x, int N, int IN);

// Fine-tuning's simulation of the integer matmul: acc (N, OUT) = xcode wcode^T
// in float (exact integers while every partial sum stays below 2^24 in
// magnitude), rs (N) the row scales; wcode (OUT, IN) the weight codes.
// Returns SPARQ_ENOMEM or SPARQ_OK.
int sparq_readout_acc(float *acc, float *rs, const float *x, int N, int IN, const float *wcode, int OUT);

// The device's requantization and the host's read-back of acc (N, OUT):
// out = sparq_readout_dequant(sparq_requant((int32)acc, p[o]...), rs[t], deq[o], bias[o]).
void sparq_readout_apply(float *out, const float *acc, const float *rs, int N, int OUT,
                         const struct sparq_requant_params *p, const float *deq, const float *bias);

// Model file. _add writes the version section (once) and T.q8clip.
int sparq_readout_add(struct sparq_mfile *f, const char *tensor, const float *clip, int out);
// Does the file carry calibrated read-out clip levels? 0 no (a file from
// before version 1), 1 yes; an unknown version is an error naming it.
int sparq_readout_present(const struct sparq_mfile *f, const char *label, int *present);
// T's clip levels (out values, each finite and > 0), or *clip = NULL when
// the file has none for T. Errors name the file and the section.
int sparq_readout_get(const struct sparq_mfile *f, const char *label, const char *tensor, int out,
                      const float **clip);
// Is `name` a read-out section? 1 for "readout", 2 for "T.q8clip" (T copied
// to tensor), 0 otherwise.
int sparq_readout_section(const char *name, char *tensor, size_t size);

#endif
