// sparq-command: eval: decode a manifest with a trained model; WER, CER, S/D/I
#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_clock.h"
#include "sparq_dist.h"
#include "sparq_error.h"
#include "sparq_decode.h"
#include "sparq_lm.h"
#include "sparq_longform.h"
#include "sparq_parse.h"
#include "sparq_paths.h"
#include "sparq_report.h"
#include "sparq_runtime.h"
#include "sparq_train.h"
#include "sparq_wer.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: sparq eval --model FILE --data M.jsonl [--beam N] [--hyp OUT.txt] [--json OUT.json]\n"
                 "Decodes every utterance of the manifest (eval mode: BatchNorm running statistics,\n"
                 "no dither) and scores against the manifest text with sparq's scorer (docs/data.md).\n"
                 "  -m, --model FILE    model.sparq or a checkpoint; with --backend a packed model (.spq)\n"
                 "  -B, --backend NAME  run the packed model's matmuls on cpu|ref|sim (or float: its\n"
                 "                      dequantized weights) and print the per-layer throughput report;\n"
                 "                      a model with FFN chain clips runs each FFN as one device chain\n"
                 "                      (NAME:q8 / NAME:i32: every matmul alone, as before; docs/runtime.md)\n"
                 "  -F, --frontend P    where the subsampling matmuls (sub1_w, sub2_w, sub_lin_w) run on a\n"
                 "                      device backend: device, host (the cpu kernel: same integers, only\n"
                 "                      the subsampled activations cross the link) or auto (default: per\n"
                 "                      layer the faster, measured at open; docs/runtime.md)\n"
                 "  -P, --pipeline M    with --backend: overlap (default: each batch's device stage beside the\n"
                 "                      next batch's fbank + host front-end and the previous one's decode, on\n"
                 "                      two threads; same results) or serial; the report models both\n"
                 "  -r, --report FILE   throughput report as JSON (with --backend)\n"
                 "  -c, --clock MHZ     device clock for the report (100)\n"
                 "  -d, --data FILE     manifest (JSONL)\n"
                 "  -b, --beam N        prefix beam search with N prefixes (default 1 = greedy)\n"
                 "  -l, --lm FILE       fuse a word n-gram LM (ARPA, sparq lm build) into the beam search\n"
                 "                      (--beam defaults to 16 with an LM)\n"
                 "      --lm-weight A   LM weight alpha (default 0.5); --word-bonus B (default 1.0)\n"
                 "  -y, --hyp FILE      write hypotheses as 'id text' lines (atomically)\n"
                 "  -j, --json FILE     write the score as JSON (atomically)\n"
                 "  -u, --per-utt       per-utterance rows in the table and JSON\n"
                 "  -f, --batch-frames N  padded input frames per decoding batch, at most (20000); with --backend\n"
                 "                      the pipeline also cuts the test set into at least --min-batches batches\n"
                 "      --min-batches N with --backend: at least N batches (16: the device stage then overlaps the\n"
                 "                      host's; 1: --batch-frames alone decides). Same logits either way\n"
                 "  -t, --threads N     OpenMP threads\n"
                 "  -h, --help          this text\n"
                 "Under mpirun -np N the length-sorted batches are dealt to N ranks (each with its\n"
                 "own device); rank 0 gathers hypotheses and runtime statistics and prints and\n"
                 "writes everything: the same results as one process (docs/scaling.md).\n");
}

// Sums every rank's per-matmul counters into rank 0's runtime so the report
// covers the whole test set. The counters are the uint64_t fields from
// `calls` up to `seconds` (host wall time, summed too: GEMM seconds over all
// ranks). sparq_runtime.h has no setter yet, so rank 0 writes through the
// pointer sparq_runtime_stats() returns (the array is the runtime's own
// malloc'd memory).
#define STAT_U64_FIRST offsetof(struct sparq_runtime_layer_stats, calls)
#define STAT_U64_END offsetof(struct sparq_runtime_layer_stats, seconds)
_Static_assert((STAT_U64_END - STAT_U64_FIRST) % sizeof(uint64_t) == 0, "runtime counters are uint64_t");
static int merge_runtime_stats(struct sparq_runtime *rt)
{
    if (sparq_dist_size() == 1)
        return SPARQ_OK;
    int count = 0;
    struct sparq_runtime_layer_stats *st = (struct sparq_runtime_layer_stats *)sparq_runtime_stats(rt, &count);
    const size_t per = (STAT_U64_END - STAT_U64_FIRST) / sizeof(uint64_t);
    uint64_t *u = sparq_malloc(sizeof(uint64_t) * per * (size_t)count + 1, "runtime statistics");
    double *sec = sparq_malloc(sizeof(double) * 2 * (size_t)count + 1, "runtime statistics");
    if (!u || !sec) {
        free(u);
        free(sec);
        return SPARQ_ENOMEM;
    }
    for (int i = 0; i < count; i++) {
        memcpy(u + per * (size_t)i, (char *)&st[i] + STAT_U64_FIRST, sizeof(uint64_t) * per);
        sec[i] = st[i].seconds;
        sec[count + i] = st[i].host_cpu_seconds;
    }
    sparq_dist_allreduce_u64(u, per * (size_t)count);
    sparq_dist_allreduce_f64(sec, 2 * (size_t)count);
    for (int i = 0; sparq_dist_is_root() && i < count; i++) {
        memcpy((char *)&st[i] + STAT_U64_FIRST, u + per * (size_t)i, sizeof(uint64_t) * per);
        st[i].seconds = sec[i];
        st[i].host_cpu_seconds = sec[count + i];
    }
    free(u);
    free(sec);
    return SPARQ_OK;
}

struct eval_args {
    const char *model, *data, *backend, *report, *hyp, *json, *lm;
    double clock_mhz;
    int beam, per_utt, frames, threads, pipeline, min_batches;
    struct sparq_ctc_beam_options dec;
    struct sparq_runtime_options ropt;
};

// Options into *a; returns -1 to go on, else the exit status (0 for --help).
static int parse_args(int argc, char **argv, struct eval_args *a)
{
    static const struct option opts[] = {
        { "model", required_argument, NULL, 'm' }, { "data", required_argument, NULL, 'd' },
        { "beam", required_argument, NULL, 'b' },  { "hyp", required_argument, NULL, 'y' },
        { "json", required_argument, NULL, 'j' },  { "per-utt", no_argument, NULL, 'u' },
        { "batch-frames", required_argument, NULL, 'f' }, { "threads", required_argument, NULL, 't' },
        { "backend", required_argument, NULL, 'B' }, { "report", required_argument, NULL, 'r' },
        { "clock", required_argument, NULL, 'c' },
        { "lm", required_argument, NULL, 'l' },    { "lm-weight", required_argument, NULL, 'A' },
        { "word-bonus", required_argument, NULL, 'W' }, { "frontend", required_argument, NULL, 'F' },
        { "pipeline", required_argument, NULL, 'P' }, { "min-batches", required_argument, NULL, 'N' },
        { "help", no_argument, NULL, 'h' },        { NULL, 0, NULL, 0 },
    };
    memset(a, 0, sizeof *a);
    a->clock_mhz = 100.0;
    a->frames = 20000;
    a->pipeline = 2;
    a->min_batches = SPARQ_PIPELINE_BATCHES;
    sparq_ctc_beam_options_default(&a->dec);
    int c, bad = 0;
    while (!bad && (c = getopt_long(argc, argv, "m:d:b:y:j:uf:t:B:r:c:l:F:P:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': a->model = optarg; break;
        case 'd': a->data = optarg; break;
        case 'b': bad = sparq_parse_int("--beam", optarg, 1, 1024, &a->beam); break;
        case 'y': a->hyp = optarg; break;
        case 'j': a->json = optarg; break;
        case 'u': a->per_utt = 1; break;
        case 'f': bad = sparq_parse_int("--batch-frames", optarg, 100, 100000000, &a->frames); break;
        case 't': bad = sparq_parse_int("--threads", optarg, 0, SPARQ_THREADS_MAX, &a->threads); break;
        case 'B': a->backend = optarg; break;
        case 'r': a->report = optarg; break;
        case 'c': bad = sparq_parse_double("--clock", optarg, 0.001, 100000, &a->clock_mhz); break;
        case 'l': a->lm = optarg; break;
        case 'F': bad = sparq_runtime_parse_frontend("--frontend", optarg, &a->ropt.frontend); break;
        case 'P':
            a->pipeline = !strcmp(optarg, "overlap") ? 2 : !strcmp(optarg, "serial") ? 1 : 0;
            if (!a->pipeline)
                bad = sparq_fail(SPARQ_EINVAL, "--pipeline: '%s' is not one of overlap, serial", optarg);
            break;
        case 'N': bad = sparq_parse_int("--min-batches", optarg, 1, 1000000, &a->min_batches); break;
        case 'A': bad = sparq_parse_double("--lm-weight", optarg, 0, 100, &a->dec.alpha); break;
        case 'W': bad = sparq_parse_double("--word-bonus", optarg, -100, 100, &a->dec.beta); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    const struct sparq_path_arg ins[] = { { "--model", a->model }, { "--data", a->data }, { "--lm", a->lm } };
    const struct sparq_path_arg outs[] = { { "--hyp", a->hyp }, { "--json", a->json }, { "--report", a->report } };
    if (bad || sparq_check_outputs(ins, 3, outs, 3)) {
        fprintf(stderr, "sparq eval: %s\n", sparq_last_error());
        return 2;
    }
    if (!a->beam)
        a->beam = a->lm ? 16 : 1;
    a->dec.beam = a->beam;
    if (!a->model || !a->data || optind != argc || a->beam < 1 || a->frames < 100 || a->threads < 0) {
        fprintf(stderr, "sparq eval: --model and --data are required; --beam >= 1, --batch-frames >= 100\n");
        return 2;
    }
    return -1;
}

int cmd_eval(int argc, char **argv)
{
    struct eval_args a;
    int prc = parse_args(argc, argv, &a);
    if (prc >= 0)
        return prc;
    const char *backend = a.backend, *report = a.report, *model = a.model, *data = a.data, *hyp_path = a.hyp,
               *json = a.json, *lm_path = a.lm;
    double clock_mhz = a.clock_mhz;
    int beam = a.beam, per_utt = a.per_utt, frames = a.frames, threads = a.threads;
    struct sparq_ctc_beam_options dec = a.dec;
    struct sparq_runtime *rt = NULL;
    if (threads)
        omp_set_num_threads(threads);
    sparq_threads_init();
    if (sparq_dist_init()) {
        fprintf(stderr, "sparq eval: %s\n", sparq_last_error());
        return 1;
    }
    const int root = sparq_dist_is_root();
    struct sparq_model own, *mp = &own;
    struct sparq_dataset ds;
    struct sparq_lm *lm = NULL;
    if (lm_path && sparq_lm_read(&lm, lm_path)) {
        fprintf(stderr, "sparq eval: %s\n", sparq_last_error());
        return 1;
    }
    dec.lm = lm;
    if (!lm) // the weight and bonus belong to the LM: a plain beam search without it
        dec.alpha = dec.beta = 0.0;
    if (backend ? sparq_runtime_open_ex(&rt, model, backend, &a.ropt) : sparq_checkpoint_load(model, &own, NULL, NULL)) {
        fprintf(stderr, "sparq eval: %s\n", sparq_last_error());
        sparq_lm_free(lm);
        return 1;
    }
    if (rt)
        mp = sparq_runtime_model(rt);
    if (sparq_dataset_load(&ds, data, 0)) {
        fprintf(stderr, "sparq eval: %s\n", sparq_last_error());
        if (rt)
            sparq_runtime_close(rt);
        else
            sparq_model_free(&own);
        sparq_lm_free(lm);
        return 1;
    }
    if (ds.skipped && root)
        fprintf(stderr, "sparq eval: note: %zu utterances of %s skipped (too short for their transcript)\n",
                ds.skipped, data);
    if (root)
        sparq_longform_warn_long(&ds, data, stderr);
    char **hyps = calloc(ds.n, sizeof(char *));
    sparq_dist_barrier();
    double t0 = sparq_clock_s();
    if (rt)
        sparq_runtime_activate(rt);
    // A packed model: the pipelined decode (sparq_runtime.h); under MPI each rank
    // decodes its share of the same batches and rank 0 gathers the hypotheses.
    struct sparq_pipeline_options po = { .threads = a.pipeline,
                                         .min_batches = a.min_batches,
                                         .rank = sparq_dist_rank(),
                                         .ranks = sparq_dist_size() };
    int rc = !hyps ? SPARQ_ENOMEM
             : rt  ? sparq_runtime_decode(rt, &ds, frames, &dec, &po, hyps)
                   : sparq_decode_dataset_dist_ex(mp, &ds, frames, &dec, hyps);
    if (rt && rc == SPARQ_OK && sparq_dist_size() > 1)
        rc = sparq_decode_gather_hyps(hyps, ds.n, (const char *const *)ds.ids);
    if (rt) {
        sparq_runtime_deactivate(rt);
        if (rc == SPARQ_OK && sparq_runtime_error(rt))
            rc = sparq_fail(sparq_runtime_error(rt), "%s", sparq_last_error());
    }
    if (rc && sparq_dist_size() > 1) {
        fprintf(stderr, "sparq eval: rank %d: %s\n", sparq_dist_rank(), sparq_last_error());
        sparq_dist_abort(1); // the other ranks wait for this one's statistics
    }
    if (rt)
        rc = merge_runtime_stats(rt);
    double el = sparq_clock_s() - t0;
    struct sparq_score sc;
    memset(&sc, 0, sizeof sc);
    if (!root) // rank 0 scores, prints and writes
        goto done;
    if (rc == SPARQ_OK)
        rc = sparq_score_pairs((const char *const *)ds.ids, (const char *const *)ds.texts,
                               (const char *const *)hyps, ds.n, &sc);
    if (rc == SPARQ_OK) {
        sparq_score_print_table(&sc, stdout, per_utt);
        printf("%zu utterances, %.1f s of audio decoded in %.1f s (%.1fx real time, %s", ds.n, ds.seconds, el,
               ds.seconds / el, lm ? "prefix beam search + LM" : beam > 1 ? "prefix beam search" : "greedy");
        if (sparq_dist_size() > 1)
            printf(", %d MPI ranks", sparq_dist_size());
        printf(")\n");
    }
    if (rc == SPARQ_OK && hyp_path) {
        size_t cap = 1, n = 0;
        for (size_t i = 0; i < ds.n; i++)
            cap += strlen(ds.ids[i]) + strlen(hyps[i]) + 2;
        char *buf = malloc(cap);
        if (!buf)
            rc = sparq_fail(SPARQ_ENOMEM, "out of memory");
        for (size_t i = 0; buf && i < ds.n; i++)
            n += (size_t)sprintf(buf + n, "%s %s\n", ds.ids[i], hyps[i]);
        if (buf)
            rc = sparq_write_file_atomic(hyp_path, buf, n);
        free(buf);
    }
    if (rc == SPARQ_OK && json) {
        char *text = sparq_score_json(&sc, per_utt);
        rc = text ? sparq_write_file_atomic(json, text, strlen(text)) : sparq_fail(SPARQ_ENOMEM, "out of memory");
        free(text);
    }
    if (rc == SPARQ_OK && rt) {
        struct sparq_report_options ro;
        sparq_report_default_options(&ro);
        ro.clock_mhz = clock_mhz;
        ro.audio_seconds = ds.seconds;
        ro.utt_frames = ds.frames; // batch-size sweep of the report (sparq_report.h)
        ro.n_utts = ds.n;
        rc = sparq_report_print(rt, &ro, stdout, report);
    }
    if (rc)
        fprintf(stderr, "sparq eval: %s\n", sparq_last_error());
done:
    if (sc.entries)
        sparq_score_free(&sc);
    for (size_t i = 0; hyps && i < ds.n; i++)
        free(hyps[i]);
    free(hyps);
    sparq_dataset_free(&ds);
    if (rt)
        sparq_runtime_close(rt);
    else
        sparq_model_free(&own);
    sparq_lm_free(lm);
    return rc ? 1 : 0;
}
