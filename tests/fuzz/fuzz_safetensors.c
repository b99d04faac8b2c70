// libFuzzer target: the safetensors parser (sparq import's first step) on
// untrusted bytes. Whatever parses must convert without reading outside the
// buffer, and must survive the writer: serialised again and re-parsed, the
// same names, dtypes, shapes, bytes and metadata come back.
#include <stdlib.h>
#include <string.h>

#include "sparq_safetensors.h"

static int same(const struct sparq_st_file *a, const struct sparq_st_file *b)
{
    if (a->count != b->count || a->n_meta != b->n_meta)
        return 0;
    for (int i = 0; i < a->count; i++) {
        const struct sparq_st_tensor *x = &a->tensors[i], *y = sparq_st_find(b, x->name);
        if (!y || x->dtype != y->dtype || x->ndim != y->ndim || x->nbytes != y->nbytes ||
            memcmp(x->shape, y->shape, sizeof(int64_t) * (size_t)x->ndim) || memcmp(x->data, y->data, x->nbytes))
            return 0;
    }
    for (int i = 0; i < a->n_meta; i++) {
        const char *v = sparq_st_meta_get(b, a->meta[i].key);
        if (!v || strcmp(v, a->meta[i].value))
            return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sparq_st_file f;
    if (sparq_st_parse(&f, data, size, "fuzz"))
        return 0;
    struct sparq_st_writer w;
    sparq_st_writer_init(&w);
    for (int i = 0; i < f.count; i++) {
        const struct sparq_st_tensor *t = &f.tensors[i];
        if (t->dtype == SPARQ_ST_F32 || t->dtype == SPARQ_ST_F16 || t->dtype == SPARQ_ST_BF16) {
            float *v = malloc(sizeof(float) * (t->numel ? t->numel : 1));
            sparq_st_to_float(t, v, "fuzz");
            free(v);
        }
        if (sparq_st_writer_add(&w, t->name, t->dtype, t->ndim, t->shape, t->data))
            abort();
    }
    for (int i = 0; i < f.n_meta; i++)
        if (sparq_st_writer_meta(&w, f.meta[i].key, f.meta[i].value))
            abort();
    uint8_t *again;
    size_t n;
    struct sparq_st_file g;
    if (sparq_st_serialize(&w, &again, &n) || sparq_st_parse(&g, again, n, "again") || !same(&f, &g))
        abort();
    sparq_st_free(&g);
    free(again);
    sparq_st_writer_free(&w);
    sparq_st_free(&f);
    return 0;
}
