// sparq-command: export: compress a float model without fine-tuning (post-training) into a packed model file
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "sparq_error.h"
#include "sparq_export_torch.h"
#include "sparq_finetune.h"
#include "sparq_parse.h"
#include "sparq_paths.h"
#include "sparq_runtime.h"
#include "sparq_train.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: sparq export --model MODEL --compress SPEC --out FILE [--scales maxabs|mse]\n"
                 "Post-training compression: magnitude N:M masks and per-channel scales, no fine-tuning.\n"
                 "(sparq finetune exports its own result.) Prints the exact sizes.\n");
    // --format safetensors (issue 20): the model as a PyTorch state dict, docs/import.md.
    fprintf(out, "       sparq export --format safetensors --model MODEL|MODEL.spq --out FILE.safetensors\n");
}

int cmd_export(int argc, char **argv)
{
    static const struct option opts[] = {
        { "model", required_argument, NULL, 'm' }, { "compress", required_argument, NULL, 'c' },
        { "out", required_argument, NULL, 'o' },   { "scales", required_argument, NULL, 's' },
        { "format", required_argument, NULL, 'F' }, // long-only: --format safetensors
        { "help", no_argument, NULL, 'h' },        { NULL, 0, NULL, 0 },
    };
    const char *model = NULL, *spec_text = NULL, *out = NULL;
    enum sparq_scale_method method = SPARQ_SCALE_MSE;
    const char *format = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "m:c:o:s:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'c': spec_text = optarg; break;
        case 'o': out = optarg; break;
        case 'F': format = optarg; break;
        case 's':
            if (sparq_scale_method_parse(optarg, &method) || method == SPARQ_SCALE_LSQ) {
                fprintf(stderr, "sparq export: --scales maxabs or mse\n");
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    const struct sparq_path_arg ins[] = { { "model (--model)", model } };
    const struct sparq_path_arg outs[] = { { "--out", out } };
    if (sparq_check_outputs(ins, 1, outs, 1)) {
        fprintf(stderr, "sparq export: %s\n", sparq_last_error());
        return 2;
    }
    if (format) { // --format safetensors: no compression, a PyTorch state dict
        if (strcmp(format, "safetensors") || spec_text || !model || !out || optind < argc) {
            fprintf(stderr, "sparq export: --format safetensors takes --model and --out only\n");
            return 2;
        }
        struct sparq_torch_export_report trep;
        if (sparq_export_safetensors(model, out, &trep)) {
            fprintf(stderr, "sparq export: %s\n", sparq_last_error());
            return 1;
        }
        printf("exported %s: %d tensors, %zu bytes (%s model%s)\n", out, trep.tensors, trep.file_bytes,
               trep.compressed ? "compressed" : "float", trep.compressed ? ", weights dequantized" : "");
        return 0;
    }
    if (!model || !spec_text || !out || optind < argc) {
        usage(stderr);
        return 2;
    }
    struct sparq_compress_spec spec;
    if (sparq_compress_spec_parse(&spec, spec_text)) {
        fprintf(stderr, "sparq export: --compress: %s\n", sparq_last_error());
        return 2;
    }
    struct sparq_model m;
    struct sparq_export_report rep;
    if (sparq_checkpoint_load(model, &m, NULL, NULL)) {
        fprintf(stderr, "sparq export: %s\n", sparq_last_error());
        return 1;
    }
    int rc = sparq_export(&m, &spec, NULL, method, out, &rep);
    sparq_model_free(&m);
    if (rc) {
        fprintf(stderr, "sparq export: %s\n", sparq_last_error());
        return 1;
    }
    sparq_export_report_print(stdout, out, &rep);
    return 0;
}
