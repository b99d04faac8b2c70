// Model configuration: defaults, validation and a "key = value" text file.
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_error.h"
#include "sparq_file.h"
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
    c->subsampling = SPARQ_SUB_CONV2D;
}

// Names of enum sparq_subsampling, in its order.
static const char *const SUB_NAMES[] = { "conv2d", "dwsep4" };
#define N_SUB ((int)(sizeof SUB_NAMES / sizeof *SUB_NAMES))

const char *sparq_subsampling_name(int kind) { return kind >= 0 && kind < N_SUB ? SUB_NAMES[kind] : "?"; }

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
    if (c->subsampling < 0 || c->subsampling >= N_SUB)
        return sparq_fail(SPARQ_EINVAL, "config: subsampling = %d (need conv2d or dwsep4)", c->subsampling);
    if (c->vocab != SPARQ_VOCAB)
        return sparq_fail(SPARQ_EINVAL, "config: vocab = %d (the character set has %d symbols)", c->vocab,
                          SPARQ_VOCAB);
    return SPARQ_OK;
}

int sparq_config_check_compressible(const struct sparq_config *c, const char *what)
{
    if (c->subsampling == SPARQ_SUB_CONV2D)
        return SPARQ_OK;
    return sparq_fail(SPARQ_EINVAL,
                      "%s: subsampling = %s: the compressed path (export, runtime, fine-tuning) supports only "
                      "subsampling = conv2d",
                      what, sparq_subsampling_name(c->subsampling));
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

// One "key = value" line (comment already cut, trimmed, not empty) into c.
static int parse_line(struct sparq_config *c, char *s, const char *name, int lineno, int *seen)
{
    static const char *const keys[] = { "n_mels", "sub_channels", "d_model", "n_heads", "ffn_dim",
                                        "kernel", "n_layers", "vocab", "dropout", "subsampling" };
    int *const dst[] = { &c->n_mels, &c->sub_channels, &c->d_model, &c->n_heads, &c->ffn_dim,
                         &c->kernel, &c->n_layers, &c->vocab, NULL, NULL };
    char *eq = strchr(s, '=');
    if (!eq)
        return sparq_fail(SPARQ_EFORMAT, "%s:%d: expected 'key = value'", name, lineno);
    *eq = 0;
    char *key = trim(s), *val = trim(eq + 1), *end;
    int k = 0;
    while (k < (int)(sizeof keys / sizeof *keys) && strcmp(key, keys[k]))
        k++;
    if (k == (int)(sizeof keys / sizeof *keys))
        return sparq_fail(SPARQ_EFORMAT, "%s:%d: unknown key '%.64s'", name, lineno, key);
    // A key given twice is a mistake (which one was meant?), not an override.
    if (seen[k])
        return sparq_fail(SPARQ_EFORMAT, "%s:%d: %s given twice (first on line %d)", name, lineno, key, seen[k]);
    seen[k] = lineno;
    errno = 0;
    if (!strcmp(key, "subsampling")) {
        int v = 0;
        while (v < N_SUB && strcmp(val, SUB_NAMES[v]))
            v++;
        if (v == N_SUB)
            return sparq_fail(SPARQ_EFORMAT, "%s:%d: subsampling: '%.64s' is not conv2d or dwsep4", name, lineno, val);
        c->subsampling = v;
        return SPARQ_OK;
    }
    if (!dst[k]) {
        double p = strtod(val, &end);
        if (!*val || *end || errno || !(p >= 0.0 && p < 1.0))
            return sparq_fail(SPARQ_EFORMAT, "%s:%d: dropout: '%.64s' is not a number in [0, 1)", name, lineno, val);
        c->dropout = (float)p;
        return SPARQ_OK;
    }
    long v = strtol(val, &end, 10);
    if (!*val || *end || errno || v < -1000000 || v > 1000000)
        return sparq_fail(SPARQ_EFORMAT, "%s:%d: %s: '%.64s' is not an integer", name, lineno, key, val);
    *dst[k] = (int)v;
    return SPARQ_OK;
}

int sparq_config_parse(struct sparq_config *c, const char *text, size_t len, const char *name)
{
    sparq_config_default(c);
    if (len > SPARQ_CONFIG_MAX_BYTES)
        return sparq_fail(SPARQ_EFORMAT, "%s: %zu bytes; a config is at most %d", name, len, SPARQ_CONFIG_MAX_BYTES);
    if (memchr(text, 0, len))
        return sparq_fail(SPARQ_EFORMAT, "%s: holds NUL bytes; not a text config", name);
    char *buf = sparq_malloc(len + 1, "config text");
    if (!buf)
        return SPARQ_ENOMEM;
    memcpy(buf, text, len);
    buf[len] = 0;
    int lineno = 0, rc = SPARQ_OK, seen[10] = { 0 };
    for (char *line = buf, *next; line && rc == SPARQ_OK; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        char *s = trim(line);
        if (*s)
            rc = parse_line(c, s, name, lineno, seen);
    }
    free(buf);
    if (rc == SPARQ_OK && (rc = sparq_config_validate(c)) != SPARQ_OK)
        sparq_fail_wrap(rc, "%s: ", name);
    return rc;
}

int sparq_config_load(struct sparq_config *c, const char *path)
{
    sparq_config_default(c);
    char *text = NULL;
    size_t len = 0;
    // Bounded: `--config /dev/zero` or an endless pipe is an error after
    // SPARQ_CONFIG_MAX_BYTES, not a loop. A signal (SIGTERM while waiting on a
    // FIFO) interrupts the read, which is then an error too.
    int rc = sparq_read_file(path, SPARQ_CONFIG_MAX_BYTES, &text, &len);
    if (rc == SPARQ_OK)
        rc = sparq_config_parse(c, text, len, path);
    free(text);
    return rc;
}

int sparq_config_format(const struct sparq_config *c, char *dst, size_t cap)
{
    int n = snprintf(dst, cap,
                     "n_mels = %d\nsub_channels = %d\nd_model = %d\nn_heads = %d\nffn_dim = %d\nkernel = %d\n"
                     "n_layers = %d\nvocab = %d\n",
                     c->n_mels, c->sub_channels, c->d_model, c->n_heads, c->ffn_dim, c->kernel, c->n_layers,
                     c->vocab);
    if (n < 0 || (size_t)n >= cap)
        return SPARQ_EINVAL;
    // Only a non-default front-end is written, so conv2d models and
    // checkpoints stay byte-identical to those written before the key existed.
    if (c->subsampling != SPARQ_SUB_CONV2D) {
        int k = snprintf(dst + n, cap - (size_t)n, "subsampling = %s\n", sparq_subsampling_name(c->subsampling));
        if (k < 0 || (size_t)k >= cap - (size_t)n)
            return SPARQ_EINVAL;
        n += k;
    }
    return n;
}
