// sparq-command: finetune: compression-aware fine-tuning of a float model; exports the packed model
#include <getopt.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_error.h"
#include "sparq_finetune.h"
#include "sparq_parse.h"
#include "sparq_paths.h"
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
            "  --readout q8|chain|i32  q8: also the device's int8 read-out, clip levels calibrated and\n"
            "                       stored in model.spq (implies --act-quant; docs/compression.md);\n"
            "                       chain: q8 plus each feed-forward module as the device's chain with\n"
            "                       static scales A_in, A_1 calibrated and stored (sparq_chain.h)\n"
            "  --distill W          add W x KL(teacher || student) per frame to the CTC loss (0: off)\n"
            "  --teacher FILE       float teacher for --distill (default: the --from model)\n"
            "  --seed N, --threads N, --dev-max-utts N, --quiet\n");
}

int cmd_finetune(int argc, char **argv)
{
    enum { O_FROM = 256, O_COMPRESS, O_TRAIN, O_DEV, O_OUT, O_RESUME, O_EPOCHS, O_MAXSTEPS, O_LR, O_WARMUP, O_BATCH,
           O_SCALES, O_SCHED, O_EVERY, O_GRADUAL, O_MGRAD, O_LAMBDA, O_FREEZE, O_ACTQ, O_SEED, O_THREADS, O_DEVMAX,
           O_QUIET, O_DISTILL, O_TEACHER, O_READOUT };
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
        { "distill", required_argument, NULL, O_DISTILL },   { "teacher", required_argument, NULL, O_TEACHER },
        { "readout", required_argument, NULL, O_READOUT },
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
        case O_EPOCHS: bad = sparq_parse_int("--epochs", optarg, 1, 1000000, &o.epochs) != 0; break;
        case O_MAXSTEPS: bad = sparq_parse_i64("--max-steps", optarg, 0, INT64_MAX, &o.max_steps) != 0; break;
        case O_LR: bad = sparq_parse_float("--lr", optarg, 1e-12, 10, &o.lr) != 0; break;
        case O_WARMUP: bad = sparq_parse_i64("--warmup", optarg, 0, INT64_MAX, &o.warmup) != 0; break;
        case O_BATCH: bad = sparq_parse_int("--batch-frames", optarg, 100, 100000000, &o.batch_frames) != 0; break;
        case O_SCALES: bad |= sparq_scale_method_parse(optarg, &fo.scale_method) != 0; break;
        case O_SCHED: bad |= sparq_mask_schedule_parse(optarg, &fo.schedule) != 0; break;
        case O_EVERY: bad = sparq_parse_i64("--mask-every", optarg, 1, INT64_MAX, &fo.mask_every) != 0; break;
        case O_GRADUAL: bad = sparq_parse_i64("--gradual-steps", optarg, 1, INT64_MAX, &fo.gradual_steps) != 0; break;
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
        case O_LAMBDA: bad = sparq_parse_float("--srste-lambda", optarg, 0, 1e6, &fo.srste_lambda) != 0; break;
        case O_FREEZE: bad = sparq_parse_i64("--freeze-at", optarg, 0, INT64_MAX, &fo.freeze_scales_at) != 0; break;
        case O_ACTQ: fo.act_quant = 1; break;
        case O_READOUT:
            fo.chain = !strcmp(optarg, "chain");
            if (!strcmp(optarg, "q8") || fo.chain)
                fo.readout_q8 = fo.act_quant = 1;
            else if (!strcmp(optarg, "i32"))
                fo.readout_q8 = 0;
            else
                bad |= sparq_fail(SPARQ_EINVAL, "--readout '%s' (expected q8, chain or i32)", optarg) != 0;
            break;
        case O_SEED: bad = sparq_parse_u64("--seed", optarg, &o.seed) != 0; break;
        case O_THREADS: bad = sparq_parse_int("--threads", optarg, 0, SPARQ_THREADS_MAX, &threads) != 0; break;
        case O_DEVMAX: bad = sparq_parse_int("--dev-max-utts", optarg, 0, INT32_MAX, &o.dev_max_utts) != 0; break;
        case O_QUIET: o.progress = 0; break;
        case O_DISTILL: bad = sparq_parse_float("--distill", optarg, 0, 1e6, &fo.distill) != 0; break;
        case O_TEACHER: fo.teacher = optarg; break;
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
    const struct sparq_path_arg ins[] = { { "--from", o.init_from }, { "--train", o.train_manifest },
                                          { "--dev", o.dev_manifest }, { "--teacher", fo.teacher } };
    static const char *const run_files[] = { "last.ckpt", "train_log.tsv", "model.sparq", "model.spq" };
    if (sparq_check_out_dir(ins, 4, "--out", o.out_dir, run_files, 4)) {
        fprintf(stderr, "sparq finetune: %s\n", sparq_last_error());
        return 2;
    }
    if (threads > 0)
        omp_set_num_threads(threads);
    sparq_threads_init();
    o.stop = sparq_train_stop_on_signals();
    struct sparq_finetune_result res;
    int rc = sparq_finetune_run(&o, &fo, &res);
    if (rc == 1 && *o.stop)
        return 130;
    if (rc < 0) {
        fprintf(stderr, "sparq finetune: %s\n", sparq_last_error());
        return 1;
    }
    sparq_export_report_print(stdout, res.model_path, &res.export);
    return 0;
}
