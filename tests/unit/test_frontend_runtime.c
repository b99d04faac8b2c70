// Placement of the front-end (sparq_runtime_open_ex, issue 16): the
// subsampling matmuls on the device or on the host (the cpu kernel) give the
// same logits bit for bit on cpu, ref and sim, with the int32 and the q8
// read-out; on the host they move no link bytes and the other matmuls move
// the same; the plan agrees with the measurement; the per-matmul bytes by
// kind add up to the wire bytes and equal the model device's.
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "sparq_error.h"
#include "sparq_layers.h"
#include "sparq_rng.h"
#include "sparq_runtime.h"
#include "tiny_export.h"
#include "tiny_model.h"

enum { B = 2, T = 40 };
static uint64_t rng;
static float feats[B * T * 20];
static int lens[B] = { T, 23 };

static int is_frontend(const char *n)
{
    return !strcmp(n, "sub1_w") || !strcmp(n, "sub2_w") || !strcmp(n, "sub_lin_w");
}

// Logits of the backend with the front-end at `where`; the runtime stays open in *keep.
static float *run(const char *path, const char *backend, enum sparq_frontend where, size_t *n,
                  struct sparq_runtime **keep)
{
    struct sparq_runtime *rt = NULL;
    struct sparq_runtime_options o = { where };
    *keep = NULL;
    if (sparq_runtime_open_ex(&rt, path, backend, &o)) {
        CHECK(0, "%s, front-end %s opens: %s", backend, sparq_frontend_name(where), sparq_last_error());
        return NULL;
    }
    struct sparq_model *m = sparq_runtime_model(rt);
    sparq_runtime_activate(rt);
    float *z = tiny_logits(m, feats, lens, B, T, n);
    sparq_runtime_deactivate(rt);
    if (sparq_runtime_error(rt))
        CHECK(0, "%s runs: %s", backend, sparq_last_error());
    *keep = rt;
    return z;
}

// Per matmul: kinds add up to the wire bytes and equal the model device's.
static int kinds_ok(const struct sparq_runtime_layer_stats *st, int count, uint64_t *kinds)
{
    int ok = 1;
    memset(kinds, 0, sizeof(uint64_t) * SPARQ_WIRE_KINDS);
    for (int i = 0; i < count; i++) {
        uint64_t sum = 0;
        for (int k = 0; k < SPARQ_WIRE_KINDS; k++) {
            sum += st[i].wire_kind[k];
            kinds[k] += st[i].wire_kind[k];
            ok &= st[i].wire_kind[k] == st[i].model_kind[k];
        }
        ok &= sum == st[i].wire_bytes;
    }
    return ok;
}

int main(void)
{
    rng = check_seed(1601);
    struct sparq_config c;
    tiny_model_config(&c);
    struct sparq_model m;
    sparq_model_create(&m, &c);
    sparq_model_init(&m, 5);
    for (int b = 0; b < B; b++)
        for (int i = 0; i < lens[b] * c.n_mels; i++)
            feats[(size_t)b * T * c.n_mels + i] = (float)(2.0 * sparq_rng_uniform(&rng) - 1.0);
    char path[64];
    int rc = tiny_export(&m, "sparq_frontend", path, sizeof path);
    CHECK(rc == 0, "tiny model exported (%s)", rc ? sparq_last_error() : "ok");

    const char *backends[6] = { "cpu", "ref", "sim", "cpu:q8", "ref:q8", "sim:q8" };
    const enum sparq_frontend places[3] = { SPARQ_FRONTEND_DEVICE, SPARQ_FRONTEND_HOST, SPARQ_FRONTEND_AUTO };
    float *base[2] = { NULL, NULL };
    size_t nb = 0;
    for (int bi = 0; bi < 6; bi++) {
        int q8 = bi >= 3, dev = bi % 3 != 0;
        struct sparq_runtime *rt[3] = { NULL, NULL, NULL };
        float *z[3] = { NULL, NULL, NULL };
        size_t n[3] = { 0, 0, 0 };
        for (int p = 0; p < 3; p++)
            z[p] = run(path, backends[bi], places[p], &n[p], &rt[p]);
        if (!base[q8]) {
            base[q8] = z[0];
            nb = n[0];
            z[0] = NULL;
        }
        int same = base[q8] != NULL;
        for (int p = 0; p < 3; p++)
            if (p > 0 || z[0] || dev)
                same &= z[p] && n[p] == nb && !memcmp(z[p], base[q8], sizeof(float) * nb);
        CHECK(same, "%s: logits with the front-end on the device, on the host and auto == cpu's, bit for bit",
              backends[bi]);
        CHECK(rt[0] && rt[1] && sparq_runtime_host_layers(rt[0]) == 0 && sparq_runtime_host_layers(rt[1]) == 3,
              "%s: host layers: device 0, host %d, auto %d", backends[bi],
              rt[1] ? sparq_runtime_host_layers(rt[1]) : -1, rt[2] ? sparq_runtime_host_layers(rt[2]) : -1);
        int cd = 0, ch = 0;
        const struct sparq_runtime_layer_stats *sd = rt[0] ? sparq_runtime_stats(rt[0], &cd) : NULL;
        const struct sparq_runtime_layer_stats *sh = rt[1] ? sparq_runtime_stats(rt[1], &ch) : NULL;
        int moved = sd && sh && cd == ch, others = moved;
        uint64_t bd = 0, bh = 0;
        for (int i = 0; moved && i < cd; i++) {
            bd += dev ? sd[i].wire_bytes : sd[i].model_bytes;
            bh += dev ? sh[i].wire_bytes : sh[i].model_bytes;
            if (is_frontend(sh[i].name))
                moved &= sh[i].host == 1 && sh[i].calls == sd[i].calls && sh[i].rows == sd[i].rows &&
                         sh[i].wire_bytes == 0 && sh[i].model_bytes == 0 && sh[i].busy_cycles == 0 &&
                         sh[i].model_busy == 0 && sh[i].host_cpu_seconds >= 0 && sd[i].host == 0 &&
                         sd[i].model_bytes > 0;
            else
                others &= sh[i].host == 0 && sh[i].model_bytes == sd[i].model_bytes &&
                          sh[i].wire_bytes == sd[i].wire_bytes && sh[i].model_busy == sd[i].model_busy;
        }
        CHECK(moved && bh < bd, "%s: the front-end on the host moves no link bytes (%llu -> %llu in total)",
              backends[bi], (unsigned long long)bd, (unsigned long long)bh);
        CHECK(others, "%s: every other matmul moves the same bytes and cycles in both placements", backends[bi]);
        for (int p = 0; dev && p < 2; p++) {
            int cnt = 0;
            const struct sparq_runtime_layer_stats *st = rt[p] ? sparq_runtime_stats(rt[p], &cnt) : NULL;
            uint64_t kinds[SPARQ_WIRE_KINDS] = { 0 };
            int ok = st && kinds_ok(st, cnt, kinds);
            CHECK(ok && kinds[SPARQ_WIRE_ACT] > 0 && kinds[SPARQ_WIRE_RESULTS] > 0,
                  "%s, front-end %s: per matmul, bytes by kind add up to the wire bytes and equal the model's "
                  "(weights %llu, act %llu, results %llu, overhead %llu)",
                  backends[bi], p ? "host" : "device", (unsigned long long)kinds[0], (unsigned long long)kinds[1],
                  (unsigned long long)kinds[2], (unsigned long long)kinds[3]);
            // The batch plan of the run's batching equals the measurement.
            struct sparq_runtime_layer_stats *ps = st ? calloc((size_t)cnt, sizeof *ps) : NULL;
            int frames[B] = { lens[0], lens[1] };
            int plan_ok = ps && sparq_runtime_plan(rt[p], frames, B, B, ps) == 0;
            for (int i = 0; plan_ok && i < cnt; i++) {
                plan_ok &= ps[i].calls == st[i].calls && ps[i].model_bytes == st[i].wire_bytes &&
                           ps[i].model_busy == st[i].busy_cycles && ps[i].host == st[i].host;
                for (int k = 0; k < SPARQ_WIRE_KINDS; k++)
                    plan_ok &= ps[i].model_kind[k] == st[i].wire_kind[k];
            }
            CHECK(plan_ok, "%s, front-end %s: the batch plan == the measurement, per matmul and kind", backends[bi],
                  p ? "host" : "device");
            free(ps);
        }
        for (int p = 0; p < 3; p++) {
            free(z[p]);
            sparq_runtime_close(rt[p]);
        }
    }
    enum sparq_frontend f;
    rc = sparq_runtime_parse_frontend("--frontend", "gpu", &f);
    CHECK(rc == SPARQ_EINVAL && strstr(sparq_last_error(), "--frontend") && strstr(sparq_last_error(), "gpu"),
          "a bad placement is refused naming the flag: %s", sparq_last_error());
    free(base[0]);
    free(base[1]);
    unlink(path);
    sparq_model_free(&m);
    return check_done();
}
