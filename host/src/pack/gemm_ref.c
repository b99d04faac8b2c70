// Reference integer GEMM on packed weights and the requantization helpers:
// the golden model every other implementation is compared with.
#include <math.h>
#include <stdlib.h>

#include "sparq_error.h"
#include "sparq_gemm.h"

void sparq_gemm_ref(int32_t *y, int y_stride, const int8_t *x, int x_stride,
                    const struct sparq_packed *w, int t, int accumulate)
{
    uint8_t pos[SPARQ_BLOCK];
    int8_t val[SPARQ_BLOCK];
    for (int o = 0; o < w->out; o++) {
        for (int r = 0; r < t; r++)
            if (!accumulate)
                y[(size_t)r * y_stride + o] = 0;
        for (int b = 0; b < w->blocks_per_row; b++) {
            const uint8_t *block = w->bytes + (size_t)o * w->row_bytes + (size_t)b * w->type->block_bytes;
            int n = sparq_block_decode(w->type, block, pos, val);
            for (int i = 0; i < n; i++) {
                int k = b * SPARQ_BLOCK + pos[i];
                if (k >= w->in) // padding channel: its code is 0 by the format
                    continue;
                for (int r = 0; r < t; r++) {
                    // int32 wraps like the hardware accumulator (unsigned add).
                    int32_t *acc = &y[(size_t)r * y_stride + o];
                    *acc = (int32_t)((uint32_t)*acc + (uint32_t)((int32_t)x[(size_t)r * x_stride + k] * val[i]));
                }
            }
        }
    }
}

int sparq_requant_from_scale(double scale, int32_t *mult, int *shift)
{
    if (!(scale > 0.0) || !isfinite(scale))
        return sparq_fail(SPARQ_EINVAL, "requant: scale %g is not finite and positive", scale);
    int e;
    double f = frexp(scale, &e); // scale = f * 2^e, f in [0.5, 1)
    long long m = llround(f * 2147483648.0);
    int s = 31 - e;
    if (m == 2147483648LL) { // rounding reached 2^31
        m = 1LL << 30;
        s -= 1;
    }
    if (s < 0)
        return sparq_fail(SPARQ_EINVAL, "requant: scale %g too large (>= 2^31)", scale);
    if (s > 62) { // tiny scale: keep shift at its maximum, shrink the multiplier
        m = llround(ldexp(scale, 62));
        s = 62;
    }
    *mult = (int32_t)m;
    *shift = s;
    return SPARQ_OK;
}

void sparq_requant_ref(int8_t *y8, int y8_stride, const int32_t *acc, int acc_stride,
                       const struct sparq_requant_params *params, int t, int out)
{
    for (int r = 0; r < t; r++)
        for (int o = 0; o < out; o++)
            y8[(size_t)r * y8_stride + o] =
                sparq_requant(acc[(size_t)r * acc_stride + o], params[o].bias, params[o].mult, params[o].shift);
}
