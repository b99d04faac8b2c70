// The FFN chains a model file describes (sparq_chain.h): which matrices,
// their biases and clips, and the integer parameters they run with.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime_internal.h"
#include "sparq_error.h"

static int weight_by_name(const struct sparq_runtime *rt, const char *name)
{
    for (int i = 0; i < rt->n_weights; i++)
        if (!strcmp(rt->stats[i].name, name))
            return i;
    return -1;
}

static const float *param_by_name(const struct sparq_model *m, const char *name, size_t size)
{
    for (int i = 0; i < m->n_tensors; i++)
        if (!strcmp(m->tensors[i].name, name) && m->tensors[i].size == size)
            return m->param_mem + m->tensors[i].offset;
    return NULL;
}

// The FFN chains the file describes (section "chain", "W1.chain" per FFN):
// both matrices must be packed.
int rt_load_chains(struct sparq_runtime *rt, const struct sparq_mfile *f, const char *path)
{
    for (int i = 0; i < rt->n_weights; i++)
        rt->weights[i].chain = -1;
    int present;
    int rc = sparq_chain_present(f, path, &present);
    if (rc || !present)
        return rc;
    rt->chains = sparq_calloc((size_t)rt->n_weights, sizeof *rt->chains, "FFN chains");
    if (!rt->chains)
        return SPARQ_ENOMEM;
    char w2[64], b1[64], b2[64];
    for (int i = 0; i < rt->n_weights; i++) {
        float a_in, a_1;
        int found;
        const char *w1 = rt->stats[i].name;
        if (!sparq_chain_names(w1, w2, b1, b2, sizeof w2))
            continue;
        if ((rc = sparq_chain_get(f, path, w1, &a_in, &a_1, &found)))
            return rc;
        if (!found)
            continue;
        int j = weight_by_name(rt, w2);
        struct rt_weight *r1 = &rt->weights[i], *r2 = j >= 0 ? &rt->weights[j] : NULL;
        const float *pb1 = param_by_name(&rt->m, b1, (size_t)r1->out);
        const float *pb2 = r2 ? param_by_name(&rt->m, b2, (size_t)r2->out) : NULL;
        if (!r1->packed || !r2 || !r2->packed || r2->in != r1->out || r2->out != r1->in || !pb1 || !pb2)
            return sparq_fail(SPARQ_EFORMAT, "%s: section '%s%s': the chain needs %s and %s packed", path, w1,
                              SPARQ_CHAIN_SUFFIX, w1, w2);
        struct rt_chain *ch = &rt->chains[rt->n_chains];
        *ch = (struct rt_chain){ .w1 = i, .w2 = j, .b1 = pb1, .b2 = pb2, .a_in = a_in, .a_1 = a_1, .rows = -1 };
        r1->chain = r2->chain = rt->n_chains++;
    }
    return SPARQ_OK;
}

// A chain's integer parameters (sparq_chain_make: the one definition), and
// for the float backend the weight codes its simulation multiplies.
int rt_make_chain(struct sparq_runtime *rt, struct rt_chain *ch)
{
    struct rt_weight *r1 = &rt->weights[ch->w1], *r2 = &rt->weights[ch->w2];
    float *clip2 = sparq_malloc(sizeof(float) * (size_t)r2->out, "chain clip levels");
    if (!clip2)
        return SPARQ_ENOMEM;
    for (int o = 0; o < r2->out; o++)
        clip2[o] = (float)rt_channel_clip(r2, o); // the float the file stores (or the data-free level)
    int rc = sparq_chain_make(&ch->p, ch->a_in, ch->a_1, r1->p.scales, ch->b1, r1->out, r2->p.scales, clip2, r2->out);
    free(clip2);
    if (rc)
        return sparq_fail(rc, "runtime: %s: %s", rt->stats[ch->w1].name, sparq_last_error());
    if (rt->kind != BACKEND_FLOAT)
        return SPARQ_OK;
    const struct rt_weight *rs[2] = { r1, r2 };
    float **codes[2] = { &ch->w1code, &ch->w2code };
    for (int k = 0; k < 2; k++) {
        size_t n = (size_t)rs[k]->out * rs[k]->in;
        if (!(*codes[k] = sparq_malloc(sizeof(float) * n, "chain weight codes")))
            return SPARQ_ENOMEM;
        for (size_t e = 0; e < n; e++) // dequantized weights are code * s_w exactly
            (*codes[k])[e] = rintf(rs[k]->w[e] / rs[k]->p.scales[e / (size_t)rs[k]->in]);
    }
    return SPARQ_OK;
}
