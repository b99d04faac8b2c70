// sparq-command: finetune: compression-aware fine-tuning of a float model; exports the packed model
#include <getopt.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_error.h"
#include "sparq_finetune.h"
#include "sparq_runtime.h"
#include "sparq_train.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: sparq finetune --from MODEL --compress SPEC --train M.jsonl --out DIR [options]\n"
            "Fine-tunes a float model (a sparq train model.sparq) while simulating the compression\n"
            "it will be exported with: N:M masks (prune first) then per-channel fake quantization,\n"
            "gradients through a straight-through estimator. At the end DIR/model.spq is the packed\n"
            "model (docs/format.md, docs/modelfile.md) that the runtime and the accelerator run.\n"
            "Checkpoints are atomic; --resume continues; Ctrl-C saves and exits.\n"
            "  --from FILE          float model to start from\n"
            "  --compress SPEC      e.g. int4-2:4, or int4-2:4,sub1_w=int8,out_w=int8 (docs/compression.md)\n"
            "  --train FILE, --dev FILE, --out DIR, --resume\n"
            "  --epochs N (2)  --max-steps N  --lr X (5e-4)  --warmup N (50)  --batch-frames N (12000)\n"
            "  --scales maxabs|mse|lsq   per-channel scale choice (mse)\n"
            "  --mask-schedule oneshot|recompute|gradual (oneshot)\n"
            "  --mask-every N       recompute period (100)    --gradual-steps N (200)\n"
            "  --mask-grad masked|ste|srste (masked)         --srste-lambda X (2e-4)\n"
            "  --freeze-at N        freeze masks and scales from step N (0: never)\n"
            "  --act-quant          simulate the runtime's per-row int8 activations\n"
            "  --seed N, --threads N, --dev-max-utts N, --quiet\n");
}

struct ft_ctx {
    struct sparq_compressor *c;
    const struct sparq_finetune_options *fo;
    int created;
};

static int ensure(struct ft_ctx *x, const struct sparq_model *m)
{
    if (!x->created) {
        int rc = sparq_compressor_create(&x->c, m, x->fo);
        if (rc)
            return rc;
        x->created = 1;
    }
    return SPARQ_OK;
}

static char pending_load[4096];

static int hook_pre_forward(void *ctx, struct sparq_model *m, int64_t step)
{
    struct ft_ctx *x = ctx;
    int rc = ensure(x, m);
    if (!rc && pending_load[0]) {
        rc = sparq_compressor_load(x->c, pending_load);
        pending_load[0] = 0;
    }
    return rc ? rc : sparq_compressor_pre_forward(x->c, m, step);
}
static void hook_pre_step(void *ctx, struct sparq_model *m) { sparq_compressor_pre_step(((struct ft_ctx *)ctx)->c, m); }
static void hook_after_eval(void *ctx, struct sparq_model *m) { sparq_compressor_restore(((struct ft_ctx *)ctx)->c, m); }
static int hook_save(void *ctx, const char *dir)
{
    struct ft_ctx *x = ctx;
    if (!x->created)
        return SPARQ_OK;
    char path[4096];
    snprintf(path, sizeof path, "%s/compress.state", dir);
    return sparq_compressor_save(x->c, path);
}
static int hook_load(void *ctx, const char *dir)
{
    (void)ctx; // the compressor needs the model: load at the first pre_forward
    snprintf(pending_load, sizeof pending_load, "%s/compress.state", dir);
    return SPARQ_OK;
}

int cmd_finetune(int argc, char **argv)
{
    enum { O_FROM = 256, O_COMPRESS, O_TRAIN, O_DEV, O_OUT, O_RESUME, O_EPOCHS, O_MAXSTEPS, O_LR, O_WARMUP, O_BATCH,
           O_SCALES, O_SCHED, O_EVERY, O_GRADUAL, O_MGRAD, O_LAMBDA, O_FREEZE, O_ACTQ, O_SEED, O_THREADS, O_DEVMAX,
           O_QUIET };
    static const struct option opts[] = {
        { "from", required_argument, NULL, O_FROM },         { "compress", required_argument, NULL, O_COMPRESS },
        { "train", required_argument, NULL, O_TRAIN },       { "dev", required_argument, NULL, O_DEV },
        { "out", required_argument, NULL, O_OUT },           { "resume", no_argument, NULL, O_RESUME },
        { "epochs", required_argument, NULL, O_EPOCHS },     { "max-steps", required_argument, NULL, O_MAXSTEPS },
        { "lr", required_argument, NULL, O_LR },             { "warmup", required_argument, NULL, O_WARMUP },
        { "batch-frames", required_argument, NULL, O_BATCH }, { "scales", required_argument, NULL, O_SCALES },
        { "mask-schedule", required_argument, NULL, O_SCHED }, { "mask-every", required_argument, NULL, O_EVERY },
        { "gradual-steps", required_argument, NULL, O_GRADUAL }, { "mask-grad", required_argument, NULL, O_MGRAD },
        { "srste-lambda", required_argument, NULL, O_LAMBDA }, { "freeze-at", required_argument, NULL, O_FREEZE },
        { "act-quant", no_argument, NULL, O_ACTQ },          { "seed", required_argument, NULL, O_SEED },
        { "threads", required_argument, NULL, O_THREADS },   { "dev-max-utts", required_argument, NULL, O_DEVMAX },
        { "quiet", no_argument, NULL, O_QUIET },             { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct sparq_train_options o;
    sparq_train_default_options(&o);
    o.epochs = 2;
    o.lr = 5e-4f;
    o.warmup = 50;
    struct sparq_finetune_options fo;
    sparq_finetune_default_options(&fo);
    const char *spec_text = NULL;
    int c, threads = 0, bad = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_FROM: o.init_from = optarg; break;
        case O_COMPRESS: spec_text = optarg; break;
        case O_TRAIN: o.train_manifest = optarg; break;
        case O_DEV: o.dev_manifest = optarg; break;
        case O_OUT: o.out_dir = optarg; break;
        case O_RESUME: o.resume = 1; break;
        case O_EPOCHS: o.epochs = atoi(optarg); break;
        case O_MAXSTEPS: o.max_steps = atoll(optarg); break;
        case O_LR: o.lr = strtof(optarg, NULL); break;
        case O_WARMUP: o.warmup = atoll(optarg); break;
        case O_BATCH: o.batch_frames = atoi(optarg); break;
        case O_SCALES: bad |= sparq_scale_method_parse(optarg, &fo.scale_method) != 0; break;
        case O_SCHED: bad |= sparq_mask_schedule_parse(optarg, &fo.schedule) != 0; break;
        case O_EVERY: fo.mask_every = atoll(optarg); break;
        case O_GRADUAL: fo.gradual_steps = atoll(optarg); break;
        case O_MGRAD:
            if (!strcmp(optarg, "masked"))
                fo.mask_grad = SPARQ_MASK_GRAD_MASKED;
            else if (!strcmp(optarg, "ste"))
                fo.mask_grad = SPARQ_MASK_GRAD_STE;
            else if (!strcmp(optarg, "srste"))
                fo.mask_grad = SPARQ_MASK_GRAD_SRSTE;
            else
                bad |= sparq_fail(SPARQ_EINVAL, "--mask-grad '%s' (expected masked, ste or srste)", optarg) != 0;
            break;
        case O_LAMBDA: fo.srste_lambda = strtof(optarg, NULL); break;
        case O_FREEZE: fo.freeze_scales_at = atoll(optarg); break;
        case O_ACTQ: fo.act_quant = 1; break;
        case O_SEED: o.seed = strtoull(optarg, NULL, 10); break;
        case O_THREADS: threads = atoi(optarg); break;
        case O_DEVMAX: o.dev_max_utts = atoi(optarg); break;
        case O_QUIET: o.progress = 0; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (bad) {
            fprintf(stderr, "sparq finetune: %s\n", sparq_last_error());
            return 2;
        }
    }
    if (optind < argc || !o.init_from || !spec_text || !o.train_manifest || !o.out_dir) {
        fprintf(stderr, "sparq finetune: --from, --compress, --train and --out are required (see --help)\n");
        return 2;
    }
    if (sparq_compress_spec_parse(&fo.spec, spec_text)) {
        fprintf(stderr, "sparq finetune: --compress: %s\n", sparq_last_error());
        return 2;
    }
    if (o.epochs < 1 || o.batch_frames < 100 || !(o.lr > 0) || o.max_steps < 0) {
        fprintf(stderr, "sparq finetune: --epochs >= 1, --batch-frames >= 100, --lr > 0, --max-steps >= 0\n");
        return 2;
    }
    if (threads > 0)
        omp_set_num_threads(threads);
    sparq_threads_init();
    o.stop = sparq_train_stop_on_signals();
    struct ft_ctx x = { NULL, &fo, 0 };
    struct sparq_train_hooks hooks = { &x, hook_pre_forward, hook_pre_step, hook_after_eval, hook_save, hook_load };
    o.hooks = &hooks;
    int rc = sparq_train_run(&o);
    if (rc < 0) {
        fprintf(stderr, "sparq finetune: %s\n", sparq_last_error());
        sparq_compressor_free(x.c);
        return 1;
    }
    if (rc == 1 && *o.stop) {
        sparq_compressor_free(x.c);
        return 130;
    }
    // Export the final weights with the masks and scales they were trained with.
    char ckpt[4096], out[4096];
    snprintf(ckpt, sizeof ckpt, "%s/last.ckpt", o.out_dir);
    snprintf(out, sizeof out, "%s/model.spq", o.out_dir);
    struct sparq_model m;
    struct sparq_export_report rep;
    rc = sparq_checkpoint_load(ckpt, &m, NULL, NULL);
    if (!rc && !x.created)
        rc = ensure(&x, &m);
    if (!rc) {
        struct sparq_export_overrides ov;
        sparq_compressor_overrides(x.c, &ov);
        rc = sparq_export(&m, &fo.spec, &ov, fo.scale_method, out, &rep);
        sparq_model_free(&m);
    }
    sparq_compressor_free(x.c);
    if (rc) {
        fprintf(stderr, "sparq finetune: export: %s\n", sparq_last_error());
        return 1;
    }
    sparq_export_report_print(stdout, out, &rep);
    return 0;
}
