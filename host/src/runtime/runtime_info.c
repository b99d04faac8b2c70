// The runtime's read-only accessors and the device query: what callers may
// ask of an open runtime (sparq_runtime.h), apart from decoding with it.
#include "sparq_runtime.h"

#include <pthread.h>

#include "runtime_internal.h"
#include "sparq_device.h"
#include "sparq_error.h"

struct sparq_model *sparq_runtime_model(struct sparq_runtime *rt)
{
    return &rt->m;
}
const char *sparq_runtime_backend(const struct sparq_runtime *rt)
{
    return rt->backend;
}
enum sparq_readout sparq_runtime_readout(const struct sparq_runtime *rt)
{
    return rt->readout;
}

int sparq_runtime_lanes(const struct sparq_runtime *rt)
{
    return rt->cfg.lanes > 1 || rt->cfg.lanes == SPARQ_LANES_SERIAL ? rt->cfg.lanes : 1;
}
int sparq_runtime_error(const struct sparq_runtime *rt)
{
    return rt->error;
}
int sparq_runtime_chains(const struct sparq_runtime *rt)
{
    return rt->use_chain ? rt->n_chains : 0;
}
uint64_t sparq_runtime_load_bytes(const struct sparq_runtime *rt)
{
    return rt->load_wire;
}

const struct sparq_runtime_layer_stats *sparq_runtime_stats(const struct sparq_runtime *rt, int *count)
{
    *count = rt->n_weights;
    return rt->stats;
}

int sparq_runtime_device_info(struct sparq_runtime *rt, struct sparq_device_info *info)
{
    if (!rt->dev)
        return sparq_fail(SPARQ_EINVAL, "backend %s has no device", rt->backend);
    pthread_mutex_lock(&rt->lock);
    int rc = sparq_device_identify(rt->dev, info);
    pthread_mutex_unlock(&rt->lock);
    return rc;
}
