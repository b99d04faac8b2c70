// The tiny Conformer the model tests train, compress, search and run: small
// enough for a unit test (a few thousand parameters), with every block
// present (2 heads, a depthwise conv, 2 layers).
#ifndef SPARQ_TINY_MODEL_H
#define SPARQ_TINY_MODEL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_model.h"

static inline void tiny_model_config(struct sparq_config *c)
{
    sparq_config_default(c);
    c->n_mels = 20;
    c->sub_channels = 4;
    c->d_model = 16;
    c->n_heads = 2;
    c->ffn_dim = 32;
    c->kernel = 3;
    c->n_layers = 2;
}

// The same fields as a config file (`sparq train --config`).
static inline void tiny_model_write_cfg(FILE *f, const struct sparq_config *c)
{
    fprintf(f, "# tiny model for tests\nn_mels = %d\nsub_channels = %d\nd_model = %d\nn_heads = %d\n"
               "ffn_dim = %d\nkernel = %d\nn_layers = %d\n",
            c->n_mels, c->sub_channels, c->d_model, c->n_heads, c->ffn_dim, c->kernel, c->n_layers);
}

// m's logits (inference forward, B x T2 x vocab; their count in *n) on the
// batch feats/lens, as a copy the caller frees; NULL if out of memory.
static inline float *tiny_logits(struct sparq_model *m, const float *feats, const int *lens, int B, int T, size_t *n)
{
    struct sparq_acts *a = sparq_acts_create(&m->cfg, B, T);
    int T2 = sparq_forward(m, a, feats, lens, B, T, 0);
    *n = (size_t)B * (size_t)T2 * (size_t)m->cfg.vocab;
    float *z = malloc(sizeof(float) * *n);
    if (z)
        memcpy(z, sparq_acts_logits(a), sizeof(float) * *n);
    sparq_acts_free(a);
    return z;
}

#endif
