// Checkpoint / model files (docs/model.md): one atomic write, validated on load.
//   "SPARQCKP" u32 version u32 flags u32 config_len config-text
//   u64 n_params u64 n_buffers f32 params[n_params] f32 buffers[n_buffers]
//   if flags & 1: u64 adam_t f32 beta1 beta2 eps wd f32 m[n_params] f32 v[n_params]
//                 i64 step epoch batch u64 seed f64 best_dev_wer
//   u64 FNV-1a hash of every byte before it
// Little-endian hosts only (checked at compile time through the byte order macro).
#include <stdlib.h>
#include <string.h>

#include "sparq_error.h"
#include "sparq_train.h"
#include "sparq_file.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "checkpoint files are little-endian; add byte swapping for this host"
#endif

#define CKPT_MAGIC "SPARQCKP"
#define CKPT_VERSION 1u
#define CKPT_HAS_OPT 1u

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
    uint32_t version = CKPT_VERSION, flags = opt ? CKPT_HAS_OPT : 0, cl = (uint32_t)clen;
    uint64_t np = m->n_params, nb = m->n_buffers;
    size_t cap = 8 + 12 + (size_t)clen + 16 + 4 * (np + nb) + 8;
    if (opt)
        cap += 8 + 16 + 8 * np + 40;
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
        struct sparq_train_state zero = { 0, 0, 0, 0, 1e9 };
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

int sparq_checkpoint_load(const char *path, struct sparq_model *m, struct sparq_adamw *opt,
                          struct sparq_train_state *st)
{
    unsigned char *data = NULL;
    size_t n = 0;
    // 4 GiB: far above any model sparq trains, low enough that a wrong path
    // (a device, a huge file) cannot exhaust memory.
    int rc = sparq_read_file(path, (size_t)1 << 32, (char **)&data, &n);
    if (rc)
        return rc;
    struct rbuf r = { data, n, 0, path };
    char magic[8], cfgtext[512];
    uint32_t version = 0, flags = 0, cl = 0;
    uint64_t np = 0, nb = 0, h = 0;
    memset(m, 0, sizeof *m);
    if (n < 8 + 8 || memcmp(data, CKPT_MAGIC, 8) != 0) {
        rc = sparq_fail(SPARQ_EFORMAT, "%s: not a sparq checkpoint (bad magic)", path);
        goto out;
    }
    memcpy(&h, data + n - 8, 8);
    if (fnv1a(data, n - 8) != h) {
        rc = sparq_fail(SPARQ_EFORMAT, "%s: checksum mismatch (file corrupt or truncated)", path);
        goto out;
    }
    r.n = n - 8;
    if ((rc = get(&r, magic, 8, "magic")) || (rc = get(&r, &version, 4, "version")))
        goto out;
    if (version != CKPT_VERSION) {
        rc = sparq_fail(SPARQ_EFORMAT, "%s: checkpoint version %u, this build reads %u", path, version,
                        CKPT_VERSION);
        goto out;
    }
    if ((rc = get(&r, &flags, 4, "flags")) || (rc = get(&r, &cl, 4, "config length")))
        goto out;
    if (cl >= sizeof cfgtext) {
        rc = sparq_fail(SPARQ_EFORMAT, "%s: config length %u too large", path, cl);
        goto out;
    }
    if ((rc = get(&r, cfgtext, cl, "config")))
        goto out;
    cfgtext[cl] = 0;
    // Parse the embedded config through the same reader as config files.
    struct sparq_config cfg;
    sparq_config_default(&cfg);
    for (char *line = strtok(cfgtext, "\n"); line; line = strtok(NULL, "\n")) {
        char key[64];
        int v;
        if (sscanf(line, "%63s = %d", key, &v) != 2) {
            rc = sparq_fail(SPARQ_EFORMAT, "%s: config line '%s' malformed", path, line);
            goto out;
        }
        int *dst = !strcmp(key, "n_mels")         ? &cfg.n_mels
                   : !strcmp(key, "sub_channels") ? &cfg.sub_channels
                   : !strcmp(key, "d_model")      ? &cfg.d_model
                   : !strcmp(key, "n_heads")      ? &cfg.n_heads
                   : !strcmp(key, "ffn_dim")      ? &cfg.ffn_dim
                   : !strcmp(key, "kernel")       ? &cfg.kernel
                   : !strcmp(key, "n_layers")     ? &cfg.n_layers
                   : !strcmp(key, "vocab")        ? &cfg.vocab
                                                  : NULL;
        if (!dst) {
            rc = sparq_fail(SPARQ_EFORMAT, "%s: config key '%s' unknown", path, key);
            goto out;
        }
        *dst = v;
    }
    if ((rc = sparq_model_create(m, &cfg))) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s", sparq_last_error());
        rc = sparq_fail(rc, "%s: %s", path, msg);
        goto out;
    }
    if ((rc = get(&r, &np, 8, "parameter count")) || (rc = get(&r, &nb, 8, "buffer count")))
        goto out;
    if (np != m->n_params || nb != m->n_buffers) {
        rc = sparq_fail(SPARQ_EFORMAT, "%s: %llu parameters / %llu buffers, the config needs %zu / %zu", path,
                        (unsigned long long)np, (unsigned long long)nb, m->n_params, m->n_buffers);
        goto out;
    }
    if ((rc = get(&r, m->param_mem, 4 * np, "parameters")) || (rc = get(&r, m->buffer_mem, 4 * nb, "buffers")))
        goto out;
    if (opt) {
        if (!(flags & CKPT_HAS_OPT)) {
            rc = sparq_fail(SPARQ_EFORMAT, "%s: holds no optimizer state (a model file, not a checkpoint)", path);
            goto out;
        }
        uint64_t t;
        float hp[4];
        if ((rc = get(&r, &t, 8, "optimizer step")) || (rc = get(&r, hp, 16, "optimizer hyper-parameters")) ||
            (rc = check_opt_fields(path, t, hp)))
            goto out;
        if ((rc = sparq_adamw_init(opt, m, hp[0], hp[1], hp[2], hp[3])))
            goto out;
        opt->t = (int64_t)t;
        if ((rc = get(&r, opt->m, 4 * np, "AdamW first moments")) ||
            (rc = get(&r, opt->v, 4 * np, "AdamW second moments")))
            goto out;
        struct sparq_train_state s;
        if ((rc = get(&r, &s.step, 8, "step")) || (rc = get(&r, &s.epoch, 8, "epoch")) ||
            (rc = get(&r, &s.batch, 8, "batch")) || (rc = get(&r, &s.seed, 8, "seed")) ||
            (rc = get(&r, &s.best_dev_wer, 8, "best dev WER")) || (rc = check_train_state(path, &s)))
            goto out;
        if (st)
            *st = s;
    }
out:
    if (rc) {
        if (opt && opt->m)
            sparq_adamw_free(opt);
        if (m->param_mem)
            sparq_model_free(m);
    }
    free(data);
    return rc;
}
