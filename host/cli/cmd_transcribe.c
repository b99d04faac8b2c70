// sparq-command: transcribe: print the transcript of audio files with a trained model
#include <getopt.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_audio.h"
#include "sparq_ctc.h"
#include "sparq_error.h"
#include "sparq_runtime.h"
#include "sparq_train.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: sparq transcribe --model FILE [--backend cpu|ref|sim|usb|float] [--beam N] AUDIO...\n"
                 "Prints 'file<TAB>transcript' for each audio file (any format libsndfile reads;\n"
                 "resampled to 16 kHz, channels averaged).\n"
                 "  -m, --model FILE   model.sparq or a checkpoint\n"
                 "  -B, --backend NAME run a packed model (.spq) on the integer runtime: cpu, ref (C device\n"
                 "                     model), sim (Verilator RTL), usb (a board) or float (docs/runtime.md);\n"
                 "                     NAME:q8 reads results back as int8 (4x fewer bytes; cpu matches)\n"
                 "  -b, --beam N       prefix beam search with N prefixes (default 1 = greedy)\n"
                 "  -h, --help         this text\n");
}

int cmd_transcribe(int argc, char **argv)
{
    static const struct option opts[] = {
        { "model", required_argument, NULL, 'm' },
        { "beam", required_argument, NULL, 'b' },
        { "backend", required_argument, NULL, 'B' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *model = NULL, *backend = NULL;
    int beam = 1, c;
    while ((c = getopt_long(argc, argv, "m:b:B:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'b': beam = atoi(optarg); break;
        case 'B': backend = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!model || optind >= argc || beam < 1) {
        fprintf(stderr, "sparq transcribe: --model and at least one audio file are required\n");
        return 2;
    }
    sparq_threads_init();
    struct sparq_model own, *mp = &own;
    struct sparq_runtime *rt = NULL;
    if (backend ? sparq_runtime_open(&rt, model, backend) : sparq_checkpoint_load(model, &own, NULL, NULL)) {
        fprintf(stderr, "sparq transcribe: %s\n", sparq_last_error());
        return 1;
    }
    if (rt) {
        mp = sparq_runtime_model(rt);
        sparq_runtime_activate(rt);
    }
    struct sparq_fbank_options fo;
    sparq_fbank_default_options(&fo);
    fo.num_mel_bins = mp->cfg.n_mels;
    struct sparq_acts *a = sparq_acts_create(&mp->cfg, 1, 64);
    int status = a ? 0 : 1;
    for (int i = optind; i < argc && a; i++) {
        float *smp = NULL, *feats = NULL;
        size_t n = 0;
        int frames = 0;
        if (sparq_audio_load(argv[i], 16000, &smp, &n) || sparq_fbank_compute(smp, n, &fo, &feats, &frames)) {
            fprintf(stderr, "sparq transcribe: %s\n", sparq_last_error());
            status = 1;
        } else if (frames < 7) {
            fprintf(stderr, "sparq transcribe: %s: too short (%d feature frames, need 7)\n", argv[i], frames);
            status = 1;
        } else {
            sparq_apply_cmvn(mp, feats, frames);
            int T2 = sparq_forward(mp, a, feats, &frames, 1, frames, 0);
            char *text = malloc((size_t)T2 + 2);
            if (T2 >= 0 && rt && sparq_runtime_error(rt))
                T2 = sparq_runtime_error(rt);
            if (T2 < 0 || !text) {
                fprintf(stderr, "sparq transcribe: %s: %s\n", argv[i], sparq_last_error());
                status = 1;
            } else {
                if (beam > 1)
                    sparq_ctc_beam(sparq_acts_logits(a), T2, mp->cfg.vocab, beam, text, (size_t)T2 + 2);
                else
                    sparq_ctc_greedy(sparq_acts_logits(a), T2, mp->cfg.vocab, text, (size_t)T2 + 2);
                printf("%s\t%s\n", argv[i], text);
                fflush(stdout);
            }
            free(text);
        }
        free(smp);
        free(feats);
    }
    sparq_acts_free(a);
    if (rt) {
        sparq_runtime_deactivate(rt);
        sparq_runtime_close(rt);
    } else
        sparq_model_free(&own);
    return status;
}
