// safetensors reader and writer (sparq_safetensors.h). The header is JSON,
// parsed with cJSON; every number in it is checked to be a whole number in
// range before it becomes an offset or a dimension.
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_error.h"
#include "sparq_file.h"
#include "sparq_safetensors.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; add byte swapping for this host"
#endif

#define MAX_EXACT 9007199254740992.0 // 2^53: larger JSON numbers are not exact doubles
#define MAX_NAME 1024

static const struct {
    const char *name;
    size_t size;
} DTYPES[] = {
    [SPARQ_ST_F32] = { "F32", 4 }, [SPARQ_ST_F16] = { "F16", 2 }, [SPARQ_ST_BF16] = { "BF16", 2 },
    [SPARQ_ST_I64] = { "I64", 8 }, [SPARQ_ST_U8] = { "U8", 1 },
};
#define N_DTYPES ((int)(sizeof DTYPES / sizeof DTYPES[0]))

const char *sparq_st_dtype_name(enum sparq_st_dtype d) { return DTYPES[d].name; }
size_t sparq_st_dtype_size(enum sparq_st_dtype d) { return DTYPES[d].size; }

void sparq_st_free(struct sparq_st_file *f)
{
    for (int i = 0; i < f->count; i++)
        free(f->tensors[i].name);
    for (int i = 0; i < f->n_meta; i++) {
        free(f->meta[i].key);
        free(f->meta[i].value);
    }
    free(f->tensors);
    free(f->meta);
    free(f->owned);
    memset(f, 0, sizeof *f);
}

// A JSON number that is a whole number in 0..max.
static int whole(const cJSON *j, double max, uint64_t *out)
{
    if (!cJSON_IsNumber(j))
        return 0;
    double v = j->valuedouble;
    if (!(v >= 0 && v <= max && v == floor(v)))
        return 0;
    *out = (uint64_t)v;
    return 1;
}

static int parse_tensor(struct sparq_st_tensor *t, const cJSON *e, size_t data_size, const char *label)
{
    const char *nm = t->name;
    if (!cJSON_IsObject(e))
        return sparq_fail(SPARQ_EFORMAT, "%s: tensor '%s': header entry is not an object", label, nm);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt))
        return sparq_fail(SPARQ_EFORMAT, "%s: tensor '%s': no \"dtype\" string", label, nm);
    int d = 0;
    while (d < N_DTYPES && strcmp(DTYPES[d].name, dt->valuestring))
        d++;
    if (d == N_DTYPES)
        return sparq_fail(SPARQ_EFORMAT, "%s: tensor '%s': dtype '%.16s' not supported (F32, F16, BF16, I64, U8)",
                          label, nm, dt->valuestring);
    t->dtype = (enum sparq_st_dtype)d;
    if (!cJSON_IsArray(sh))
        return sparq_fail(SPARQ_EFORMAT, "%s: tensor '%s': no \"shape\" array", label, nm);
    int nd = cJSON_GetArraySize(sh);
    if (nd > SPARQ_ST_MAX_DIMS)
        return sparq_fail(SPARQ_EFORMAT, "%s: tensor '%s': %d dimensions (at most %d)", label, nm, nd,
                          SPARQ_ST_MAX_DIMS);
    t->ndim = nd;
    // numel * dtype size must fit the data, so any product past it is an error anyway.
    uint64_t numel = 1;
    for (int i = 0; i < nd; i++) {
        uint64_t v;
        if (!whole(cJSON_GetArrayItem(sh, i), MAX_EXACT, &v))
            return sparq_fail(SPARQ_EFORMAT, "%s: tensor '%s': shape[%d] is not a whole number >= 0", label, nm, i);
        t->shape[i] = (int64_t)v;
        if (v && numel > ((uint64_t)data_size + 1) / v)
            numel = (uint64_t)data_size + 1; // saturate: too big for the file
        else
            numel *= v;
    }
    if (!cJSON_IsArray(of) || cJSON_GetArraySize(of) != 2)
        return sparq_fail(SPARQ_EFORMAT, "%s: tensor '%s': no \"data_offsets\" [begin, end]", label, nm);
    uint64_t b, en;
    if (!whole(cJSON_GetArrayItem(of, 0), MAX_EXACT, &b) || !whole(cJSON_GetArrayItem(of, 1), MAX_EXACT, &en))
        return sparq_fail(SPARQ_EFORMAT, "%s: tensor '%s': data_offsets are not whole numbers >= 0", label, nm);
    if (b > en)
        return sparq_fail(SPARQ_EFORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] end before they begin", label,
                          nm, (unsigned long long)b, (unsigned long long)en);
    if (en > data_size)
        return sparq_fail(SPARQ_EFORMAT, "%s: tensor '%s': data_offsets end %llu is past the %zu data bytes (truncated?)",
                          label, nm, (unsigned long long)en, data_size);
    if (numel > data_size)
        return sparq_fail(SPARQ_EFORMAT, "%s: tensor '%s': its shape has more elements than the file has bytes", label,
                          nm);
    if (en - b != numel * DTYPES[d].size)
        return sparq_fail(SPARQ_EFORMAT, "%s: tensor '%s': %llu bytes, its shape and dtype %s need %llu", label, nm,
                          (unsigned long long)(en - b), DTYPES[d].name, (unsigned long long)(numel * DTYPES[d].size));
    t->numel = (size_t)numel;
    t->nbytes = (size_t)(en - b);
    t->offset = (size_t)b; // made a pointer once every tensor is checked
    return SPARQ_OK;
}

static const struct sparq_st_tensor *by_begin_base;
static int cmp_begin(const void *a, const void *b)
{
    const struct sparq_st_tensor *x = &by_begin_base[*(const int *)a], *y = &by_begin_base[*(const int *)b];
    if (x->offset != y->offset)
        return x->offset < y->offset ? -1 : 1;
    return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

// Tensors must tile the data exactly: no overlaps, no unclaimed bytes.
static int check_tiling(const struct sparq_st_file *f, size_t data_size, const char *label)
{
    int *order = sparq_malloc(sizeof(int) * (size_t)(f->count ? f->count : 1), "safetensors order");
    if (!order)
        return SPARQ_ENOMEM;
    for (int i = 0; i < f->count; i++)
        order[i] = i;
    by_begin_base = f->tensors;
    qsort(order, (size_t)f->count, sizeof *order, cmp_begin);
    size_t end = 0;
    int prev = -1, rc = SPARQ_OK;
    for (int k = 0; k < f->count && !rc; k++) {
        const struct sparq_st_tensor *t = &f->tensors[order[k]];
        size_t b = t->offset;
        if (b < end)
            rc = sparq_fail(SPARQ_EFORMAT, "%s: tensor '%s' overlaps tensor '%s' (data bytes %zu..%zu)", label, t->name,
                            f->tensors[prev].name, b, end);
        else if (b > end)
            rc = sparq_fail(SPARQ_EFORMAT, "%s: data bytes %zu..%zu before tensor '%s' belong to no tensor", label,
                            end, b, t->name);
        end = b + t->nbytes;
        prev = order[k];
    }
    if (!rc && end != data_size)
        rc = sparq_fail(SPARQ_EFORMAT, "%s: %zu data bytes after the last tensor belong to no tensor", label,
                        data_size - end);
    free(order);
    return rc;
}

static char *dup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = sparq_malloc(n, "safetensors name");
    if (d)
        memcpy(d, s, n);
    return d;
}

static int parse_meta(struct sparq_st_file *f, const cJSON *m, const char *label)
{
    if (!cJSON_IsObject(m))
        return sparq_fail(SPARQ_EFORMAT, "%s: \"__metadata__\" is not an object", label);
    int n = cJSON_GetArraySize(m);
    f->meta = sparq_calloc((size_t)(n ? n : 1), sizeof *f->meta, "safetensors metadata");
    if (!f->meta)
        return SPARQ_ENOMEM;
    for (const cJSON *e = m->child; e; e = e->next) {
        if (!cJSON_IsString(e))
            return sparq_fail(SPARQ_EFORMAT, "%s: \"__metadata__\" entry '%.64s' is not a string", label, e->string);
        struct sparq_st_meta *kv = &f->meta[f->n_meta];
        if (!(kv->key = dup(e->string)) || !(kv->value = dup(e->valuestring)))
            return SPARQ_ENOMEM;
        f->n_meta++;
    }
    return SPARQ_OK;
}

static int parse_header(struct sparq_st_file *f, const cJSON *root, size_t data_size, const char *label)
{
    if (!cJSON_IsObject(root))
        return sparq_fail(SPARQ_EFORMAT, "%s: header is not a JSON object", label);
    int n = cJSON_GetArraySize(root);
    f->tensors = sparq_calloc((size_t)(n ? n : 1), sizeof *f->tensors, "safetensors tensors");
    if (!f->tensors)
        return SPARQ_ENOMEM;
    int rc;
    for (const cJSON *e = root->child; e; e = e->next) {
        if (!strcmp(e->string, "__metadata__")) {
            if (f->meta)
                return sparq_fail(SPARQ_EFORMAT, "%s: \"__metadata__\" appears twice", label);
            if ((rc = parse_meta(f, e, label)))
                return rc;
            continue;
        }
        size_t len = strlen(e->string);
        if (len == 0 || len >= MAX_NAME)
            return sparq_fail(SPARQ_EFORMAT, "%s: a tensor name of %zu bytes (need 1..%d)", label, len, MAX_NAME - 1);
        if (sparq_st_find(f, e->string))
            return sparq_fail(SPARQ_EFORMAT, "%s: tensor '%s' appears twice", label, e->string);
        struct sparq_st_tensor *t = &f->tensors[f->count];
        if (!(t->name = dup(e->string)))
            return SPARQ_ENOMEM;
        f->count++;
        if ((rc = parse_tensor(t, e, data_size, label)))
            return rc;
    }
    return check_tiling(f, data_size, label);
}

int sparq_st_parse(struct sparq_st_file *f, const uint8_t *bytes, size_t size, const char *label)
{
    memset(f, 0, sizeof *f);
    if (size < 8)
        return sparq_fail(SPARQ_EFORMAT, "%s: %zu bytes, too short for the 8-byte header length (truncated?)", label,
                          size);
    uint64_t hlen;
    memcpy(&hlen, bytes, 8);
    if (hlen < 2 || hlen > SPARQ_ST_MAX_HEADER)
        return sparq_fail(SPARQ_EFORMAT, "%s: header length %llu is not sane (need 2..%llu; not a safetensors file?)",
                          label, (unsigned long long)hlen, (unsigned long long)SPARQ_ST_MAX_HEADER);
    if (hlen > size - 8)
        return sparq_fail(SPARQ_EFORMAT, "%s: header length %llu is past the end of the %zu-byte file (truncated?)",
                          label, (unsigned long long)hlen, size);
    const char *json = (const char *)bytes + 8, *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, (size_t)hlen, &end, 0);
    if (!root)
        return sparq_fail(SPARQ_EFORMAT, "%s: header is not valid JSON (near byte %td)", label,
                          8 + ((cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() : json) - json));
    for (const char *p = end; p < json + hlen; p++)
        if (*p != ' ' && *p != '\n' && *p != '\t' && *p != '\r' && *p != 0) {
            cJSON_Delete(root);
            return sparq_fail(SPARQ_EFORMAT, "%s: bytes after the header's JSON object (at byte %td)", label,
                              8 + (p - json));
        }
    const uint8_t *data = bytes + 8 + hlen;
    int rc = parse_header(f, root, size - 8 - (size_t)hlen, label);
    cJSON_Delete(root);
    if (rc) {
        sparq_st_free(f);
        return rc;
    }
    for (int i = 0; i < f->count; i++)
        f->tensors[i].data = data + f->tensors[i].offset;
    return SPARQ_OK;
}

int sparq_st_read(struct sparq_st_file *f, const char *path)
{
    char *bytes;
    size_t n;
    int rc = sparq_read_file(path, (size_t)1 << 36, &bytes, &n);
    if (rc) {
        memset(f, 0, sizeof *f);
        return rc;
    }
    if ((rc = sparq_st_parse(f, (const uint8_t *)bytes, n, path))) {
        free(bytes);
        return rc;
    }
    f->owned = (uint8_t *)bytes;
    return SPARQ_OK;
}

const struct sparq_st_tensor *sparq_st_find(const struct sparq_st_file *f, const char *name)
{
    for (int i = 0; i < f->count; i++)
        if (!strcmp(f->tensors[i].name, name))
            return &f->tensors[i];
    return NULL;
}

const char *sparq_st_meta_get(const struct sparq_st_file *f, const char *key)
{
    for (int i = 0; i < f->n_meta; i++)
        if (!strcmp(f->meta[i].key, key))
            return f->meta[i].value;
    return NULL;
}

float sparq_f16_to_float(uint16_t h)
{
    int sign = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    float v;
    if (e == 0)
        v = ldexpf((float)m, -24); // subnormal
    else if (e == 31)
        v = m ? NAN : INFINITY;
    else
        v = ldexpf((float)(m | 1024), e - 25);
    return sign ? -v : v;
}

float sparq_bf16_to_float(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16; // bfloat16 is the top half of a float32
    float v;
    memcpy(&v, &u, 4);
    return v;
}

int sparq_st_to_float(const struct sparq_st_tensor *t, float *dst, const char *label)
{
    for (size_t i = 0; i < t->numel; i++) {
        uint16_t h;
        switch (t->dtype) {
        case SPARQ_ST_F32: memcpy(&dst[i], t->data + 4 * i, 4); break;
        case SPARQ_ST_F16: memcpy(&h, t->data + 2 * i, 2); dst[i] = sparq_f16_to_float(h); break;
        case SPARQ_ST_BF16: memcpy(&h, t->data + 2 * i, 2); dst[i] = sparq_bf16_to_float(h); break;
        default:
            return sparq_fail(SPARQ_EFORMAT, "%s: tensor '%s': dtype %s, expected F32, F16 or BF16", label, t->name,
                              DTYPES[t->dtype].name);
        }
        if (!isfinite(dst[i]))
            return sparq_fail(SPARQ_EFORMAT, "%s: tensor '%s': element %zu is not finite", label, t->name, i);
    }
    return SPARQ_OK;
}

// ---- writer ----------------------------------------------------------------

void sparq_st_writer_init(struct sparq_st_writer *w) { memset(w, 0, sizeof *w); }

void sparq_st_writer_free(struct sparq_st_writer *w)
{
    for (int i = 0; i < w->count; i++) {
        free(w->tensors[i].name);
        free((void *)w->tensors[i].data);
    }
    for (int i = 0; i < w->n_meta; i++) {
        free(w->meta[i].key);
        free(w->meta[i].value);
    }
    free(w->tensors);
    free(w->meta);
    memset(w, 0, sizeof *w);
}

int sparq_st_writer_add(struct sparq_st_writer *w, const char *name, enum sparq_st_dtype dtype, int ndim,
                        const int64_t *shape, const void *data)
{
    if (ndim < 0 || ndim > SPARQ_ST_MAX_DIMS || !*name || strlen(name) >= MAX_NAME || !strcmp(name, "__metadata__"))
        return sparq_fail(SPARQ_EINVAL, "safetensors: tensor '%s': bad name or %d dimensions", name, ndim);
    for (int i = 0; i < w->count; i++)
        if (!strcmp(w->tensors[i].name, name))
            return sparq_fail(SPARQ_EINVAL, "safetensors: tensor '%s' added twice", name);
    if (w->count == w->cap) {
        int cap = w->cap ? 2 * w->cap : 64;
        struct sparq_st_tensor *t = realloc(w->tensors, sizeof *t * (size_t)cap);
        if (!t)
            return sparq_fail(SPARQ_ENOMEM, "safetensors: out of memory for tensor '%s'", name);
        w->tensors = t;
        w->cap = cap;
    }
    struct sparq_st_tensor *t = &w->tensors[w->count];
    memset(t, 0, sizeof *t);
    t->dtype = dtype;
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = shape[i];
        t->numel *= (size_t)shape[i];
    }
    t->nbytes = t->numel * DTYPES[dtype].size;
    void *copy = sparq_malloc(t->nbytes ? t->nbytes : 1, name);
    if (!(t->name = dup(name)) || !copy) {
        free(t->name);
        free(copy);
        return SPARQ_ENOMEM;
    }
    memcpy(copy, data, t->nbytes);
    t->data = copy;
    w->count++;
    return SPARQ_OK;
}

int sparq_st_writer_meta(struct sparq_st_writer *w, const char *key, const char *value)
{
    if (w->n_meta == w->meta_cap) {
        int cap = w->meta_cap ? 2 * w->meta_cap : 8;
        struct sparq_st_meta *m = realloc(w->meta, sizeof *m * (size_t)cap);
        if (!m)
            return sparq_fail(SPARQ_ENOMEM, "safetensors: out of memory for metadata '%s'", key);
        w->meta = m;
        w->meta_cap = cap;
    }
    struct sparq_st_meta *kv = &w->meta[w->n_meta];
    kv->key = dup(key);
    kv->value = dup(value);
    if (!kv->key || !kv->value) {
        free(kv->key);
        free(kv->value);
        return SPARQ_ENOMEM;
    }
    w->n_meta++;
    return SPARQ_OK;
}

int sparq_st_serialize(const struct sparq_st_writer *w, uint8_t **out, size_t *size)
{
    cJSON *root = cJSON_CreateObject();
    int ok = root != NULL;
    if (ok && w->n_meta) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        ok = m != NULL;
        for (int i = 0; ok && i < w->n_meta; i++)
            ok = cJSON_AddStringToObject(m, w->meta[i].key, w->meta[i].value) != NULL;
    }
    size_t off = 0;
    for (int i = 0; ok && i < w->count; i++) {
        const struct sparq_st_tensor *t = &w->tensors[i];
        cJSON *e = cJSON_AddObjectToObject(root, t->name);
        cJSON *sh = e ? cJSON_AddArrayToObject(e, "shape") : NULL;
        cJSON *of = sh ? cJSON_AddArrayToObject(e, "data_offsets") : NULL;
        ok = of && cJSON_AddStringToObject(e, "dtype", DTYPES[t->dtype].name);
        for (int d = 0; ok && d < t->ndim; d++)
            ok = cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)t->shape[d]));
        ok = ok && cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off));
        off += t->nbytes;
        ok = ok && cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off));
    }
    char *json = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!json)
        return sparq_fail(SPARQ_ENOMEM, "safetensors: out of memory building the header");
    size_t jlen = strlen(json), hlen = (jlen + 7) / 8 * 8; // data starts 8-byte aligned
    *size = 8 + hlen + off;
    *out = sparq_malloc(*size, "safetensors file");
    if (!*out) {
        free(json);
        return SPARQ_ENOMEM;
    }
    uint64_t h = hlen;
    memcpy(*out, &h, 8);
    memcpy(*out + 8, json, jlen);
    memset(*out + 8 + jlen, ' ', hlen - jlen);
    free(json);
    uint8_t *p = *out + 8 + hlen;
    for (int i = 0; i < w->count; i++) {
        memcpy(p, w->tensors[i].data, w->tensors[i].nbytes);
        p += w->tensors[i].nbytes;
    }
    return SPARQ_OK;
}

int sparq_st_write(const struct sparq_st_writer *w, const char *path)
{
    uint8_t *bytes;
    size_t n;
    int rc = sparq_st_serialize(w, &bytes, &n);
    if (rc)
        return rc;
    rc = sparq_write_file_atomic(path, bytes, n);
    free(bytes);
    return rc;
}
