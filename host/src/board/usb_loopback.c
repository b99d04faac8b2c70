// Link check against the loopback bitstream: bytes out, the same bytes back.
#include <stdlib.h>

#include "sparq_clock.h"
#include "sparq_error.h"
#include "sparq_rng.h"
#include "sparq_usb.h"

int sparq_usb_loopback(struct sparq_transport *tr, size_t bytes, uint64_t seed, double *mb_per_s)
{
    const size_t chunk = 65536;
    uint8_t *out = malloc(chunk), *in = malloc(chunk);
    if (!out || !in) {
        free(out);
        free(in);
        return sparq_fail(SPARQ_ENOMEM, "loopback: out of memory");
    }
    uint64_t rng = seed;
    double t0 = sparq_clock_s();
    int rc = SPARQ_OK;
    for (size_t done = 0; done < bytes && !rc;) {
        size_t n = bytes - done < chunk ? bytes - done : chunk;
        for (size_t i = 0; i < n; i++)
            out[i] = (uint8_t)(sparq_rng_next(&rng) >> 24);
        rc = tr->ops->send(tr->ctx, out, n);
        if (!rc)
            rc = tr->ops->recv(tr->ctx, in, n);
        for (size_t i = 0; !rc && i < n; i++)
            if (in[i] != out[i])
                rc = sparq_fail(SPARQ_EDEVICE, "loopback: byte %zu came back as 0x%02x, sent 0x%02x", done + i, in[i],
                                out[i]);
        done += n;
    }
    double s = sparq_clock_s() - t0;
    if (mb_per_s)
        *mb_per_s = s > 0 ? (double)bytes / s / 1e6 : 0;
    free(out);
    free(in);
    return rc;
}
