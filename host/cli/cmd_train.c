// sparq-command: train: train the float Conformer-CTC model (resumable, Ctrl-C saves)
#include <getopt.h>
#include <glob.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sparq_dist.h"
#include "sparq_error.h"
#include "sparq_file.h"
#include "sparq_parse.h"
#include "sparq_paths.h"
#include "sparq_train.h"

// Config files are a few lines; a bound stops `--config /dev/zero` from
// spinning forever in the line reader.
#define CONFIG_MAX_BYTES (64 * 1024)

static void usage(FILE *out)
{
    fprintf(out,
            "usage: sparq train --train M.jsonl --out DIR [options]\n"
            "Trains the Conformer-CTC model (docs/model.md). DIR receives last.ckpt (model +\n"
            "optimizer + position, written atomically), model.sparq (best dev WER) and\n"
            "train_log.tsv (step epoch loss grad_norm lr). Ctrl-C saves last.ckpt and exits;\n"
            "--resume continues exactly where it stopped (same losses as an uninterrupted run).\n"
            "  --config FILE      model config (key = value; default configs/base.cfg values)\n"
            "  --train FILE       training manifest (JSONL)\n"
            "  --dev FILE         dev manifest: greedy WER after each epoch\n"
            "  --out DIR          output directory\n"
            "  --resume           continue from DIR/last.ckpt\n"
            "  --init MODEL       start from MODEL's weights, BatchNorm statistics and CMVN (a\n"
            "                     .sparq model or checkpoint) with a fresh optimizer and schedule;\n"
            "                     its architecture must match --config. Ignored by --resume (the\n"
            "                     checkpoint holds the weights by then)\n"
            "  --force            start afresh in a DIR that already holds a run (replaces it)\n"
            "  --epochs N         (20)\n"
            "  --max-steps N      stop after N steps in total, saving a checkpoint (0: none)\n"
            "  --batch-frames N   padded input frames per batch (12000 = 120 s)\n"
            "  --max-utts N       utterances per batch at most (64)\n"
            "  --lr X             peak learning rate (2e-3)\n"
            "  --warmup N         warm-up steps (500), then cosine decay\n"
            "  --final-lr X       final learning rate as a fraction of the peak (0.02)\n"
            "  --weight-decay X   AdamW decoupled weight decay on weight matrices (0.01)\n"
            "  --clip X           gradient norm clipping (5)\n"
            "  --seed N           initialisation, shuffling, dither, SpecAugment (1)\n"
            "  --no-specaug       disable SpecAugment\n"
            "  --dither X         fbank dither in int16 units (1.0)\n"
            "  --save-every N     also checkpoint every N steps\n"
            "  --dev-max-utts N   score only the first N dev utterances\n"
            "  --threads N        OpenMP threads, 1..64 (default: OMP_NUM_THREADS or all cores)\n"
            "  --quiet            no progress lines\n"
            "Data parallel: mpirun -np N sparq train ... splits every global batch across N\n"
            "ranks (same losses as one process within rounding; docs/scaling.md). Rank 0 writes\n"
            "all files; stop a run with SIGUSR1/SIGTERM to mpirun (kill -USR1 PID).\n"
            "benchmark mode (no data needed): sparq train --bench STEPS [--config FILE]\n"
            "  [--bench-batch B] [--bench-json FILE] times STEPS training steps on a synthetic\n"
            "  batch of B (24) utterances of 2.2-4.0 s and prints audio seconds per second.\n");
}

// Refuses a config that is not a small readable file before the line reader sees it.
static int check_config(const char *path)
{
    char *text = NULL;
    size_t len = 0;
    if (!path)
        return SPARQ_OK;
    int rc = sparq_read_file(path, CONFIG_MAX_BYTES, &text, &len);
    if (rc == SPARQ_OK && memchr(text, 0, len))
        rc = sparq_fail(SPARQ_EFORMAT, "%s: holds NUL bytes; not a text config", path);
    free(text);
    return rc ? sparq_fail_wrap(rc, "--config: ") : SPARQ_OK;
}

// A fresh run in DIR truncates train_log.tsv and replaces last.ckpt: only
// with --resume (continue it) or --force (discard it).
static int check_fresh_out(const char *dir, int resume, int force)
{
    static const char *const run_files[] = { "last.ckpt", "train_log.tsv", "model.sparq" };
    char path[4096];
    if (resume || force)
        return SPARQ_OK;
    for (size_t i = 0; i < sizeof run_files / sizeof *run_files; i++) {
        if (sparq_path_join(path, sizeof path, dir, run_files[i]))
            return SPARQ_EINVAL;
        if (sparq_file_exists(path))
            return sparq_fail(SPARQ_EINVAL, "--out %s: already holds a run (%s); pass --resume to continue it "
                              "or --force to replace it", dir, run_files[i]);
    }
    return SPARQ_OK;
}

// Resuming (or starting from --init) keeps the model's architecture and reads
// only dropout from --config: a config describing another model would be
// silently ignored. `how` says what the user can do instead.
static int check_model_config(const char *path, const char *config_path, const char *how)
{
    struct sparq_config want;
    struct sparq_model m;
    if (!config_path)
        return SPARQ_OK;
    int rc = sparq_config_load(&want, config_path);
    rc = rc ? rc : sparq_checkpoint_load(path, &m, NULL, NULL);
    if (rc)
        return rc;
    const struct sparq_config *have = &m.cfg;
    const int a[8] = { have->n_mels, have->sub_channels, have->d_model, have->n_heads,
                       have->ffn_dim, have->kernel, have->n_layers, have->vocab };
    const int b[8] = { want.n_mels, want.sub_channels, want.d_model, want.n_heads,
                       want.ffn_dim, want.kernel, want.n_layers, want.vocab };
    static const char *const names[8] = { "n_mels", "sub_channels", "d_model", "n_heads",
                                          "ffn_dim", "kernel", "n_layers", "vocab" };
    for (int i = 0; i < 8 && rc == SPARQ_OK; i++)
        if (a[i] != b[i])
            rc = sparq_fail(SPARQ_EINVAL, "--config %s: %s = %d, but %s holds %d; %s", config_path, names[i], b[i],
                            path, a[i], how);
    // The front-end kind changes the parameter table, so it must match too.
    if (rc == SPARQ_OK && have->subsampling != want.subsampling)
        rc = sparq_fail(SPARQ_EINVAL, "--config %s: subsampling = %s, but %s holds %s; %s", config_path,
                        sparq_subsampling_name(want.subsampling), path, sparq_subsampling_name(have->subsampling), how);
    sparq_model_free(&m);
    return rc;
}

static int check_resume_config(const char *dir, const char *config_path)
{
    char path[4096];
    int rc = sparq_path_join(path, sizeof path, dir, "last.ckpt");
    return rc ? rc : check_model_config(path, config_path, "resume with the run's config or start afresh with --force");
}

// A crash between writing a temporary file and renaming it leaves
// DIR/NAME.tmp.XXXXXX behind (sparq_write_file_atomic); nothing else
// creates such names, so a new start removes them.
static void remove_stale_temporaries(const char *dir)
{
    static const char *const names[] = { "last.ckpt", "model.sparq", "model.spq" };
    char pattern[4200];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        glob_t g;
        snprintf(pattern, sizeof pattern, "%s/%s.tmp.??????", dir, names[i]);
        if (glob(pattern, GLOB_NOSORT, NULL, &g) != 0)
            continue;
        for (size_t k = 0; k < g.gl_pathc; k++)
            if (unlink(g.gl_pathv[k]) == 0)
                fprintf(stderr, "sparq train: removed %s (left by an interrupted write)\n", g.gl_pathv[k]);
        globfree(&g);
    }
}

static int run_bench(const char *config, int steps, int B, const char *json, int threads)
{
    if (threads > 0)
        omp_set_num_threads(threads);
    sparq_threads_init();
    struct sparq_config cfg;
    if (config ? sparq_config_load(&cfg, config) : (sparq_config_default(&cfg), 0)) {
        fprintf(stderr, "sparq train: %s\n", sparq_last_error());
        return 1;
    }
    struct sparq_bench_result r;
    if (sparq_train_bench(&cfg, B, steps, &r)) {
        fprintf(stderr, "sparq train: %s\n", sparq_last_error());
        sparq_dist_abort(1);
        return 1;
    }
    if (!sparq_dist_is_root())
        return 0;
    printf("%-10s %5s %7s %6s %6s %10s %10s %12s %10s %10s %10s\n", "trainer", "ranks", "threads", "batch", "steps",
           "audio s", "step s", "audio-s/s", "allreduce", "wait", "peak MB");
    printf("%-10s %5d %7d %6d %6d %10.1f %10.3f %12.1f %9.1f%% %9.1f%% %10.0f\n", "sparq C", r.ranks,
           omp_get_max_threads(), r.B, r.steps, r.audio_s, r.step_s, r.audio_per_s, 100.0 * r.comm_s / r.step_s,
           100.0 * r.wait_s / r.step_s, r.peak_rss_mb);
    if (json) {
        char buf[1024];
        int n = snprintf(buf, sizeof buf,
                         "{\"trainer\": \"sparq C\", \"ranks\": %d, \"threads\": %d, \"d_model\": %d, "
                         "\"n_layers\": %d, \"batch\": %d, \"steps\": %d, \"audio_s_per_batch\": %.3f, "
                         "\"step_s\": %.6f, \"allreduce_s\": %.6f, \"wait_s\": %.6f, \"audio_s_per_s\": %.3f, \"peak_rss_mb\": %.1f, "
                         "\"loss_first\": %.6f, \"loss_last\": %.6f}\n",
                         r.ranks, omp_get_max_threads(), cfg.d_model, cfg.n_layers, r.B, r.steps, r.audio_s, r.step_s,
                         r.comm_s, r.wait_s, r.audio_per_s, r.peak_rss_mb, r.loss_first, r.loss_last);
        if (sparq_write_file_atomic(json, buf, (size_t)n)) {
            fprintf(stderr, "sparq train: %s\n", sparq_last_error());
            return 1;
        }
    }
    return 0;
}

int cmd_train(int argc, char **argv)
{
    enum { O_CONFIG = 256, O_TRAIN, O_DEV, O_OUT, O_RESUME, O_EPOCHS, O_MAXSTEPS, O_BATCH, O_MAXUTTS, O_LR,
           O_WARMUP, O_FINAL, O_WD, O_CLIP, O_SEED, O_NOSPEC, O_DITHER, O_SAVE, O_DEVMAX, O_THREADS, O_QUIET, O_BENCH, O_BENCHB, O_BENCHJ,
           O_FORCE, O_INIT };
    static const struct option opts[] = {
        { "config", required_argument, NULL, O_CONFIG },   { "train", required_argument, NULL, O_TRAIN },
        { "dev", required_argument, NULL, O_DEV },         { "out", required_argument, NULL, O_OUT },
        { "resume", no_argument, NULL, O_RESUME },         { "epochs", required_argument, NULL, O_EPOCHS },
        { "max-steps", required_argument, NULL, O_MAXSTEPS }, { "batch-frames", required_argument, NULL, O_BATCH },
        { "max-utts", required_argument, NULL, O_MAXUTTS }, { "lr", required_argument, NULL, O_LR },
        { "warmup", required_argument, NULL, O_WARMUP },   { "final-lr", required_argument, NULL, O_FINAL },
        { "weight-decay", required_argument, NULL, O_WD }, { "clip", required_argument, NULL, O_CLIP },
        { "seed", required_argument, NULL, O_SEED },       { "no-specaug", no_argument, NULL, O_NOSPEC },
        { "dither", required_argument, NULL, O_DITHER },   { "save-every", required_argument, NULL, O_SAVE },
        { "dev-max-utts", required_argument, NULL, O_DEVMAX }, { "threads", required_argument, NULL, O_THREADS },
        { "quiet", no_argument, NULL, O_QUIET },           { "bench", required_argument, NULL, O_BENCH },
        { "bench-batch", required_argument, NULL, O_BENCHB }, { "bench-json", required_argument, NULL, O_BENCHJ },
        { "force", no_argument, NULL, O_FORCE },           { "init", required_argument, NULL, O_INIT },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct sparq_train_options o;
    sparq_train_default_options(&o);
    int c, threads = 0, bench = 0, bench_b = 24, force = 0, bad = 0;
    const char *bench_json = NULL;
    while (!bad && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_CONFIG: o.config_path = optarg; break;
        case O_TRAIN: o.train_manifest = optarg; break;
        case O_DEV: o.dev_manifest = optarg; break;
        case O_OUT: o.out_dir = optarg; break;
        case O_RESUME: o.resume = 1; break;
        case O_INIT: o.init_from = optarg; break;
        case O_EPOCHS: bad = sparq_parse_int("--epochs", optarg, 1, 1000000, &o.epochs); break;
        case O_MAXSTEPS: bad = sparq_parse_i64("--max-steps", optarg, 0, INT64_MAX, &o.max_steps); break;
        case O_BATCH: bad = sparq_parse_int("--batch-frames", optarg, 100, 100000000, &o.batch_frames); break;
        case O_MAXUTTS: bad = sparq_parse_int("--max-utts", optarg, 1, 1000000, &o.max_utts); break;
        case O_LR: bad = sparq_parse_float("--lr", optarg, 1e-12, 10, &o.lr); break;
        case O_WARMUP: bad = sparq_parse_i64("--warmup", optarg, 0, INT64_MAX, &o.warmup); break;
        case O_FINAL: bad = sparq_parse_float("--final-lr", optarg, 0, 1, &o.final_lr_ratio); break;
        case O_WD: bad = sparq_parse_float("--weight-decay", optarg, 0, 10, &o.weight_decay); break;
        case O_CLIP: bad = sparq_parse_float("--clip", optarg, 0, 1e9, &o.clip); break;
        case O_SEED: bad = sparq_parse_u64("--seed", optarg, &o.seed); break;
        case O_NOSPEC: o.specaug = 0; break;
        case O_DITHER: bad = sparq_parse_float("--dither", optarg, 0, 32768, &o.dither); break;
        case O_SAVE: bad = sparq_parse_i64("--save-every", optarg, 0, INT64_MAX, &o.save_every); break;
        case O_DEVMAX: bad = sparq_parse_int("--dev-max-utts", optarg, 0, INT32_MAX, &o.dev_max_utts); break;
        case O_THREADS: bad = sparq_parse_int("--threads", optarg, 0, SPARQ_THREADS_MAX, &threads); break;
        case O_QUIET: o.progress = 0; break;
        case O_BENCH: bad = sparq_parse_int("--bench", optarg, 1, 100000000, &bench); break;
        case O_BENCHB: bad = sparq_parse_int("--bench-batch", optarg, 1, 4096, &bench_b); break;
        case O_FORCE: force = 1; break;
        case O_BENCHJ: bench_json = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (bad) {
        fprintf(stderr, "sparq train: %s\n", sparq_last_error());
        return 2;
    }
    if (check_config(o.config_path)) {
        fprintf(stderr, "sparq train: %s\n", sparq_last_error());
        return 1;
    }
    if (bench > 0)
        return run_bench(o.config_path, bench, bench_b, bench_json, threads);
    if (optind < argc || !o.train_manifest || !o.out_dir) {
        fprintf(stderr, "sparq train: --train and --out are required (see --help)\n");
        return 2;
    }
    const struct sparq_path_arg ins[] = { { "--train", o.train_manifest }, { "--dev", o.dev_manifest },
                                          { "--config", o.config_path }, { "--init", o.init_from } };
    static const char *const run_files[] = { "last.ckpt", "train_log.tsv", "model.sparq" };
    if (o.resume)
        o.init_from = NULL; // the checkpoint already holds what --init started from
    if (sparq_check_out_dir(ins, 4, "--out", o.out_dir, run_files, 3) ||
        check_fresh_out(o.out_dir, o.resume, force) || (o.resume && check_resume_config(o.out_dir, o.config_path)) ||
        (o.init_from && check_model_config(o.init_from, o.config_path, "train with the model's config"))) {
        fprintf(stderr, "sparq train: %s\n", sparq_last_error());
        return 2;
    }
    if (threads > 0)
        omp_set_num_threads(threads);
    sparq_threads_init();
    o.stop = sparq_train_stop_on_signals();
    int rc = sparq_dist_init();
    if (rc == SPARQ_OK && sparq_dist_is_root())
        remove_stale_temporaries(o.out_dir);
    rc = rc ? rc : sparq_train_run(&o);
    if (rc < 0) {
        fprintf(stderr, "sparq train: %s\n", sparq_last_error());
        sparq_dist_abort(1);
        return 1;
    }
    return *o.stop ? 130 : 0;
}
