// The subsampling convs through the runtime's conv hook (struct
// sparq_conv_hook: im2col rows quantized in place, host blocks, read-out with
// ReLU) give the logits of the im2col + linear hook + ReLU path bit for bit,
// on cpu and ref, i32 and q8, front-end on the host and on the device, with
// the same per-matmul calls, rows and modelled bytes. Three models: 4 channels
// (the quantizer's gathered rows), 8 (rows read as three runs), and 32
// channels on 80 mel bins x 400 frames (the host runs conv 2 in three blocks,
// the last one ragged).
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "sparq_error.h"
#include "sparq_layers.h"
#include "sparq_rng.h"
#include "sparq_runtime.h"
#include "tiny_export.h"
#include "tiny_model.h"

#ifdef SPARQ_MODEL_HOOKS_CONV
enum { B = 2 };
static float *feats;
static int T, lens[B];

// Logits with or without the conv hook; stats copied to st (n entries).
static float *run(const char *path, const char *backend, enum sparq_frontend where, int hook, size_t *n,
                  struct sparq_runtime_layer_stats **st, int *cnt)
{
    struct sparq_runtime *rt = NULL;
    struct sparq_runtime_options o = { where };
    if (sparq_runtime_open_ex(&rt, path, backend, &o)) {
        CHECK(0, "%s opens: %s", backend, sparq_last_error());
        return NULL;
    }
    struct sparq_model *m = sparq_runtime_model(rt);
    sparq_runtime_activate(rt);
    int had = m->hooks.conv.fn != NULL;
    if (!hook)
        m->hooks.conv = (struct sparq_conv_hook){ NULL, NULL };
    float *z = tiny_logits(m, feats, lens, B, T, n);
    sparq_runtime_deactivate(rt);
    if (sparq_runtime_error(rt) || !had)
        CHECK(0, "%s runs with the conv hook set: %s", backend, had ? sparq_last_error() : "not set by activate");
    const struct sparq_runtime_layer_stats *s = sparq_runtime_stats(rt, cnt);
    *st = malloc(sizeof **st * (size_t)*cnt);
    memcpy(*st, s, sizeof **st * (size_t)*cnt);
    sparq_runtime_close(rt);
    return z;
}

static void one_model(int channels, int mels, int frames, uint64_t *rng)
{
    struct sparq_config c;
    tiny_model_config(&c);
    c.sub_channels = channels;
    c.n_mels = mels;
    T = frames;
    lens[0] = frames;
    lens[1] = frames * 2 / 3;
    feats = calloc((size_t)B * T * mels, sizeof(float));
    struct sparq_model m;
    sparq_model_create(&m, &c);
    sparq_model_init(&m, 7 + channels);
    for (int b = 0; b < B; b++)
        for (int i = 0; i < lens[b] * c.n_mels; i++)
            feats[(size_t)b * T * c.n_mels + i] = (float)(2.0 * sparq_rng_uniform(rng) - 1.0);
    char path[64];
    int rc = tiny_export(&m, "sparq_convrt", path, sizeof path);
    CHECK(rc == 0, "%d channels: tiny model exported (%s)", channels, rc ? sparq_last_error() : "ok");
    const char *backends[4] = { "cpu", "ref", "cpu:q8", "ref:q8" };
    for (int bi = 0; bi < 4; bi++)
        for (int where = 0; where < 2; where++) {
            enum sparq_frontend f = where ? SPARQ_FRONTEND_HOST : SPARQ_FRONTEND_DEVICE;
            size_t n0 = 0, n1 = 0;
            int c0 = 0, c1 = 0;
            struct sparq_runtime_layer_stats *s0 = NULL, *s1 = NULL;
            float *z0 = run(path, backends[bi], f, 0, &n0, &s0, &c0);
            float *z1 = run(path, backends[bi], f, 1, &n1, &s1, &c1);
            CHECK(z0 && z1 && n0 == n1 && !memcmp(z0, z1, sizeof(float) * n0),
                  "%d channels, %s, front-end on the %s: logits with the conv hook == im2col + linear hook, bit for "
                  "bit",
                  channels, backends[bi], sparq_frontend_name(f));
            int same = s0 && s1 && c0 == c1;
            for (int i = 0; same && i < c0; i++)
                same &= s0[i].calls == s1[i].calls && s0[i].rows == s1[i].rows && s0[i].macs == s1[i].macs &&
                        s0[i].wire_bytes == s1[i].wire_bytes && s0[i].model_bytes == s1[i].model_bytes &&
                        s0[i].model_busy == s1[i].model_busy && s0[i].busy_cycles == s1[i].busy_cycles;
            CHECK(same,
                  "%d channels, %s, front-end on the %s: per matmul the same calls, rows, MACs, wire and "
                  "modelled bytes and cycles",
                  channels, backends[bi], sparq_frontend_name(f));
            free(z0);
            free(z1);
            free(s0);
            free(s1);
        }
    unlink(path);
    sparq_model_free(&m);
    free(feats);
}
#endif

int main(void)
{
    uint64_t rng = check_seed(1809);
#ifdef SPARQ_MODEL_HOOKS_CONV
    one_model(4, 20, 60, &rng);
    one_model(8, 20, 60, &rng);
    one_model(32, 80, 400, &rng);
#else
    (void)rng;
    printf("# skip: sparq_model.h has no conv hook (SPARQ_MODEL_HOOKS_CONV): the runtime's conv path is not built\n");
    CHECK(1, "conv hook not present: nothing to compare");
#endif
    return check_done();
}
