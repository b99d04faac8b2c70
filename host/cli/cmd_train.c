// sparq-command: train: train the float Conformer-CTC model (resumable, Ctrl-C saves)
#include <getopt.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sparq_dist.h"
#include "sparq_error.h"
#include "sparq_train.h"

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
            "  --threads N        OpenMP threads (default: OMP_NUM_THREADS or all cores)\n"
            "  --quiet            no progress lines\n"
            "Data parallel: mpirun -np N sparq train ... splits every global batch across N\n"
            "ranks (same losses as one process within rounding; docs/scaling.md). Rank 0 writes\n"
            "all files; stop a run with SIGUSR1/SIGTERM to mpirun (kill -USR1 PID).\n"
            "benchmark mode (no data needed): sparq train --bench STEPS [--config FILE]\n"
            "  [--bench-batch B] [--bench-json FILE] times STEPS training steps on a synthetic\n"
            "  batch of B (24) utterances of 2.2-4.0 s and prints audio seconds per second.\n");
}

static int run_bench(const char *config, int steps, int B, const char *json, int threads)
{
    if (B < 1 || B > 4096) {
        fprintf(stderr, "sparq train: --bench-batch must be 1..4096\n");
        return 2;
    }
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
           O_WARMUP, O_FINAL, O_WD, O_CLIP, O_SEED, O_NOSPEC, O_DITHER, O_SAVE, O_DEVMAX, O_THREADS, O_QUIET, O_BENCH, O_BENCHB, O_BENCHJ };
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
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct sparq_train_options o;
    sparq_train_default_options(&o);
    int c, threads = 0, bench = 0, bench_b = 24;
    const char *bench_json = NULL;
    char *end;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        double v = optarg ? strtod(optarg, &end) : 0;
        if (optarg && (*end || end == optarg) && c != O_CONFIG && c != O_TRAIN && c != O_DEV && c != O_OUT &&
            c != O_BENCHJ) {
            fprintf(stderr, "sparq train: --%s: '%s' is not a number\n", opts[c - O_CONFIG].name, optarg);
            return 2;
        }
        switch (c) {
        case O_CONFIG: o.config_path = optarg; break;
        case O_TRAIN: o.train_manifest = optarg; break;
        case O_DEV: o.dev_manifest = optarg; break;
        case O_OUT: o.out_dir = optarg; break;
        case O_RESUME: o.resume = 1; break;
        case O_EPOCHS: o.epochs = (int)v; break;
        case O_MAXSTEPS: o.max_steps = (int64_t)v; break;
        case O_BATCH: o.batch_frames = (int)v; break;
        case O_MAXUTTS: o.max_utts = (int)v; break;
        case O_LR: o.lr = (float)v; break;
        case O_WARMUP: o.warmup = (int64_t)v; break;
        case O_FINAL: o.final_lr_ratio = (float)v; break;
        case O_WD: o.weight_decay = (float)v; break;
        case O_CLIP: o.clip = (float)v; break;
        case O_SEED: o.seed = (uint64_t)v; break;
        case O_NOSPEC: o.specaug = 0; break;
        case O_DITHER: o.dither = (float)v; break;
        case O_SAVE: o.save_every = (int64_t)v; break;
        case O_DEVMAX: o.dev_max_utts = (int)v; break;
        case O_THREADS: threads = (int)v; break;
        case O_QUIET: o.progress = 0; break;
        case O_BENCH: bench = (int)v; break;
        case O_BENCHB: bench_b = (int)v; break;
        case O_BENCHJ: bench_json = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (bench > 0)
        return run_bench(o.config_path, bench, bench_b, bench_json, threads);
    if (optind < argc || !o.train_manifest || !o.out_dir) {
        fprintf(stderr, "sparq train: --train and --out are required (see --help)\n");
        return 2;
    }
    if (o.epochs < 1 || o.batch_frames < 100 || !(o.lr > 0) || o.warmup < 0 || o.max_steps < 0 || threads < 0) {
        fprintf(stderr, "sparq train: --epochs >= 1, --batch-frames >= 100, --lr > 0, --warmup/--max-steps >= 0\n");
        return 2;
    }
    if (threads > 0)
        omp_set_num_threads(threads);
    sparq_threads_init();
    o.stop = sparq_train_stop_on_signals();
    int rc = sparq_dist_init();
    rc = rc ? rc : sparq_train_run(&o);
    if (rc < 0) {
        fprintf(stderr, "sparq train: %s\n", sparq_last_error());
        sparq_dist_abort(1);
        return 1;
    }
    return *o.stop ? 130 : 0;
}
