// `sparq ablate`: result rows, their JSON form and OUT/rows.json (--resume).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ablate.h"
#include "sparq_error.h"
#include "sparq_file.h"

const char *const KIND_NAME[] = { "base", "finetune", "ptq", "mixed" };

int ablate_row_index(const struct ablate *a, const char *name)
{
    for (int i = 0; i < a->n_rows; i++)
        if (!strcmp(a->rows[i].name, name))
            return i;
    return -1;
}

const struct row *ablate_find_row(const struct ablate *a, const char *name)
{
    int i = ablate_row_index(a, name);
    return i < 0 ? NULL : &a->rows[i];
}

double ablate_row_pct(const struct row *r) { return 100.0 * (double)r->file_bytes / (double)r->fp32_bytes; }
double ablate_row_matmul_pct(const struct row *r)
{
    return r->matmul_params ? 100.0 * (double)r->matmul_bytes / (4.0 * (double)r->matmul_params) : 100.0;
}

double ablate_row_wer(const struct row *r, int decoder)
{
    return decoder == 0 ? r->wer : decoder == 1 ? r->wer_beam : r->wer_lm;
}

// Relative WER change against the float control decoded the same way; 0
// (and *ok = 0) without one or without that decoder's numbers.
double ablate_row_rel_by(const struct ablate *a, const struct row *r, int decoder, int *ok)
{
    const struct row *f = ablate_find_row(a, "float");
    double fw = f ? ablate_row_wer(f, decoder) : 0, w = ablate_row_wer(r, decoder);
    *ok = f && fw > 0 && w >= 0 && (decoder == 0 || !strcmp(f->dec_key, r->dec_key));
    return *ok ? (w - fw) / fw : 0;
}

double ablate_row_rel(const struct ablate *a, const struct row *r, int *ok) { return ablate_row_rel_by(a, r, 0, ok); }

cJSON *ablate_row_json(const struct ablate *a, const struct row *r, int with_derived)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", r->name);
    cJSON_AddStringToObject(o, "kind", KIND_NAME[r->kind]);
    cJSON_AddStringToObject(o, "spec", r->spec);
    cJSON_AddStringToObject(o, "formats", r->formats);
    cJSON_AddBoolToObject(o, "finetuned", r->kind == K_FINETUNE || r->kind == K_MIXED);
    cJSON_AddNumberToObject(o, "steps", (double)r->steps);
    cJSON_AddBoolToObject(o, "resumed", r->resumed);
    cJSON_AddNumberToObject(o, "test_wer", r->wer);
    cJSON_AddNumberToObject(o, "word_errors", (double)r->word_errors);
    cJSON_AddNumberToObject(o, "ref_words", (double)r->ref_words);
    cJSON_AddNumberToObject(o, "file_bytes", (double)r->file_bytes);
    cJSON_AddNumberToObject(o, "param_bytes", (double)r->param_bytes);
    cJSON_AddNumberToObject(o, "fp32_bytes", (double)r->fp32_bytes);
    cJSON_AddNumberToObject(o, "matmul_params", (double)r->matmul_params);
    cJSON_AddNumberToObject(o, "matmul_bytes", (double)r->matmul_bytes);
    cJSON_AddNumberToObject(o, "finetune_seconds", r->ft_seconds);
    cJSON_AddNumberToObject(o, "eval_seconds", r->eval_seconds);
    if (r->dec_key[0]) {
        cJSON_AddStringToObject(o, "decode", r->dec_key);
        cJSON_AddNumberToObject(o, "test_wer_beam", r->wer_beam);
        if (r->wer_lm >= 0)
            cJSON_AddNumberToObject(o, "test_wer_beam_lm", r->wer_lm);
    }
    if (r->kind == K_MIXED) {
        cJSON_AddNumberToObject(o, "budget_pct_fp32", r->budget);
        cJSON_AddNumberToObject(o, "search_seconds", r->search_seconds);
        cJSON_AddNumberToObject(o, "search_file_bytes", (double)r->search_bytes);
    }
    if (with_derived) {
        int ok;
        double rel = ablate_row_rel(a, r, &ok);
        cJSON_AddNumberToObject(o, "size_pct_fp32", ablate_row_pct(r));
        cJSON_AddNumberToObject(o, "matmul_pct_fp32", ablate_row_matmul_pct(r));
        if (ok)
            cJSON_AddNumberToObject(o, "rel_wer_vs_float", rel);
        else
            cJSON_AddNullToObject(o, "rel_wer_vs_float");
        static const char *const keys[] = { "rel_wer_beam_vs_float", "rel_wer_beam_lm_vs_float" };
        for (int d = 1; d <= 2 && r->dec_key[0]; d++) {
            rel = ablate_row_rel_by(a, r, d, &ok);
            if (ok)
                cJSON_AddNumberToObject(o, keys[d - 1], rel);
        }
    }
    return o;
}

int ablate_json_num(const cJSON *o, const char *key, double *v)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(it))
        return -1;
    *v = it->valuedouble;
    return 0;
}

static int row_from_json(struct row *r, const cJSON *o)
{
    memset(r, 0, sizeof *r);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "kind");
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(o, "spec");
    const cJSON *formats = cJSON_GetObjectItemCaseSensitive(o, "formats");
    if (!cJSON_IsString(name) || !cJSON_IsString(kind) || !cJSON_IsString(spec) || !cJSON_IsString(formats))
        return -1;
    snprintf(r->name, sizeof r->name, "%s", name->valuestring);
    snprintf(r->formats, sizeof r->formats, "%s", formats->valuestring);
    int k = -1;
    for (int i = 0; i < 4; i++)
        if (!strcmp(kind->valuestring, KIND_NAME[i]))
            k = i;
    if (k < 0)
        return -1;
    r->kind = (enum kind)k;
    double steps, file, param, fp32, mp, mb, werr, refw, ft, ev;
    if (ablate_json_num(o, "steps", &steps) || ablate_json_num(o, "test_wer", &r->wer) ||
        ablate_json_num(o, "file_bytes", &file) || ablate_json_num(o, "param_bytes", &param) ||
        ablate_json_num(o, "fp32_bytes", &fp32) || ablate_json_num(o, "matmul_params", &mp) ||
        ablate_json_num(o, "matmul_bytes", &mb) || ablate_json_num(o, "word_errors", &werr) ||
        ablate_json_num(o, "ref_words", &refw) || ablate_json_num(o, "finetune_seconds", &ft) ||
        ablate_json_num(o, "eval_seconds", &ev) || !(fp32 > 0))
        return -1;
    r->steps = (int64_t)steps;
    r->file_bytes = (size_t)file;
    r->param_bytes = (size_t)param;
    r->fp32_bytes = (size_t)fp32;
    r->matmul_params = (size_t)mp;
    r->matmul_bytes = (size_t)mb;
    r->word_errors = (int64_t)werr;
    r->ref_words = (int64_t)refw;
    r->ft_seconds = ft;
    r->eval_seconds = ev;
    r->resumed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "resumed"));
    // Beam decoding (optional: rows of a greedy-only run have none).
    r->wer_beam = r->wer_lm = -1;
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(o, "decode");
    if (cJSON_IsString(dec)) {
        if (ablate_json_num(o, "test_wer_beam", &r->wer_beam))
            return -1;
        if (ablate_json_num(o, "test_wer_beam_lm", &r->wer_lm))
            r->wer_lm = -1;
        snprintf(r->dec_key, sizeof r->dec_key, "%s", dec->valuestring);
    }
    if (r->kind == K_MIXED) {
        double sb;
        if (ablate_json_num(o, "budget_pct_fp32", &r->budget) ||
            ablate_json_num(o, "search_seconds", &r->search_seconds) || ablate_json_num(o, "search_file_bytes", &sb))
            return -1;
        r->search_bytes = (size_t)sb;
    }
    r->spec = strdup(spec->valuestring);
    return r->spec ? 0 : -1;
}

int ablate_write_json_file(const char *path, cJSON *root)
{
    char *text = cJSON_Print(root);
    if (!text)
        return sparq_fail(SPARQ_ENOMEM, "%s: cannot format JSON", path);
    size_t n = strlen(text);
    char *t2 = realloc(text, n + 2);
    if (!t2) {
        free(text);
        return sparq_fail(SPARQ_ENOMEM, "%s: out of memory", path);
    }
    t2[n] = '\n';
    int rc = sparq_write_file_atomic(path, t2, n + 1);
    free(t2);
    return rc;
}

// OUT/rows.json: the options fingerprint and every finished row.
int ablate_save_rows(const struct ablate *a)
{
    char path[4096];
    int rc = sparq_path_join(path, sizeof path, a->out, "rows.json");
    if (rc)
        return rc;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "format", "sparq-ablate-rows");
    cJSON_AddNumberToObject(root, "version", 1);
    cJSON_AddStringToObject(root, "options", a->fingerprint);
    cJSON *rows = cJSON_AddArrayToObject(root, "rows");
    for (int i = 0; i < a->n_rows; i++)
        cJSON_AddItemToArray(rows, ablate_row_json(a, &a->rows[i], 0));
    rc = ablate_write_json_file(path, root);
    cJSON_Delete(root);
    return rc;
}

int ablate_load_rows(struct ablate *a)
{
    char path[4096];
    int rc = sparq_path_join(path, sizeof path, a->out, "rows.json"), missing;
    char *text;
    size_t len;
    if (rc || (rc = ablate_read_text(path, &text, &len, &missing)))
        return rc;
    if (missing)
        return SPARQ_OK;
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    const cJSON *opts = cJSON_GetObjectItemCaseSensitive(root, "options");
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(root, "rows");
    if (!root || !cJSON_IsString(fmt) || strcmp(fmt->valuestring, "sparq-ablate-rows") || !cJSON_IsString(opts) ||
        !cJSON_IsArray(rows)) {
        cJSON_Delete(root);
        return sparq_fail(SPARQ_EFORMAT, "%s: not a sparq ablate rows file", path);
    }
    if (strcmp(opts->valuestring, a->fingerprint)) {
        rc = sparq_fail(SPARQ_EINVAL, "%s was written with other options (%s); --resume needs the same ones, or use another --out",
                        path, opts->valuestring);
        cJSON_Delete(root);
        return rc;
    }
    const cJSON *it;
    int idx = 0;
    cJSON_ArrayForEach(it, rows)
    {
        if (a->n_rows == MAX_ROWS - MAX_SETTINGS) {
            cJSON_Delete(root);
            return sparq_fail(SPARQ_EFORMAT, "%s: more than %d rows; use another --out", path, MAX_ROWS - MAX_SETTINGS);
        }
        if (row_from_json(&a->rows[a->n_rows], it)) {
            cJSON_Delete(root);
            return sparq_fail(SPARQ_EFORMAT, "%s: rows[%d]: missing or malformed field", path, idx);
        }
        a->n_rows++;
        idx++;
    }
    cJSON_Delete(root);
    return SPARQ_OK;
}


// Whole file into a NUL-terminated buffer; *missing is set (and SPARQ_OK
// returned with *out NULL) if it does not exist.
int ablate_read_text(const char *path, char **out, size_t *len, int *missing)
{
    *out = NULL;
    *len = 0;
    *missing = !sparq_file_exists(path);
    return *missing ? SPARQ_OK : sparq_read_file(path, (size_t)256 << 20, out, len);
}
