// Model configuration: defaults, validation and a "key = value" text file.
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_error.h"
#include "sparq_model.h"

void sparq_config_default(struct sparq_config *c)
{
    c->n_mels = 80;
    c->sub_channels = 144;
    c->d_model = 144;
    c->n_heads = 4;
    c->ffn_dim = 576;
    c->kernel = 15;
    c->n_layers = 4;
    c->vocab = SPARQ_VOCAB;
    c->dropout = 0.0f;
}

int sparq_config_validate(const struct sparq_config *c)
{
    if (c->n_mels < 7 || c->n_mels > 1024)
        return sparq_fail(SPARQ_EINVAL, "config: n_mels = %d (need 7..1024)", c->n_mels);
    if (c->sub_channels < 1 || c->sub_channels > 4096)
        return sparq_fail(SPARQ_EINVAL, "config: sub_channels = %d (need 1..4096)", c->sub_channels);
    if (c->d_model < 1 || c->d_model > 4096)
        return sparq_fail(SPARQ_EINVAL, "config: d_model = %d (need 1..4096)", c->d_model);
    if (c->n_heads < 1 || c->d_model % c->n_heads)
        return sparq_fail(SPARQ_EINVAL, "config: n_heads = %d must divide d_model = %d", c->n_heads, c->d_model);
    if (c->ffn_dim < 1 || c->ffn_dim > 65536)
        return sparq_fail(SPARQ_EINVAL, "config: ffn_dim = %d (need 1..65536)", c->ffn_dim);
    if (c->kernel < 1 || c->kernel % 2 == 0 || c->kernel > 255)
        return sparq_fail(SPARQ_EINVAL, "config: kernel = %d (need an odd number 1..255)", c->kernel);
    if (c->n_layers < 0 || c->n_layers > SPARQ_MAX_LAYERS)
        return sparq_fail(SPARQ_EINVAL, "config: n_layers = %d (need 0..%d)", c->n_layers, SPARQ_MAX_LAYERS);
    if (!(c->dropout >= 0.0f && c->dropout < 1.0f))
        return sparq_fail(SPARQ_EINVAL, "config: dropout = %g (need 0 <= p < 1)", (double)c->dropout);
    if (c->vocab != SPARQ_VOCAB)
        return sparq_fail(SPARQ_EINVAL, "config: vocab = %d (the character set has %d symbols)", c->vocab,
                          SPARQ_VOCAB);
    return SPARQ_OK;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

int sparq_config_load(struct sparq_config *c, const char *path)
{
    sparq_config_default(c);
    FILE *f = sparq_fopen(path, "r");
    if (!f)
        return SPARQ_EIO;
    char line[512];
    int lineno = 0, rc = SPARQ_OK;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        char *s = trim(line);
        if (!*s)
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = sparq_fail(SPARQ_EFORMAT, "%s:%d: expected 'key = value'", path, lineno);
            break;
        }
        *eq = 0;
        char *key = trim(s), *val = trim(eq + 1), *end;
        errno = 0;
        if (!strcmp(key, "dropout")) {
            double p = strtod(val, &end);
            if (!*val || *end || errno || !(p >= 0.0 && p < 1.0)) {
                rc = sparq_fail(SPARQ_EFORMAT, "%s:%d: dropout: '%s' is not a number in [0, 1)", path, lineno, val);
                break;
            }
            c->dropout = (float)p;
            continue;
        }
        long v = strtol(val, &end, 10);
        if (!*val || *end || errno || v < -1000000 || v > 1000000) {
            rc = sparq_fail(SPARQ_EFORMAT, "%s:%d: %s: '%s' is not an integer", path, lineno, key, val);
            break;
        }
        int *dst = !strcmp(key, "n_mels")         ? &c->n_mels
                   : !strcmp(key, "sub_channels") ? &c->sub_channels
                   : !strcmp(key, "d_model")      ? &c->d_model
                   : !strcmp(key, "n_heads")      ? &c->n_heads
                   : !strcmp(key, "ffn_dim")      ? &c->ffn_dim
                   : !strcmp(key, "kernel")       ? &c->kernel
                   : !strcmp(key, "n_layers")     ? &c->n_layers
                   : !strcmp(key, "vocab")        ? &c->vocab
                                                  : NULL;
        if (!dst) {
            rc = sparq_fail(SPARQ_EFORMAT, "%s:%d: unknown key '%s'", path, lineno, key);
            break;
        }
        *dst = (int)v;
    }
    fclose(f);
    if (rc == SPARQ_OK && (rc = sparq_config_validate(c)) != SPARQ_OK) {
        char msg[400];
        snprintf(msg, sizeof msg, "%s", sparq_last_error());
        rc = sparq_fail(rc, "%s: %s", path, msg);
    }
    return rc;
}

int sparq_config_format(const struct sparq_config *c, char *dst, size_t cap)
{
    int n = snprintf(dst, cap,
                     "n_mels = %d\nsub_channels = %d\nd_model = %d\nn_heads = %d\nffn_dim = %d\nkernel = %d\n"
                     "n_layers = %d\nvocab = %d\n",
                     c->n_mels, c->sub_channels, c->d_model, c->n_heads, c->ffn_dim, c->kernel, c->n_layers,
                     c->vocab);
    return n < 0 || (size_t)n >= cap ? SPARQ_EINVAL : n;
}
