// libFuzzer target: sparq_validate on untrusted bytes, then (if accepted)
// unpack and the reference GEMM on them. Input: 1 byte format index,
// 1 byte OUT-1, 1 byte IN-1, then the packed bytes.
#include <stdlib.h>
#include <string.h>

#include "sparq_format.h"
#include "sparq_gemm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    int count;
    const struct sparq_format_type *all = sparq_format_all(&count);
    const struct sparq_format_type *t = &all[data[0] % count];
    int out = data[1] % 32 + 1, in = data[2] + 1;
    const uint8_t *bytes = data + 3;
    size_t n = size - 3;
    if (sparq_validate(t, out, in, bytes, n, NULL) != 0)
        return 0;
    struct sparq_packed p;
    if (sparq_packed_init(&p, t->width, t->kept, out, in) != 0)
        abort(); // validation accepted a shape the constructor rejects
    memcpy(p.bytes, bytes, n);
    int8_t *codes = malloc((size_t)out * in);
    sparq_unpack_codes(&p, codes);
    int8_t x[256];
    memset(x, 1, sizeof x);
    int32_t *y = malloc(sizeof(int32_t) * out);
    sparq_gemm_ref(y, out, x, in, &p, 1, 0);
    // Y with X = all ones is the row sum of the codes: an internal consistency check.
    for (int o = 0; o < out; o++) {
        int32_t sum = 0;
        for (int k = 0; k < in; k++)
            sum += codes[o * in + k];
        if (sum != y[o])
            abort();
    }
    free(codes);
    free(y);
    sparq_packed_free(&p);
    return 0;
}
