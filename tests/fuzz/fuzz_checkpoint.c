// libFuzzer target: the float model / checkpoint reader (sparq_checkpoint_parse)
// on untrusted bytes. The trailing FNV-1a hash is recomputed over the fuzzed
// bytes first, so the fuzzer reaches the config, size and value checks
// instead of stopping at the checksum. Input:
//   first byte 0..127: the rest is the whole file (magic and all);
//   first byte 128..255: the rest is a list of (u16 offset, u8 byte) edits
//     applied to a valid tiny checkpoint (version 2: optimizer state, run
//     settings, training state), which reaches the deep checks quickly.
// Whatever loads must be a model whose values pass the loader's own rules.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sparq_error.h"
#include "sparq_train.h"

static unsigned char *base;
static size_t base_n;

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

// A valid tiny checkpoint, made once through the writer.
static void make_base(void)
{
    struct sparq_config c;
    sparq_config_default(&c);
    c.n_mels = 7, c.sub_channels = 1, c.d_model = 2, c.n_heads = 1, c.ffn_dim = 2, c.kernel = 1, c.n_layers = 1;
    struct sparq_model m;
    struct sparq_adamw o;
    if (sparq_model_create(&m, &c) || sparq_adamw_init(&o, &m, 0.9f, 0.98f, 1e-9f, 0.01f))
        abort();
    sparq_model_init(&m, 1);
    struct sparq_train_state st = { .step = 4, .epoch = 1, .batch = 2, .seed = 3, .best_dev_wer = 0.5 };
    st.run = (struct sparq_run_info){ .valid = 1, .n_utts = 5, .lr = 1e-3f, .clip = 5, .warmup = 1, .epochs = 2,
                                      .batch_frames = 1000, .max_utts = 4, .specaug = 1 };
    snprintf(st.run.manifest, sizeof st.run.manifest, "t.jsonl");
    char path[] = "/tmp/fuzz_checkpoint_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || sparq_checkpoint_save(path, &m, &o, &st))
        abort();
    close(fd);
    FILE *f = fopen(path, "rb");
    base = malloc(1 << 16);
    base_n = f ? fread(base, 1, 1 << 16, f) : 0;
    if (f)
        fclose(f);
    unlink(path);
    sparq_adamw_free(&o);
    sparq_model_free(&m);
}

static void check_loaded(const struct sparq_model *m, const struct sparq_train_state *st)
{
    for (size_t i = 0; i < m->n_params; i++)
        if (!isfinite(m->param_mem[i]))
            abort();
    for (size_t i = 0; i < (size_t)m->cfg.n_mels; i++)
        if (!(m->buf.cmvn_istd[i] > 0) || !isfinite(m->buf.cmvn_istd[i]))
            abort();
    if (st && (st->batch < 0 || st->batch > st->step || st->epoch < 0))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!base)
        make_base();
    if (size == 0)
        return 0;
    unsigned char *b;
    size_t n;
    if (data[0] < 128) {
        n = size - 1 + 8;
        b = malloc(n);
        memcpy(b, data + 1, size - 1);
    } else {
        n = base_n;
        b = malloc(n);
        memcpy(b, base, n);
        for (size_t i = 1; i + 3 <= size; i += 3) {
            size_t off = (size_t)(data[i] | data[i + 1] << 8) % (n - 8);
            b[off] = data[i + 2];
        }
    }
    uint64_t h = fnv1a(b, n - 8);
    memcpy(b + n - 8, &h, 8);
    struct sparq_model m;
    struct sparq_adamw o;
    struct sparq_train_state st;
    int with_opt = data[0] & 1;
    if (sparq_checkpoint_parse(b, n, "fuzz", &m, with_opt ? &o : NULL, with_opt ? &st : NULL) == SPARQ_OK) {
        check_loaded(&m, with_opt ? &st : NULL);
        if (with_opt)
            sparq_adamw_free(&o);
        sparq_model_free(&m);
    } else if (!*sparq_last_error()) {
        abort(); // every refusal says why
    }
    free(b);
    return 0;
}
