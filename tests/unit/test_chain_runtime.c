// The FFN chain end to end (sparq_chain.h): a tiny model fine-tuned with the
// chain simulated (--readout chain) and exported gives the same logits, bit
// for bit, in the fine-tuning forward and in the integer runtime on cpu, ref
// and sim (each FFN one sparq_device_chain2 on the devices, the integer steps
// on cpu); the float backend runs fine-tuning's simulation of the FFNs;
// matrices are resident in the weight store (streamed on a device without
// one); the model device plans the chained, resident calls exactly as the
// devices measured them; a file without chain sections runs as before.
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "sparq_device.h"
#include "sparq_error.h"
#include "sparq_finetune.h"
#include "sparq_modelfile.h"
#include "sparq_rng.h"
#include "sparq_runtime.h"
#include "sparq_train.h"
#include "finetune_steps.h"
#include "tiny_model.h"

static uint64_t rng;
static float rndf(void) { return (float)(2.0 * sparq_rng_uniform(&rng) - 1.0); }

enum { B = 2, T = 48, L = 4 };
static float feats[B * T * 20];
static int lens[B] = { T, T - 8 }, labels[B * L], label_lens[B] = { L, L };

static float *logits(struct sparq_model *m, int *n)
{
    struct sparq_acts *a = sparq_acts_create(&m->cfg, B, T);
    int T2 = sparq_forward(m, a, feats, lens, B, T, 0);
    *n = B * T2 * m->cfg.vocab;
    float *out = malloc(sizeof(float) * (size_t)*n);
    memcpy(out, sparq_acts_logits(a), sizeof(float) * (size_t)*n);
    sparq_acts_free(a);
    return out;
}

// Logits of a backend; *keep receives the open runtime (closed by the caller) when not NULL.
static float *run(const char *path, const char *backend, int *n, struct sparq_runtime **keep)
{
    struct sparq_runtime *rt = NULL;
    if (sparq_runtime_open(&rt, path, backend)) {
        CHECK(0, "runtime %s opens: %s", backend, sparq_last_error());
        return NULL;
    }
    sparq_runtime_activate(rt);
    float *z = logits(sparq_runtime_model(rt), n);
    sparq_runtime_deactivate(rt);
    if (sparq_runtime_error(rt))
        CHECK(0, "runtime %s runs: %s", backend, sparq_last_error());
    if (keep)
        *keep = rt;
    else
        sparq_runtime_close(rt);
    return z;
}

static int same(const float *a, const float *b, int n, int nb)
{
    return a && b && n == nb && memcmp(a, b, sizeof(float) * (size_t)n) == 0;
}

int main(void)
{
    rng = check_seed(2718);
    struct sparq_config cfg;
    tiny_model_config(&cfg);
    struct sparq_model m;
    struct sparq_adamw opt;
    sparq_model_create(&m, &cfg);
    sparq_model_init(&m, 17);
    sparq_adamw_init(&opt, &m, 0.9f, 0.98f, 1e-9f, 0.0f);
    for (int i = 0; i < B * T * cfg.n_mels; i++)
        feats[i] = rndf();
    for (int j = 0; j < B * L; j++)
        labels[j] = 3 + (j * 7) % 26;
    const struct ft_batch fb = { feats, lens, labels, label_lens, B, T };
    int64_t step = 0;
    ft_train_steps(&m, &opt, NULL, &fb, 20, &step);

    struct sparq_finetune_options o;
    sparq_finetune_default_options(&o);
    sparq_compress_spec_parse(&o.spec, "int4-2:4,sub1_w=int8");
    o.readout_q8 = o.act_quant = o.chain = 1;
    o.freeze_scales_at = 4;
    struct sparq_compressor *c;
    int rc = sparq_compressor_create(&c, &m, &o);
    int64_t ft = 0;
    double loss = rc ? NAN : ft_train_steps(&m, &opt, c, &fb, 6, &ft);
    CHECK(rc == 0 && isfinite(loss), "fine-tuned 6 steps with the FFN chain simulated (loss %.4f)", loss);
    struct sparq_export_overrides ov;
    sparq_compressor_overrides(c, &ov);
    char path[] = "/tmp/sparq_chainrt_XXXXXX", plain[] = "/tmp/sparq_chainrt0_XXXXXX";
    close(mkstemp(path));
    close(mkstemp(plain));
    size_t grown = 0;
    rc = rc ? rc : sparq_export(&m, &o.spec, &ov, SPARQ_SCALE_MSE, plain, NULL);
    rc = rc ? rc : sparq_export(&m, &o.spec, &ov, SPARQ_SCALE_MSE, path, NULL);
    rc = rc ? rc : sparq_compressor_add_chain(c, &m, path, &grown);
    CHECK(rc == 0 && grown > 0, "exported with the chain clips (%zu bytes more; %s)", grown,
          rc ? sparq_last_error() : "ok");
    struct sparq_mfile f;
    int nsec = 0;
    if (!sparq_mfile_read(&f, path)) {
        for (int s = 0; s < f.count; s++)
            nsec += strstr(f.sections[s].name, ".chain") != NULL;
        sparq_mfile_free(&f);
    }
    CHECK(nsec == 2 * cfg.n_layers, "one chain section per FFN (%d)", nsec);

    // --resume: the chain clips survive the compressor state (compress.state).
    char state[] = "/tmp/sparq_chainst_XXXXXX", again[] = "/tmp/sparq_chainrt2_XXXXXX";
    close(mkstemp(state));
    close(mkstemp(again));
    struct sparq_compressor *c2 = NULL;
    rc = sparq_compressor_save(c, state);
    rc = rc ? rc : sparq_compressor_create(&c2, &m, &o);
    rc = rc ? rc : sparq_compressor_load(c2, state);
    rc = rc ? rc : sparq_export(&m, &o.spec, &ov, SPARQ_SCALE_MSE, again, NULL);
    rc = rc ? rc : sparq_compressor_add_chain(c2, &m, again, NULL);
    int same_clips = rc == 0;
    struct sparq_mfile f1, f2;
    if (same_clips && !sparq_mfile_read(&f1, path)) {
        if (!sparq_mfile_read(&f2, again)) {
            for (int s1 = 0; s1 < f1.count; s1++) {
                const struct sparq_mf_section *a1 = &f1.sections[s1];
                if (!strstr(a1->name, ".chain"))
                    continue;
                const struct sparq_mf_section *a2 = sparq_mfile_find(&f2, a1->name, SPARQ_MF_F32);
                same_clips &= a2 && a2->count == 2 && !memcmp(a1->data, a2->data, 2 * sizeof(float));
            }
            sparq_mfile_free(&f2);
        } else
            same_clips = 0;
        sparq_mfile_free(&f1);
    } else
        same_clips = 0;
    CHECK(same_clips, "compressor state saved and loaded: the same chain clips exported (%s)",
          rc ? sparq_last_error() : "ok");
    sparq_compressor_free(c2);
    unlink(state);
    unlink(again);

    // The fine-tuning forward.
    int n = 0, nc = 0, nr = 0, ns = 0, nf = 0, nq = 0, np = 0;
    sparq_compressor_pre_forward(c, &m, ft);
    float *want = logits(&m, &n);
    sparq_compressor_restore(c, &m);
    struct sparq_runtime *rcpu = NULL, *rref = NULL, *rsim = NULL;
    float *cpu = run(path, "cpu", &nc, &rcpu);
    float *ref = run(path, "ref", &nr, &rref);
    float *sim = run(path, "sim", &ns, &rsim);
    CHECK(rcpu && sparq_runtime_chains(rcpu) == 2 * cfg.n_layers, "cpu runs %d FFN chains",
          rcpu ? sparq_runtime_chains(rcpu) : -1);
    double worst = 0;
    for (int i = 0; cpu && nc == n && i < n; i++)
        worst = fmax(worst, fabs((double)cpu[i] - want[i]));
    CHECK(same(cpu, want, nc, n), "cpu logits == fine-tuning forward logits, bit for bit (worst %.3g)", worst);
    CHECK(same(ref, want, nr, n), "ref logits (sparq_device_chain2) == fine-tuning forward, bit for bit");
    CHECK(same(sim, want, ns, n), "sim logits (sparq_device_chain2) == fine-tuning forward, bit for bit");

    // Statistics: each chain's W1 row carries the device work, W2's its calls;
    // the devices hold the matrices resident.
    int count = 0, roles = 1, resident = 1, same_model = 1;
    for (int d = 0; d < 2; d++) {
        struct sparq_runtime *r = d ? rsim : rref;
        const struct sparq_runtime_layer_stats *st = r ? sparq_runtime_stats(r, &count) : NULL;
        struct sparq_device_info info;
        int store = r && !sparq_runtime_device_info(r, &info) && info.wstore > 0;
        printf("# %s: weight store %s\n", d ? "sim" : "ref", store ? "yes" : "no (IDENTIFY below version 3)");
        for (int i = 0; st && i < count; i++) {
            int w1 = strstr(st[i].name, "ffn") && strstr(st[i].name, "_w1");
            int w2 = strstr(st[i].name, "ffn") && strstr(st[i].name, "_w2");
            roles &= st[i].chain == (w1 ? 1 : w2 ? 2 : 0);
            roles &= !w2 || (st[i].wire_bytes == 0 && st[i].busy_cycles == 0 && st[i].calls > 0);
            // A matmul the runtime placed on the host (the front-end) takes no store space.
            resident &= st[i].resident == (store && strcmp(st[i].format, "float") != 0 && !st[i].host);
            int eq = st[i].model_busy == st[i].busy_cycles && st[i].model_bytes == st[i].wire_bytes &&
                     st[i].model_macs == st[i].device_macs;
            if (!eq)
                printf("# %s %s: busy %llu / model %llu, bytes %llu / %llu, MACs %llu / %llu\n", d ? "sim" : "ref",
                       st[i].name, (unsigned long long)st[i].busy_cycles, (unsigned long long)st[i].model_busy,
                       (unsigned long long)st[i].wire_bytes, (unsigned long long)st[i].model_bytes,
                       (unsigned long long)st[i].device_macs, (unsigned long long)st[i].model_macs);
            same_model &= eq;
        }
        if (!st)
            roles = resident = same_model = 0;
    }
    CHECK(roles, "ref/sim: W1 rows carry each chain's device work, W2 rows only their calls");
    CHECK(resident, "ref/sim: every packed matrix on the device resident in the weight store (when it has one)");
    CHECK(same_model, "ref/sim: the model device (chained, resident) == measured busy cycles, MACs, wire bytes");
    CHECK(rref && sparq_runtime_load_bytes(rref) > 0, "ref: loading the matrices at open took %llu wire bytes",
          rref ? (unsigned long long)sparq_runtime_load_bytes(rref) : 0ULL);

    // The planner on other hardware (sparq_runtime_plan_on): without a store
    // every matrix streams, without tables the FFNs run through the host;
    // the batch plan on the runtime's own hardware equals the measurement.
    const struct sparq_runtime_layer_stats *st = rref ? sparq_runtime_stats(rref, &count) : NULL;
    struct sparq_runtime_layer_stats *p0 = calloc((size_t)count + 1, sizeof *p0);
    struct sparq_runtime_layer_stats *p1 = calloc((size_t)count + 1, sizeof *p1);
    int frames[B] = { lens[0], lens[1] };
    struct sparq_device_config old = sparq_device_default_config;
    old.wstore = 0;
    old.luts = 0;
    int prc = st ? sparq_runtime_plan(rref, frames, B, B, p0) : -1;
    prc = prc ? prc : sparq_runtime_plan_on(rref, &old, frames, B, B, p1);
    int same_plan = prc == 0, streamed = prc == 0;
    uint64_t b0 = 0, b1 = 0;
    for (int i = 0; prc == 0 && i < count; i++) {
        same_plan &= p0[i].calls == st[i].calls && p0[i].model_busy == st[i].busy_cycles &&
                     p0[i].model_bytes == st[i].wire_bytes && p0[i].resident == st[i].resident;
        streamed &= p1[i].resident == 0;
        b0 += p0[i].model_bytes;
        b1 += p1[i].model_bytes;
    }
    CHECK(same_plan, "plan on the runtime's hardware == the measured batch, per matmul (%s)",
          prc ? sparq_last_error() : "ok");
    CHECK(streamed && b1 > b0, "plan_on a device without store and tables: all streamed, %llu > %llu wire bytes",
          (unsigned long long)b1, (unsigned long long)b0);
    // A store too small for the whole model: the matrices loaded first stay
    // resident, the rest stream (no error).
    struct sparq_device_config small = sparq_device_default_config;
    small.wstore = 24;
    prc = st ? sparq_runtime_plan_on(rref, &small, frames, B, B, p1) : -1;
    int nres = 0, nstream = 0;
    for (int i = 0; prc == 0 && i < count; i++)
        if (strcmp(p1[i].format, "float") != 0)
            p1[i].resident ? nres++ : nstream++;
    CHECK(prc == 0 && nres > 0 && nstream > 0, "plan_on with a 24-entry store: %d matmuls resident, %d streamed", nres,
          nstream);
    free(p0);
    free(p1);

    // The float backend: the fake-quantized model with fine-tuning's
    // simulation of each FFN chain (not bit-equal to the fine-tuning forward:
    // the other matmuls stay float, without the per-row activation rounding).
    float *flt = run(path, "float", &nf, NULL);
    float *flt0 = run(plain, "float", &np, NULL);
    double num = 0, den = 0;
    for (int i = 0; flt && cpu && nf == n && nc == n && i < n; i++) {
        num += ((double)flt[i] - cpu[i]) * ((double)flt[i] - cpu[i]);
        den += (double)cpu[i] * cpu[i];
    }
    CHECK(flt && flt0 && nf == np && !same(flt, flt0, nf, np) && den > 0 && sqrt(num / den) < 0.1,
          "float backend runs the chain simulation (differs from the unchained float model; rel. rms vs cpu %.4f)",
          den > 0 ? sqrt(num / den) : -1.0);

    // A bad clip is refused at open, naming the section.
    struct sparq_mfile bad;
    char badp[] = "/tmp/sparq_chainbad_XXXXXX";
    close(mkstemp(badp));
    int brc = sparq_mfile_read(&bad, path);
    if (!brc) {
        for (int s1 = 0; s1 < bad.count; s1++)
            if (!strcmp(bad.sections[s1].name, "layer1.ffn2_w1.chain"))
                ((float *)bad.sections[s1].data)[1] = -1.0f;
        brc = sparq_mfile_write(&bad, badp);
        sparq_mfile_free(&bad);
    }
    struct sparq_runtime *rb = NULL;
    brc = brc ? brc : sparq_runtime_open(&rb, badp, "cpu");
    CHECK(brc != 0 && strstr(sparq_last_error(), "layer1.ffn2_w1.chain"), "a negative A_1 is refused at open (%s)",
          brc ? sparq_last_error() : "opened");
    sparq_runtime_close(rb);
    unlink(badp);

    // A file without the sections runs every matmul alone, as before; the
    // chained file with an explicit read-out suffix does the same.
    struct sparq_runtime *rp = NULL;
    float *old_cpu = run(plain, "cpu", &np, &rp);
    float *q8 = run(path, "cpu:q8", &nq, NULL);
    CHECK(rp && sparq_runtime_chains(rp) == 0 && sparq_runtime_readout(rp) == SPARQ_READOUT_Q8,
          "a file without chain sections: no chains, q8 read-out");
    CHECK(same(old_cpu, q8, np, nq) && !same(old_cpu, cpu, np, nc),
          "chained file with ':q8' == unchained file, bit for bit (and != the chained run)");
    free(old_cpu);
    free(q8);
    free(flt);
    free(flt0);
    sparq_runtime_close(rp);
    sparq_runtime_close(rcpu);
    sparq_runtime_close(rref);
    sparq_runtime_close(rsim);
    free(cpu);
    free(ref);
    free(sim);
    free(want);
    unlink(path);
    unlink(plain);
    sparq_compressor_free(c);
    sparq_adamw_free(&opt);
    sparq_model_free(&m);
    return check_done();
}
