// Checkpoint / float model files (issue 14): a forged file whose FNV hash was
// recomputed must still be refused when a value makes no sense. Each case
// edits one field of a valid tiny checkpoint, fixes the hash, and expects a
// clean SPARQ_EFORMAT naming the field; the valid file round-trips (with the
// run settings of version 2) and a version 1 file still loads.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "sparq_error.h"
#include "sparq_rng.h"
#include "sparq_train.h"

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

// The valid file's bytes and where its parts start.
static unsigned char *good;
static size_t good_n, cfg_off, cfg_len, par_off, buf_off, opt_off, v_off, run_off, st_off;
static struct sparq_model ref;

// Parses a copy of `good` with `n` bytes at `off` replaced by `val` (and the
// hash recomputed); returns the loader's code. `with_opt`: load as a checkpoint.
static int forged(size_t off, const void *val, size_t n, int with_opt)
{
    unsigned char *b = malloc(good_n);
    memcpy(b, good, good_n);
    memcpy(b + off, val, n);
    uint64_t h = fnv1a(b, good_n - 8);
    memcpy(b + good_n - 8, &h, 8);
    struct sparq_model m;
    struct sparq_adamw opt;
    struct sparq_train_state st;
    int rc = sparq_checkpoint_parse(b, good_n, "f.ckpt", &m, with_opt ? &opt : NULL, with_opt ? &st : NULL);
    if (rc == SPARQ_OK) {
        if (with_opt)
            sparq_adamw_free(&opt);
        sparq_model_free(&m);
    }
    free(b);
    return rc;
}

// The same with the whole tail rebuilt: bytes [0, cut) of good, then extra.
static int spliced(size_t cut, const void *extra, size_t extra_n, const char *name)
{
    size_t n = cut + extra_n + 8;
    unsigned char *b = malloc(n);
    memcpy(b, good, cut);
    memcpy(b + cut, extra, extra_n);
    uint64_t h = fnv1a(b, n - 8);
    memcpy(b + n - 8, &h, 8);
    struct sparq_model m;
    int rc = sparq_checkpoint_parse(b, n, name, &m, NULL, NULL);
    if (rc == SPARQ_OK)
        sparq_model_free(&m);
    free(b);
    return rc;
}

#define REFUSED(rc, text) ((rc) == SPARQ_EFORMAT && strstr(sparq_last_error(), (text)) != NULL)

static void check_values(void)
{
    const float nan = NAN, neg = -1.0f, zero = 0.0f, inf = INFINITY;
    const struct sparq_config *c = &ref.cfg;
    size_t out_b = 0;
    for (int t = 0; t < ref.n_tensors; t++)
        if (!strcmp(ref.tensors[t].name, "out_b"))
            out_b = ref.tensors[t].offset;
    int rc = forged(par_off + 4 * (out_b + 2), &nan, 4, 0);
    CHECK(REFUSED(rc, "parameter out_b[2] is nan"), "NaN in out_b: %s", sparq_last_error());
    rc = forged(par_off + 4 * 5, &inf, 4, 0);
    CHECK(REFUSED(rc, "parameter sub1_w[5] is inf"), "Inf in sub1_w: %s", sparq_last_error());
    size_t bn_var1 = buf_off + 4 * ((size_t)3 * c->d_model + 4); // layer 1: mean, then var
    rc = forged(bn_var1, &neg, 4, 0);
    CHECK(REFUSED(rc, "layer1 BatchNorm variance[4] is -1"), "negative bn_var: %s", sparq_last_error());
    rc = forged(bn_var1, &zero, 4, 0);
    CHECK(rc == SPARQ_OK, "a zero BatchNorm variance loads (eps keeps it finite)");
    size_t istd = buf_off + 4 * ((size_t)2 * c->n_layers * c->d_model + c->n_mels);
    rc = forged(istd + 4 * 7, &nan, 4, 0);
    CHECK(REFUSED(rc, "CMVN 1/std[7] is nan"), "NaN cmvn_istd: %s", sparq_last_error());
    rc = forged(istd, &zero, 4, 0);
    CHECK(REFUSED(rc, "CMVN 1/std[0] is 0"), "zero cmvn_istd: %s", sparq_last_error());
    rc = forged(istd - 4, &inf, 4, 0);
    CHECK(REFUSED(rc, "CMVN mean["), "Inf cmvn_mean: %s", sparq_last_error());
    rc = forged(v_off + 4 * 3, &neg, 4, 1);
    CHECK(REFUSED(rc, "AdamW second moment[3] is -1"), "negative AdamW v: %s", sparq_last_error());
    rc = forged(v_off - 4, &nan, 4, 1);
    CHECK(REFUSED(rc, "AdamW first moment["), "NaN AdamW m: %s", sparq_last_error());
    rc = forged(v_off + 4 * 3, &neg, 4, 0);
    CHECK(rc == SPARQ_OK, "a model-only load does not read the optimizer part");
}

static void check_positions(void)
{
    const int64_t minus1 = -1, huge = (int64_t)1 << 50;
    int rc = forged(st_off + 16, &minus1, 8, 1);
    CHECK(REFUSED(rc, "training batch -1 out of range"), "batch -1 (was a heap overflow): %s", sparq_last_error());
    rc = forged(st_off, &huge, 8, 1);
    CHECK(REFUSED(rc, "training step 1125899906842624 out of range"), "step 2^50: %s", sparq_last_error());
    rc = forged(st_off + 8, &minus1, 8, 1);
    CHECK(REFUSED(rc, "training epoch -1 out of range"), "epoch -1: %s", sparq_last_error());
    const int64_t five = 5;
    rc = forged(st_off + 16, &five, 8, 1); // the file is at step 3
    CHECK(REFUSED(rc, "batch 5 is beyond step 3"), "batch past step: %s", sparq_last_error());
    const double nan = NAN;
    rc = forged(st_off + 32, &nan, 8, 1);
    CHECK(REFUSED(rc, "best dev WER nan"), "NaN best WER: %s", sparq_last_error());
    const uint64_t t = (uint64_t)-1;
    rc = forged(v_off - 4 * ref.n_params - 24, &t, 8, 1);
    CHECK(REFUSED(rc, "optimizer step 18446744073709551615 out of range"), "AdamW t: %s", sparq_last_error());
    const float lr = INFINITY, eps = 0.0f;
    rc = forged(run_off + 16, &lr, 4, 1);
    CHECK(REFUSED(rc, "run lr inf out of range"), "run lr inf: %s", sparq_last_error());
    rc = forged(v_off - 4 * ref.n_params - 8, &eps, 4, 1);
    CHECK(REFUSED(rc, "optimizer eps 0 out of range"), "AdamW eps 0: %s", sparq_last_error());
    const int32_t epochs = -3;
    rc = forged(run_off + 40, &epochs, 4, 1);
    CHECK(REFUSED(rc, "run epochs -3 out of range"), "run epochs -3: %s", sparq_last_error());
    const uint32_t ml = 100000;
    rc = forged(run_off + 56, &ml, 4, 1);
    CHECK(REFUSED(rc, "manifest path length 100000"), "manifest length: %s", sparq_last_error());
}

static void check_structure(void)
{
    const uint32_t flags = 7, v3 = 3, v1 = 1;
    int rc = forged(12, &flags, 4, 0);
    CHECK(REFUSED(rc, "flags 0x7 not valid"), "unknown flag bit: %s", sparq_last_error());
    rc = forged(8, &v3, 4, 0);
    CHECK(REFUSED(rc, "version 3, this build reads 1..2"), "version 3: %s", sparq_last_error());
    rc = forged(8, &v1, 4, 0);
    CHECK(REFUSED(rc, "flags 0x3 not valid in a version 1"), "run block in a version 1 file: %s",
          sparq_last_error());
    // An edited n_layers (hash fixed): the parameter counts no longer match.
    char *cfg = memchr(good + cfg_off, 0, cfg_len) ? NULL : (char *)good + cfg_off;
    char *nl = cfg ? strstr(cfg, "n_layers = 2") : NULL;
    CHECK(nl != NULL, "the tiny config has n_layers = 2");
    if (nl) {
        rc = forged((size_t)(nl - (char *)good) + 11, "1", 1, 0);
        CHECK(REFUSED(rc, "parameters / "), "n_layers edited to 1: %s", sparq_last_error());
        rc = forged((size_t)(nl - (char *)good) + 11, "9", 1, 0);
        CHECK(REFUSED(rc, "cannot hold"), "n_layers edited to 9 (more than the file holds): %s",
              sparq_last_error());
    }
    // A model file (no optimizer part) with bytes after the buffers.
    size_t model_end = buf_off + 4 * ref.n_buffers;
    const uint32_t no_opt = 0;
    unsigned char *save = malloc(good_n);
    memcpy(save, good, good_n);
    memcpy(good + 12, &no_opt, 4);
    rc = spliced(model_end, "junk", 4, "j.sparq");
    CHECK(REFUSED(rc, "4 unexpected bytes after the model"), "trailing junk: %s", sparq_last_error());
    rc = spliced(model_end, "", 0, "ok.sparq");
    CHECK(rc == SPARQ_OK, "the same bytes without junk load as a model (version 2, flags 0)");
    memcpy(good, save, good_n);
    free(save);
    // A config claiming the largest model in a 1 KB file is refused before
    // anything is allocated, and dropout is not part of a model file.
    const char *huge = "n_mels = 1024\nsub_channels = 4096\nd_model = 4096\nn_heads = 1\nffn_dim = 65536\n"
                       "kernel = 255\nn_layers = 32\nvocab = 29\n";
    unsigned char hdr[1024];
    memcpy(hdr, "SPARQCKP", 8);
    uint32_t ver = 1, fl = 0, cl = (uint32_t)strlen(huge);
    memcpy(hdr + 8, &ver, 4);
    memcpy(hdr + 12, &fl, 4);
    memcpy(hdr + 16, &cl, 4);
    memcpy(hdr + 20, huge, cl);
    memset(hdr + 20 + cl, 0, sizeof hdr - 20 - cl);
    unsigned char *keep = good;
    good = hdr;
    rc = spliced(sizeof hdr - 8, "", 0, "huge.sparq");
    CHECK(REFUSED(rc, "cannot hold the"), "a huge config in a small file: %s", sparq_last_error());
    const char *drop = "n_mels = 80\ndropout = 0.1\n";
    cl = (uint32_t)strlen(drop);
    memcpy(hdr + 16, &cl, 4);
    memcpy(hdr + 20, drop, cl);
    rc = spliced(sizeof hdr - 8, "", 0, "drop.sparq");
    CHECK(REFUSED(rc, "holds dropout"), "dropout in a model file: %s", sparq_last_error());
    const char *twice = "n_mels = 80\nn_mels = 40\n";
    cl = (uint32_t)strlen(twice);
    memcpy(hdr + 16, &cl, 4);
    memcpy(hdr + 20, twice, cl);
    rc = spliced(sizeof hdr - 8, "", 0, "twice.sparq");
    CHECK(REFUSED(rc, "twice.sparq: config:2: n_mels given twice"), "a config key twice: %s", sparq_last_error());
    good = keep;
}

// The dwsep4 front-end (config key `subsampling`): parsed and written only
// when not conv2d (conv2d files stay byte-identical), its tensors replace
// sub2_w/sub2_b in the table, a dwsep4 checkpoint round-trips, and the
// compressed path refuses it naming the key.
static void check_dwsep(const char *dir)
{
    struct sparq_config c;
    const char *t1 = "n_mels = 16\nsubsampling = dwsep4\n";
    int rc = sparq_config_parse(&c, t1, strlen(t1), "a.cfg");
    CHECK(rc == SPARQ_OK && c.subsampling == SPARQ_SUB_DWSEP4, "subsampling = dwsep4 parses");
    const char *t2 = "n_mels = 16\nsubsampling = dwsep8\n";
    rc = sparq_config_parse(&c, t2, strlen(t2), "b.cfg");
    CHECK(REFUSED(rc, "b.cfg:2: subsampling: 'dwsep8' is not conv2d or dwsep4"), "an unknown front-end: %s",
          sparq_last_error());
    const char *t3 = "subsampling = conv2d\n";
    rc = sparq_config_parse(&c, t3, strlen(t3), "c.cfg");
    char text[512];
    int n = rc ? -1 : sparq_config_format(&c, text, sizeof text);
    CHECK(rc == SPARQ_OK && n > 0 && !strstr(text, "subsampling"), "conv2d is the default and is not written");
    c.subsampling = SPARQ_SUB_DWSEP4;
    n = sparq_config_format(&c, text, sizeof text);
    CHECK(n > 0 && strstr(text, "\nsubsampling = dwsep4\n"), "dwsep4 is written");

    struct sparq_config cd = ref.cfg;
    cd.subsampling = SPARQ_SUB_DWSEP4;
    struct sparq_model m, back;
    rc = sparq_model_create(&m, &cd);
    size_t C = (size_t)cd.sub_channels;
    int names = rc == SPARQ_OK && m.p.sub2_w == NULL && m.g.sub2_b == NULL && m.p.sub2_dw_w && m.p.sub2_pw_b;
    for (int i = 0; rc == SPARQ_OK && i < m.n_tensors; i++)
        names &= strcmp(m.tensors[i].name, "sub2_w") && strcmp(m.tensors[i].name, "sub2_b");
    CHECK(names && m.n_tensors == ref.n_tensors + 2 &&
              m.n_params == ref.n_params - (9 * C * C + C) + (9 * C + C + C * C + C),
          "dwsep4 table: sub2_dw_w/b, sub2_pw_w/b instead of sub2_w/b (%zu parameters, conv2d %zu)", m.n_params,
          ref.n_params);
    if (rc)
        return;
    sparq_model_init(&m, 5);
    char path[96];
    snprintf(path, sizeof path, "%s/dwsep.sparq", dir);
    rc = sparq_checkpoint_save(path, &m, NULL, &(struct sparq_train_state){ .step = 1 });
    rc = rc ? rc : sparq_checkpoint_load(path, &back, NULL, NULL);
    CHECK(rc == SPARQ_OK && back.cfg.subsampling == SPARQ_SUB_DWSEP4 && back.n_params == m.n_params &&
              !memcmp(back.param_mem, m.param_mem, 4 * m.n_params),
          "a dwsep4 model round-trips through its file");
    if (rc == SPARQ_OK)
        sparq_model_free(&back);
    unlink(path);
    rc = sparq_config_check_compressible(&m.cfg, "m.sparq");
    CHECK(rc == SPARQ_EINVAL && strstr(sparq_last_error(), "m.sparq: subsampling = dwsep4: the compressed path"),
          "compression refuses dwsep4: %s", sparq_last_error());
    CHECK(sparq_config_check_compressible(&ref.cfg, "ref") == SPARQ_OK, "and accepts conv2d");
    sparq_model_free(&m);
}

int main(void)
{
    uint64_t seed = check_seed(14);
    char dir[] = "/tmp/sparq_test_ckpt.XXXXXX", path[64], v1path[64];
    if (!mkdtemp(dir))
        return 1;
    snprintf(path, sizeof path, "%s/last.ckpt", dir);
    snprintf(v1path, sizeof v1path, "%s/v1.ckpt", dir);
    struct sparq_config cfg;
    sparq_config_default(&cfg);
    cfg.n_mels = 16, cfg.sub_channels = 2, cfg.d_model = 8, cfg.n_heads = 2, cfg.ffn_dim = 8, cfg.kernel = 3;
    cfg.n_layers = 2;
    struct sparq_adamw opt;
    int rc = sparq_model_create(&ref, &cfg);
    CHECK(rc == SPARQ_OK, "tiny model");
    if (rc)
        return check_done();
    sparq_model_init(&ref, seed);
    rc = sparq_adamw_init(&opt, &ref, 0.9f, 0.98f, 1e-9f, 0.01f);
    uint64_t rng = seed;
    for (size_t i = 0; i < ref.n_params && rc == SPARQ_OK; i++) {
        opt.m[i] = (float)sparq_rng_normal(&rng);
        opt.v[i] = (float)fabs(sparq_rng_normal(&rng));
    }
    opt.t = 3;
    struct sparq_train_state st = { .step = 3, .epoch = 1, .batch = 1, .seed = 9, .best_dev_wer = 0.5 };
    st.run = (struct sparq_run_info){ .valid = 1, .data_hash = 77, .n_utts = 12, .lr = 1e-3f, .final_lr_ratio = 0.1f,
                                      .clip = 5, .dither = 1, .warmup = 10, .epochs = 4, .batch_frames = 3000,
                                      .max_utts = 8, .specaug = 1 };
    snprintf(st.run.manifest, sizeof st.run.manifest, "corpus/train.jsonl");
    rc = rc ? rc : sparq_checkpoint_save(path, &ref, &opt, &st);
    rc = rc ? rc : sparq_checkpoint_save(v1path, &ref, &opt, &(struct sparq_train_state){ .step = 3, .seed = 9 });
    FILE *f = fopen(path, "rb");
    good = malloc(1 << 20);
    good_n = f ? fread(good, 1, 1 << 20, f) : 0;
    if (f)
        fclose(f);
    CHECK(rc == SPARQ_OK && good_n > 100, "saved %zu bytes", good_n);
    uint32_t cl;
    memcpy(&cl, good + 16, 4);
    cfg_off = 20, cfg_len = cl;
    par_off = 20 + cl + 16;
    buf_off = par_off + 4 * ref.n_params;
    opt_off = buf_off + 4 * ref.n_buffers;
    v_off = opt_off + 24 + 4 * ref.n_params;
    run_off = v_off + 4 * ref.n_params;
    st_off = good_n - 8 - 40;

    struct sparq_model m;
    struct sparq_adamw o2;
    struct sparq_train_state s2;
    rc = sparq_checkpoint_load(path, &m, &o2, &s2);
    CHECK(rc == SPARQ_OK && !memcmp(m.param_mem, ref.param_mem, 4 * ref.n_params) && o2.t == 3 &&
              !memcmp(o2.v, opt.v, 4 * ref.n_params) && s2.step == 3 && s2.batch == 1 && s2.seed == 9 &&
              s2.run.valid && s2.run.data_hash == 77 && s2.run.lr == 1e-3f && s2.run.max_utts == 8 &&
              !strcmp(s2.run.manifest, "corpus/train.jsonl"),
          "round trip of a version 2 checkpoint with its run settings");
    if (rc == SPARQ_OK) {
        sparq_model_free(&m);
        sparq_adamw_free(&o2);
    }
    CHECK(good_n >= 12 && good[8] == 2, "a checkpoint with run settings is version 2");
    rc = sparq_checkpoint_load(v1path, &m, &o2, &s2);
    CHECK(rc == SPARQ_OK && s2.step == 3 && !s2.run.valid, "version 1 layout (no run settings) loads");
    if (rc == SPARQ_OK) {
        sparq_model_free(&m);
        sparq_adamw_free(&o2);
    }
    check_values();
    check_positions();
    check_structure();
    check_dwsep(dir);
    unlink(path);
    unlink(v1path);
    rmdir(dir);
    free(good);
    sparq_adamw_free(&opt);
    sparq_model_free(&ref);
    return check_done();
}
