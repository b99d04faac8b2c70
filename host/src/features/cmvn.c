// Global mean/variance normalisation statistics (sparq_fbank.h).
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_error.h"
#include "sparq_fbank.h"
#include "sparq_file.h"

int sparq_cmvn_init(struct sparq_cmvn *c, int dim)
{
    memset(c, 0, sizeof *c);
    if (dim < 1 || dim > 4096)
        return sparq_fail(SPARQ_EINVAL, "cmvn: dimension %d out of range 1..4096", dim);
    c->dim = dim;
    c->sum = sparq_calloc((size_t)dim, sizeof(double), "cmvn sums");
    c->sumsq = sparq_calloc((size_t)dim, sizeof(double), "cmvn sums");
    c->mean = sparq_calloc((size_t)dim, sizeof(float), "cmvn mean");
    c->istd = sparq_calloc((size_t)dim, sizeof(float), "cmvn istd");
    if (!c->sum || !c->sumsq || !c->mean || !c->istd) {
        sparq_cmvn_free(c);
        return SPARQ_ENOMEM;
    }
    for (int d = 0; d < dim; d++)
        c->istd[d] = 1.0f;
    return SPARQ_OK;
}

void sparq_cmvn_accumulate(struct sparq_cmvn *c, const float *feats, int frames)
{
    for (int t = 0; t < frames; t++) {
        const float *row = feats + (size_t)t * (size_t)c->dim;
        for (int d = 0; d < c->dim; d++) {
            c->sum[d] += row[d];
            c->sumsq[d] += (double)row[d] * row[d];
        }
    }
    c->frames += frames;
}

int sparq_cmvn_finalize(struct sparq_cmvn *c)
{
    if (c->frames <= 0)
        return sparq_fail(SPARQ_EINVAL, "cmvn: no frames accumulated");
    for (int d = 0; d < c->dim; d++) {
        double mean = c->sum[d] / (double)c->frames;
        double var = c->sumsq[d] / (double)c->frames - mean * mean;
        c->mean[d] = (float)mean;
        c->istd[d] = (float)(1.0 / sqrt(var > SPARQ_CMVN_VAR_FLOOR ? var : SPARQ_CMVN_VAR_FLOOR));
    }
    return SPARQ_OK;
}

void sparq_cmvn_apply(const struct sparq_cmvn *c, float *feats, int frames)
{
    for (int t = 0; t < frames; t++) {
        float *row = feats + (size_t)t * (size_t)c->dim;
        for (int d = 0; d < c->dim; d++)
            row[d] = (row[d] - c->mean[d]) * c->istd[d];
    }
}

int sparq_cmvn_save(const struct sparq_cmvn *c, const char *path)
{
    // %.9g round-trips float32 exactly, so a saved model normalises as trained.
    size_t cap = 128 + (size_t)c->dim * 2 * 24;
    char *buf = sparq_malloc(cap, path);
    if (!buf)
        return SPARQ_ENOMEM;
    size_t n = (size_t)snprintf(buf, cap, "{\"format\":\"sparq-cmvn\",\"version\":1,\"dim\":%d,\"frames\":%lld,\"mean\":[",
                                c->dim, (long long)c->frames);
    for (int d = 0; d < c->dim; d++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%.9g", d ? "," : "", (double)c->mean[d]);
    n += (size_t)snprintf(buf + n, cap - n, "],\"istd\":[");
    for (int d = 0; d < c->dim; d++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%.9g", d ? "," : "", (double)c->istd[d]);
    n += (size_t)snprintf(buf + n, cap - n, "]}\n");
    int rc = sparq_write_file_atomic(path, buf, n);
    free(buf);
    return rc;
}

int sparq_cmvn_load(struct sparq_cmvn *c, const char *path)
{
    memset(c, 0, sizeof *c);
    char *text = NULL;
    size_t len = 0;
    int rd = sparq_read_file(path, 1 << 20, &text, &len); // CMVN statistics are a few KB of JSON
    if (rd)
        return rd;
    cJSON *j = cJSON_Parse(text);
    free(text);
    if (!j)
        return sparq_fail(SPARQ_EFORMAT, "%s: not valid JSON", path);
    int rc = SPARQ_OK;
    cJSON *fmt = cJSON_GetObjectItemCaseSensitive(j, "format");
    cJSON *ver = cJSON_GetObjectItemCaseSensitive(j, "version");
    cJSON *dim = cJSON_GetObjectItemCaseSensitive(j, "dim");
    cJSON *frames = cJSON_GetObjectItemCaseSensitive(j, "frames");
    cJSON *mean = cJSON_GetObjectItemCaseSensitive(j, "mean");
    cJSON *istd = cJSON_GetObjectItemCaseSensitive(j, "istd");
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "sparq-cmvn") != 0) {
        rc = sparq_fail(SPARQ_EFORMAT, "%s: field format is not \"sparq-cmvn\"", path);
    } else if (!cJSON_IsNumber(ver) || ver->valueint != 1) {
        rc = sparq_fail(SPARQ_EFORMAT, "%s: unsupported version (want 1)", path);
    } else if (!cJSON_IsNumber(dim) || !cJSON_IsArray(mean) || !cJSON_IsArray(istd) ||
               cJSON_GetArraySize(mean) != dim->valueint || cJSON_GetArraySize(istd) != dim->valueint) {
        rc = sparq_fail(SPARQ_EFORMAT, "%s: fields dim/mean/istd missing or of different lengths", path);
    } else if ((rc = sparq_cmvn_init(c, dim->valueint)) == SPARQ_OK) {
        c->frames = cJSON_IsNumber(frames) ? (int64_t)frames->valuedouble : 0;
        for (int d = 0; d < c->dim && rc == SPARQ_OK; d++) {
            cJSON *m = cJSON_GetArrayItem(mean, d), *s = cJSON_GetArrayItem(istd, d);
            if (!cJSON_IsNumber(m) || !cJSON_IsNumber(s) || !(s->valuedouble > 0))
                rc = sparq_fail(SPARQ_EFORMAT, "%s: mean[%d]/istd[%d] not a valid number", path, d, d);
            else {
                c->mean[d] = (float)m->valuedouble;
                c->istd[d] = (float)s->valuedouble;
            }
        }
        if (rc)
            sparq_cmvn_free(c);
    }
    cJSON_Delete(j);
    return rc;
}

void sparq_cmvn_free(struct sparq_cmvn *c)
{
    free(c->sum);
    free(c->sumsq);
    free(c->mean);
    free(c->istd);
    memset(c, 0, sizeof *c);
}
