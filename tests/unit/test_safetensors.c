// safetensors reader/writer and the PyTorch state-dict mapping against the
// fixtures of tests/fixtures/make_safetensors_fixtures.py (run from the
// repository root): logits equal PyTorch's, export/import round trips
// byte for byte, f16/bf16 conversion, and every malformed file rejected with
// a message naming what is wrong.
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "sparq_error.h"
#include "sparq_export.h"
#include "sparq_export_torch.h"
#include "sparq_rng.h"
#include "sparq_safetensors.h"
#include "sparq_torch.h"

#define DIR "tests/fixtures/safetensors/"

static struct sparq_config tiny_hint(void)
{
    struct sparq_config h;
    memset(&h, 0, sizeof h);
    h.n_mels = 16;
    h.n_heads = 2;
    return h;
}

// Does the last error mention every given string?
static int says(const char *a, const char *b)
{
    const char *e = sparq_last_error();
    return strstr(e, a) && (!b || strstr(e, b));
}

// ---- parser: hand-built files --------------------------------------------------

// A file with the given header JSON and `data` zero bytes.
static uint8_t *build(const char *json, size_t data, size_t *n)
{
    size_t h = strlen(json);
    *n = 8 + h + data;
    uint8_t *b = calloc(1, *n);
    uint64_t hl = h;
    memcpy(b, &hl, 8);
    memcpy(b + 8, json, h);
    return b;
}

static int parse_json(const char *json, size_t data)
{
    size_t n;
    uint8_t *b = build(json, data, &n);
    struct sparq_st_file f;
    int rc = sparq_st_parse(&f, b, n, "x.safetensors");
    if (!rc)
        sparq_st_free(&f);
    free(b);
    return rc;
}

static void test_parser_rejects(void)
{
    CHECK(parse_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                     "\"__metadata__\":{\"format\":\"pt\"}}", 24) == 0,
          "a well-formed file parses");
    CHECK(parse_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", 20) &&
              says("'a'", "past the 20 data bytes"),
          "data_offsets past the data rejected naming the tensor: %s", sparq_last_error());
    CHECK(parse_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8) && says("'a'", "end before"),
          "begin > end rejected naming the tensor: %s", sparq_last_error());
    CHECK(parse_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 20) &&
              says("'a'", "need 24"),
          "byte length != numel * 4 rejected naming the tensor: %s", sparq_last_error());
    CHECK(parse_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12) &&
              says("'b' overlaps tensor 'a'", NULL),
          "overlapping tensors rejected naming both: %s", sparq_last_error());
    CHECK(parse_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                     "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12) &&
              says("4..8", "'b'"),
          "bytes no tensor covers rejected: %s", sparq_last_error());
    CHECK(parse_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8) && says("4 data bytes after", NULL),
          "trailing bytes rejected: %s", sparq_last_error());
    CHECK(parse_json("{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8) && says("'a'", "F64"),
          "unsupported dtype rejected naming the tensor: %s", sparq_last_error());
    CHECK(parse_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4) && says("'a'", "shape[0]"),
          "negative dimension rejected: %s", sparq_last_error());
    CHECK(parse_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4) && says("'a'", "shape[0]"),
          "fractional dimension rejected: %s", sparq_last_error());
    CHECK(parse_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4) &&
              says("'a'", "more elements"),
          "a shape whose element count overflows is rejected: %s", sparq_last_error());
    CHECK(parse_json("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                     "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8) && says("'a' appears twice", NULL),
          "duplicate tensor names rejected: %s", sparq_last_error());
    CHECK(parse_json("{\"__metadata__\":{\"k\":1}}", 0) && says("'k'", "not a string"),
          "non-string metadata rejected: %s", sparq_last_error());
    CHECK(parse_json("[1,2]", 0) && says("not a JSON object", NULL), "a non-object header rejected");
    CHECK(parse_json("{\"a\":", 0) && says("not valid JSON", NULL), "broken JSON rejected: %s", sparq_last_error());
    CHECK(parse_json("{} x", 0) && says("bytes after", NULL), "garbage after the JSON rejected: %s", sparq_last_error());
    uint8_t huge[16] = { 0, 0, 0, 0, 0, 0, 0, 0x40 };
    struct sparq_st_file f;
    CHECK(sparq_st_parse(&f, huge, sizeof huge, "x") && says("header length", "not sane"),
          "an absurd header length rejected: %s", sparq_last_error());
}

// Every proper prefix of a real file is rejected as truncated or incomplete.
static void test_truncation(const uint8_t *bytes, size_t n)
{
    int all = 1, named = 1;
    for (size_t cut = 0; cut < n; cut += (cut < 64 ? 1 : 97)) {
        struct sparq_st_file f;
        if (!sparq_st_parse(&f, bytes, cut, "cut")) {
            all = 0;
            sparq_st_free(&f);
        } else if (!strstr(sparq_last_error(), "truncated") && !strstr(sparq_last_error(), "belong to no tensor")) {
            named = 0;
            printf("# cut at %zu: %s\n", cut, sparq_last_error());
        }
    }
    CHECK(all, "every truncation of tiny.safetensors is rejected");
    CHECK(named, "truncations say the file is truncated (header) or point at the data bytes");
}

// ---- PyTorch state dict --------------------------------------------------------

static int read_fixture(struct sparq_st_file *f, const char *name)
{
    int rc = sparq_st_read(f, name);
    if (rc)
        printf("# %s\n", sparq_last_error());
    return rc;
}

static void test_logits(const struct sparq_model *cm)
{
    struct sparq_model *m = (struct sparq_model *)cm;
    struct sparq_st_file ref;
    if (read_fixture(&ref, DIR "tiny_reference.safetensors")) {
        CHECK(0, "reference fixture readable");
        return;
    }
    const struct sparq_st_tensor *x = sparq_st_find(&ref, "input"), *ln = sparq_st_find(&ref, "lens"),
                                     *lg = sparq_st_find(&ref, "logits");
    CHECK(x && ln && lg && x->ndim == 3 && ln->dtype == SPARQ_ST_I64 && lg->ndim == 3, "reference holds input, lens, logits");
    if (!(x && ln && lg && x->ndim == 3 && lg->ndim == 3 && ln->dtype == SPARQ_ST_I64)) {
        sparq_st_free(&ref);
        return;
    }
    int B = (int)x->shape[0], T = (int)x->shape[1], lens[8];
    float *feats = malloc(sizeof(float) * x->numel), *want = malloc(sizeof(float) * lg->numel);
    sparq_st_to_float(x, feats, "ref");
    sparq_st_to_float(lg, want, "ref");
    for (int b = 0; b < B && b < 8; b++) {
        int64_t v;
        memcpy(&v, ln->data + 8 * b, 8);
        lens[b] = (int)v;
    }
    struct sparq_acts *a = sparq_acts_create(&m->cfg, B, T);
    int T2 = sparq_forward(m, a, feats, lens, B, T, 0);
    CHECK(T2 == (int)lg->shape[1], "output frames %d == PyTorch's %lld", T2, (long long)lg->shape[1]);
    double worst = 0;
    if (T2 == (int)lg->shape[1]) {
        const float *got = sparq_acts_logits(a);
        const int *ol = sparq_acts_out_lens(a);
        for (int b = 0; b < B; b++)
            for (int t = 0; t < ol[b]; t++)
                for (int v = 0; v < m->cfg.vocab; v++) {
                    size_t i = ((size_t)b * T2 + t) * m->cfg.vocab + v;
                    double d = fabs((double)got[i] - want[i]);
                    worst = d > worst ? d : worst;
                }
    }
    CHECK(T2 > 0 && worst < 1e-5, "imported logits equal PyTorch's within 1e-5 (max |diff| %.3g)", worst);
    sparq_acts_free(a);
    free(feats);
    free(want);
    sparq_st_free(&ref);
}

// Export -> bytes -> parse -> import: identical parameters and buffers, and
// every tensor of the original PyTorch file comes back with identical bytes.
static void test_round_trip(const struct sparq_model *m, const struct sparq_st_file *orig)
{
    struct sparq_st_writer w;
    sparq_st_writer_init(&w);
    uint8_t *bytes = NULL, *bytes2 = NULL;
    size_t n = 0, n2 = 0;
    int rc = sparq_torch_export(m, &w);
    rc = rc ? rc : sparq_st_serialize(&w, &bytes, &n);
    rc = rc ? rc : sparq_st_serialize(&w, &bytes2, &n2);
    CHECK(!rc && n == n2 && !memcmp(bytes, bytes2, n), "export serialises deterministically (%zu bytes)", n);
    struct sparq_st_file f;
    struct sparq_model back;
    rc = rc ? rc : sparq_st_parse(&f, bytes, n, "exported");
    CHECK(!rc, "the exported file parses: %s", rc ? sparq_last_error() : "ok");
    if (rc) {
        sparq_st_writer_free(&w);
        free(bytes);
        free(bytes2);
        return;
    }
    int same = 1;
    for (int i = 0; i < orig->count; i++) {
        const struct sparq_st_tensor *a = &orig->tensors[i], *b = sparq_st_find(&f, a->name);
        if (!b || a->dtype != b->dtype || a->nbytes != b->nbytes || memcmp(a->data, b->data, a->nbytes) ||
            a->ndim != b->ndim || memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->ndim)) {
            if (same)
                printf("# first difference: tensor '%s'\n", a->name);
            same = 0;
        }
    }
    CHECK(same && f.count == orig->count + 2, "export reproduces all %d PyTorch tensors byte for byte (+ sparq.cmvn_*)",
          orig->count);
    rc = sparq_torch_import(&back, &f, NULL, "exported");
    CHECK(!rc, "re-import without --config (config from __metadata__): %s", rc ? sparq_last_error() : "ok");
    if (!rc) {
        CHECK(back.n_params == m->n_params && !memcmp(back.param_mem, m->param_mem, 4 * m->n_params) &&
                  back.n_buffers == m->n_buffers && !memcmp(back.buffer_mem, m->buffer_mem, 4 * m->n_buffers),
              "export -> import gives byte-identical parameters and buffers");
        sparq_model_free(&back);
    }
    sparq_st_free(&f);
    sparq_st_writer_free(&w);
    free(bytes);
    free(bytes2);
}

static void test_half_formats(const struct sparq_model *m32)
{
    CHECK(sparq_f16_to_float(0x3C00) == 1.0f && sparq_f16_to_float(0xC000) == -2.0f &&
              sparq_f16_to_float(0x7BFF) == 65504.0f && sparq_f16_to_float(0x0001) == ldexpf(1, -24) &&
              sparq_f16_to_float(0x0400) == ldexpf(1, -14) && sparq_f16_to_float(0x3555) == 0x1.554p-2f &&
              isinf(sparq_f16_to_float(0xFC00)) && isnan(sparq_f16_to_float(0x7E00)),
          "f16: normals, subnormals, max, inf, nan");
    CHECK(sparq_bf16_to_float(0x3F80) == 1.0f && sparq_bf16_to_float(0xC040) == -3.0f &&
              sparq_bf16_to_float(0x3E2B) == 0x1.56p-3f,
          "bf16: top half of a float32");
    const char *files[2] = { DIR "tiny_f16.safetensors", DIR "tiny_bf16.safetensors" };
    const double rel[2] = { ldexp(1, -11), ldexp(1, -8) }; // half a unit in the last place
    for (int k = 0; k < 2; k++) {
        struct sparq_st_file f;
        struct sparq_model m;
        struct sparq_config h = tiny_hint();
        int rc = read_fixture(&f, files[k]);
        rc = rc ? rc : sparq_torch_import(&m, &f, &h, files[k]);
        CHECK(!rc, "%s imports: %s", files[k], rc ? sparq_last_error() : "ok");
        if (rc)
            continue;
        double worst = 0;
        size_t differ = 0;
        for (size_t i = 0; i < m.n_params; i++) {
            double a = m.param_mem[i], b = m32->param_mem[i];
            double excess = fabs(a - b) - (rel[k] * fabs(b) + ldexp(1, -25));
            worst = excess > worst ? excess : worst;
            differ += a != b;
        }
        CHECK(worst <= 0 && differ > 0, "%s: every parameter is the f32 one rounded (%zu of %zu differ)", files[k],
              differ, m.n_params);
        sparq_model_free(&m);
        sparq_st_free(&f);
    }
}

// A copy of `src` through the writer with one tensor changed: dropped
// (drop), renamed, retyped or reshaped; plus an optional extra tensor.
struct edit {
    const char *name;   // tensor to change
    int drop;
    const char *rename;
    int as_i64;         // store as I64 (same element count)
    int transpose;      // swap the two dimensions
    int nan;            // first element NaN
    const char *extra;  // add this F32 scalar
};

static int import_edited(const struct sparq_st_file *src, const struct edit *e, const struct sparq_config *hint)
{
    struct sparq_st_writer w;
    sparq_st_writer_init(&w);
    int rc = SPARQ_OK;
    for (int i = 0; !rc && i < src->count; i++) {
        const struct sparq_st_tensor *t = &src->tensors[i];
        int64_t shape[SPARQ_ST_MAX_DIMS];
        memcpy(shape, t->shape, sizeof shape);
        if (!e->name || strcmp(t->name, e->name)) {
            rc = sparq_st_writer_add(&w, t->name, t->dtype, t->ndim, shape, t->data);
            continue;
        }
        if (e->drop)
            continue;
        float *v = malloc(8 * t->numel + 8);
        memcpy(v, t->data, t->nbytes);
        if (e->nan)
            v[0] = NAN;
        if (e->transpose && t->ndim == 2) {
            shape[0] = t->shape[1];
            shape[1] = t->shape[0];
        }
        if (e->as_i64) {
            int64_t *q = (int64_t *)v;
            for (size_t j = t->numel; j-- > 0;)
                q[j] = (int64_t)((const float *)t->data)[j];
        }
        rc = sparq_st_writer_add(&w, e->rename ? e->rename : t->name, e->as_i64 ? SPARQ_ST_I64 : t->dtype, t->ndim,
                                 shape, v);
        free(v);
    }
    float zero = 0;
    if (!rc && e->extra)
        rc = sparq_st_writer_add(&w, e->extra, SPARQ_ST_F32, 0, NULL, &zero);
    uint8_t *bytes = NULL;
    size_t n;
    rc = rc ? rc : sparq_st_serialize(&w, &bytes, &n);
    sparq_st_writer_free(&w);
    struct sparq_st_file f;
    struct sparq_model m;
    if (!rc && !(rc = sparq_st_parse(&f, bytes, n, "edited.safetensors"))) {
        if (!(rc = sparq_torch_import(&m, &f, hint, "edited.safetensors")))
            sparq_model_free(&m);
        sparq_st_free(&f);
    }
    free(bytes);
    return rc;
}

static void test_import_rejects(const struct sparq_st_file *src)
{
    struct sparq_config h = tiny_hint();
    struct edit none = { 0 };
    CHECK(import_edited(src, &none, &h) == 0, "an unedited copy imports (the edits below are what fails)");
    struct edit miss = { .name = "layers.1.self_attn.out_proj.bias", .drop = 1 };
    CHECK(import_edited(src, &miss, &h) && says("'layers.1.self_attn.out_proj.bias' missing", "1 missing"),
          "a missing tensor is named: %s", sparq_last_error());
    struct edit miss_bn = { .name = "layers.0.conv_module.sequential.3.running_var", .drop = 1 };
    CHECK(import_edited(src, &miss_bn, &h) && says("'layers.0.conv_module.sequential.3.running_var' missing", NULL),
          "a missing BatchNorm statistic is named: %s", sparq_last_error());
    struct edit extra = { .extra = "layers.0.conv_module.extra.weight" };
    CHECK(import_edited(src, &extra, &h) && says("'layers.0.conv_module.extra.weight'", "not part"),
          "an extra tensor is named: %s", sparq_last_error());
    struct edit stray = { .extra = "sparq.mask.layers.0.nothing" };
    CHECK(import_edited(src, &stray, &h) && says("'sparq.mask.layers.0.nothing'", "not part"),
          "a mask of no weight is an extra tensor: %s", sparq_last_error());
    struct edit ren = { .name = "out.bias", .rename = "out.b" };
    CHECK(import_edited(src, &ren, &h) && says("'out.bias' missing", NULL),
          "a misnamed tensor is reported missing: %s", sparq_last_error());
    struct edit dt = { .name = "layers.1.ffn2.sequential.4.weight", .as_i64 = 1 };
    CHECK(import_edited(src, &dt, &h) && says("'layers.1.ffn2.sequential.4.weight'", "dtype I64"),
          "a weight of the wrong dtype is named: %s", sparq_last_error());
    struct edit tr = { .name = "layers.1.ffn2.sequential.4.weight", .transpose = 1 };
    CHECK(import_edited(src, &tr, &h) && says("'layers.1.ffn2.sequential.4.weight': shape [16, 8], expected [8, 16]", NULL),
          "a misshapen weight is named with both shapes: %s", sparq_last_error());
    struct edit nan = { .name = "layers.0.self_attn.in_proj_weight", .nan = 1 };
    CHECK(import_edited(src, &nan, &h) && says("'layers.0.self_attn.in_proj_weight'", "not finite"),
          "a NaN weight is named: %s", sparq_last_error());
    struct edit bnc = { .name = "layers.1.conv_module.sequential.3.num_batches_tracked", .drop = 1 };
    CHECK(import_edited(src, &bnc, &h) == 0, "BatchNorm's num_batches_tracked is optional");
    struct sparq_config wrong = h;
    wrong.d_model = 16;
    CHECK(import_edited(src, &none, &wrong) && says("d_model = 16", "have 8"),
          "a config that disagrees with the shapes is named: %s", sparq_last_error());
    struct sparq_config no_heads = h;
    no_heads.n_heads = 0;
    CHECK(import_edited(src, &none, &no_heads) && says("n_heads", "--config"), "n_heads is required: %s",
          sparq_last_error());
    struct sparq_config bad_heads = h;
    bad_heads.n_heads = 3;
    CHECK(import_edited(src, &none, &bad_heads) && says("n_heads = 3", NULL), "n_heads must divide d_model: %s",
          sparq_last_error());
    struct sparq_config mels = h;
    mels.n_mels = 40;
    CHECK(import_edited(src, &none, &mels) && says("'sub_lin.weight'", "n_mels = 40"),
          "n_mels that does not fit sub_lin is named: %s", sparq_last_error());
}

static void test_config_json(void)
{
    struct sparq_config h;
    const char *ok = "{\"n_mels\": 80, \"n_heads\": 4}";
    CHECK(!sparq_torch_config_parse(&h, ok, strlen(ok), "c.json") && h.n_mels == 80 && h.n_heads == 4 && !h.d_model,
          "config JSON: given keys set, others 0");
    const char *unk = "{\"n_head\": 4}";
    CHECK(sparq_torch_config_parse(&h, unk, strlen(unk), "c.json") && says("c.json", "'n_head' unknown"),
          "config JSON: unknown key named: %s", sparq_last_error());
    const char *frac = "{\"n_heads\": 2.5}";
    CHECK(sparq_torch_config_parse(&h, frac, strlen(frac), "c.json") && says("'n_heads'", "whole number"),
          "config JSON: non-integer value named: %s", sparq_last_error());
    char text[256];
    struct sparq_config c;
    sparq_config_default(&c);
    int n = sparq_torch_config_format(&c, text, sizeof text);
    CHECK(n > 0 && !sparq_torch_config_parse(&h, text, (size_t)n, "fmt") && !memcmp(&h, &c, sizeof c),
          "config JSON: format -> parse round trip");
}

// Random tensors through writer and parser: names, dtypes, shapes, bytes.
static void test_writer_random(void)
{
    uint64_t seed = check_seed(20);
    uint64_t rng = seed;
    int ok = 1;
    for (int round = 0; round < 50 && ok; round++) {
        struct sparq_st_writer w;
        sparq_st_writer_init(&w);
        int count = (int)(sparq_rng_next(&rng) % 6);
        uint8_t buf[512];
        for (int i = 0; i < count; i++) {
            char name[32];
            int64_t shape[3] = { (int64_t)(sparq_rng_next(&rng) % 4), (int64_t)(sparq_rng_next(&rng) % 5), 3 };
            int nd = (int)(sparq_rng_next(&rng) % 4);
            enum sparq_st_dtype dt = (enum sparq_st_dtype)(sparq_rng_next(&rng) % 5);
            for (size_t j = 0; j < sizeof buf; j++)
                buf[j] = (uint8_t)sparq_rng_next(&rng);
            snprintf(name, sizeof name, "t%d.%d", round, i);
            sparq_st_writer_add(&w, name, dt, nd, shape, buf);
        }
        if (round % 2)
            sparq_st_writer_meta(&w, "k", "v");
        uint8_t *bytes;
        size_t n;
        struct sparq_st_file f;
        if (sparq_st_serialize(&w, &bytes, &n) || sparq_st_parse(&f, bytes, n, "random")) {
            printf("# round %d: %s\n", round, sparq_last_error());
            ok = 0;
            sparq_st_writer_free(&w);
            continue;
        }
        ok = f.count == w.count && (round % 2 ? sparq_st_meta_get(&f, "k") != NULL : f.n_meta == 0);
        for (int i = 0; ok && i < w.count; i++) {
            const struct sparq_st_tensor *a = &w.tensors[i], *b = &f.tensors[i];
            ok = !strcmp(a->name, b->name) && a->dtype == b->dtype && a->ndim == b->ndim && a->nbytes == b->nbytes &&
                 !memcmp(a->data, b->data, a->nbytes);
        }
        uint64_t hl;
        memcpy(&hl, bytes, 8);
        ok = ok && hl % 8 == 0; // tensor data starts 8-byte aligned
        sparq_st_free(&f);
        free(bytes);
        sparq_st_writer_free(&w);
    }
    CHECK(ok, "random tensors survive writer -> parser (50 files)");
}

// A compressed model exported to PyTorch: every kept weight is a whole
// multiple of its row's scale, every masked-out weight is zero, and the
// mask is in PyTorch's layout (checked through the layout-changing
// conv1/conv2/sub_lin weights too).
static void test_compressed_export(const struct sparq_model *m)
{
    char spq[64], st[64];
    snprintf(spq, sizeof spq, "/tmp/test_safetensors_%d.spq", (int)getpid());
    snprintf(st, sizeof st, "/tmp/test_safetensors_%d.st", (int)getpid());
    struct sparq_compress_spec spec;
    struct sparq_export_report rep;
    struct sparq_torch_export_report trep;
    struct sparq_st_file f;
    int rc = sparq_compress_spec_parse(&spec, "int4-2:4");
    rc = rc ? rc : sparq_export(m, &spec, NULL, SPARQ_SCALE_MSE, spq, &rep);
    rc = rc ? rc : sparq_export_safetensors(spq, st, &trep);
    rc = rc ? rc : sparq_st_read(&f, st);
    CHECK(!rc && trep.compressed && trep.packed_weights > 0, "a .spq exports to safetensors (%d packed weights): %s",
          trep.packed_weights, rc ? sparq_last_error() : "ok");
    unlink(spq);
    unlink(st);
    if (rc)
        return;
    int masks = 0, ok = 1;
    for (int i = 0; i < f.count && ok; i++) {
        const struct sparq_st_tensor *mk = &f.tensors[i];
        if (strncmp(mk->name, "sparq.mask.", 11))
            continue;
        masks++;
        char sname[160];
        snprintf(sname, sizeof sname, "sparq.scale.%s", mk->name + 11);
        const struct sparq_st_tensor *w = sparq_st_find(&f, mk->name + 11), *sc = sparq_st_find(&f, sname);
        ok = w && sc && mk->dtype == SPARQ_ST_U8 && w->numel == mk->numel && sc->numel == (size_t)w->shape[0];
        size_t per_row = ok ? w->numel / (size_t)w->shape[0] : 0;
        for (size_t j = 0; ok && j < w->numel; j++) {
            float v, s;
            memcpy(&v, w->data + 4 * j, 4);
            memcpy(&s, sc->data + 4 * (j / per_row), 4);
            float q = roundf(v / s); // the int4 code
            ok = mk->data[j] ? q * s == v && fabsf(q) <= 7 : v == 0;
            if (!ok)
                printf("# %s element %zu: weight %g, scale %g, mask %d\n", w->name, j, v, s, mk->data[j]);
        }
    }
    CHECK(ok && masks == trep.packed_weights, "%d masks: kept weights are code x scale, the rest zero, in PyTorch's layout",
          masks);
    sparq_st_free(&f);
}

int main(void)
{
    test_parser_rejects();
    test_config_json();
    test_writer_random();
    struct sparq_st_file f;
    if (read_fixture(&f, DIR "tiny.safetensors")) {
        CHECK(0, "tiny.safetensors readable");
        return check_done();
    }
    struct sparq_model m;
    struct sparq_config h = tiny_hint();
    int rc = sparq_torch_import(&m, &f, &h, "tiny.safetensors");
    CHECK(!rc, "tiny.safetensors imports: %s", rc ? sparq_last_error() : "ok");
    if (!rc) {
        test_logits(&m);
        test_round_trip(&m, &f);
        test_half_formats(&m);
        test_compressed_export(&m);
        sparq_model_free(&m);
    }
    test_import_rejects(&f);
    // the bytes of the fixture file itself, for the truncation sweep
    char *raw;
    size_t n;
    FILE *fp = fopen(DIR "tiny.safetensors", "rb");
    fseek(fp, 0, SEEK_END);
    n = (size_t)ftell(fp);
    rewind(fp);
    raw = malloc(n);
    CHECK(fread(raw, 1, n, fp) == n, "fixture bytes read");
    fclose(fp);
    test_truncation((const uint8_t *)raw, n);
    free(raw);
    sparq_st_free(&f);
    return check_done();
}
