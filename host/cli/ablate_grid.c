// `sparq ablate`: the settings grid - names, kinds, compression specs and budgets.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ablate.h"
#include "sparq_error.h"
#include "sparq_parse.h"
#include "sparq_search.h"

// The paper's grid in order; mixed@B settings (one per --budgets value) and
// the post-training ones follow. "base" (the untouched model) always runs first.
static const char *const GRID[] = { "float",     "int8",      "int4",     "int2",     "int2/full",
                                    "float-2:4", "float-1:4", "int4-2:4", "int2-2:4", "int4-1:4" };
static const char *const PTQ_GRID[] = { "ptq-int4", "ptq-int4-2:4" };

static int is_float_spec(const char *spec) { return !strcmp(spec, "float") || !strcmp(spec, "fp32"); }

static int add_setting(struct ablate *a, const char *name)
{
    if (a->n_settings == MAX_SETTINGS)
        return sparq_fail(SPARQ_EINVAL, "--settings: more than %d settings", MAX_SETTINGS);
    for (int i = 0; i < a->n_settings; i++)
        if (!strcmp(a->settings[i].name, name))
            return SPARQ_OK; // listed twice: run once
    struct setting *s = &a->settings[a->n_settings];
    memset(s, 0, sizeof *s);
    if (strlen(name) >= sizeof s->name)
        return sparq_fail(SPARQ_EINVAL, "--settings: '%s' is too long", name);
    snprintf(s->name, sizeof s->name, "%s", name);
    if (!strcmp(name, "base")) {
        s->kind = K_BASE;
        snprintf(s->spec, sizeof s->spec, "float");
    } else if (!strncmp(name, "mixed@", 6)) {
        s->kind = K_MIXED;
        if (sparq_parse_double("--settings mixed@", name + 6, 1e-6, 100, &s->budget))
            return sparq_fail(SPARQ_EINVAL, "--settings: '%s': expected mixed@PERCENT (0 < PERCENT <= 100)", name);
    } else {
        const char *spec = name;
        s->kind = K_FINETUNE;
        if (!strncmp(name, "ptq-", 4)) {
            s->kind = K_PTQ;
            spec = name + 4;
        }
        struct sparq_compress_spec parsed;
        if (sparq_compress_spec_parse(&parsed, spec))
            return sparq_fail(SPARQ_EINVAL, "--settings: '%s': %s", name, sparq_last_error());
        snprintf(s->spec, sizeof s->spec, "%s", spec);
    }
    // A folder name without '/', ':' or '@'.
    size_t j = 0;
    for (const char *p = name; *p && j + 3 < sizeof s->dir; p++) {
        if (*p == '/' || *p == '@')
            s->dir[j++] = '-';
        else if (*p == ':')
            s->dir[j++] = 'o', s->dir[j++] = 'f';
        else
            s->dir[j++] = *p;
    }
    s->dir[j] = 0;
    a->n_settings++;
    return SPARQ_OK;
}

int ablate_parse_budgets(const char *list, double *b, int *n)
{
    *n = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        double v;
        if (sparq_parse_double("--budgets", tok, 1e-6, 100, &v) || *n == 16)
            return sparq_fail(SPARQ_EINVAL, "--budgets: '%s' (expected up to 16 percentages in (0, 100])", tok);
        b[(*n)++] = v;
    }
    return SPARQ_OK;
}

// --settings LIST (or the whole grid) into a->settings, "base" first.
int ablate_make_settings(struct ablate *a, const char *list, const double *budgets, int n_budgets)
{
    int rc = add_setting(a, "base");
    char name[64];
    if (!list) {
        for (size_t i = 0; !rc && i < sizeof GRID / sizeof GRID[0]; i++)
            rc = add_setting(a, GRID[i]);
        for (int i = 0; !rc && i < n_budgets; i++) {
            snprintf(name, sizeof name, "mixed@%g", budgets[i]);
            rc = add_setting(a, name);
        }
        for (size_t i = 0; !rc && i < sizeof PTQ_GRID / sizeof PTQ_GRID[0]; i++)
            rc = add_setting(a, PTQ_GRID[i]);
        return rc;
    }
    char buf[2048];
    if (snprintf(buf, sizeof buf, "%s", list) >= (int)sizeof buf)
        return sparq_fail(SPARQ_EINVAL, "--settings: list too long");
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); !rc && tok; tok = strtok_r(NULL, ",", &save)) {
        if (!strcmp(tok, "mixed")) // every --budgets value
            for (int i = 0; !rc && i < n_budgets; i++) {
                snprintf(name, sizeof name, "mixed@%g", budgets[i]);
                rc = add_setting(a, name);
            }
        else
            rc = add_setting(a, tok);
    }
    return rc;
}

// The spec a setting exports: its own, then --keep (later rules win).
char *ablate_full_spec(const struct ablate *a, const char *spec)
{
    size_t n = strlen(spec) + strlen(a->keep) + 2;
    char *s = malloc(n);
    if (!s)
        return NULL;
    if (a->keep[0] && !is_float_spec(spec))
        snprintf(s, n, "%s,%s", spec, a->keep);
    else
        snprintf(s, n, "%s", spec);
    return s;
}
