// Section-by-section check of a .spq model file against its config (sparq_spq_check.h).
#include "sparq_spq_check.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sparq_chain.h"
#include "sparq_error.h"
#include "sparq_export.h"
#include "sparq_readout.h"

enum rule { ANY_FINITE, POSITIVE };

// What the model expects of a section; count 0 for packed-or-float tensors
// (their size is checked by the loader against the tensor shape).
static int expected(const struct sparq_model *m, const char *name, enum rule *rule, size_t *count)
{
    const struct sparq_config *c = &m->cfg;
    char want[64];
    *rule = ANY_FINITE;
    *count = 0;
    if (!strcmp(name, "kind") || !strcmp(name, "config"))
        return 1;
    if (!strcmp(name, "cmvn_mean") || !strcmp(name, "cmvn_istd")) {
        *rule = name[5] == 'i' ? POSITIVE : ANY_FINITE;
        *count = (size_t)c->n_mels;
        return 1;
    }
    for (int l = 0; l < c->n_layers; l++) {
        snprintf(want, sizeof want, "layer%d.bn_mean", l);
        int mean = !strcmp(name, want);
        snprintf(want, sizeof want, "layer%d.bn_var", l);
        if (mean || !strcmp(name, want)) {
            *rule = mean ? ANY_FINITE : POSITIVE;
            *count = (size_t)c->d_model;
            return 1;
        }
    }
    for (int i = 0; i < m->n_tensors; i++)
        if (!strcmp(name, m->tensors[i].name)) {
            *count = m->tensors[i].size;
            return 1;
        }
    // The int8 read-out's version and per-matmul clip levels (sparq_readout.h).
    char tensor[64];
    int out, in, kind = sparq_readout_section(name, tensor, sizeof tensor);
    for (int i = 0; kind == 2 && i < m->n_tensors; i++)
        if (!strcmp(tensor, m->tensors[i].name) && sparq_tensor_is_matmul(&m->tensors[i], &out, &in)) {
            *rule = POSITIVE;
            *count = (size_t)out;
            return 1;
        }
    if (kind == 1)
        return 1;
    // The FFN chain's version and per-FFN clips A_in, A_1 (sparq_chain.h), on an FFN's W1.
    char w2[64], b1[64], b2[64];
    kind = sparq_chain_section(name, tensor, sizeof tensor);
    for (int i = 0; kind == 2 && i < m->n_tensors; i++)
        if (!strcmp(tensor, m->tensors[i].name) && sparq_chain_names(tensor, w2, b1, b2, sizeof w2)) {
            *rule = POSITIVE;
            *count = 2;
            return 1;
        }
    return kind == 1;
}

static int check_values(const char *path, const char *name, const float *v, size_t n, enum rule rule,
                        const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]) || (rule == POSITIVE ? !(v[i] > 0.0f) : 0))
            return sparq_fail(SPARQ_EFORMAT, "%s: section '%s': %s[%zu] = %g, want %s", path, name, what, i,
                              (double)v[i], rule == POSITIVE ? "a finite value > 0" : "a finite value");
    return SPARQ_OK;
}

int sparq_spq_check(const struct sparq_mfile *f, const char *path, const struct sparq_model *m)
{
    const struct sparq_config *c = &m->cfg;
    for (int s = 0; s < f->count; s++) {
        const struct sparq_mf_section *sec = &f->sections[s];
        enum rule rule;
        size_t count;
        if (!expected(m, sec->name, &rule, &count))
            return sparq_fail(SPARQ_EFORMAT,
                              "%s: section '%s' is not part of the model its config describes (%d layers, "
                              "d_model %d, %d heads): config edited or file assembled wrongly",
                              path, sec->name, c->n_layers, c->d_model, c->n_heads);
        int rc = SPARQ_OK;
        if (sec->kind == SPARQ_MF_F32) {
            if (count && sec->count != count)
                return sparq_fail(SPARQ_EFORMAT, "%s: section '%s': %zu floats, expected %zu", path, sec->name,
                                  sec->count, count);
            rc = check_values(path, sec->name, sec->data, sec->count, rule, "value");
        } else if (sec->kind == SPARQ_MF_PACKED) {
            const float *sc = sec->packed.scales;
            for (int o = 0; !rc && o < sec->packed.out; o++)
                if (!isfinite(sc[o]) || sc[o] < 0.0f)
                    rc = sparq_fail(SPARQ_EFORMAT, "%s: section '%s': scale[%d] = %g, want a finite value >= 0",
                                    path, sec->name, o, (double)sc[o]);
        }
        if (rc)
            return rc;
    }
    // Every section the model needs is present (the loader also looks each up).
    char name[64];
    const char *fixed[] = { "kind", "config", "cmvn_mean", "cmvn_istd" };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (!sparq_mfile_find(f, fixed[i], i == 0 ? SPARQ_MF_TEXT : i == 1 ? SPARQ_MF_I32 : SPARQ_MF_F32))
            return sparq_fail(SPARQ_EFORMAT, "%s: section '%s' missing", path, fixed[i]);
    for (int l = 0; l < c->n_layers; l++)
        for (int k = 0; k < 2; k++) {
            snprintf(name, sizeof name, k ? "layer%d.bn_var" : "layer%d.bn_mean", l);
            if (!sparq_mfile_find(f, name, SPARQ_MF_F32))
                return sparq_fail(SPARQ_EFORMAT, "%s: section '%s' missing (config says %d layers)", path, name,
                                  c->n_layers);
        }
    for (int i = 0; i < m->n_tensors; i++)
        if (!sparq_mfile_find(f, m->tensors[i].name, SPARQ_MF_F32) &&
            !sparq_mfile_find(f, m->tensors[i].name, SPARQ_MF_PACKED))
            return sparq_fail(SPARQ_EFORMAT, "%s: section '%s' missing (config says %d layers)", path,
                              m->tensors[i].name, c->n_layers);
    return SPARQ_OK;
}
