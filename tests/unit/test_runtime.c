// Integer runtime: export -> load reproduces the fake-quantized model bit for
// bit (float backend); cpu, ref and sim backends give identical logits; the
// integer model stays close to the fake-quantized one; padding never leaks;
// corrupt files are rejected with their name.
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "sparq_error.h"
#include "sparq_layers.h"
#include "sparq_modelfile.h"
#include "sparq_runtime.h"
#include "tiny_model.h"
#include "sparq_rng.h"

// Relative error allowed between int8-activation and float-activation logits
// of the tiny random model: per-row int8 rounding (~0.4% of the row max per
// matmul) compounds over 2 blocks of 8 matmuls; measured 0.8% at seed 31337.
#define INT8_VS_FLOAT_TOLERANCE 0.03
// With the int8 read-out each matmul's output is also rounded to 1/127 of
// 4 x (127 * ||code||) per channel (runtime.c, READOUT_Q8_KAPPA): a few %
// rms per matmul; measured 4.4% max at seed 31337.
#define Q8_VS_FLOAT_TOLERANCE 0.10
#define PAD_TOLERANCE 5e-3 // of the largest |logit| (see the padding check)

static uint64_t rng_state;
static float rndf(void)
{
    return (float)(2.0 * sparq_rng_uniform(&rng_state) - 1.0);
}

// Round half to even written out (not rintf), for the independent check.
static int round_half_even(float v)
{
    double f = floor((double)v), d = (double)v - f;
    double r = d > 0.5 ? f + 1 : d < 0.5 ? f : (fmod(f, 2.0) == 0.0 ? f : f + 1);
    return (int)(r > 127 ? 127 : r < -127 ? -127 : r);
}

// One packed layer of the cpu backend against an independent computation:
// per-row scale max|x|/127, codes by round-half-even (row 0 hand-picked with
// known codes, row 1 random), the int32 sum over the file's own codes, then
// acc * (s_row * s_w[o]) + b[o]. Bit for bit.
static void check_layer(struct sparq_runtime *rt, const char *path, const char *wname, const char *bname)
{
    struct sparq_model *mp = sparq_runtime_model(rt);
    const float *w = NULL, *b = NULL;
    for (int i = 0; i < mp->n_tensors; i++) {
        if (!strcmp(mp->tensors[i].name, wname))
            w = mp->param_mem + mp->tensors[i].offset;
        if (!strcmp(mp->tensors[i].name, bname))
            b = mp->param_mem + mp->tensors[i].offset;
    }
    struct sparq_mfile mf;
    const struct sparq_mf_section *sec = NULL;
    if (sparq_mfile_read(&mf, path) == 0)
        sec = sparq_mfile_find(&mf, wname, SPARQ_MF_PACKED);
    if (!w || !b || !sec || sec->packed.in != 16) {
        CHECK(0, "layer %s: packed 16-input section and bias found", wname);
        if (sec)
            sparq_mfile_free(&mf);
        return;
    }
    const int IN = 16, OUT = sec->packed.out;
    static const float row0[16] = { 127, 3.5f, -1.5f, 0.7f, 2.5f, -126.5f, 0.5f, -0.5f,
                                    1.5f, 10.49f, -10.51f, 64.5f, -0.7f, 4.5f, -3.5f, 0 };
    static const int codes0[16] = { 127, 4, -2, 1, 2, -126, 0, 0, 2, 10, -11, 64, -1, 4, -4, 0 };
    float x[32], xq[16];
    int xc[32];
    memcpy(x, row0, sizeof row0);
    for (int k = 0; k < IN; k++)
        x[IN + k] = 3.0f * rndf();
    sparq_fake_quant_act(xq, row0, IN, 1.0f);
    int kat = 1;
    for (int k = 0; k < IN; k++)
        kat = kat && xq[k] == (float)codes0[k];
    CHECK(kat, "activation quantizer known answer: 3.5 -> 4, 2.5 -> 2, -1.5 -> -2, 0.7 -> 1, -126.5 -> -126");
    float s[2];
    for (int t = 0; t < 2; t++) {
        float mx = 0;
        for (int k = 0; k < IN; k++)
            mx = fmaxf(mx, fabsf(x[t * IN + k]));
        s[t] = mx / 127.0f;
        for (int k = 0; k < IN; k++)
            xc[t * IN + k] = t == 0 ? codes0[k] : round_half_even(x[t * IN + k] / s[t]);
    }
    int8_t *wc = malloc((size_t)OUT * IN);
    float *want = malloc(sizeof(float) * 2 * (size_t)OUT), *got = malloc(sizeof(float) * 2 * (size_t)OUT);
    sparq_unpack_codes(&sec->packed, wc);
    for (int t = 0; t < 2; t++)
        for (int o = 0; o < OUT; o++) {
            int32_t acc = 0;
            for (int k = 0; k < IN; k++)
                acc += xc[t * IN + k] * wc[(size_t)o * IN + k];
            want[t * OUT + o] = (float)acc * (s[t] * sec->packed.scales[o]) + b[o];
        }
    sparq_runtime_activate(rt);
    linear_forward_hooked(&mp->hooks.linear, got, x, w, b, 2, IN, OUT);
    sparq_runtime_deactivate(rt);
    CHECK(memcmp(got, want, sizeof(float) * 2 * (size_t)OUT) == 0 && sparq_runtime_error(rt) == 0,
          "cpu backend, layer %s: int8 activations and integer output == independent computation, bit for bit", wname);
    free(wc);
    free(want);
    free(got);
    sparq_mfile_free(&mf);
}

// Logits of `m` for a batch; returns a malloc'd copy (B, T2, vocab).
static float *run(struct sparq_model *m, const float *feats, const int *lens, int B, int T, int *T2)
{
    struct sparq_acts *a = sparq_acts_create(&m->cfg, B, T);
    *T2 = sparq_forward(m, a, feats, lens, B, T, 0);
    size_t n = (size_t)B * (*T2) * m->cfg.vocab;
    float *out = malloc(sizeof(float) * n);
    memcpy(out, sparq_acts_logits(a), sizeof(float) * n);
    sparq_acts_free(a);
    return out;
}

static float *run_rt(struct sparq_runtime *rt, const float *feats, const int *lens, int B, int T, int *T2)
{
    sparq_runtime_activate(rt);
    float *out = run(sparq_runtime_model(rt), feats, lens, B, T, T2);
    sparq_runtime_deactivate(rt);
    return out;
}

int main(void)
{
    rng_state = check_seed(31337);
    struct sparq_config c;
    tiny_model_config(&c);
    struct sparq_model m;
    if (sparq_model_create(&m, &c)) {
        CHECK(0, "tiny model: %s", sparq_last_error());
        return check_done();
    }
    sparq_model_init(&m, 7);
    for (int l = 0; l < c.n_layers; l++)
        for (int j = 0; j < c.d_model; j++) {
            m.buf.bn_mean[l][j] = 0.1f * rndf();
            m.buf.bn_var[l][j] = 1.0f + 0.5f * rndf();
        }

    const char *spec_text = "int4-2:4,sub1_w=int8,out_w=int8-4:4,layer1.ffn2_w2=float";
    struct sparq_compress_spec spec;
    sparq_compress_spec_parse(&spec, spec_text);
    char path[] = "/tmp/sparq_rt_XXXXXX";
    close(mkstemp(path));
    struct sparq_export_report rep;
    int rc = sparq_export(&m, &spec, NULL, SPARQ_SCALE_MSE, path, &rep);
    CHECK(rc == 0, "export '%s' (%s)", spec_text, rc ? sparq_last_error() : "ok");
    CHECK(rc == 0 && rep.matmul_bytes < rep.matmul_params * 4 / 2 && rep.file_bytes > rep.param_bytes,
          "matmul weights shrink: %zu bytes for %zu parameters", rep.matmul_bytes, rep.matmul_params);

    // The fake-quantized model, computed independently of the export path.
    struct sparq_model fq;
    sparq_model_create(&fq, &c);
    memcpy(fq.param_mem, m.param_mem, sizeof(float) * m.n_params);
    memcpy(fq.buffer_mem, m.buffer_mem, sizeof(float) * m.n_buffers);
    int packed_tensors = 0;
    for (int i = 0; i < m.n_tensors; i++) {
        int out, in;
        if (!sparq_tensor_is_matmul(&m.tensors[i], &out, &in))
            continue;
        struct sparq_layer_setting s = sparq_compress_spec_lookup(&spec, m.tensors[i].name);
        if (s.width == 0)
            continue;
        packed_tensors++;
        const float *w = m.param_mem + m.tensors[i].offset;
        uint8_t *mask = malloc((size_t)out * in);
        float *scales = malloc(sizeof(float) * out);
        if (s.kept < 4)
            sparq_nm_mask(mask, w, out, in, s.kept);
        else
            memset(mask, 1, (size_t)out * in);
        struct sparq_quantizer q = { s.width, s.grid };
        sparq_quant_scales(scales, w, mask, out, in, &q, SPARQ_SCALE_MSE);
        sparq_fake_quant_forward(fq.param_mem + m.tensors[i].offset, w, mask, scales, out, in, &q);
        free(mask);
        free(scales);
    }

    enum { B = 2, T = 40 };
    int lens[B] = { 40, 23 };
    float *feats = calloc((size_t)B * T * c.n_mels, sizeof(float));
    for (int b = 0; b < B; b++)
        for (int i = 0; i < lens[b] * c.n_mels; i++)
            feats[(size_t)b * T * c.n_mels + i] = rndf();
    int T2;
    float *ref_logits = run(&fq, feats, lens, B, T, &T2);
    size_t n = (size_t)B * T2 * c.vocab;

    struct sparq_runtime *rt_float = NULL, *rt_cpu = NULL, *rt_ref = NULL, *rt_sim = NULL;
    rc = sparq_runtime_open(&rt_float, path, "float");
    float *lf = rc ? NULL : run_rt(rt_float, feats, lens, B, T, &T2);
    CHECK(lf && memcmp(lf, ref_logits, sizeof(float) * n) == 0,
          "float backend == independently fake-quantized model, bit for bit (%d packed matmuls)", packed_tensors);

    rc = sparq_runtime_open(&rt_cpu, path, "cpu");
    float *lc = rc ? NULL : run_rt(rt_cpu, feats, lens, B, T, &T2);
    double max_err = 0, max_ref = 0;
    for (size_t i = 0; lc && lf && i < n; i++) {
        // Only valid frames matter: padded frames hold unspecified values.
        int b = (int)(i / ((size_t)T2 * c.vocab)), t = (int)(i / c.vocab % T2);
        if (t >= sparq_sub_frames(lens[b]))
            continue;
        max_err = fmax(max_err, fabs(lc[i] - lf[i]));
        max_ref = fmax(max_ref, fabs(lf[i]));
    }
    CHECK(lc && max_err <= INT8_VS_FLOAT_TOLERANCE * max_ref,
          "cpu (int8 activations) within %.0f%% of float logits: max err %.4f of %.4f", 100 * INT8_VS_FLOAT_TOLERANCE,
          max_err, max_ref);
    int count;
    const struct sparq_runtime_layer_stats *st = rt_cpu ? sparq_runtime_stats(rt_cpu, &count) : NULL;
    uint64_t calls = 0;
    for (int i = 0; st && i < count; i++)
        calls += st[i].calls;
    CHECK(st && calls > 0 && sparq_runtime_error(rt_cpu) == 0, "cpu backend ran %llu matmul calls without error",
          (unsigned long long)calls);

    rc = sparq_runtime_open(&rt_ref, path, "ref");
    float *lr = rc ? NULL : run_rt(rt_ref, feats, lens, B, T, &T2);
    CHECK(lr && lc && memcmp(lr, lc, sizeof(float) * n) == 0 && sparq_runtime_error(rt_ref) == 0,
          "ref (C device model) logits == cpu logits bit for bit%s", rc ? sparq_last_error() : "");
    rc = sparq_runtime_open(&rt_sim, path, "sim");
    float *ls = rc ? NULL : run_rt(rt_sim, feats, lens, B, T, &T2);
    CHECK(ls && lc && memcmp(ls, lc, sizeof(float) * n) == 0 && sparq_runtime_error(rt_sim) == 0,
          "sim (Verilator RTL) logits == cpu logits bit for bit%s", rc ? sparq_last_error() : "");
    uint64_t cycles = 0;
    st = rt_sim ? sparq_runtime_stats(rt_sim, &count) : NULL;
    for (int i = 0; st && i < count; i++)
        cycles += st[i].device_cycles;
    CHECK(cycles > 0, "sim backend counted %llu device cycles", (unsigned long long)cycles);

    // The model device (job-cycle model, the driver's link accounting) agrees
    // with what the devices counted, call by call, and so does the batch
    // planner when asked for the batching the test ran (B = 2).
    for (int d = 0; d < 2; d++) {
        struct sparq_runtime *r = d ? rt_sim : rt_ref;
        st = r ? sparq_runtime_stats(r, &count) : NULL;
        struct sparq_runtime_layer_stats *ps = st ? calloc((size_t)count, sizeof *ps) : NULL;
        int frames[B] = { lens[0], lens[1] };
        int prc = ps ? sparq_runtime_plan(r, frames, B, B, ps) : -1;
        int same_model = st != NULL, same_plan = prc == 0;
        uint64_t busy = 0, bytes = 0;
        for (int i = 0; st && i < count; i++) {
            busy += st[i].busy_cycles;
            bytes += st[i].wire_bytes;
            same_model &= st[i].model_busy == st[i].busy_cycles && st[i].model_bytes == st[i].wire_bytes &&
                          st[i].model_macs == st[i].device_macs;
            same_plan &= ps[i].calls == st[i].calls && ps[i].rows == st[i].rows &&
                         ps[i].model_busy == st[i].busy_cycles && ps[i].model_bytes == st[i].wire_bytes;
        }
        CHECK(same_model && busy > 0 && bytes > 0,
              "%s: model device == measured per matmul (busy cycles %llu, wire bytes %llu)", d ? "sim" : "ref",
              (unsigned long long)busy, (unsigned long long)bytes);
        CHECK(same_plan, "%s: batch plan for B=2 == the measured batch, per matmul", d ? "sim" : "ref");
        free(ps);
    }

    // int8 read-out: cpu applies the device's requantization itself, so the
    // three backends stay identical; fewer bytes come back.
    struct sparq_runtime *rq[3] = { NULL, NULL, NULL };
    float *lq[3] = { NULL, NULL, NULL };
    const char *qnames[3] = { "cpu:q8", "ref:q8", "sim:q8" };
    for (int k = 0; k < 3; k++) {
        rc = sparq_runtime_open(&rq[k], path, qnames[k]);
        lq[k] = rc ? NULL : run_rt(rq[k], feats, lens, B, T, &T2);
        CHECK(lq[k] && sparq_runtime_error(rq[k]) == 0, "%s runs%s%s", qnames[k], rc ? ": " : "",
              rc ? sparq_last_error() : "");
    }
    CHECK(lq[0] && lq[1] && memcmp(lq[0], lq[1], sizeof(float) * n) == 0, "q8: ref logits == cpu logits bit for bit");
    CHECK(lq[0] && lq[2] && memcmp(lq[0], lq[2], sizeof(float) * n) == 0, "q8: sim logits == cpu logits bit for bit");
    CHECK(lq[0] && lc && memcmp(lq[0], lc, sizeof(float) * n) != 0, "q8 logits differ from int32 read-out logits");
    max_err = max_ref = 0;
    for (size_t i = 0; lq[0] && lf && i < n; i++) {
        int b = (int)(i / ((size_t)T2 * c.vocab)), t = (int)(i / c.vocab % T2);
        if (t >= sparq_sub_frames(lens[b]))
            continue;
        max_err = fmax(max_err, fabs(lq[0][i] - lf[i]));
        max_ref = fmax(max_ref, fabs(lf[i]));
    }
    CHECK(lq[0] && max_err <= Q8_VS_FLOAT_TOLERANCE * max_ref,
          "q8 within %.0f%% of float logits: max err %.4f of %.4f", 100 * Q8_VS_FLOAT_TOLERANCE, max_err, max_ref);
    uint64_t b32 = 0, b8 = 0;
    st = rt_ref ? sparq_runtime_stats(rt_ref, &count) : NULL;
    for (int i = 0; st && i < count; i++)
        b32 += st[i].bytes_in;
    st = rq[1] ? sparq_runtime_stats(rq[1], &count) : NULL;
    for (int i = 0; st && i < count; i++)
        b8 += st[i].bytes_in;
    CHECK(b8 > 0 && b8 * 3 < b32, "q8 read-out: %llu bytes back from the device vs %llu with int32",
          (unsigned long long)b8, (unsigned long long)b32);
    for (int k = 0; k < 3; k++) {
        free(lq[k]);
        sparq_runtime_close(rq[k]);
    }

    // Padding never leaks: utterance 1 alone equals its row in the batch.
    int T2a;
    float *alone = rt_cpu ? run_rt(rt_cpu, feats + (size_t)T * c.n_mels, &lens[1], 1, lens[1], &T2a) : NULL;
    // Not bit for bit: the host's float ops (OpenBLAS attention products over
    // the padded length) may round differently, and a row whose int8 code
    // then flips moves by one quantization step. A leak of padded frames
    // moves logits by far more than PAD_TOLERANCE of their range.
    double pad_err = alone ? 0 : INFINITY, pad_ref = 0;
    for (int t = 0; alone && t < sparq_sub_frames(lens[1]); t++)
        for (int v = 0; v < c.vocab; v++) {
            float a = alone[(size_t)t * c.vocab + v], bt = lc[((size_t)T2 + t) * c.vocab + v];
            pad_err = fmax(pad_err, fabs(a - bt));
            pad_ref = fmax(pad_ref, fabs(a));
        }
    CHECK(pad_err <= PAD_TOLERANCE * pad_ref,
          "a padded batch gives each utterance the logits it gets alone (cpu backend): max diff %.2e of %.2f",
          pad_err, pad_ref);

    if (rt_cpu)
        check_layer(rt_cpu, path, "layer0.ffn1_w1", "layer0.ffn1_b1");

    // Files that pass the CRC but do not fit their config, or hold values
    // no trained model has: each is rejected naming the section.
    static const struct {
        const char *section, *want;
        int index;
        float value;
    } edits[] = {
        { "cmvn_istd", "'cmvn_istd': value[3] = -1", 3, -1.0f },
        { "layer1.bn_var", "'layer1.bn_var': value[0] = -0.5", 0, -0.5f },
        { "layer0.bn_var", "'layer0.bn_var': value[2] = 0", 2, 0.0f },
        { "out_b", "'out_b': value[1] = nan", 1, NAN },
        { "cmvn_mean", "'cmvn_mean': value[0] = inf", 0, INFINITY },
        { "config", "'layer1.", 0, 0 },  // n_layers 2 -> 1: layer 1's sections are left over
        { "config", "missing", 0, 0 },  // n_layers 2 -> 3: layer 2's are missing
        { "junk", "section 'junk' is not part", 0, 0 },
    };
    char epath[] = "/tmp/sparq_rt_edit_XXXXXX";
    close(mkstemp(epath));
    for (size_t e = 0; e < sizeof edits / sizeof edits[0]; e++) {
        struct sparq_mfile mf;
        rc = sparq_mfile_read(&mf, path);
        for (int s = 0; !rc && s < mf.count; s++) {
            struct sparq_mf_section *sec = &mf.sections[s];
            if (strcmp(sec->name, edits[e].section))
                continue;
            if (sec->kind == SPARQ_MF_F32)
                ((float *)sec->data)[edits[e].index] = edits[e].value;
            else { // config: n_layers
                struct sparq_config ec;
                sparq_spq_ints_to_config(&ec, sec->data);
                ec.n_layers = strstr(edits[e].want, "missing") ? 3 : 1;
                sparq_spq_config_to_ints(&ec, sec->data);
            }
        }
        if (!rc && !strcmp(edits[e].section, "junk"))
            rc = sparq_mfile_add_f32(&mf, "junk", (const float[]){ 1.0f }, 1);
        rc = rc ? rc : sparq_mfile_write(&mf, epath);
        sparq_mfile_free(&mf);
        struct sparq_runtime *ed = NULL;
        rc = rc ? rc : sparq_runtime_open(&ed, epath, "float");
        CHECK(rc != 0 && ed == NULL && strstr(sparq_last_error(), epath) && strstr(sparq_last_error(), edits[e].want),
              "edited model (%s) rejected: %s", edits[e].section, sparq_last_error());
        sparq_runtime_close(ed);
    }
    unlink(epath);

    // Corrupt and truncated files.
    FILE *fp = fopen(path, "r+b");
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fclose(fp);
    CHECK(truncate(path, size / 2) == 0, "truncate the model file");
    struct sparq_runtime *bad = NULL;
    rc = sparq_runtime_open(&bad, path, "cpu");
    CHECK(rc != 0 && bad == NULL && strstr(sparq_last_error(), path), "truncated model: %s", sparq_last_error());
    rc = sparq_runtime_open(&bad, path, "gpu");
    CHECK(rc != 0 && strstr(sparq_last_error(), "gpu"), "unknown backend: %s", sparq_last_error());
    rc = sparq_runtime_open(&bad, path, "ref:q4");
    CHECK(rc != 0 && strstr(sparq_last_error(), "q4"), "unknown read-out: %s", sparq_last_error());
    unlink(path);

    free(alone);
    free(ls);
    free(lr);
    free(lc);
    free(lf);
    free(ref_logits);
    free(feats);
    sparq_runtime_close(rt_float);
    sparq_runtime_close(rt_cpu);
    sparq_runtime_close(rt_ref);
    sparq_runtime_close(rt_sim);
    sparq_model_free(&fq);
    sparq_model_free(&m);
    return check_done();
}
