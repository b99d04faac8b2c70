// sparq-command: transcribe: print the transcript of audio files with a trained model
#include <getopt.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_audio.h"
#include "sparq_ctc.h"
#include "sparq_error.h"
#include "sparq_lm.h"
#include "sparq_longform.h"
#include "sparq_parse.h"
#include "sparq_runtime.h"
#include "sparq_train.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: sparq transcribe --model FILE [--backend cpu|ref|sim|usb|float] [--beam N] [--window S] AUDIO...\n"
                 "Prints 'file<TAB>transcript' for each audio file (any format libsndfile reads;\n"
                 "resampled to 16 kHz, channels averaged).\n"
                 "  -m, --model FILE   model.sparq or a checkpoint\n"
                 "  -B, --backend NAME run a packed model (.spq) on the integer runtime: cpu, ref (C device\n"
                 "                     model), sim (Verilator RTL), usb (a board) or float (docs/runtime.md);\n"
                 "                     NAME:q8 reads results back as int8 (4x fewer bytes; cpu matches);\n"
                 "                     without a suffix a model with FFN chain clips runs each FFN as one\n"
                 "                     device chain\n"
                 "  -F, --frontend P   where the subsampling matmuls run on a device backend: device,\n"
                 "                     host (cpu kernel, same integers) or auto (default: the faster,\n"
                 "                     measured at open; docs/runtime.md)\n"
                 "  -b, --beam N       prefix beam search with N prefixes (default 1 = greedy)\n"
                 "  -l, --lm FILE      fuse a word n-gram LM (ARPA) into the beam search (--beam defaults to 16)\n"
                 "      --lm-weight A  LM weight (default 0.5); --word-bonus B (default 1.0)\n"
                 "  -w, --window S     decode long audio in windows of at most S seconds, each ending\n"
                 "                     at a pause (default 30; memory is bounded by the window)\n"
                 "  -P, --pipeline M   with --backend: overlap (default: the windows of consecutive files\n"
                 "                     decoded a few at a time through the pipeline, the device stage\n"
                 "                     beside the next window's fbank and front-end; same words) or none\n"
                 "                     (each window alone, in turn)\n"
                 "  -h, --help         this text\n");
}

struct emit_ctx {
    const struct sparq_longform_options *lo;
    char **paths;
    int status;
};

// A file's transcript (or its error), in file order.
static void emit(void *ctx, int file, const char *text, int windows, const char *error)
{
    struct emit_ctx *e = ctx;
    if (!text) {
        fprintf(stderr, "sparq transcribe: %s\n", error ? error : "failed");
        e->status = 1;
        return;
    }
    if (windows > 1)
        fprintf(stderr, "sparq transcribe: note: %s: %d windows of at most %g s\n", e->paths[file], windows,
                e->lo->window_s);
    printf("%s\t%s\n", e->paths[file], text);
    fflush(stdout);
}

int cmd_transcribe(int argc, char **argv)
{
    static const struct option opts[] = {
        { "model", required_argument, NULL, 'm' },
        { "beam", required_argument, NULL, 'b' },
        { "backend", required_argument, NULL, 'B' },
        { "window", required_argument, NULL, 'w' },
        { "lm", required_argument, NULL, 'l' },
        { "lm-weight", required_argument, NULL, 'A' },
        { "word-bonus", required_argument, NULL, 'W' },
        { "frontend", required_argument, NULL, 'F' },
        { "pipeline", required_argument, NULL, 'P' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *model = NULL, *backend = NULL;
    const char *lm_path = NULL;
    int beam = 0, c, pipeline = 1;
    struct sparq_runtime_options ropt = { SPARQ_FRONTEND_AUTO };
    struct sparq_longform_options lo;
    sparq_longform_default_options(&lo);
    while ((c = getopt_long(argc, argv, "m:b:B:w:l:F:P:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'b':
            if (sparq_parse_int("--beam", optarg, 1, 1024, &beam)) {
                fprintf(stderr, "sparq transcribe: %s\n", sparq_last_error());
                return 2;
            }
            break;
        case 'B': backend = optarg; break;
        case 'w':
        case 'A':
        case 'W':
            if (c == 'w' ? sparq_parse_double("--window", optarg, 1, 3600, &lo.window_s)
                : c == 'A' ? sparq_parse_double("--lm-weight", optarg, 0, 100, &lo.lm_weight)
                           : sparq_parse_double("--word-bonus", optarg, -100, 100, &lo.word_bonus)) {
                fprintf(stderr, "sparq transcribe: %s\n", sparq_last_error());
                return 2;
            }
            break;
        case 'l': lm_path = optarg; break;
        case 'F':
            if (sparq_runtime_parse_frontend("--frontend", optarg, &ropt.frontend)) {
                fprintf(stderr, "sparq transcribe: %s\n", sparq_last_error());
                return 2;
            }
            break;
        case 'P':
            pipeline = !strcmp(optarg, "overlap") ? 1 : !strcmp(optarg, "none") ? 0 : -1;
            if (pipeline < 0) {
                fprintf(stderr, "sparq transcribe: --pipeline: '%s' is not one of overlap, none\n", optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!beam)
        beam = lm_path ? 16 : 1;
    if (!model || optind >= argc || beam < 1) {
        fprintf(stderr, "sparq transcribe: --model and at least one audio file are required\n");
        return 2;
    }
    sparq_threads_init();
    struct sparq_model own, *mp = &own;
    struct sparq_runtime *rt = NULL;
    struct sparq_lm *lm = NULL;
    if (lm_path && sparq_lm_read(&lm, lm_path)) {
        fprintf(stderr, "sparq transcribe: %s\n", sparq_last_error());
        return 1;
    }
    lo.lm = lm;
    if (!lm) // the weight and bonus belong to the LM: a plain beam search without it
        lo.lm_weight = lo.word_bonus = 0.0;
    if (backend ? sparq_runtime_open_ex(&rt, model, backend, &ropt) : sparq_checkpoint_load(model, &own, NULL, NULL)) {
        fprintf(stderr, "sparq transcribe: %s\n", sparq_last_error());
        sparq_lm_free(lm);
        return 1;
    }
    lo.beam = beam;
    int status = 0;
    if (rt && pipeline) { // the pipelined decode (sparq_runtime_transcribe)
        struct emit_ctx e = { &lo, argv + optind, 0 };
        sparq_runtime_transcribe(rt, (const char *const *)argv + optind, argc - optind, &lo, emit, &e);
        sparq_runtime_close(rt);
        sparq_lm_free(lm);
        return e.status;
    }
    if (rt) {
        mp = sparq_runtime_model(rt);
        sparq_runtime_activate(rt);
    }
    for (int i = optind; i < argc; i++) {
        char *text = NULL;
        int windows = 0;
        if (sparq_longform_transcribe(mp, rt, argv[i], &lo, &text, &windows)) {
            fprintf(stderr, "sparq transcribe: %s\n", sparq_last_error());
            status = 1;
            continue;
        }
        if (windows > 1)
            fprintf(stderr, "sparq transcribe: note: %s: %d windows of at most %g s\n", argv[i], windows,
                    lo.window_s);
        printf("%s\t%s\n", argv[i], text);
        fflush(stdout);
        free(text);
    }
    if (rt) {
        sparq_runtime_deactivate(rt);
        sparq_runtime_close(rt);
    } else
        sparq_model_free(&own);
    sparq_lm_free(lm);
    return status;
}
