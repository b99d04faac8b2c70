// Random GEMMs over the uart transport (tests/board/uart.sh): each result
// must equal sparq_gemm_ref bit for bit, whatever the wire did. Prints the
// seed and the reliability layer's counts (retries prove faults were hit).
//
// usage: uart_gemm PATH[@BAUD] SEED COUNT
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_device.h"
#include "sparq_error.h"
#include "sparq_gemm.h"
#include "sparq_link.h"
#include "sparq_uart.h"

static uint64_t rng;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static int pick(int lo, int hi) { return lo + (int)(next() % (uint64_t)(hi - lo + 1)); }

static int one_gemm(struct sparq_device *dev, int i)
{
    static const int fmts[3][2] = { { 8, 4 }, { 4, 2 }, { 2, 1 } };
    int f = pick(0, 2), out = pick(1, 40), in = pick(1, 80), t = pick(1, 24), acc = pick(0, 1);
    float *wf = malloc(sizeof(float) * (size_t)out * (size_t)in);
    int8_t *x = malloc((size_t)t * (size_t)in);
    int32_t *y = malloc(sizeof(int32_t) * (size_t)t * (size_t)out), *r = malloc(sizeof(int32_t) * (size_t)t * (size_t)out);
    struct sparq_packed w;
    memset(&w, 0, sizeof w);
    int rc = !wf || !x || !y || !r ? SPARQ_ENOMEM : SPARQ_OK;
    for (int k = 0; !rc && k < out * in; k++)
        wf[k] = (float)pick(-100, 100);
    for (int k = 0; !rc && k < t * in; k++)
        x[k] = (int8_t)pick(-128, 127);
    for (int k = 0; !rc && k < t * out; k++)
        y[k] = r[k] = pick(-1000, 1000); // accumulate adds into these
    struct sparq_pack_options po = { SPARQ_GRID_FULL, NULL };
    if (!rc)
        rc = sparq_pack(&w, wf, NULL, fmts[f][0], fmts[f][1], out, in, &po);
    sparq_device_set_kchunk(dev, pick(0, 1) ? 1 : 0); // 1: several accumulating COMPUTEs per GEMM
    if (!rc)
        rc = sparq_device_gemm(dev, y, out, x, in, &w, t, acc);
    int wrong = 0;
    if (!rc) {
        sparq_gemm_ref(r, out, x, in, &w, t, acc);
        wrong = memcmp(y, r, sizeof(int32_t) * (size_t)t * (size_t)out) != 0;
        if (wrong)
            printf("gemm %d: WRONG result (int%d %d:4, out %d, in %d, t %d, accumulate %d)\n", i, fmts[f][0],
                   fmts[f][1], out, in, t, acc);
    } else {
        printf("gemm %d: error: %s\n", i, sparq_last_error());
    }
    sparq_packed_free(&w);
    free(wf);
    free(x);
    free(y);
    free(r);
    return rc ? -1 : wrong;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: uart_gemm PATH[@BAUD] SEED COUNT\n");
        return 2;
    }
    uint64_t seed = strtoull(argv[2], NULL, 0);
    int count = atoi(argv[3]);
    rng = seed ? seed : 1;
    printf("seed %llu\n", (unsigned long long)seed);
    struct sparq_uart_options uo;
    struct sparq_transport raw, link;
    struct sparq_device *dev = NULL;
    int rc = sparq_uart_parse(&uo, argv[1]);
    if (!rc)
        rc = sparq_transport_uart(&raw, &uo);
    if (!rc)
        rc = sparq_link_wrap(&link, raw, NULL);
    if (!rc)
        rc = sparq_device_open_transport(&dev, link); // link.ctx stays valid: the device owns it now
    if (rc) {
        printf("open: %s\n", sparq_last_error());
        return 1;
    }
    int wrong = 0, errors = 0;
    for (int i = 0; i < count; i++) {
        int g = one_gemm(dev, i);
        wrong += g > 0;
        errors += g < 0;
    }
    const struct sparq_link_counts *n = sparq_link_counts(&link);
    printf("gemms %d wrong %d errors %d commands %llu retries %llu timeouts %llu nacks %llu bad_replies %llu "
           "skipped %llu\n",
           count, wrong, errors, (unsigned long long)n->commands, (unsigned long long)n->retries,
           (unsigned long long)n->timeouts, (unsigned long long)n->nacks, (unsigned long long)n->bad_replies,
           (unsigned long long)n->skipped);
    sparq_device_close(dev);
    return wrong || errors;
}
