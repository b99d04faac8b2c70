// sparq's parameter table <-> the PyTorch reference's state dict
// (sparq_torch.h): names, shapes and the three layouts that differ.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_error.h"
#include "sparq_file.h"
#include "sparq_torch.h"

// How a tensor's element order differs between sparq and PyTorch.
enum layout {
    SAME,   // identical row-major order (Linear, LayerNorm, 1x1 Conv1d, biases)
    CONV2D, // PyTorch (C, Cin, 3, 3), sparq (C, 3, 3, Cin): channel-last
    SUBLIN, // PyTorch (d, C*F2) index c*F2+f, sparq (d, F2*C) index f*C+c
    DWCONV, // PyTorch (d, 1, K), sparq (K, d)
};

// Shape symbols, resolved against the config.
enum dim { D1 = -1, DM = -2, DM2 = -3, DM3 = -4, FF = -5, KK = -6, CC = -7, CF2 = -8, VV = -9 };

struct map {
    const char *sparq, *torch;
    enum layout layout;
    int shape[4]; // 0 ends the list
};

static const struct map GLOBAL[] = {
    { "sub1_w", "conv1.weight", CONV2D, { CC, D1, 3, 3 } },
    { "sub1_b", "conv1.bias", SAME, { CC } },
    { "sub2_w", "conv2.weight", CONV2D, { CC, CC, 3, 3 } },
    { "sub2_b", "conv2.bias", SAME, { CC } },
    // dwsep4 (tests/fixtures/make_conformer_fixtures.py): Conv2d(C, C, 3, 2, groups=C), Conv2d(C, C, 1)
    { "sub2_dw_w", "conv2_dw.weight", SAME, { CC, D1, 3, 3 } },
    { "sub2_dw_b", "conv2_dw.bias", SAME, { CC } },
    { "sub2_pw_w", "conv2_pw.weight", SAME, { CC, CC, D1, D1 } },
    { "sub2_pw_b", "conv2_pw.bias", SAME, { CC } },
    { "sub_lin_w", "sub_lin.weight", SUBLIN, { DM, CF2 } },
    { "sub_lin_b", "sub_lin.bias", SAME, { DM } },
    { "out_w", "out.weight", SAME, { VV, DM } },
    { "out_b", "out.bias", SAME, { VV } },
};

// torchaudio ConformerLayer: _FeedForwardModule.sequential = [LayerNorm,
// Linear, SiLU, Dropout, Linear, Dropout]; _ConvolutionModule.sequential =
// [Conv1d pw1, GLU, Conv1d depthwise, BatchNorm1d, SiLU, Conv1d pw2, Dropout].
#define FFN(p)                                                           \
    { #p "_ln_w", #p ".sequential.0.weight", SAME, { DM } },             \
    { #p "_ln_b", #p ".sequential.0.bias", SAME, { DM } },               \
    { #p "_w1", #p ".sequential.1.weight", SAME, { FF, DM } },           \
    { #p "_b1", #p ".sequential.1.bias", SAME, { FF } },                 \
    { #p "_w2", #p ".sequential.4.weight", SAME, { DM, FF } },           \
    { #p "_b2", #p ".sequential.4.bias", SAME, { DM } }
static const struct map LAYER[] = {
    FFN(ffn1),
    { "att_ln_w", "self_attn_layer_norm.weight", SAME, { DM } },
    { "att_ln_b", "self_attn_layer_norm.bias", SAME, { DM } },
    { "att_in_w", "self_attn.in_proj_weight", SAME, { DM3, DM } },
    { "att_in_b", "self_attn.in_proj_bias", SAME, { DM3 } },
    { "att_out_w", "self_attn.out_proj.weight", SAME, { DM, DM } },
    { "att_out_b", "self_attn.out_proj.bias", SAME, { DM } },
    { "conv_ln_w", "conv_module.layer_norm.weight", SAME, { DM } },
    { "conv_ln_b", "conv_module.layer_norm.bias", SAME, { DM } },
    { "conv_pw1_w", "conv_module.sequential.0.weight", SAME, { DM2, DM, D1 } },
    { "conv_pw1_b", "conv_module.sequential.0.bias", SAME, { DM2 } },
    { "conv_dw_w", "conv_module.sequential.2.weight", DWCONV, { DM, D1, KK } },
    { "conv_dw_b", "conv_module.sequential.2.bias", SAME, { DM } },
    { "conv_bn_w", "conv_module.sequential.3.weight", SAME, { DM } },
    { "conv_bn_b", "conv_module.sequential.3.bias", SAME, { DM } },
    { "conv_pw2_w", "conv_module.sequential.5.weight", SAME, { DM, DM, D1 } },
    { "conv_pw2_b", "conv_module.sequential.5.bias", SAME, { DM } },
    FFN(ffn2),
    { "final_ln_w", "final_layer_norm.weight", SAME, { DM } },
    { "final_ln_b", "final_layer_norm.bias", SAME, { DM } },
};
#define N_GLOBAL (sizeof GLOBAL / sizeof GLOBAL[0])
#define N_LAYER (sizeof LAYER / sizeof LAYER[0])
#define BN "conv_module.sequential.3."

static int64_t resolve(const struct sparq_config *c, int s)
{
    switch (s) {
    case D1: return 1;
    case DM: return c->d_model;
    case DM2: return 2 * (int64_t)c->d_model;
    case DM3: return 3 * (int64_t)c->d_model;
    case FF: return c->ffn_dim;
    case KK: return c->kernel;
    case CC: return c->sub_channels;
    case CF2: return (int64_t)c->sub_channels * sparq_sub_f2(c);
    case VV: return c->vocab;
    default: return s;
    }
}

// The map entry of a table name and its layer (-1 for globals).
static const struct map *find_map(const char *sparq_name, int *layer)
{
    int l, used = 0;
    *layer = -1;
    if (sscanf(sparq_name, "layer%d.%n", &l, &used) == 1 && used > 0) {
        for (size_t i = 0; i < N_LAYER; i++)
            if (!strcmp(LAYER[i].sparq, sparq_name + used)) {
                *layer = l;
                return &LAYER[i];
            }
        return NULL;
    }
    for (size_t i = 0; i < N_GLOBAL; i++)
        if (!strcmp(GLOBAL[i].sparq, sparq_name))
            return &GLOBAL[i];
    return NULL;
}

int sparq_torch_tensor(const struct sparq_config *c, const char *sparq_name, char *torch_name, size_t cap,
                       int64_t shape[4], int *ndim)
{
    int layer;
    const struct map *mp = find_map(sparq_name, &layer);
    if (!mp)
        return sparq_fail(SPARQ_EINVAL, "tensor '%s' is not in the model table", sparq_name);
    int n = layer < 0 ? snprintf(torch_name, cap, "%s", mp->torch)
                      : snprintf(torch_name, cap, "layers.%d.%s", layer, mp->torch);
    if (n < 0 || (size_t)n >= cap)
        return sparq_fail(SPARQ_EINVAL, "tensor '%s': PyTorch name too long", sparq_name);
    *ndim = 0;
    while (*ndim < 4 && mp->shape[*ndim]) {
        shape[*ndim] = resolve(c, mp->shape[*ndim]);
        (*ndim)++;
    }
    return SPARQ_OK;
}

void sparq_torch_permute(const struct sparq_config *c, const char *sparq_name, const void *src, void *dst,
                         size_t esize, int to_torch)
{
    int layer;
    const struct map *mp = find_map(sparq_name, &layer);
    const char *s = src;
    char *d = dst;
    size_t C = (size_t)c->sub_channels, dm = (size_t)c->d_model;
    // sparq index si and PyTorch index ti of each element; copy one way or the other.
#define MOVE(si, ti) memcpy(to_torch ? d + (ti) * esize : d + (si) * esize, to_torch ? s + (si) * esize : s + (ti) * esize, esize)
    switch (mp ? mp->layout : SAME) {
    case CONV2D: {
        size_t cin = !strcmp(mp->sparq, "sub1_w") ? 1 : C;
        for (size_t o = 0; o < C; o++)
            for (size_t i = 0; i < cin; i++)
                for (size_t k = 0; k < 9; k++)
                    MOVE((o * 9 + k) * cin + i, (o * cin + i) * 9 + k);
        break;
    }
    case SUBLIN: {
        size_t f2 = (size_t)sparq_sub_f2(c);
        for (size_t o = 0; o < dm; o++)
            for (size_t ch = 0; ch < C; ch++)
                for (size_t f = 0; f < f2; f++)
                    MOVE(o * f2 * C + f * C + ch, o * f2 * C + ch * f2 + f);
        break;
    }
    case DWCONV:
        for (size_t k = 0; k < (size_t)c->kernel; k++)
            for (size_t ch = 0; ch < dm; ch++)
                MOVE(k * dm + ch, ch * (size_t)c->kernel + k);
        break;
    case SAME: {
        size_t n = 1;
        int64_t shape[4];
        int nd;
        char tn[128];
        if (mp && !sparq_torch_tensor(c, sparq_name, tn, sizeof tn, shape, &nd))
            for (int i = 0; i < nd; i++)
                n *= (size_t)shape[i];
        memcpy(dst, src, n * esize);
        break;
    }
    }
#undef MOVE
}

// ---- the config JSON ---------------------------------------------------------

static const char *const KEYS[] = { "n_mels", "sub_channels", "d_model", "n_heads",
                                    "ffn_dim", "kernel", "n_layers", "vocab" };
#define N_KEYS 8

static int *key_field(struct sparq_config *c, int k)
{
    int *f[N_KEYS] = { &c->n_mels, &c->sub_channels, &c->d_model, &c->n_heads,
                       &c->ffn_dim, &c->kernel, &c->n_layers, &c->vocab };
    return f[k];
}

int sparq_torch_config_parse(struct sparq_config *hint, const char *json, size_t len, const char *label)
{
    memset(hint, 0, sizeof *hint);
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return sparq_fail(SPARQ_EFORMAT, "%s: not a JSON object", label);
    }
    int rc = SPARQ_OK;
    for (const cJSON *e = root->child; e && !rc; e = e->next) {
        int k = 0;
        while (k < N_KEYS && strcmp(KEYS[k], e->string))
            k++;
        if (k == N_KEYS)
            rc = sparq_fail(SPARQ_EFORMAT, "%s: key '%.64s' unknown (n_mels, sub_channels, d_model, n_heads, "
                                           "ffn_dim, kernel, n_layers, vocab)", label, e->string);
        else if (!cJSON_IsNumber(e) || e->valuedouble != (double)(int)e->valuedouble || e->valuedouble < 1 ||
                 e->valuedouble > 1e6)
            rc = sparq_fail(SPARQ_EFORMAT, "%s: key '%s' must be a whole number 1..1000000", label, e->string);
        else
            *key_field(hint, k) = (int)e->valuedouble;
    }
    cJSON_Delete(root);
    return rc;
}

int sparq_torch_config_load(struct sparq_config *hint, const char *path)
{
    char *text;
    size_t n;
    int rc = sparq_read_file(path, 1 << 20, &text, &n);
    if (rc)
        return rc;
    rc = sparq_torch_config_parse(hint, text, n, path);
    free(text);
    return rc;
}

int sparq_torch_config_format(const struct sparq_config *c, char *dst, size_t cap)
{
    struct sparq_config copy = *c;
    size_t used = 0;
    for (int k = 0; k < N_KEYS; k++) {
        int n = snprintf(dst + used, cap - used, "%s\"%s\": %d%s", k ? " " : "{", KEYS[k], *key_field(&copy, k),
                         k == N_KEYS - 1 ? "}" : ",");
        if (n < 0 || (size_t)n >= cap - used)
            return sparq_fail(SPARQ_EINVAL, "config JSON does not fit %zu bytes", cap);
        used += (size_t)n;
    }
    return (int)used;
}

// ---- import --------------------------------------------------------------------

// Dimension k of tensor `name`, or -1 if it is absent or has fewer dimensions.
static int64_t dim_of(const struct sparq_st_file *f, const char *name, int k)
{
    const struct sparq_st_tensor *t = sparq_st_find(f, name);
    return t && t->ndim > k && t->shape[k] <= (1 << 30) ? t->shape[k] : -1;
}

static int need(int64_t v, const char *what, const char *tensor, const char *label)
{
    if (v < 1)
        return sparq_fail(SPARQ_EFORMAT, "%s: %s: tensor '%s' missing or misshapen", label, what, tensor);
    return SPARQ_OK;
}

// The config from the tensors' shapes, completed and checked by the hint.
static int infer_config(struct sparq_config *c, const struct sparq_st_file *f, const struct sparq_config *hint,
                        const char *label)
{
    memset(c, 0, sizeof *c);
    int rc;
    int64_t C = dim_of(f, "conv1.weight", 0), d = dim_of(f, "sub_lin.weight", 0);
    int64_t cf2 = dim_of(f, "sub_lin.weight", 1), v = dim_of(f, "out.weight", 0);
    if ((rc = need(C, "sub_channels", "conv1.weight", label)) || (rc = need(d, "d_model", "sub_lin.weight", label)) ||
        (rc = need(cf2, "n_mels", "sub_lin.weight", label)) || (rc = need(v, "vocab", "out.weight", label)))
        return rc;
    c->sub_channels = (int)C;
    c->d_model = (int)d;
    c->vocab = (int)v;
    // The front-end kind from its tensor names (conv2.weight or conv2_dw.weight).
    if (sparq_st_find(f, "conv2_dw.weight"))
        c->subsampling = SPARQ_SUB_DWSEP4;
    // n_layers: one past the highest layers.N.
    for (int i = 0; i < f->count; i++) {
        int l, used = 0;
        if (sscanf(f->tensors[i].name, "layers.%d.%n", &l, &used) == 1 && used > 0 && l >= 0 &&
            l < SPARQ_MAX_LAYERS && l + 1 > c->n_layers)
            c->n_layers = l + 1;
        else if (used > 0 && (l < 0 || l >= SPARQ_MAX_LAYERS))
            return sparq_fail(SPARQ_EFORMAT, "%s: tensor '%s': layer %d (sparq runs 0..%d)", label,
                              f->tensors[i].name, l, SPARQ_MAX_LAYERS - 1);
    }
    if (c->n_layers > 0) {
        int64_t ff = dim_of(f, "layers.0.ffn1.sequential.1.weight", 0);
        int64_t k = dim_of(f, "layers.0.conv_module.sequential.2.weight", 2);
        if ((rc = need(ff, "ffn_dim", "layers.0.ffn1.sequential.1.weight", label)) ||
            (rc = need(k, "kernel", "layers.0.conv_module.sequential.2.weight", label)))
            return rc;
        c->ffn_dim = (int)ff;
        c->kernel = (int)k;
    } else {
        c->ffn_dim = hint && hint->ffn_dim ? hint->ffn_dim : 1; // no layers: unused
        c->kernel = hint && hint->kernel ? hint->kernel : 1;
    }
    int64_t cm = dim_of(f, SPARQ_TORCH_EXTRA "cmvn_mean", 0);
    c->n_mels = cm > 0 ? (int)cm : hint ? hint->n_mels : 0;
    c->n_heads = hint ? hint->n_heads : 0;
    if (!c->n_heads)
        return sparq_fail(SPARQ_EINVAL, "%s: n_heads is not in the state dict; give it in --config", label);
    if (!c->n_mels)
        return sparq_fail(SPARQ_EINVAL, "%s: n_mels is not in the state dict (no sparq.cmvn_mean); give it in --config",
                          label);
    if (hint) {
        struct sparq_config h = *hint, got = *c;
        for (int k = 0; k < N_KEYS; k++)
            if (*key_field(&h, k) && *key_field(&h, k) != *key_field(&got, k))
                return sparq_fail(SPARQ_EINVAL, "%s: config %s = %d, the state dict's tensors have %d", label, KEYS[k],
                                  *key_field(&h, k), *key_field(&got, k));
    }
    if (cf2 != (int64_t)c->sub_channels * sparq_sub_f2(c))
        return sparq_fail(SPARQ_EINVAL, "%s: tensor 'sub_lin.weight': %lld inputs, n_mels = %d with %d channels needs %d",
                          label, (long long)cf2, c->n_mels, c->sub_channels, c->sub_channels * sparq_sub_f2(c));
    rc = sparq_config_validate(c);
    if (rc) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", sparq_last_error());
        return sparq_fail(rc, "%s: %s", label, msg);
    }
    return SPARQ_OK;
}

static int shape_str(char *dst, size_t cap, const int64_t *shape, int nd)
{
    size_t u = 0;
    u += (size_t)snprintf(dst, cap, "[");
    for (int i = 0; i < nd && u < cap; i++)
        u += (size_t)snprintf(dst + u, cap - u, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (u < cap)
        snprintf(dst + u, cap - u, "]");
    return 0;
}

// Checks and converts one float tensor of the expected shape into `dst`
// (PyTorch layout); marks it used.
static int take(const struct sparq_st_file *f, char *used, const char *name, const int64_t *shape, int nd,
                float *dst, const char *label)
{
    const struct sparq_st_tensor *t = sparq_st_find(f, name);
    if (!t)
        return sparq_fail(SPARQ_EFORMAT, "%s: tensor '%s' missing", label, name);
    used[t - f->tensors] = 1;
    int same = t->ndim == nd;
    for (int i = 0; same && i < nd; i++)
        same = t->shape[i] == shape[i];
    if (!same) {
        char want[96], got[96];
        shape_str(want, sizeof want, shape, nd);
        shape_str(got, sizeof got, t->shape, t->ndim);
        return sparq_fail(SPARQ_EFORMAT, "%s: tensor '%s': shape %s, expected %s", label, name, got, want);
    }
    return sparq_st_to_float(t, dst, label);
}

static int import_buffers(struct sparq_model *m, const struct sparq_st_file *f, char *used, const char *label)
{
    const struct sparq_config *c = &m->cfg;
    char name[96];
    int64_t d = c->d_model, nm = c->n_mels;
    int rc = SPARQ_OK;
    for (int l = 0; !rc && l < c->n_layers; l++) {
        snprintf(name, sizeof name, "layers.%d." BN "running_mean", l);
        rc = take(f, used, name, &d, 1, m->buf.bn_mean[l], label);
        snprintf(name, sizeof name, "layers.%d." BN "running_var", l);
        rc = rc ? rc : take(f, used, name, &d, 1, m->buf.bn_var[l], label);
        for (int j = 0; !rc && j < c->d_model; j++)
            if (!(m->buf.bn_var[l][j] >= 0))
                rc = sparq_fail(SPARQ_EFORMAT, "%s: tensor '%s': element %d is negative", label, name, j);
        // BatchNorm's step counter: optional, unused by inference.
        snprintf(name, sizeof name, "layers.%d." BN "num_batches_tracked", l);
        const struct sparq_st_tensor *t = sparq_st_find(f, name);
        if (!rc && t) {
            used[t - f->tensors] = 1;
            if (t->dtype != SPARQ_ST_I64 || t->numel != 1)
                rc = sparq_fail(SPARQ_EFORMAT, "%s: tensor '%s': %s with %zu elements, expected one I64", label, name,
                                sparq_st_dtype_name(t->dtype), t->numel);
        }
    }
    const struct sparq_st_tensor *mean = sparq_st_find(f, SPARQ_TORCH_EXTRA "cmvn_mean");
    const struct sparq_st_tensor *istd = sparq_st_find(f, SPARQ_TORCH_EXTRA "cmvn_istd");
    if (!rc && (mean || istd)) {
        rc = take(f, used, SPARQ_TORCH_EXTRA "cmvn_mean", &nm, 1, m->buf.cmvn_mean, label);
        rc = rc ? rc : take(f, used, SPARQ_TORCH_EXTRA "cmvn_istd", &nm, 1, m->buf.cmvn_istd, label);
    }
    return rc;
}

// Tensors nobody took: sparq.mask.W / sparq.scale.W of a taken weight W are
// the compression side-data `sparq export` adds (the weights already hold
// the dequantized values); anything else is an error.
static int check_extra(const struct sparq_st_file *f, char *used, const char *label)
{
    int n_extra = 0, first = -1;
    for (int i = 0; i < f->count; i++) {
        if (used[i])
            continue;
        const char *nm = f->tensors[i].name, *w = NULL;
        if (!strncmp(nm, SPARQ_TORCH_EXTRA "mask.", 11))
            w = nm + 11;
        else if (!strncmp(nm, SPARQ_TORCH_EXTRA "scale.", 12))
            w = nm + 12;
        const struct sparq_st_tensor *wt = w ? sparq_st_find(f, w) : NULL;
        if (wt && used[wt - f->tensors])
            continue;
        if (first < 0)
            first = i;
        n_extra++;
    }
    if (n_extra)
        return sparq_fail(SPARQ_EFORMAT, "%s: tensor '%s' is not part of a Conformer-CTC state dict (%d extra tensor%s)",
                          label, f->tensors[first].name, n_extra, n_extra > 1 ? "s" : "");
    return SPARQ_OK;
}

// The first table tensor absent from the file, so "missing" errors name the
// earliest one and count them all.
static int check_missing(const struct sparq_model *m, const struct sparq_st_file *f, const char *label)
{
    int n_missing = 0;
    char first[128] = "", name[128];
    int64_t shape[4];
    int nd;
    for (int i = 0; i < m->n_tensors; i++) {
        sparq_torch_tensor(&m->cfg, m->tensors[i].name, name, sizeof name, shape, &nd);
        if (!sparq_st_find(f, name) && !n_missing++)
            snprintf(first, sizeof first, "%s", name);
    }
    for (int l = 0; l < m->cfg.n_layers; l++)
        for (int k = 0; k < 2; k++) {
            snprintf(name, sizeof name, "layers.%d." BN "%s", l, k ? "running_var" : "running_mean");
            if (!sparq_st_find(f, name) && !n_missing++)
                snprintf(first, sizeof first, "%s", name);
        }
    if (n_missing)
        return sparq_fail(SPARQ_EFORMAT, "%s: tensor '%s' missing (%d missing tensor%s)", label, first, n_missing,
                          n_missing > 1 ? "s" : "");
    return SPARQ_OK;
}

int sparq_torch_import(struct sparq_model *m, const struct sparq_st_file *f, const struct sparq_config *hint,
                       const char *label)
{
    memset(m, 0, sizeof *m);
    struct sparq_config meta_hint, c;
    const char *meta = sparq_st_meta_get(f, SPARQ_TORCH_META_CONFIG);
    if (!hint && meta) {
        char what[300];
        snprintf(what, sizeof what, "%s: __metadata__ '%s'", label, SPARQ_TORCH_META_CONFIG);
        int rc = sparq_torch_config_parse(&meta_hint, meta, strlen(meta), what);
        if (rc)
            return rc;
        hint = &meta_hint;
    }
    int rc = infer_config(&c, f, hint, label);
    if (rc || (rc = sparq_model_create(m, &c)))
        return rc;
    sparq_model_init(m, 0); // BN statistics 1/0 and CMVN identity unless the file has them
    char *used = sparq_calloc((size_t)(f->count ? f->count : 1), 1, "import bookkeeping");
    size_t max = 0;
    for (int i = 0; i < m->n_tensors; i++)
        max = m->tensors[i].size > max ? m->tensors[i].size : max;
    float *tmp = sparq_malloc(sizeof(float) * (max ? max : 1), "import buffer");
    rc = !used || !tmp ? SPARQ_ENOMEM : check_missing(m, f, label);
    for (int i = 0; !rc && i < m->n_tensors; i++) {
        const struct sparq_tensor_info *ti = &m->tensors[i];
        char name[128];
        int64_t shape[4];
        int nd;
        if (!(rc = sparq_torch_tensor(&c, ti->name, name, sizeof name, shape, &nd)) &&
            !(rc = take(f, used, name, shape, nd, tmp, label)))
            sparq_torch_permute(&c, ti->name, tmp, m->param_mem + ti->offset, sizeof(float), 0);
    }
    rc = rc ? rc : import_buffers(m, f, used, label);
    rc = rc ? rc : check_extra(f, used, label);
    free(used);
    free(tmp);
    if (rc)
        sparq_model_free(m);
    return rc;
}

// ---- export --------------------------------------------------------------------

static int add_f32(struct sparq_st_writer *w, const char *name, int nd, const int64_t *shape, const float *v)
{
    return sparq_st_writer_add(w, name, SPARQ_ST_F32, nd, shape, v);
}

int sparq_torch_export(const struct sparq_model *m, struct sparq_st_writer *w)
{
    const struct sparq_config *c = &m->cfg;
    size_t max = 0;
    for (int i = 0; i < m->n_tensors; i++)
        max = m->tensors[i].size > max ? m->tensors[i].size : max;
    float *tmp = sparq_malloc(sizeof(float) * (max ? max : 1), "export buffer");
    if (!tmp)
        return SPARQ_ENOMEM;
    int rc = SPARQ_OK;
    char name[128], cfg[256];
    int64_t shape[4], d = c->d_model, nm = c->n_mels;
    int nd;
    for (int i = 0; !rc && i < m->n_tensors; i++) {
        const struct sparq_tensor_info *ti = &m->tensors[i];
        if ((rc = sparq_torch_tensor(c, ti->name, name, sizeof name, shape, &nd)))
            break;
        sparq_torch_permute(c, ti->name, m->param_mem + ti->offset, tmp, sizeof(float), 1);
        rc = add_f32(w, name, nd, shape, tmp);
        // BatchNorm buffers follow its affine parameters, as in state_dict().
        int l;
        if (!rc && sscanf(ti->name, "layer%d.conv_bn_b", &l) == 1 && strstr(ti->name, "conv_bn_b")) {
            int64_t steps = 0;
            snprintf(name, sizeof name, "layers.%d." BN "running_mean", l);
            rc = add_f32(w, name, 1, &d, m->buf.bn_mean[l]);
            snprintf(name, sizeof name, "layers.%d." BN "running_var", l);
            rc = rc ? rc : add_f32(w, name, 1, &d, m->buf.bn_var[l]);
            snprintf(name, sizeof name, "layers.%d." BN "num_batches_tracked", l);
            rc = rc ? rc : sparq_st_writer_add(w, name, SPARQ_ST_I64, 0, NULL, &steps);
        }
    }
    free(tmp);
    rc = rc ? rc : add_f32(w, SPARQ_TORCH_EXTRA "cmvn_mean", 1, &nm, m->buf.cmvn_mean);
    rc = rc ? rc : add_f32(w, SPARQ_TORCH_EXTRA "cmvn_istd", 1, &nm, m->buf.cmvn_istd);
    if (!rc && sparq_torch_config_format(c, cfg, sizeof cfg) < 0)
        rc = SPARQ_EINVAL;
    rc = rc ? rc : sparq_st_writer_meta(w, "format", "pt");
    rc = rc ? rc : sparq_st_writer_meta(w, SPARQ_TORCH_META_CONFIG, cfg);
    return rc;
}
