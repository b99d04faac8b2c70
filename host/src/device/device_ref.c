// The "ref" transport: bytes go into the C device model (device_model.c)
// and its reply bytes come back. No clock; a reply that is not there when
// the host asks means the model holds a partial packet, which then times
// out exactly as the RTL's rx idle timeout would.
#include <stdlib.h>

#include "sparq_device.h"
#include "sparq_error.h"

static int ref_send(void *ctx, const uint8_t *data, size_t n)
{
    sparq_devmodel_feed(ctx, data, n);
    return SPARQ_OK;
}

static int ref_recv(void *ctx, uint8_t *data, size_t n)
{
    size_t got = sparq_devmodel_take(ctx, data, n);
    if (got < n) {
        sparq_devmodel_timeout(ctx);
        got += sparq_devmodel_take(ctx, data + got, n - got);
    }
    if (got < n)
        return sparq_fail(SPARQ_ETIMEOUT, "device ref: no reply (%zu of %zu bytes)", got, n);
    return SPARQ_OK;
}

static int ref_idle(void *ctx)
{
    sparq_devmodel_timeout(ctx);
    return SPARQ_OK;
}

static void ref_close(void *ctx) { sparq_devmodel_destroy(ctx); }

static const struct sparq_transport_ops ref_ops = {
    .name = "ref", .send = ref_send, .recv = ref_recv, .idle = ref_idle, .cycles = NULL, .close = ref_close,
};

int sparq_transport_ref(struct sparq_transport *tr, const struct sparq_device_config *cfg)
{
    struct sparq_devmodel *m;
    int rc = sparq_devmodel_create(&m, cfg);
    if (rc)
        return rc;
    tr->ops = &ref_ops;
    tr->ctx = m;
    return SPARQ_OK;
}
