// sparq-command: bench-gemm: time the fast N:M GEMM kernel against OpenBLAS sgemm and oneDNN int8
#include <cblas.h>
#include <cjson/cJSON.h>
#include <dnnl.h>
#include <getopt.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sparq_error.h"
#include "sparq_parse.h"
#include "sparq_gemm.h"
#include "sparq_gemm_act.h"
#include "sparq_clock.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: sparq bench-gemm [--frames T] [--threads LIST] [--path P] [--frame24] [--min-time S]\n"
                 "                        [--no-stages] [--micro] [--json FILE]\n"
                 "Times the fast packed GEMM (every width and N:M) against two anchors on the same\n"
                 "logical shape Y[T][N] = X[T][K] * W[N][K]^T, in the same run, on Conformer-like\n"
                 "shapes: OpenBLAS cblas_sgemm (float) and oneDNN dnnl_gemm_u8s8s32 (dense int8,\n"
                 "u8 activations). Each timing is the fastest call in 7 runs of at least S seconds.\n"
                 "Weight preparation (a one-time repack) is not timed, like the anchors' weights;\n"
                 "the per-call activation work of every side is.\n"
                 "  -t, --frames T     rows of X (default 256)\n"
                 "  -n, --threads LIST thread counts, comma-separated, each used for all three\n"
                 "                     (default 1,2; 1 is per-core throughput)\n"
                 "  -p, --path P       kernel path: auto (default), scalar, avx2, avx512vnni\n"
                 "  -F, --frame24      2:4 formats through the experimental frame kernel of the\n"
                 "                     avx512vnni path (docs/kernel.md; needs AVX-512 VBMI)\n"
                 "  -m, --min-time S   minimum seconds per timing run (default 0.05)\n"
                 "  -S, --no-stages    skip the table of the stages around the GEMM (row\n"
                 "                     quantization, requantization, q8 read-out, each on the scalar\n"
                 "                     definitions and on the vector path, at the first thread count)\n"
                 "  -M, --micro        first time the avx512vnni kernels' inner instruction sequences\n"
                 "                     (core cycles each, the clock from a dependent add chain), then\n"
                 "                     give each one-thread GEMM its cycles per vpdpbusd and the\n"
                 "                     fraction of the sequence ceiling it reaches (needs AVX-512 VBMI)\n"
                 "  -j, --json FILE    write results as JSON (atomically)\n"
                 "  -h, --help         this text\n");
}

typedef void (*bench_fn)(void *ctx);

// Fastest single call over 7 runs of at least min_time each. On a shared
// machine the fastest call is the one least disturbed by other load (a mean
// over a run mostly measures the load), and both sides of every ratio are
// measured the same way.
#define BENCH_RUNS 7
static double time_call(bench_fn fn, void *ctx, double min_time)
{
    double best = 1e30;
    fn(ctx); // warm-up
    for (int r = 0; r < BENCH_RUNS; r++) {
        double start = sparq_clock_s(), elapsed;
        do {
            double t0 = sparq_clock_s();
            fn(ctx);
            double t1 = sparq_clock_s();
            if (t1 - t0 < best)
                best = t1 - t0;
            elapsed = t1 - start;
        } while (elapsed < min_time);
    }
    return best;
}

struct sgemm_ctx { int t, k, n; const float *x, *w; float *y; };
static void run_sgemm(void *p)
{
    struct sgemm_ctx *c = p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->t, c->n, c->k, 1.0f, c->x, c->k, c->w, c->k, 0.0f, c->y,
                c->n);
}

struct dnnl_ctx { int t, k, n; const uint8_t *x; const int8_t *w; int32_t *y; int failed; };
static void run_dnnl(void *p)
{
    struct dnnl_ctx *c = p;
    const int32_t co = 0;
    if (dnnl_gemm_u8s8s32('N', 'T', 'F', c->t, c->n, c->k, 1.0f, c->x, c->k, 0, c->w, c->k, 0, 0.0f, c->y, c->n, &co) !=
        dnnl_success)
        c->failed = 1;
}

struct fast_ctx { int t, k, n; const int8_t *x; const struct sparq_gemm_prepared *w; int32_t *y; };
static void run_fast(void *p)
{
    struct fast_ctx *c = p;
    sparq_gemm_fast(c->y, c->n, c->x, c->k, c->w, c->t, 0);
}

// One result row of the JSON: both anchors' times and the ratios against them.
static cJSON *add_row(cJSON *rows, int threads, int k, int n, const char *format, double t_sgemm, double t_dnnl,
                      double t_fast, double gops)
{
    cJSON *row = cJSON_CreateObject();
    cJSON_AddNumberToObject(row, "threads", threads);
    cJSON_AddNumberToObject(row, "k", k);
    cJSON_AddNumberToObject(row, "n", n);
    cJSON_AddStringToObject(row, "format", format);
    cJSON_AddNumberToObject(row, "sgemm_seconds", t_sgemm);
    cJSON_AddNumberToObject(row, "fast_seconds", t_fast);
    cJSON_AddNumberToObject(row, "dense_equivalent_gops", gops);
    cJSON_AddNumberToObject(row, "onednn_int8_seconds", t_dnnl);
    cJSON_AddNumberToObject(row, "speedup_vs_sgemm", t_sgemm / t_fast);
    cJSON_AddNumberToObject(row, "vs_sgemm", t_sgemm / t_fast);
    cJSON_AddNumberToObject(row, "vs_onednn_int8", t_dnnl / t_fast);
    cJSON_AddItemToArray(rows, row);
    return row;
}

// The stages around the GEMM, each timed on the scalar definitions and on
// the vector path of this run (the same bits: tests/unit/test_gemm_act.c).
struct stage_ctx { int t, k, n; const float *x; int8_t *q; float *rs; int32_t *acc; int8_t *y8;
                   const struct sparq_requant_params *rq; const float *cs; float *y; int which;
                   const struct sparq_gemm_prepared *w; };
static void run_stage(void *p)
{
    struct stage_ctx *c = p;
    if (c->which == 0)
        sparq_act_quantize_rows(c->q, c->k, c->rs, c->x, c->k, c->t, c->k);
    else if (c->which == 1)
        sparq_requant_rows(c->y8, c->n, c->acc, c->n, c->rq, c->t, c->n);
    else if (c->which == 2)
        sparq_gemm_readout_q8(c->y, c->n, c->y8, c->n, c->rs, c->cs, c->cs, c->t, c->n);
    else if (c->which == 3) { // GEMM, then the requantization as its own pass
        sparq_gemm_fast(c->acc, c->n, c->q, c->k, c->w, c->t, 0);
        sparq_requant_rows(c->y8, c->n, c->acc, c->n, c->rq, c->t, c->n);
    } else
        sparq_gemm_fast_requant(c->y8, c->n, c->q, c->k, c->w, c->t, c->rq, NULL);
}

// GEMM + requantization (int4 2:4, 576 x 576) as two passes and fused.
static int bench_fused(cJSON *arr, struct stage_ctx *c, double min_time)
{
    struct sparq_packed p;
    struct sparq_gemm_prepared *prep = NULL;
    float *wf = malloc(sizeof(float) * c->n * c->k);
    unsigned seed = 11;
    for (int i = 0; wf && i < c->n * c->k; i++)
        wf[i] = (float)(rand_r(&seed) % 2001 - 1000) / 1000.0f;
    if (!wf || sparq_pack(&p, wf, NULL, 4, 2, c->n, c->k, NULL) || sparq_gemm_prepare(&prep, &p)) {
        fprintf(stderr, "sparq bench-gemm: %s\n", wf ? sparq_last_error() : "out of memory");
        free(wf);
        return 1;
    }
    free(wf);
    c->w = prep;
    double t[2];
    for (int v = 0; v < 2; v++) {
        c->which = 3 + v;
        t[v] = time_call(run_stage, c, min_time);
    }
    printf("%-14s %10.1f %10.1f %8.2fx   (int4 2:4 GEMM + requant: two passes vs fused)\n", "gemm+requant",
           t[0] * 1e6, t[1] * 1e6, t[0] / t[1]);
    cJSON *row = cJSON_CreateObject();
    cJSON_AddStringToObject(row, "stage", "gemm_int4_2of4_plus_requant");
    cJSON_AddNumberToObject(row, "two_pass_seconds", t[0]);
    cJSON_AddNumberToObject(row, "fused_seconds", t[1]);
    cJSON_AddItemToArray(arr, row);
    sparq_gemm_prepared_free(prep);
    sparq_packed_free(&p);
    return 0;
}

static int bench_stages(cJSON *root, int frames, double min_time, const char *path)
{
    static const char *const names[3] = { "quantize_rows", "requant_rows", "readout_q8" };
    const int k = 576, n = 576; // the largest model shape: (T, 576) in and out
    float *x = malloc(sizeof(float) * frames * k), *rs = malloc(sizeof(float) * frames);
    float *cs = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * frames * n);
    int8_t *q = malloc((size_t)frames * k), *y8 = malloc((size_t)frames * n);
    int32_t *acc = malloc(sizeof(int32_t) * frames * n);
    struct sparq_requant_params *rq = malloc(sizeof *rq * n);
    int rc = !x || !rs || !cs || !y || !q || !y8 || !acc || !rq;
    unsigned seed = 7;
    for (int i = 0; !rc && i < frames * k; i++)
        x[i] = (float)(rand_r(&seed) % 20001 - 10000) / 1000.0f;
    for (int i = 0; !rc && i < frames * n; i++)
        acc[i] = rand_r(&seed) % 200001 - 100000;
    for (int o = 0; !rc && o < n; o++) {
        cs[o] = 0.001f * (float)(1 + o % 7);
        rq[o] = (struct sparq_requant_params){ o - 300, 1518500250 - o, (int8_t)(20 + o % 12) };
    }
    cJSON *arr = rc ? NULL : cJSON_AddArrayToObject(root, "stages");
    if (!rc)
        printf("\nstages around the GEMM, T = %d, 576 channels in and out: scalar definitions vs path %s\n"
               "%-14s %10s %10s %9s\n", frames, path, "stage", "scalar us", "vector us", "speed-up");
    for (int w = 0; w < 3 && !rc; w++) {
        struct stage_ctx c = { frames, k, n, x, q, rs, acc, y8, rq, cs, y, w, NULL };
        double t[2];
        for (int v = 0; v < 2; v++) {
            sparq_gemm_set_path(v ? path : "scalar");
            t[v] = time_call(run_stage, &c, min_time);
        }
        printf("%-14s %10.1f %10.1f %8.2fx\n", names[w], t[0] * 1e6, t[1] * 1e6, t[0] / t[1]);
        cJSON *row = cJSON_CreateObject();
        cJSON_AddStringToObject(row, "stage", names[w]);
        cJSON_AddNumberToObject(row, "scalar_seconds", t[0]);
        cJSON_AddNumberToObject(row, "vector_seconds", t[1]);
        cJSON_AddItemToArray(arr, row);
    }
    sparq_gemm_set_path(path);
    if (!rc) {
        struct stage_ctx c = { frames, k, n, x, q, rs, acc, y8, rq, cs, y, 3, NULL };
        rc = bench_fused(arr, &c, min_time);
    }
    free(x), free(rs), free(cs), free(y), free(q), free(y8), free(acc), free(rq);
    if (rc)
        fprintf(stderr, "sparq bench-gemm: out of memory\n");
    return rc;
}

// The instruction-sequence microbenchmark (sparq_gemm_micro) as a table and
// JSON; the ceilings in cycles per vpdpbusd: the dense tile body for dense
// formats, a shuffle + vpdpbusd pair (the best the sparse tiles can do: one
// selection per vpdpbusd) for 2:4 and 1:4. 0 if the CPU cannot run it.
struct micro_ceiling {
    double ghz, dense, pair;
};
static int bench_micro(cJSON *root, struct micro_ceiling *mc)
{
    struct sparq_gemm_micro_row r[SPARQ_GEMM_MICRO_ROWS];
    int n = sparq_gemm_micro(r, SPARQ_GEMM_MICRO_ROWS, &mc->ghz);
    if (!n) {
        printf("--micro: this CPU lacks AVX-512 VNNI + VBMI; no microbenchmark\n\n");
        return 0;
    }
    mc->dense = mc->pair = 0;
    printf("instruction sequences of the avx512vnni kernels, core clock %.2f GHz (dependent adds)\n", mc->ghz);
    cJSON *m = cJSON_AddObjectToObject(root, "micro"), *rows = cJSON_AddArrayToObject(m, "rows");
    cJSON_AddNumberToObject(m, "ghz", mc->ghz);
    for (int i = 0; i < n; i++) {
        printf("  %-56s %6.3f cycles/%s\n", r[i].name, r[i].cycles, r[i].unit);
        cJSON *row = cJSON_CreateObject();
        cJSON_AddStringToObject(row, "name", r[i].name);
        cJSON_AddStringToObject(row, "unit", r[i].unit);
        cJSON_AddNumberToObject(row, "cycles", r[i].cycles);
        cJSON_AddItemToArray(rows, row);
        if (!strncmp(r[i].name, "dense tile body", 15))
            mc->dense = r[i].cycles;
        if (!strcmp(r[i].name, "vpermb + vpdpbusd"))
            mc->pair = r[i].cycles;
    }
    if (!(mc->dense > 0) || !(mc->pair > 0))
        return 0;
    // A 2:4 vpdpbusd does the work of 2 dense ones, a 1:4 one of 4.
    printf("ceiling vs the dense tile: 2:4 %.2fx, 1:4 %.2fx (one selection per vpdpbusd)\n\n", 2 * mc->dense / mc->pair,
           4 * mc->dense / mc->pair);
    cJSON_AddNumberToObject(m, "ceiling_2of4_vs_dense", 2 * mc->dense / mc->pair);
    cJSON_AddNumberToObject(m, "ceiling_1of4_vs_dense", 4 * mc->dense / mc->pair);
    return 1;
}

// A GEMM's cycles per vpdpbusd the avx512vnni kernel issues (T x 16-output
// blocks x 16-channel blocks x kept dwords) and the fraction of the ceiling.
static void micro_row(cJSON *row, const struct micro_ceiling *mc, int t, int k, int n, int kept, double seconds,
                      double *cyc, double *frac)
{
    double units = (double)t * ((n + 15) / 16) * ((k + 15) / 16) * kept;
    *cyc = seconds * mc->ghz * 1e9 / units;
    *frac = (kept == 4 ? mc->dense : mc->pair) / *cyc;
    cJSON_AddNumberToObject(row, "cycles_per_vpdpbusd", *cyc);
    cJSON_AddNumberToObject(row, "fraction_of_ceiling", *frac);
}

// Every format of one shape at one thread count, beside the anchors' times.
struct shape_run {
    int threads, frames, k, n;
    const float *wf;
    const int8_t *x8;
    int32_t *y32;
    double t_sgemm, t_dnnl, min_time;
    const struct micro_ceiling *mc; // non-NULL: cycles per vpdpbusd and fraction of the ceiling too
};
static int bench_formats(cJSON *rows, const struct shape_run *sr)
{
    int nformats;
    const struct sparq_format_type *formats = sparq_format_all(&nformats);
    const int k = sr->k, n = sr->n;
    for (int f = 0; f < nformats; f++) {
        struct sparq_packed p;
        struct sparq_gemm_prepared *prep = NULL;
        if (sparq_pack(&p, sr->wf, NULL, formats[f].width, formats[f].kept, n, k, NULL) ||
            sparq_gemm_prepare(&prep, &p)) {
            fprintf(stderr, "sparq bench-gemm: %s\n", sparq_last_error());
            return 1;
        }
        struct fast_ctx fc = { sr->frames, k, n, sr->x8, prep, sr->y32 };
        double t_fast = time_call(run_fast, &fc, sr->min_time);
        double gops = 2.0 * sr->frames * (double)k * n / t_fast * 1e-9;
        char shape[32];
        snprintf(shape, sizeof shape, "%dx%d", k, n);
        printf("%-3d %-10s %-10s %9.1f %9.1f %9.1f %10.1f %8.2fx %8.2fx", sr->threads, shape, formats[f].name,
               sr->t_sgemm * 1e6, sr->t_dnnl * 1e6, t_fast * 1e6, gops, sr->t_sgemm / t_fast, sr->t_dnnl / t_fast);
        cJSON *row = add_row(rows, sr->threads, k, n, formats[f].name, sr->t_sgemm, sr->t_dnnl, t_fast, gops);
        if (sr->mc) {
            double cyc, frac;
            micro_row(row, sr->mc, sr->frames, k, n, formats[f].kept, t_fast, &cyc, &frac);
            printf("  %13.3f  %9.0f%%", cyc, 100 * frac);
        }
        printf("\n");
        sparq_gemm_prepared_free(prep);
        sparq_packed_free(&p);
    }
    return 0;
}

int cmd_bench_gemm(int argc, char **argv)
{
    static const struct option opts[] = {
        { "frames", required_argument, NULL, 't' },  { "min-time", required_argument, NULL, 'm' },
        { "threads", required_argument, NULL, 'n' }, { "path", required_argument, NULL, 'p' },
        { "json", required_argument, NULL, 'j' },    { "help", no_argument, NULL, 'h' },
        { "frame24", no_argument, NULL, 'F' },       { "no-stages", no_argument, NULL, 'S' },
        { "micro", no_argument, NULL, 'M' },         { NULL, 0, NULL, 0 },
    };
    int frames = 256, thread_list[8] = { 1, 2 }, nthread_list = 2, bad_threads = 0, frame24 = 0, stages = 1;
    int micro = 0;
    double min_time = 0.05;
    const char *json_path = NULL, *path = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "t:n:p:m:j:FSMh", opts, NULL)) != -1) {
        switch (c) {
        case 'n': {
            char list[64];
            nthread_list = 0;
            bad_threads = snprintf(list, sizeof list, "%s", optarg) >= (int)sizeof list;
            for (char *save = NULL, *t = strtok_r(list, ",", &save); t && !bad_threads; t = strtok_r(NULL, ",", &save))
                bad_threads = nthread_list == 8 ||
                              sparq_parse_int("--threads", t, 1, SPARQ_THREADS_MAX, &thread_list[nthread_list++]);
            bad_threads |= nthread_list == 0;
            break;
        }
        case 'p': path = optarg; break;
        case 'F': frame24 = 1; break;
        case 'S': stages = 0; break;
        case 'M':
            micro = 1;
            break;
        case 't': bad_threads = sparq_parse_int("--frames", optarg, 1, 100000, &frames); break;
        case 'm': bad_threads = sparq_parse_double("--min-time", optarg, 1e-6, 3600, &min_time); break;
        case 'j': json_path = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (frames <= 0 || frames > 100000 || !(min_time > 0) || bad_threads) {
        fprintf(stderr, "sparq bench-gemm: %s (--frames 1..100000, --threads a list of at most 8 in 1..%d, "
                        "--min-time positive)\n", sparq_last_error(), SPARQ_THREADS_MAX);
        return 2;
    }
    if (sparq_gemm_set_path(path)) {
        fprintf(stderr, "sparq bench-gemm: --path: %s\n", sparq_last_error());
        return 2;
    }
    if (frame24 && sparq_gemm_frame24(1)) {
        fprintf(stderr, "sparq bench-gemm: --frame24: %s\n", sparq_last_error());
        return 2;
    }
    // (K = input channels, N = output channels) of the default Conformer
    // (d=144, FFN 576), its front-end's second conv (3x3 x 144 channels in,
    // 144 out: the model's largest matmul, 50 of its 91 G dense MACs on the
    // demo test set) and of a 4x wider one (d=576, FFN 2304 -> capped 1152).
    static const int shapes[][2] = { { 144, 144 }, { 144, 576 }, { 576, 144 }, { 576, 576 }, { 1296, 144 },
                                     { 1152, 1152 } };
    const int nshapes = (int)(sizeof shapes / sizeof shapes[0]);
    cJSON *root = cJSON_CreateObject();
    struct micro_ceiling mc = { 0, 0, 0 };
    // The cycle columns only mean something on the avx512vnni kernels the microbenchmark times.
    micro = micro && bench_micro(root, &mc) && !frame24 && !strcmp(sparq_gemm_fast_kernel(), "avx512vnni");
    printf("fast kernel: %s%s, T = %d; vs = anchor time / sparq time (above 1: sparq faster)\n",
           sparq_gemm_fast_kernel(), frame24 ? " (2:4 frame kernel)" : "", frames);
    printf("%-3s %-10s %-10s %9s %9s %9s %10s %9s %9s%s\n", "thr", "K x N", "format", "sgemm us", "onednn us",
           "sparq us", "dense GOPS", "vs sgemm", "vs onednn", micro ? "  cyc/vpdpbusd  of ceiling" : "");

    cJSON_AddStringToObject(root, "benchmark", "gemm");
    cJSON_AddStringToObject(root, "kernel", sparq_gemm_fast_kernel());
    cJSON_AddBoolToObject(root, "frame24", frame24);
    cJSON_AddNumberToObject(root, "frames", frames);
    cJSON *rows = cJSON_AddArrayToObject(root, "results");

    int rc = 0;
    for (int ti = 0; ti < nthread_list && !rc; ti++) {
        const int threads = thread_list[ti];
        omp_set_num_threads(threads); // the fast kernel and oneDNN (built on OpenMP)
        openblas_set_num_threads(threads);
        unsigned seed = 1;
        for (int s = 0; s < nshapes && !rc; s++) {
            int k = shapes[s][0], n = shapes[s][1];
            float *xf = malloc(sizeof(float) * frames * k), *wf = malloc(sizeof(float) * n * k);
            float *yf = malloc(sizeof(float) * frames * n);
            int8_t *x8 = malloc((size_t)frames * k), *w8 = malloc((size_t)n * k);
            uint8_t *xu8 = malloc((size_t)frames * k);
            int32_t *y32 = malloc(sizeof(int32_t) * frames * n);
            if (!xf || !wf || !yf || !x8 || !y32 || !w8 || !xu8) {
                fprintf(stderr, "sparq bench-gemm: out of memory\n");
                rc = 1;
            }
            for (int i = 0; !rc && i < frames * k; i++) {
                x8[i] = (int8_t)(rand_r(&seed) & 0xFF);
                xf[i] = x8[i];
                xu8[i] = (uint8_t)(x8[i] + 128);
            }
            for (int i = 0; !rc && i < n * k; i++) {
                wf[i] = (float)(rand_r(&seed) % 2001 - 1000) / 1000.0f;
                w8[i] = (int8_t)(rand_r(&seed) & 0xFF);
            }
            struct sgemm_ctx sc = { frames, k, n, xf, wf, yf };
            double t_sgemm = rc ? 0 : time_call(run_sgemm, &sc, min_time);
            struct dnnl_ctx dc = { frames, k, n, xu8, w8, y32, 0 };
            double t_dnnl = rc ? 0 : time_call(run_dnnl, &dc, min_time);
            if (!rc && dc.failed) {
                fprintf(stderr, "sparq bench-gemm: dnnl_gemm_u8s8s32 failed on %dx%d\n", k, n);
                rc = 1;
            }
            struct shape_run sr = {
                threads, frames, k, n, wf, x8, y32, t_sgemm, t_dnnl, min_time, micro && threads == 1 ? &mc : NULL
            };
            rc = rc || bench_formats(rows, &sr);
            free(xf);
            free(wf);
            free(yf);
            free(x8);
            free(w8);
            free(xu8);
            free(y32);
        }
    }
    if (!rc && stages) {
        omp_set_num_threads(thread_list[0]);
        rc = bench_stages(root, frames, min_time, sparq_gemm_fast_kernel());
    }
    if (!rc && json_path) {
        char *text = cJSON_Print(root);
        if (!text || sparq_write_file_atomic(json_path, text, strlen(text))) {
            fprintf(stderr, "sparq bench-gemm: %s\n", text ? sparq_last_error() : "cannot format JSON");
            rc = 1;
        } else
            printf("wrote %s\n", json_path);
        free(text);
    }
    cJSON_Delete(root);
    return rc;
}
