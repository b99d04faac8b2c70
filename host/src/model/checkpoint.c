// Checkpoint / model files (docs/model.md): one atomic write, validated on load.
//   "SPARQCKP" u32 version u32 flags u32 config_len config-text
//   u64 n_params u64 n_buffers f32 params[n_params] f32 buffers[n_buffers]
//   if flags & 1: u64 adam_t f32 beta1 beta2 eps wd f32 m[n_params] f32 v[n_params]
//     if flags & 2 (version 2): u64 data_hash n_utts f32 lr final_lr clip dither
//                 i64 warmup i32 epochs batch_frames max_utts specaug u32 len manifest[len]
//                 i64 step epoch batch u64 seed f64 best_dev_wer
//   u64 FNV-1a hash of every byte before it
// Version 1 files (no run settings) are still read; model files stay version 1.
// Little-endian hosts only (checked at compile time through the byte order macro).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_error.h"
#include "sparq_train.h"
#include "sparq_file.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "checkpoint files are little-endian; add byte swapping for this host"
#endif

#define CKPT_MAGIC "SPARQCKP"
#define CKPT_VERSION 2u
#define CKPT_HAS_OPT 1u
#define CKPT_HAS_RUN 2u

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

struct wbuf { unsigned char *p; size_t n, cap; };
static void put(struct wbuf *b, const void *src, size_t n)
{
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

int sparq_checkpoint_save(const char *path, const struct sparq_model *m, const struct sparq_adamw *opt,
                          const struct sparq_train_state *st)
{
    char cfg[512];
    int clen = sparq_config_format(&m->cfg, cfg, sizeof cfg);
    if (clen < 0)
        return sparq_fail(SPARQ_EINVAL, "%s: config does not fit", path);
    const struct sparq_run_info *run = opt && st && st->run.valid ? &st->run : NULL;
    uint32_t version = run ? 2 : 1, flags = (opt ? CKPT_HAS_OPT : 0) | (run ? CKPT_HAS_RUN : 0), cl = (uint32_t)clen;
    uint32_t ml = run ? (uint32_t)strnlen(run->manifest, sizeof run->manifest - 1) : 0;
    uint64_t np = m->n_params, nb = m->n_buffers;
    size_t cap = 8 + 12 + (size_t)clen + 16 + 4 * (np + nb) + 8;
    if (opt)
        cap += 8 + 16 + 8 * np + 40;
    if (run)
        cap += 16 + 16 + 8 + 16 + 4 + ml;
    struct wbuf b = { sparq_malloc(cap, "checkpoint buffer"), 0, cap };
    if (!b.p)
        return SPARQ_ENOMEM;
    put(&b, CKPT_MAGIC, 8);
    put(&b, &version, 4);
    put(&b, &flags, 4);
    put(&b, &cl, 4);
    put(&b, cfg, (size_t)clen);
    put(&b, &np, 8);
    put(&b, &nb, 8);
    put(&b, m->param_mem, 4 * np);
    put(&b, m->buffer_mem, 4 * nb);
    if (opt) {
        uint64_t t = (uint64_t)opt->t;
        put(&b, &t, 8);
        put(&b, &opt->beta1, 4);
        put(&b, &opt->beta2, 4);
        put(&b, &opt->eps, 4);
        put(&b, &opt->weight_decay, 4);
        put(&b, opt->m, 4 * np);
        put(&b, opt->v, 4 * np);
        if (run) {
            put(&b, &run->data_hash, 8);
            put(&b, &run->n_utts, 8);
            const float f[4] = { run->lr, run->final_lr_ratio, run->clip, run->dither };
            put(&b, f, 16);
            put(&b, &run->warmup, 8);
            const int32_t i[4] = { run->epochs, run->batch_frames, run->max_utts, run->specaug };
            put(&b, i, 16);
            put(&b, &ml, 4);
            put(&b, run->manifest, ml);
        }
        static const struct sparq_train_state zero = { .best_dev_wer = 1e9 };
        const struct sparq_train_state *s = st ? st : &zero;
        put(&b, &s->step, 8);
        put(&b, &s->epoch, 8);
        put(&b, &s->batch, 8);
        put(&b, &s->seed, 8);
        put(&b, &s->best_dev_wer, 8);
    }
    uint64_t h = fnv1a(b.p, b.n);
    put(&b, &h, 8);
    int rc = sparq_write_file_atomic(path, b.p, b.n);
    free(b.p);
    return rc;
}

struct rbuf { const unsigned char *p; size_t n, off; const char *path; };
static int get(struct rbuf *r, void *dst, size_t n, const char *field)
{
    if (r->n - r->off < n)
        return sparq_fail(SPARQ_EFORMAT, "%s: truncated while reading %s", r->path, field);
    memcpy(dst, r->p + r->off, n);
    r->off += n;
    return SPARQ_OK;
}

// The hash only proves the bytes are as written, not that the writer was
// sparq: a hand-edited file with a recomputed hash must still not steer the
// trainer out of bounds (a negative batch indexed the batch order), so every
// position and hyper-parameter is range-checked.
#define CKPT_MAX_COUNT (1LL << 48)
static int check_opt_fields(const char *path, uint64_t t, const float hp[4])
{
    if (t > (uint64_t)CKPT_MAX_COUNT)
        return sparq_fail(SPARQ_EFORMAT, "%s: optimizer step %llu out of range 0..%lld", path, (unsigned long long)t,
                          CKPT_MAX_COUNT);
    static const char *const names[4] = { "beta1", "beta2", "eps", "weight decay" };
    static const float lo[4] = { 0, 0, 0, 0 }, hi[4] = { 1, 1, 1, 11 }; // --weight-decay allows 0..10
    for (int i = 0; i < 4; i++)
        if (!(hp[i] >= lo[i] && hp[i] < hi[i]) || (i == 2 && !(hp[i] > 0)))
            return sparq_fail(SPARQ_EFORMAT, "%s: optimizer %s %g out of range", path, names[i], (double)hp[i]);
    return SPARQ_OK;
}

static int check_train_state(const char *path, const struct sparq_train_state *s)
{
    const int64_t v[3] = { s->step, s->epoch, s->batch };
    static const char *const names[3] = { "step", "epoch", "batch" };
    for (int i = 0; i < 3; i++)
        if (v[i] < 0 || v[i] > CKPT_MAX_COUNT)
            return sparq_fail(SPARQ_EFORMAT, "%s: training %s %lld out of range 0..%lld", path, names[i],
                              (long long)v[i], CKPT_MAX_COUNT);
    if (s->batch > s->step)
        return sparq_fail(SPARQ_EFORMAT, "%s: training batch %lld is beyond step %lld", path, (long long)s->batch,
                          (long long)s->step);
    if (!(s->best_dev_wer >= 0 && s->best_dev_wer <= 1e9))
        return sparq_fail(SPARQ_EFORMAT, "%s: best dev WER %g out of range 0..1e9", path, s->best_dev_wer);
    return SPARQ_OK;
}

// The run settings block (flags & 2), range-checked as `sparq train` checks its flags.
static int get_run_info(struct rbuf *r, struct sparq_run_info *run)
{
    float f[4] = { 0, 0, 0, 0 };
    int32_t i[4] = { 0, 0, 0, 0 };
    uint32_t ml = 0;
    int rc;
    memset(run, 0, sizeof *run);
    if ((rc = get(r, &run->data_hash, 8, "data hash")) || (rc = get(r, &run->n_utts, 8, "utterance count")) ||
        (rc = get(r, f, 16, "run learning rates")) || (rc = get(r, &run->warmup, 8, "warm-up")) ||
        (rc = get(r, i, 16, "run batch settings")) || (rc = get(r, &ml, 4, "manifest length")))
        return rc;
    if (ml >= sizeof run->manifest)
        return sparq_fail(SPARQ_EFORMAT, "%s: manifest path length %u too large", r->path, ml);
    if ((rc = get(r, run->manifest, ml, "manifest path")))
        return rc;
    if (memchr(run->manifest, 0, ml))
        return sparq_fail(SPARQ_EFORMAT, "%s: manifest path holds a NUL byte", r->path);
    static const char *const fn[4] = { "lr", "final lr", "clip", "dither" };
    static const float flo[4] = { 1e-12f, 0, 0, 0 }, fhi[4] = { 10, 1, 1e9f, 32768 };
    for (int k = 0; k < 4; k++)
        if (!(f[k] >= flo[k] && f[k] <= fhi[k]))
            return sparq_fail(SPARQ_EFORMAT, "%s: run %s %g out of range %g..%g", r->path, fn[k], (double)f[k],
                              (double)flo[k], (double)fhi[k]);
    static const char *const in[4] = { "epochs", "batch frames", "max utterances", "specaug" };
    static const int32_t ilo[4] = { 1, 100, 1, 0 }, ihi[4] = { 1000000, 100000000, 1000000, 1 };
    for (int k = 0; k < 4; k++)
        if (i[k] < ilo[k] || i[k] > ihi[k])
            return sparq_fail(SPARQ_EFORMAT, "%s: run %s %d out of range %d..%d", r->path, in[k], i[k], ilo[k],
                              ihi[k]);
    if (run->warmup < 0 || run->warmup > CKPT_MAX_COUNT || run->n_utts > (uint64_t)CKPT_MAX_COUNT)
        return sparq_fail(SPARQ_EFORMAT, "%s: run warm-up %lld or utterance count %llu out of range", r->path,
                          (long long)run->warmup, (unsigned long long)run->n_utts);
    run->lr = f[0], run->final_lr_ratio = f[1], run->clip = f[2], run->dither = f[3];
    run->epochs = i[0], run->batch_frames = i[1], run->max_utts = i[2], run->specaug = i[3];
    run->valid = 1;
    return SPARQ_OK;
}

// The embedded config through the config file reader (model files carry no
// dropout), and the sizes it implies checked against the bytes left before
// anything is allocated: a forged 100-byte file cannot ask for gigabytes.
static int get_config(struct rbuf *r, struct sparq_config *cfg)
{
    uint32_t cl = 0;
    int rc = get(r, &cl, 4, "config length");
    if (rc)
        return rc;
    if (cl > 4096)
        return sparq_fail(SPARQ_EFORMAT, "%s: config length %u too large", r->path, cl);
    if (r->n - r->off < cl)
        return sparq_fail(SPARQ_EFORMAT, "%s: truncated while reading config", r->path);
    char name[300];
    snprintf(name, sizeof name, "%s: config", r->path);
    if ((rc = sparq_config_parse(cfg, (const char *)r->p + r->off, cl, name)))
        return rc;
    r->off += cl;
    if (cfg->dropout != 0.0f)
        return sparq_fail(SPARQ_EFORMAT, "%s: config holds dropout (a training setting, not part of a model)",
                          r->path);
    size_t np = 0, nb = (size_t)2 * cfg->n_layers * cfg->d_model + 2 * (size_t)cfg->n_mels;
    sparq_tensor_table(cfg, NULL, &np);
    if ((r->n - r->off) / 4 < np + nb + 4)
        return sparq_fail(SPARQ_EFORMAT, "%s: %zu bytes left cannot hold the %zu parameters and %zu buffers "
                          "the config needs", r->path, r->n - r->off, np, nb);
    return SPARQ_OK;
}

// First non-finite (or below `lo`, or at `lo` when strict) value of x[0..n), or n.
static size_t first_bad(const float *x, size_t n, float lo, int strict)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]) || x[i] < lo || (strict && x[i] == lo))
            return i;
    return n;
}

// Every parameter finite; BatchNorm means and CMVN means finite, variances
// >= 0, CMVN 1/std > 0 (a NaN there used to load and decode as garbage).
static int check_model_values(const char *path, const struct sparq_model *m)
{
    for (int t = 0; t < m->n_tensors; t++) {
        const struct sparq_tensor_info *ti = &m->tensors[t];
        size_t i = first_bad(m->param_mem + ti->offset, ti->size, -INFINITY, 0);
        if (i < ti->size)
            return sparq_fail(SPARQ_EFORMAT, "%s: parameter %s[%zu] is %g (not finite)", path, ti->name, i,
                              (double)m->param_mem[ti->offset + i]);
    }
    const struct sparq_config *c = &m->cfg;
    for (int l = 0; l < c->n_layers; l++) {
        const float *mean = m->buf.bn_mean[l], *var = m->buf.bn_var[l];
        size_t n = (size_t)c->d_model, i;
        if ((i = first_bad(mean, n, -INFINITY, 0)) < n)
            return sparq_fail(SPARQ_EFORMAT, "%s: layer%d BatchNorm mean[%zu] is %g (not finite)", path, l, i,
                              (double)mean[i]);
        if ((i = first_bad(var, n, 0.0f, 0)) < n)
            return sparq_fail(SPARQ_EFORMAT, "%s: layer%d BatchNorm variance[%zu] is %g (need finite >= 0)", path,
                              l, i, (double)var[i]);
    }
    size_t n = (size_t)c->n_mels, i;
    if ((i = first_bad(m->buf.cmvn_mean, n, -INFINITY, 0)) < n)
        return sparq_fail(SPARQ_EFORMAT, "%s: CMVN mean[%zu] is %g (not finite)", path, i,
                          (double)m->buf.cmvn_mean[i]);
    if ((i = first_bad(m->buf.cmvn_istd, n, 0.0f, 1)) < n)
        return sparq_fail(SPARQ_EFORMAT, "%s: CMVN 1/std[%zu] is %g (need finite > 0)", path, i,
                          (double)m->buf.cmvn_istd[i]);
    return SPARQ_OK;
}

// Optimizer state (flags & 1): hyper-parameters, moments, run settings, position.
static int get_opt(struct rbuf *r, uint32_t flags, struct sparq_model *m, struct sparq_adamw *opt,
                   struct sparq_train_state *s)
{
    uint64_t t = 0;
    float hp[4] = { 0, 0, 0, 0 };
    size_t np = m->n_params, i;
    int rc;
    if ((rc = get(r, &t, 8, "optimizer step")) || (rc = get(r, hp, 16, "optimizer hyper-parameters")) ||
        (rc = check_opt_fields(r->path, t, hp)))
        return rc;
    if ((rc = sparq_adamw_init(opt, m, hp[0], hp[1], hp[2], hp[3])))
        return rc;
    opt->t = (int64_t)t;
    if ((rc = get(r, opt->m, 4 * np, "AdamW first moments")) || (rc = get(r, opt->v, 4 * np, "AdamW second moments")))
        return rc;
    if ((i = first_bad(opt->m, np, -INFINITY, 0)) < np)
        return sparq_fail(SPARQ_EFORMAT, "%s: AdamW first moment[%zu] is %g (not finite)", r->path, i,
                          (double)opt->m[i]);
    if ((i = first_bad(opt->v, np, 0.0f, 0)) < np)
        return sparq_fail(SPARQ_EFORMAT, "%s: AdamW second moment[%zu] is %g (need finite >= 0)", r->path, i,
                          (double)opt->v[i]);
    memset(s, 0, sizeof *s);
    if ((flags & CKPT_HAS_RUN) && (rc = get_run_info(r, &s->run)))
        return rc;
    if ((rc = get(r, &s->step, 8, "step")) || (rc = get(r, &s->epoch, 8, "epoch")) ||
        (rc = get(r, &s->batch, 8, "batch")) || (rc = get(r, &s->seed, 8, "seed")) ||
        (rc = get(r, &s->best_dev_wer, 8, "best dev WER")) || (rc = check_train_state(r->path, s)))
        return rc;
    if (r->off != r->n)
        return sparq_fail(SPARQ_EFORMAT, "%s: %zu unexpected bytes after the training state", r->path,
                          r->n - r->off);
    return SPARQ_OK;
}

// Magic, hash, version and flags; r->n ends before the hash.
static int get_header(struct rbuf *r, uint32_t *flags)
{
    char magic[8];
    uint32_t version = 0;
    uint64_t h = 0;
    int rc;
    if (r->n < 8 + 8 || memcmp(r->p, CKPT_MAGIC, 8) != 0)
        return sparq_fail(SPARQ_EFORMAT, "%s: not a sparq checkpoint (bad magic)", r->path);
    memcpy(&h, r->p + r->n - 8, 8);
    if (fnv1a(r->p, r->n - 8) != h)
        return sparq_fail(SPARQ_EFORMAT, "%s: checksum mismatch (file corrupt or truncated)", r->path);
    r->n -= 8;
    if ((rc = get(r, magic, 8, "magic")) || (rc = get(r, &version, 4, "version")))
        return rc;
    if (version < 1 || version > CKPT_VERSION)
        return sparq_fail(SPARQ_EFORMAT, "%s: checkpoint version %u, this build reads 1..%u", r->path, version,
                          CKPT_VERSION);
    if ((rc = get(r, flags, 4, "flags")))
        return rc;
    const uint32_t known = version == 1 ? CKPT_HAS_OPT : CKPT_HAS_OPT | CKPT_HAS_RUN;
    if ((*flags & ~known) || ((*flags & CKPT_HAS_RUN) && !(*flags & CKPT_HAS_OPT)))
        return sparq_fail(SPARQ_EFORMAT, "%s: flags 0x%x not valid in a version %u checkpoint", r->path, *flags,
                          version);
    return SPARQ_OK;
}

int sparq_checkpoint_parse(const void *data, size_t n, const char *name, struct sparq_model *m,
                           struct sparq_adamw *opt, struct sparq_train_state *st)
{
    struct rbuf r = { data, n, 0, name };
    uint32_t flags = 0;
    uint64_t np = 0, nb = 0;
    struct sparq_config cfg;
    struct sparq_train_state s;
    memset(m, 0, sizeof *m);
    if (opt)
        memset(opt, 0, sizeof *opt);
    int rc = get_header(&r, &flags);
    if (rc || (rc = get_config(&r, &cfg)))
        return rc;
    if ((rc = sparq_model_create(m, &cfg)))
        return sparq_fail_wrap(rc, "%s: ", name);
    if ((rc = get(&r, &np, 8, "parameter count")) || (rc = get(&r, &nb, 8, "buffer count")))
        goto out;
    if (np != m->n_params || nb != m->n_buffers) {
        rc = sparq_fail(SPARQ_EFORMAT, "%s: %llu parameters / %llu buffers, the config needs %zu / %zu", name,
                        (unsigned long long)np, (unsigned long long)nb, m->n_params, m->n_buffers);
        goto out;
    }
    if ((rc = get(&r, m->param_mem, 4 * np, "parameters")) || (rc = get(&r, m->buffer_mem, 4 * nb, "buffers")) ||
        (rc = check_model_values(name, m)))
        goto out;
    if (!(flags & CKPT_HAS_OPT) && r.off != r.n) {
        rc = sparq_fail(SPARQ_EFORMAT, "%s: %zu unexpected bytes after the model", name, r.n - r.off);
        goto out;
    }
    if (opt) {
        if (!(flags & CKPT_HAS_OPT)) {
            rc = sparq_fail(SPARQ_EFORMAT, "%s: holds no optimizer state (a model file, not a checkpoint)", name);
            goto out;
        }
        if ((rc = get_opt(&r, flags, m, opt, &s)))
            goto out;
        if (st)
            *st = s;
    }
out:
    if (rc) {
        if (opt && opt->m)
            sparq_adamw_free(opt);
        sparq_model_free(m);
        memset(m, 0, sizeof *m);
    }
    return rc;
}

int sparq_checkpoint_load(const char *path, struct sparq_model *m, struct sparq_adamw *opt,
                          struct sparq_train_state *st)
{
    unsigned char *data = NULL;
    size_t n = 0;
    memset(m, 0, sizeof *m);
    // 4 GiB: far above any model sparq trains, low enough that a wrong path
    // (a device, a huge file) cannot exhaust memory.
    int rc = sparq_read_file(path, (size_t)1 << 32, (char **)&data, &n);
    if (rc == SPARQ_OK)
        rc = sparq_checkpoint_parse(data, n, path, m, opt, st);
    free(data);
    return rc;
}
