// `--compress` spec parsing and the budgeted mixed-precision choice.
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_compress.h"
#include "sparq_error.h"

static int parse_setting(struct sparq_layer_setting *s, const char *text)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", text);
    s->grid = SPARQ_GRID_SYMMETRIC;
    char *slash = strchr(buf, '/');
    if (slash) {
        *slash = 0;
        if (strcmp(slash + 1, "full") == 0)
            s->grid = SPARQ_GRID_FULL;
        else if (strcmp(slash + 1, "sym") != 0)
            return -1;
    }
    if (!strcmp(buf, "float") || !strcmp(buf, "fp32")) {
        s->width = 0;
        s->kept = 4;
        return 0;
    }
    if (!strcmp(buf, "float-2:4") || !strcmp(buf, "float-1:4")) { // sparsity alone, float values
        s->width = 0;
        s->kept = buf[6] - '0';
        return 0;
    }
    int width = 0, kept = 4;
    char tail[16] = "";
    if (sscanf(buf, "int%d%15s", &width, tail) < 1)
        return -1;
    if (tail[0]) {
        if (sscanf(tail, "-%d:4", &kept) != 1)
            return -1;
        char check[16];
        snprintf(check, sizeof check, "-%d:4", kept);
        if (strcmp(check, tail) != 0)
            return -1;
    }
    if (!sparq_format_lookup(width, kept))
        return -1;
    s->width = width;
    s->kept = kept;
    return 0;
}

int sparq_compress_spec_parse(struct sparq_compress_spec *spec, const char *text)
{
    memset(spec, 0, sizeof *spec);
    char *copy = strdup(text ? text : "");
    if (!copy)
        return sparq_fail(SPARQ_ENOMEM, "compress spec: out of memory");
    int rc = SPARQ_OK;
    char *save = NULL;
    for (char *rule = strtok_r(copy, ",", &save); rule; rule = strtok_r(NULL, ",", &save)) {
        if (spec->count == SPARQ_SPEC_MAX_RULES) {
            rc = sparq_fail(SPARQ_EINVAL, "compress spec: more than %d rules", SPARQ_SPEC_MAX_RULES);
            break;
        }
        char *eq = strchr(rule, '=');
        const char *pattern = "*", *format = rule;
        if (eq) {
            *eq = 0;
            pattern = rule;
            format = eq + 1;
        }
        if (!*pattern || strlen(pattern) >= sizeof spec->rules[0].pattern) {
            rc = sparq_fail(SPARQ_EINVAL, "compress spec: bad pattern in rule '%s'", rule);
            break;
        }
        if (parse_setting(&spec->rules[spec->count].setting, format)) {
            rc = sparq_fail(SPARQ_EINVAL,
                            "compress spec: unknown format '%s' (expected float, int8, int4-2:4, int2-1:4/full, ...)",
                            format);
            break;
        }
        snprintf(spec->rules[spec->count].pattern, sizeof spec->rules[0].pattern, "%s", pattern);
        spec->count++;
    }
    if (rc == SPARQ_OK && spec->count == 0)
        rc = sparq_fail(SPARQ_EINVAL, "compress spec: empty");
    free(copy);
    return rc;
}

struct sparq_layer_setting sparq_compress_spec_lookup(const struct sparq_compress_spec *spec, const char *name)
{
    struct sparq_layer_setting s = { 0, 4, SPARQ_GRID_SYMMETRIC };
    for (int i = 0; i < spec->count; i++)
        if (fnmatch(spec->rules[i].pattern, name, 0) == 0)
            s = spec->rules[i].setting;
    return s;
}

void sparq_layer_setting_name(const struct sparq_layer_setting *s, char *buf, size_t size)
{
    if (s->width == 0)
        snprintf(buf, size, s->kept == 4 ? "float" : "float-%d:4", s->kept);
    else
        snprintf(buf, size, "int%d-%d:4%s", s->width, s->kept, s->grid == SPARQ_GRID_FULL ? "/full" : "");
}

size_t sparq_layer_bytes(const struct sparq_layer_setting *s, int out, int in)
{
    if (s->width == 0) // float, sparse or not, is stored dense
        return (size_t)out * in * 4;
    const struct sparq_format_type *t = sparq_format_lookup(s->width, s->kept);
    size_t blocks = ((size_t)in + SPARQ_BLOCK - 1) / SPARQ_BLOCK;
    return (size_t)out * (blocks * t->block_bytes + 4);
}

int sparq_budget_choose(int *choice, int layers, const int *count, const size_t *const *bytes,
                        const double *const *cost, size_t budget, size_t quantum)
{
    if (quantum == 0)
        quantum = 1;
    const size_t cap = budget / quantum; // capacity in quanta
    if (cap > (size_t)1 << 26)
        return sparq_fail(SPARQ_EINVAL, "budget: %zu quanta is too fine; raise the quantum", cap);
    // best[c] = minimal cost of the layers so far using at most c quanta.
    double *best = malloc(sizeof(double) * (cap + 1)), *next = malloc(sizeof(double) * (cap + 1));
    int *pick = malloc(sizeof(int) * (size_t)layers * (cap + 1));
    if (!best || !next || !pick) {
        free(best);
        free(next);
        free(pick);
        return sparq_fail(SPARQ_ENOMEM, "budget: out of memory");
    }
    const double inf = 1e300;
    for (size_t c = 0; c <= cap; c++)
        best[c] = 0.0;
    for (int i = 0; i < layers; i++) {
        for (size_t c = 0; c <= cap; c++) {
            next[c] = inf;
            pick[(size_t)i * (cap + 1) + c] = -1;
            for (int j = 0; j < count[i]; j++) {
                size_t q = (bytes[i][j] + quantum - 1) / quantum;
                if (q > c || best[c - q] >= inf)
                    continue;
                double v = best[c - q] + cost[i][j];
                if (v < next[c]) {
                    next[c] = v;
                    pick[(size_t)i * (cap + 1) + c] = j;
                }
            }
        }
        double *t = best;
        best = next;
        next = t;
    }
    int rc = SPARQ_OK;
    if (best[cap] >= inf)
        rc = sparq_fail(SPARQ_EINVAL, "budget: no per-layer choice fits in %zu bytes", budget);
    else {
        size_t c = cap;
        for (int i = layers - 1; i >= 0; i--) {
            int j = pick[(size_t)i * (cap + 1) + c];
            choice[i] = j;
            c -= (bytes[i][j] + quantum - 1) / quantum;
        }
    }
    free(best);
    free(next);
    free(pick);
    return rc;
}
