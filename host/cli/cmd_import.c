// sparq-command: import: read a PyTorch Conformer-CTC state dict (safetensors) into a sparq model
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "sparq_error.h"
#include "sparq_paths.h"
#include "sparq_safetensors.h"
#include "sparq_torch.h"
#include "sparq_train.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: sparq import --from MODEL.safetensors [--config CONFIG.json] --out MODEL.sparq\n"
                 "Reads the state dict of the PyTorch reference Conformer-CTC (docs/import.md) and writes a\n"
                 "float sparq model. CONFIG.json gives what the tensors do not carry (n_heads; n_mels unless\n"
                 "the file has sparq.cmvn_mean) and is checked against their shapes (docs/modelfile.md).\n");
}

int cmd_import(int argc, char **argv)
{
    static const struct option opts[] = {
        { "from", required_argument, NULL, 'f' }, { "config", required_argument, NULL, 'c' },
        { "out", required_argument, NULL, 'o' },  { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *from = NULL, *config = NULL, *out = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "f:c:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'f': from = optarg; break;
        case 'c': config = optarg; break;
        case 'o': out = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!from || !out || optind < argc) {
        usage(stderr);
        return 2;
    }
    const struct sparq_path_arg ins[] = { { "--from", from }, { "--config", config } };
    const struct sparq_path_arg outs[] = { { "--out", out } };
    if (sparq_check_outputs(ins, 2, outs, 1)) {
        fprintf(stderr, "sparq import: %s\n", sparq_last_error());
        return 2;
    }
    struct sparq_config hint;
    if (config && sparq_torch_config_load(&hint, config)) {
        fprintf(stderr, "sparq import: --config: %s\n", sparq_last_error());
        return 1;
    }
    struct sparq_st_file f;
    struct sparq_model m;
    int rc = sparq_st_read(&f, from);
    if (!rc) {
        rc = sparq_torch_import(&m, &f, config ? &hint : NULL, from);
        sparq_st_free(&f);
    }
    if (!rc) {
        rc = sparq_checkpoint_save(out, &m, NULL, NULL);
        if (!rc) {
            const struct sparq_config *k = &m.cfg;
            printf("imported %s: %d layers, d_model %d, %d heads, ffn %d, kernel %d, %d mels, %zu parameters -> %s\n",
                   from, k->n_layers, k->d_model, k->n_heads, k->ffn_dim, k->kernel, k->n_mels, m.n_params, out);
        }
        sparq_model_free(&m);
    }
    if (rc) {
        fprintf(stderr, "sparq import: %s\n", sparq_last_error());
        return 1;
    }
    return 0;
}
