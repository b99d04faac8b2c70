// Budgeted mixed-precision search (sparq_search.h): per-layer sensitivity
// measured as the dev CTC loss increase when only that layer is compressed,
// then an exact knapsack choice under the file-size budget.
#include "sparq_search.h"

#include <cjson/cJSON.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "sparq_clock.h"
#include "sparq_ctc.h"
#include "sparq_error.h"
#include "sparq_format.h"
#include "sparq_export.h"

void sparq_search_default_options(struct sparq_search_options *o)
{
    memset(o, 0, sizeof *o);
    sparq_search_parse_options(o, "int8,int4,int4-2:4,int2-2:4,int4-1:4,int2-1:4");
    o->budget_percent = 9.4;
    o->max_utts = 40;
    o->batch_frames = 12000;
    o->scale_method = SPARQ_SCALE_MSE;
    o->progress = 1;
}

int sparq_search_parse_options(struct sparq_search_options *o, const char *list)
{
    struct sparq_compress_spec spec;
    int rc = sparq_compress_spec_parse(&spec, list);
    if (rc)
        return rc;
    if (spec.count > SPARQ_SEARCH_MAX_OPTIONS)
        return sparq_fail(SPARQ_EINVAL, "search: more than %d candidate settings", SPARQ_SEARCH_MAX_OPTIONS);
    for (int i = 0; i < spec.count; i++) {
        if (strcmp(spec.rules[i].pattern, "*"))
            return sparq_fail(SPARQ_EINVAL, "search: candidate '%s=...' must be a plain setting (no layer pattern)",
                              spec.rules[i].pattern);
        o->options[i] = spec.rules[i].setting;
    }
    o->n_options = spec.count;
    return SPARQ_OK;
}

void sparq_search_result_free(struct sparq_search_result *r)
{
    free(r->layers);
    free(r->spec);
    memset(r, 0, sizeof *r);
}

static int fixed_by(const struct sparq_compress_spec *fixed, const char *name)
{
    for (int i = 0; i < fixed->count; i++)
        if (fnmatch(fixed->rules[i].pattern, name, 0) == 0)
            return 1;
    return 0;
}

// The dev subset as ready-made eval batches (features computed once).
struct dev_batches {
    int n;
    struct dev_batch {
        int B, T;
        float *feats;
        int *lens, *labels, *label_lens;
    } *b;
    int utts;
};

static void dev_batches_free(struct dev_batches *d)
{
    for (int i = 0; d->b && i < d->n; i++) {
        free(d->b[i].feats);
        free(d->b[i].lens);
        free(d->b[i].labels);
        free(d->b[i].label_lens);
    }
    free(d->b);
}

static int dev_batches_make(struct dev_batches *d, const struct sparq_model *m, const struct sparq_dataset *dev,
                            int max_utts, int max_frames)
{
    memset(d, 0, sizeof *d);
    struct sparq_dataset view = *dev; // the first max_utts utterances
    if (max_utts > 0 && (size_t)max_utts < view.n)
        view.n = (size_t)max_utts;
    d->utts = (int)view.n;
    struct sparq_fbank_options fo;
    sparq_fbank_default_options(&fo);
    fo.num_mel_bins = m->cfg.n_mels;
    struct sparq_fbank_plan *plan = NULL;
    struct sparq_batches bt;
    int rc = sparq_fbank_plan_create(&plan, &fo);
    if (rc)
        return rc;
    if ((rc = sparq_batches_make(&bt, &view, max_frames, 0))) {
        sparq_fbank_plan_free(plan);
        return rc;
    }
    d->b = sparq_calloc(bt.n, sizeof *d->b, "dev batches");
    rc = d->b ? SPARQ_OK : SPARQ_ENOMEM;
    for (size_t bi = 0; rc == SPARQ_OK && bi < bt.n; bi++) {
        struct dev_batch *b = &d->b[bi];
        d->n++;
        size_t s0 = bt.start[bi];
        b->B = (int)(bt.start[bi + 1] - s0);
        int nl = 0;
        for (int k = 0; k < b->B; k++) {
            size_t u = bt.order[s0 + (size_t)k];
            b->T = view.frames[u] > b->T ? view.frames[u] : b->T;
            nl += view.n_labels[u];
        }
        b->feats = sparq_calloc((size_t)b->B * b->T * m->cfg.n_mels, sizeof(float), "dev features");
        b->lens = malloc(sizeof(int) * (size_t)b->B);
        b->label_lens = malloc(sizeof(int) * (size_t)b->B);
        b->labels = malloc(sizeof(int) * (size_t)(nl + 1));
        if (!b->feats || !b->lens || !b->label_lens || !b->labels) {
            rc = sparq_fail(SPARQ_ENOMEM, "out of memory for the dev batches");
            break;
        }
        nl = 0;
        for (int k = 0; k < b->B && rc == SPARQ_OK; k++) {
            size_t u = bt.order[s0 + (size_t)k];
            b->lens[k] = view.frames[u];
            b->label_lens[k] = view.n_labels[u];
            memcpy(b->labels + nl, view.labels[u], sizeof(int) * (size_t)view.n_labels[u]);
            nl += view.n_labels[u];
            rc = sparq_dataset_features(&view, u, plan, 0, m, b->feats + (size_t)k * b->T * m->cfg.n_mels);
        }
    }
    sparq_batches_free(&bt);
    sparq_fbank_plan_free(plan);
    if (rc)
        dev_batches_free(d);
    return rc;
}

// Mean CTC loss per utterance over the dev subset (eval mode).
static int dev_loss(struct sparq_model *m, struct sparq_acts *a, const struct dev_batches *d, double *loss)
{
    double sum = 0;
    for (int i = 0; i < d->n; i++) {
        const struct dev_batch *b = &d->b[i];
        int T2 = sparq_forward(m, a, b->feats, b->lens, b->B, b->T, 0);
        if (T2 < 0)
            return T2;
        sum += b->B * sparq_ctc_batch(sparq_acts_logits(a), sparq_acts_out_lens(a), b->B, T2, m->cfg.vocab,
                                      b->labels, b->label_lens, NULL, NULL);
    }
    *loss = sum / (d->utts > 0 ? d->utts : 1);
    return SPARQ_OK;
}

// Compresses tensor t of m in place (post-training) with setting s.
static int compress_layer(struct sparq_model *m, const struct sparq_search_layer *L, const struct sparq_layer_setting *s,
                          enum sparq_scale_method method, const float *orig, uint8_t *mask, float *scales)
{
    float *w = m->param_mem + m->tensors[L->tensor].offset;
    size_t n = (size_t)L->out * L->in;
    if (s->kept < 4) {
        int rc = sparq_nm_mask(mask, orig, L->out, L->in, s->kept);
        if (rc)
            return rc;
    } else
        memset(mask, 1, n);
    struct sparq_quantizer q = { s->width, s->grid };
    if (s->width > 0)
        sparq_quant_scales(scales, orig, mask, L->out, L->in, &q, method);
    sparq_fake_quant_forward(w, orig, mask, scales, L->out, L->in, &q);
    return SPARQ_OK;
}

// Exact exported file size of a spec (export to a temporary file).
static int spec_file_bytes(const struct sparq_model *m, const char *spec_text, enum sparq_scale_method method,
                           size_t *bytes)
{
    struct sparq_compress_spec spec;
    int rc = sparq_compress_spec_parse(&spec, spec_text);
    if (rc)
        return rc;
    char path[] = "/tmp/sparq_search_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return sparq_fail(SPARQ_EIO, "search: cannot create a temporary file in /tmp");
    close(fd);
    struct sparq_export_report rep;
    rc = sparq_export(m, &spec, NULL, method, path, &rep);
    unlink(path);
    *bytes = rep.file_bytes;
    return rc;
}

// Spec text: one exact-name rule per searched layer (all at `uniform` if
// not NULL, else at their choice), then the fixed rules.
static char *spec_text(const struct sparq_search_result *r, const struct sparq_search_options *o,
                       const struct sparq_layer_setting *uniform)
{
    size_t cap = 64 + (size_t)(r->n_layers + o->fixed.count) * 96, n = 0;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    s[0] = 0;
    char name[32];
    for (int i = 0; i < r->n_layers; i++) {
        const struct sparq_search_layer *L = &r->layers[i];
        sparq_layer_setting_name(uniform ? uniform : &o->options[L->choice], name, sizeof name);
        n += (size_t)snprintf(s + n, cap - n, "%s%s=%s", n ? "," : "", L->name, name);
    }
    for (int i = 0; i < o->fixed.count; i++) {
        sparq_layer_setting_name(&o->fixed.rules[i].setting, name, sizeof name);
        n += (size_t)snprintf(s + n, cap - n, "%s%s=%s", n ? "," : "", o->fixed.rules[i].pattern, name);
    }
    if (n == 0)
        snprintf(s, cap, "float");
    return s;
}

static int choose(struct sparq_search_result *r, const struct sparq_search_options *o, size_t layer_budget)
{
    int L = r->n_layers, rc;
    int *count = malloc(sizeof(int) * (size_t)L), *choice = malloc(sizeof(int) * (size_t)L);
    const size_t **bytes = malloc(sizeof(size_t *) * (size_t)L);
    const double **cost = malloc(sizeof(double *) * (size_t)L);
    if (!count || !choice || !bytes || !cost)
        rc = sparq_fail(SPARQ_ENOMEM, "out of memory");
    else {
        for (int i = 0; i < L; i++) {
            count[i] = o->n_options;
            bytes[i] = r->layers[i].bytes;
            cost[i] = r->layers[i].cost;
        }
        // 64-byte quanta keep the table small; sizes round up, so the budget holds.
        rc = sparq_budget_choose(choice, L, count, bytes, cost, layer_budget, 64);
        for (int i = 0; rc == SPARQ_OK && i < L; i++)
            r->layers[i].choice = choice[i];
    }
    free(count);
    free(choice);
    free(bytes);
    free(cost);
    return rc;
}

// The measurement does not depend on the budget: the last one is kept so
// that searches at several budgets (sparq ablate) measure once. Keyed by the
// parameters, the dev subset and the candidates.
static uint32_t crc(uint32_t c, const void *p, size_t n) { return (uint32_t)crc32(c, p, (uInt)n); }

static struct {
    uint32_t key;
    int n_layers;
    double base_loss;
    struct sparq_search_layer *layers;
} memo;

static uint32_t memo_key(const struct sparq_model *m, const struct sparq_dataset *dev,
                         const struct sparq_search_options *o)
{
    // An array, not a struct: no padding bytes of unknown value in the key.
    const int64_t k[7] = { (int64_t)m->n_params, (int64_t)dev->n, o->max_utts, o->batch_frames, o->n_options,
                           (int64_t)o->scale_method, o->fixed.count };
    uint32_t c = crc(0, k, sizeof k);
    c = crc(c, m->param_mem, sizeof(float) * m->n_params);
    c = crc(c, o->options, sizeof(o->options[0]) * (size_t)o->n_options);
    for (int i = 0; i < o->fixed.count; i++)
        c = crc(c, o->fixed.rules[i].pattern, strlen(o->fixed.rules[i].pattern));
    for (size_t i = 0; i < dev->n && dev->ids; i++)
        c = crc(c, dev->ids[i], strlen(dev->ids[i]));
    return c;
}

static int memo_lookup(const struct sparq_model *m, const struct sparq_dataset *dev,
                       const struct sparq_search_options *o, struct sparq_search_result *r)
{
    if (!memo.layers || memo.n_layers != r->n_layers || memo.key != memo_key(m, dev, o))
        return 0;
    memcpy(r->layers, memo.layers, sizeof *r->layers * (size_t)r->n_layers);
    r->base_loss = memo.base_loss;
    if (o->progress)
        fprintf(stderr, "search: per-layer losses reused from the previous search of this model\n");
    return 1;
}

static void memo_store(const struct sparq_model *m, const struct sparq_dataset *dev,
                       const struct sparq_search_options *o, const struct sparq_search_result *r)
{
    free(memo.layers);
    memo.layers = malloc(sizeof *r->layers * (size_t)r->n_layers);
    if (!memo.layers)
        return;
    memcpy(memo.layers, r->layers, sizeof *r->layers * (size_t)r->n_layers);
    memo.n_layers = r->n_layers;
    memo.base_loss = r->base_loss;
    memo.key = memo_key(m, dev, o);
}

int sparq_search_run(struct sparq_model *m, const struct sparq_dataset *dev, const struct sparq_search_options *o,
                     struct sparq_search_result *r)
{
    memset(r, 0, sizeof *r);
    int rc0 = sparq_config_check_compressible(&m->cfg, "search");
    if (rc0)
        return rc0;
    if (o->n_options < 1)
        return sparq_fail(SPARQ_EINVAL, "search: no candidate settings");
    double t0 = sparq_clock_s();
    r->layers = sparq_calloc((size_t)m->n_tensors, sizeof *r->layers, "search layers");
    if (!r->layers)
        return SPARQ_ENOMEM;
    size_t max_size = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        int out, in;
        const struct sparq_tensor_info *t = &m->tensors[i];
        if (!sparq_tensor_is_matmul(t, &out, &in) || fixed_by(&o->fixed, t->name))
            continue;
        struct sparq_search_layer *L = &r->layers[r->n_layers++];
        L->tensor = i;
        snprintf(L->name, sizeof L->name, "%s", t->name);
        L->out = out;
        L->in = in;
        for (int j = 0; j < o->n_options; j++)
            L->bytes[j] = sparq_layer_bytes(&o->options[j], out, in);
        max_size = t->size > max_size ? t->size : max_size;
    }
    if (r->n_layers == 0) {
        sparq_search_result_free(r);
        return sparq_fail(SPARQ_EINVAL, "search: no weight matmul left to search (all fixed?)");
    }
    struct dev_batches d;
    int rc = dev_batches_make(&d, m, dev, o->max_utts, o->batch_frames);
    if (rc) {
        sparq_search_result_free(r);
        return rc;
    }
    struct sparq_acts *a = sparq_acts_create_eval(&m->cfg, 1, 64); // logits only: the eval-only layout
    float *orig = malloc(sizeof(float) * max_size), *scales = malloc(sizeof(float) * max_size);
    uint8_t *mask = malloc(max_size);
    if (!a || !orig || !scales || !mask)
        rc = sparq_fail(SPARQ_ENOMEM, "out of memory for the search");
    if (!rc)
        rc = dev_loss(m, a, &d, &r->base_loss);
    int total = r->n_layers * o->n_options, done = 0;
    double tm = sparq_clock_s(), last_progress = 0;
    int cached = !rc && memo_lookup(m, dev, o, r);
    for (int i = 0; rc == SPARQ_OK && !cached && i < r->n_layers; i++) {
        struct sparq_search_layer *L = &r->layers[i];
        float *w = m->param_mem + m->tensors[L->tensor].offset;
        size_t n = (size_t)L->out * L->in;
        memcpy(orig, w, sizeof(float) * n);
        for (int j = 0; rc == SPARQ_OK && j < o->n_options; j++) {
            double loss = 0;
            rc = compress_layer(m, L, &o->options[j], o->scale_method, orig, mask, scales);
            rc = rc ? rc : dev_loss(m, a, &d, &loss);
            L->cost[j] = loss - r->base_loss;
            done++;
            if (o->progress && (sparq_clock_s() - last_progress > 1.0 || done == total)) {
                double el = sparq_clock_s() - tm;
                last_progress = sparq_clock_s();
                fprintf(stderr, "\rsearch: %d/%d layer x setting evaluations, %.1f/s, ETA %.0f s   ", done, total,
                        done / el, (total - done) * el / done);
            }
        }
        memcpy(w, orig, sizeof(float) * n);
    }
    if (o->progress && !cached)
        fprintf(stderr, "\n");
    if (!rc && !cached)
        memo_store(m, dev, o, r);
    // Budget: whatever is not searched (fixed layers, float host parameters,
    // headers) is measured by exporting with every searched layer float.
    r->fp32_bytes = 4 * m->n_params;
    r->budget_bytes = (size_t)(o->budget_percent / 100.0 * (double)r->fp32_bytes);
    size_t all_float = 0, searched_float = 0;
    if (!rc) {
        struct sparq_layer_setting fl = { 0, 4, SPARQ_GRID_SYMMETRIC };
        char *txt = spec_text(r, o, &fl);
        rc = txt ? spec_file_bytes(m, txt, o->scale_method, &all_float) : SPARQ_ENOMEM;
        free(txt);
        for (int i = 0; i < r->n_layers; i++)
            searched_float += sparq_layer_bytes(&fl, r->layers[i].out, r->layers[i].in);
    }
    size_t rest = all_float > searched_float ? all_float - searched_float : 0;
    if (!rc && r->budget_bytes <= rest)
        rc = sparq_fail(SPARQ_EINVAL, "search: budget %.2f%% (%zu bytes) is below the unsearched part of the file "
                        "(%zu bytes)", o->budget_percent, r->budget_bytes, rest);
    // Solve; verify with the exact exported size and tighten if sections
    // carry bytes the per-layer model missed.
    size_t layer_budget = rc ? 0 : r->budget_bytes - rest;
    for (int iter = 0; rc == SPARQ_OK; iter++) {
        rc = choose(r, o, layer_budget);
        if (rc) {
            rc = sparq_fail(rc, "search: no per-layer choice fits %.2f%% of fp32 (%zu bytes) with these candidates",
                            o->budget_percent, r->budget_bytes);
            break;
        }
        free(r->spec);
        r->spec = spec_text(r, o, NULL);
        rc = r->spec ? spec_file_bytes(m, r->spec, o->scale_method, &r->file_bytes) : SPARQ_ENOMEM;
        if (rc || r->file_bytes <= r->budget_bytes)
            break;
        size_t over = r->file_bytes - r->budget_bytes;
        if (iter == 4 || over >= layer_budget) {
            rc = sparq_fail(SPARQ_EINVAL, "search: exported size %zu exceeds the budget %zu", r->file_bytes,
                            r->budget_bytes);
            break;
        }
        layer_budget -= over;
    }
    r->predicted_loss = r->base_loss;
    for (int i = 0; !rc && i < r->n_layers; i++)
        r->predicted_loss += r->layers[i].cost[r->layers[i].choice];
    r->seconds = sparq_clock_s() - t0;
    free(orig);
    free(scales);
    free(mask);
    sparq_acts_free(a);
    dev_batches_free(&d);
    if (rc)
        sparq_search_result_free(r);
    return rc;
}

void sparq_search_print(const struct sparq_search_result *r, const struct sparq_search_options *o, FILE *out)
{
    char name[32];
    fprintf(out, "dev loss increase when only that layer is compressed (base dev loss %.4f; * = chosen)\n",
            r->base_loss);
    fprintf(out, "%-22s %9s", "layer", "params");
    for (int j = 0; j < o->n_options; j++) {
        sparq_layer_setting_name(&o->options[j], name, sizeof name);
        fprintf(out, " %12s", name);
    }
    fprintf(out, "\n");
    for (int i = 0; i < r->n_layers; i++) {
        const struct sparq_search_layer *L = &r->layers[i];
        fprintf(out, "%-22s %9d", L->name, L->out * L->in);
        for (int j = 0; j < o->n_options; j++)
            fprintf(out, " %11.4f%c", L->cost[j], j == L->choice ? '*' : ' ');
        fprintf(out, "\n");
    }
    fprintf(out, "budget %.2f%% of fp32 = %zu bytes; chosen spec exports to %zu bytes (%.2f%%); predicted dev loss "
                 "%.4f (base %.4f); %.0f s\n",
            o->budget_percent, r->budget_bytes, r->file_bytes, 100.0 * (double)r->file_bytes / (double)r->fp32_bytes,
            r->predicted_loss, r->base_loss, r->seconds);
}

char *sparq_search_json(const struct sparq_search_result *r, const struct sparq_search_options *o)
{
    cJSON *j = cJSON_CreateObject();
    char name[32];
    cJSON_AddNumberToObject(j, "budget_percent", o->budget_percent);
    cJSON_AddNumberToObject(j, "budget_bytes", (double)r->budget_bytes);
    cJSON_AddNumberToObject(j, "fp32_bytes", (double)r->fp32_bytes);
    cJSON_AddNumberToObject(j, "file_bytes", (double)r->file_bytes);
    cJSON_AddNumberToObject(j, "base_dev_loss", r->base_loss);
    cJSON_AddNumberToObject(j, "predicted_dev_loss", r->predicted_loss);
    cJSON_AddNumberToObject(j, "seconds", r->seconds);
    cJSON_AddStringToObject(j, "spec", r->spec ? r->spec : "");
    cJSON *opts = cJSON_AddArrayToObject(j, "candidates");
    for (int k = 0; k < o->n_options; k++) {
        sparq_layer_setting_name(&o->options[k], name, sizeof name);
        cJSON_AddItemToArray(opts, cJSON_CreateString(name));
    }
    cJSON *layers = cJSON_AddArrayToObject(j, "layers");
    for (int i = 0; i < r->n_layers; i++) {
        const struct sparq_search_layer *L = &r->layers[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", L->name);
        cJSON_AddNumberToObject(e, "out", L->out);
        cJSON_AddNumberToObject(e, "in", L->in);
        sparq_layer_setting_name(&o->options[L->choice], name, sizeof name);
        cJSON_AddStringToObject(e, "chosen", name);
        cJSON *c = cJSON_AddArrayToObject(e, "loss_increase");
        cJSON *b = cJSON_AddArrayToObject(e, "bytes");
        for (int k = 0; k < o->n_options; k++) {
            cJSON_AddItemToArray(c, cJSON_CreateNumber(L->cost[k]));
            cJSON_AddItemToArray(b, cJSON_CreateNumber((double)L->bytes[k]));
        }
        cJSON_AddItemToArray(layers, e);
    }
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    return text;
}
