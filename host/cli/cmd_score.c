// sparq-command: score: WER and CER of hypotheses against references (sclite/jiwer counting)
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_error.h"
#include "sparq_paths.h"
#include "sparq_wer.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: sparq score --ref REF --hyp HYP [--per-utt] [--sclite] [--json OUT.json]\n"
                 "REF and HYP are Kaldi-style 'id text' files or JSONL manifests (*.jsonl). Both sides are\n"
                 "normalised (docs/data.md), then aligned word by word and character by character.\n"
                 "Reference ids missing from HYP count as empty hypotheses; extra HYP ids are ignored.\n"
                 "  -r, --ref FILE    references\n"
                 "  -y, --hyp FILE    hypotheses\n"
                 "  -u, --per-utt     one table row (and JSON entry) per utterance\n"
                 "  -s, --sclite      sclite's alignment weights (sub 4, del 3, ins 3) instead of unit\n"
                 "                    costs (jiwer); same error count, S/D/I split as sclite reports it\n"
                 "  -j, --json FILE   also write the result as JSON (atomically)\n"
                 "  -h, --help        this text\n");
}

int cmd_score(int argc, char **argv)
{
    static const struct option opts[] = {
        { "ref", required_argument, NULL, 'r' }, { "hyp", required_argument, NULL, 'y' },
        { "per-utt", no_argument, NULL, 'u' },   { "json", required_argument, NULL, 'j' },
        { "sclite", no_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' },      { NULL, 0, NULL, 0 },
    };
    const char *ref = NULL, *hyp = NULL, *json = NULL;
    int per_utt = 0, mode = SPARQ_ALIGN_LEVENSHTEIN, c;
    while ((c = getopt_long(argc, argv, "r:y:uj:sh", opts, NULL)) != -1) {
        switch (c) {
        case 'r': ref = optarg; break;
        case 'y': hyp = optarg; break;
        case 'u': per_utt = 1; break;
        case 's': mode = SPARQ_ALIGN_SCLITE; break;
        case 'j': json = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!ref || !hyp || optind != argc) {
        fprintf(stderr, "sparq score: --ref and --hyp are required\n");
        return 2;
    }
    const struct sparq_path_arg ins[] = { { "--ref", ref }, { "--hyp", hyp } };
    const struct sparq_path_arg outs[] = { { "--json", json } };
    if (sparq_check_outputs(ins, 2, outs, 1)) {
        fprintf(stderr, "sparq score: %s\n", sparq_last_error());
        return 2;
    }
    struct sparq_score s;
    if (sparq_score_files_ex(ref, hyp, mode, &s)) {
        fprintf(stderr, "sparq score: %s\n", sparq_last_error());
        return 1;
    }
    sparq_score_print_table(&s, stdout, per_utt);
    int rc = 0;
    if (json) {
        char *text = sparq_score_json(&s, per_utt);
        if (!text || sparq_write_file_atomic(json, text, strlen(text))) {
            fprintf(stderr, "sparq score: %s\n", text ? sparq_last_error() : "out of memory");
            rc = 1;
        }
        free(text);
    }
    sparq_score_free(&s);
    return rc;
}
