// JSONL manifests and the Kaldi / LibriSpeech importers (sparq_manifest.h).
#include "sparq_manifest.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sparq_audio.h"
#include "sparq_error.h"
#include "sparq_text.h"

#define MODEL_RATE 16000
// A manifest duration may differ from the file by this much before
// `sparq data check` calls it wrong (NeMo rounds durations to 0.01 s or so).
#define DURATION_SLACK 0.05

int sparq_manifest_add(struct sparq_manifest *m, const char *id, const char *audio_path, double duration,
                       const char *text)
{
    if (m->count == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 256;
        struct sparq_utt *u = realloc(m->utts, cap * sizeof *u);
        if (!u)
            return sparq_fail(SPARQ_ENOMEM, "out of memory growing manifest to %zu entries", cap);
        m->utts = u;
        m->cap = cap;
    }
    struct sparq_utt *u = &m->utts[m->count];
    u->id = strdup(id);
    u->audio_path = strdup(audio_path);
    u->text = strdup(text);
    u->duration = duration;
    if (!u->id || !u->audio_path || !u->text) {
        free(u->id);
        free(u->audio_path);
        free(u->text);
        return sparq_fail(SPARQ_ENOMEM, "out of memory adding utterance %s", id);
    }
    m->count++;
    return SPARQ_OK;
}

void sparq_manifest_free(struct sparq_manifest *m)
{
    for (size_t i = 0; i < m->count; i++) {
        free(m->utts[i].id);
        free(m->utts[i].audio_path);
        free(m->utts[i].text);
    }
    free(m->utts);
    memset(m, 0, sizeof *m);
}

double sparq_manifest_hours(const struct sparq_manifest *m)
{
    double s = 0;
    for (size_t i = 0; i < m->count; i++)
        s += m->utts[i].duration;
    return s / 3600.0;
}

// "dir/file.ext" -> "file"
static char *basename_noext(const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    char *s = strdup(b);
    if (s) {
        char *dot = strrchr(s, '.');
        if (dot && dot != s)
            *dot = 0;
    }
    return s;
}

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s/%s", dir, name);
    return s;
}

// A relative path made absolute against the current folder, so a manifest
// written elsewhere still points at the same files.
static char *absolute(const char *path)
{
    if (path[0] == '/')
        return strdup(path);
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd))
        return NULL;
    while (path[0] == '.' && path[1] == '/')
        path += 2;
    return join(cwd, path);
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    size_t n = (size_t)(slash - path);
    char *d = malloc(n + 2);
    if (d) {
        memcpy(d, path, n ? n : 1);
        d[n ? n : 1] = 0;
    }
    return d;
}

int sparq_manifest_line_check(const char *path, int lineno, const char *line, size_t len)
{
    const char *nul = memchr(line, 0, len);
    if (nul)
        return sparq_fail(SPARQ_EFORMAT, "%s:%d: NUL byte at column %zu", path, lineno, (size_t)(nul - line) + 1);
    return SPARQ_OK;
}

// "\u0000" in a JSON string decodes to NUL, which would end the C string
// early (a truncated transcript); an escaped backslash before "u0000" is
// just text. Outside strings a backslash is a JSON syntax error anyway.
static const char *json_nul_escape(const char *p)
{
    for (; *p; p++)
        if (*p == '\\') {
            if (p[1] == 'u' && !strncmp(p + 2, "0000", 4))
                return p;
            if (p[1])
                p++;
        }
    return NULL;
}

static int cmp_id_line(const void *a, const void *b)
{
    const struct sparq_utt *x = *(const struct sparq_utt *const *)a, *y = *(const struct sparq_utt *const *)b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x < y ? -1 : x > y);
}

int sparq_manifest_check_unique(const char *path, const struct sparq_manifest *m)
{
    const struct sparq_utt **v = malloc((m->count + 1) * sizeof *v);
    if (!v)
        return sparq_fail(SPARQ_ENOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < m->count; i++)
        v[i] = &m->utts[i];
    qsort(v, m->count, sizeof *v, cmp_id_line);
    int rc = SPARQ_OK;
    for (size_t i = 1; i < m->count && !rc; i++)
        if (!strcmp(v[i]->id, v[i - 1]->id))
            rc = sparq_fail(SPARQ_EFORMAT, "%s: utterance id '%s' appears twice (entries %zu and %zu)", path,
                            v[i]->id, (size_t)(v[i - 1] - m->utts) + 1, (size_t)(v[i] - m->utts) + 1);
    free(v);
    return rc;
}

int sparq_manifest_load(const char *path, struct sparq_manifest *m)
{
    memset(m, 0, sizeof *m);
    FILE *f = sparq_fopen(path, "r");
    if (!f)
        return SPARQ_EIO;
    char *rel_dir = dir_of(path);
    char *dir = rel_dir ? absolute(rel_dir) : NULL;
    free(rel_dir);
    if (!dir) {
        fclose(f);
        return sparq_fail(SPARQ_ENOMEM, "%s: cannot resolve the manifest's folder", path);
    }
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, rc = SPARQ_OK;
    ssize_t len;
    while (rc == SPARQ_OK && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if ((rc = sparq_manifest_line_check(path, lineno, line, (size_t)len)))
            break;
        const char *p = line;
        while (*p && isspace((unsigned char)*p))
            p++;
        if (!*p)
            continue;
        if (json_nul_escape(p)) {
            rc = sparq_fail(SPARQ_EFORMAT, "%s:%d: \\u0000 (NUL) in a string", path, lineno);
            break;
        }
        const char *end = NULL;
        cJSON *j = cJSON_ParseWithOpts(p, &end, 0);
        if (!j || !cJSON_IsObject(j)) {
            rc = sparq_fail(SPARQ_EFORMAT, "%s:%d: not a JSON object", path, lineno);
            cJSON_Delete(j);
            break;
        }
        while (end && *end && isspace((unsigned char)*end))
            end++;
        if (end && *end) {
            rc = sparq_fail(SPARQ_EFORMAT, "%s:%d: text after the JSON object at column %zu", path, lineno,
                            (size_t)(end - line) + 1);
            cJSON_Delete(j);
            break;
        }
        cJSON *audio = cJSON_GetObjectItemCaseSensitive(j, "audio_filepath");
        cJSON *dur = cJSON_GetObjectItemCaseSensitive(j, "duration");
        cJSON *text = cJSON_GetObjectItemCaseSensitive(j, "text");
        cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
        if (!cJSON_IsString(audio) || !audio->valuestring[0])
            rc = sparq_fail(SPARQ_EFORMAT, "%s:%d: field audio_filepath missing or not a string", path, lineno);
        else if (!cJSON_IsNumber(dur) || !(dur->valuedouble >= 0) || !isfinite(dur->valuedouble))
            rc = sparq_fail(SPARQ_EFORMAT, "%s:%d: field duration missing or not a non-negative number", path, lineno);
        else if (!cJSON_IsString(text))
            rc = sparq_fail(SPARQ_EFORMAT, "%s:%d: field text missing or not a string", path, lineno);
        else if (id && !cJSON_IsString(id))
            rc = sparq_fail(SPARQ_EFORMAT, "%s:%d: field id is not a string", path, lineno);
        if (rc == SPARQ_OK) {
            // Relative audio paths are relative to the manifest's folder.
            const char *a = audio->valuestring;
            char *resolved = a[0] == '/' ? strdup(a) : join(dir, a);
            char *uid = id ? strdup(id->valuestring) : basename_noext(a);
            if (!resolved || !uid)
                rc = sparq_fail(SPARQ_ENOMEM, "%s:%d: out of memory", path, lineno);
            else
                rc = sparq_manifest_add(m, uid, resolved, dur->valuedouble, text->valuestring);
            free(resolved);
            free(uid);
        }
        cJSON_Delete(j);
    }
    free(line);
    free(dir);
    fclose(f);
    if (rc == SPARQ_OK)
        rc = sparq_manifest_check_unique(path, m);
    if (rc)
        sparq_manifest_free(m);
    return rc;
}

int sparq_manifest_write(const struct sparq_manifest *m, const char *path)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        return sparq_fail(SPARQ_ENOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < m->count; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", m->utts[i].id);
        cJSON_AddStringToObject(o, "audio_filepath", m->utts[i].audio_path);
        // Round to 1e-4 s: plenty for lengths, keeps files readable.
        cJSON_AddNumberToObject(o, "duration", round(m->utts[i].duration * 1e4) / 1e4);
        cJSON_AddStringToObject(o, "text", m->utts[i].text);
        char *line = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (!line) {
            free(buf);
            return sparq_fail(SPARQ_ENOMEM, "%s: out of memory", path);
        }
        size_t len = strlen(line);
        while (n + len + 2 > cap) {
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                free(line);
                return sparq_fail(SPARQ_ENOMEM, "%s: out of memory", path);
            }
            buf = nb;
        }
        memcpy(buf + n, line, len);
        n += len;
        buf[n++] = '\n';
        free(line);
    }
    int rc = sparq_write_file_atomic(path, buf, n);
    free(buf);
    return rc;
}

// ---- importers -------------------------------------------------------------

static void note(FILE *log, const char *fmt, const char *a, const char *b)
{
    if (log) {
        fprintf(log, fmt, a, b);
        fputc('\n', log);
    }
}

// Decodes `audio` (only decoding finds a truncated FLAC) and adds the
// utterance, or reports why it is skipped.
static int add_checked(struct sparq_manifest *out, struct sparq_import_stats *st, FILE *log, const char *id,
                       const char *audio, const char *raw_text)
{
    struct sparq_audio_info info;
    float *x = NULL;
    size_t n;
    int bad = sparq_audio_probe(audio, &info) || sparq_audio_load(audio, 0, &x, &n);
    free(x);
    if (bad) {
        st->skipped++;
        note(log, "skipped %s: %s", id, sparq_last_error());
        return SPARQ_OK;
    }
    char *norm = sparq_text_normalize(raw_text);
    if (!norm)
        return sparq_fail(SPARQ_ENOMEM, "out of memory normalising %s", id);
    if (!norm[0]) {
        free(norm);
        st->skipped++;
        note(log, "skipped %s: %s: empty transcript", id, audio);
        return SPARQ_OK;
    }
    free(norm);
    if (info.rate != MODEL_RATE || info.channels != 1) {
        st->converted++;
        if (log)
            fprintf(log, "converted %s: %s: %d Hz, %d channel(s) -> downmixed/resampled to 16 kHz mono when loaded\n",
                    id, audio, info.rate, info.channels);
    }
    char *abs = absolute(audio);
    if (!abs)
        return sparq_fail(SPARQ_ENOMEM, "%s: cannot make the path absolute", audio);
    int rc = sparq_manifest_add(out, id, abs, info.seconds, raw_text);
    free(abs);
    if (!rc)
        st->imported++;
    return rc;
}

struct kv {
    char *key, *value;
};

static int cmp_kv(const void *a, const void *b) { return strcmp(((const struct kv *)a)->key, ((const struct kv *)b)->key); }

// Reads "key rest-of-line" lines; blank lines skipped.
static int read_kv(const char *path, struct kv **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    FILE *f = sparq_fopen(path, "r");
    if (!f)
        return SPARQ_EIO;
    char *line = NULL;
    size_t lcap = 0, cap = 0, n = 0;
    ssize_t len;
    struct kv *v = NULL;
    int rc = SPARQ_OK, lineno = 0;
    while ((len = getline(&line, &lcap, f)) >= 0) {
        if ((rc = sparq_manifest_line_check(path, ++lineno, line, (size_t)len)))
            break;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
            line[--len] = 0;
        char *p = line;
        while (*p && isspace((unsigned char)*p))
            p++;
        if (!*p)
            continue;
        char *key = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        if (*p)
            *p++ = 0;
        while (*p && isspace((unsigned char)*p))
            p++;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            struct kv *nv = realloc(v, cap * sizeof *v);
            if (!nv) {
                rc = sparq_fail(SPARQ_ENOMEM, "%s: out of memory", path);
                break;
            }
            v = nv;
        }
        v[n].key = strdup(key);
        v[n].value = strdup(p);
        n++;
        if (!v[n - 1].key || !v[n - 1].value) {
            rc = sparq_fail(SPARQ_ENOMEM, "%s: out of memory", path);
            break;
        }
    }
    free(line);
    fclose(f);
    *out = v;
    *count = n;
    return rc;
}

static void free_kv(struct kv *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].key);
        free(v[i].value);
    }
    free(v);
}

int sparq_import_kaldi(const char *dir, struct sparq_manifest *out, struct sparq_import_stats *st, FILE *log)
{
    memset(out, 0, sizeof *out);
    memset(st, 0, sizeof *st);
    char *scp_path = join(dir, "wav.scp"), *text_path = join(dir, "text"), *seg_path = join(dir, "segments");
    struct kv *scp = NULL, *text = NULL;
    size_t nscp = 0, ntext = 0;
    int rc = (!scp_path || !text_path || !seg_path) ? sparq_fail(SPARQ_ENOMEM, "out of memory") : SPARQ_OK;
    struct stat sb;
    if (!rc && stat(seg_path, &sb) == 0)
        rc = sparq_fail(SPARQ_EFORMAT, "%s: Kaldi segments files are not supported (cut the recordings first)",
                        seg_path);
    if (!rc)
        rc = read_kv(scp_path, &scp, &nscp);
    if (!rc)
        rc = read_kv(text_path, &text, &ntext);
    if (!rc && nscp == 0)
        rc = sparq_fail(SPARQ_EFORMAT, "%s: no entries", scp_path);
    if (!rc) {
        qsort(text, ntext, sizeof *text, cmp_kv);
        for (size_t i = 1; i < ntext && !rc; i++)
            if (!strcmp(text[i].key, text[i - 1].key))
                rc = sparq_fail(SPARQ_EFORMAT, "%s: utterance id '%s' appears twice", text_path, text[i].key);
        qsort(scp, nscp, sizeof *scp, cmp_kv);
        for (size_t i = 1; i < nscp && !rc; i++)
            if (!strcmp(scp[i].key, scp[i - 1].key))
                rc = sparq_fail(SPARQ_EFORMAT, "%s: utterance id '%s' appears twice", scp_path, scp[i].key);
    }
    size_t matched = 0;
    for (size_t i = 0; i < nscp && !rc; i++) {
        struct kv key = { scp[i].key, NULL };
        struct kv *t = ntext ? bsearch(&key, text, ntext, sizeof *text, cmp_kv) : NULL;
        const char *wav = scp[i].value;
        size_t wl = strlen(wav);
        if (!t) {
            st->skipped++;
            note(log, "skipped %s: no transcript in %s", scp[i].key, text_path);
            continue;
        }
        matched++;
        if (wl == 0 || wav[wl - 1] == '|') {
            st->skipped++;
            note(log, "skipped %s: %s: piped commands and empty paths in wav.scp are not supported", scp[i].key,
                 wl ? wav : "(empty)");
            continue;
        }
        // Relative paths in wav.scp are relative to where Kaldi runs (the
        // recipe folder); try that first, then relative to the data dir.
        char *path = strdup(wav);
        if (path && wav[0] != '/' && stat(path, &sb) != 0) {
            char *alt = join(dir, wav);
            if (alt && stat(alt, &sb) == 0) {
                free(path);
                path = alt;
            } else
                free(alt);
        }
        rc = path ? add_checked(out, st, log, scp[i].key, path, t->value) : sparq_fail(SPARQ_ENOMEM, "out of memory");
        free(path);
    }
    if (!rc && ntext > matched) {
        st->skipped += ntext - matched;
        if (log)
            fprintf(log, "skipped %zu transcript(s) in %s with no audio in wav.scp\n", ntext - matched, text_path);
    }
    free_kv(scp, nscp);
    free_kv(text, ntext);
    free(scp_path);
    free(text_path);
    free(seg_path);
    if (rc)
        sparq_manifest_free(out);
    return rc;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

#define MAX_DEPTH 8

static int walk_librispeech(const char *dir, int depth, struct sparq_manifest *out, struct sparq_import_stats *st,
                            FILE *log)
{
    DIR *d = opendir(dir);
    if (!d)
        return sparq_fail(SPARQ_EIO, "%s: cannot open folder", dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = SPARQ_OK;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                rc = sparq_fail(SPARQ_ENOMEM, "out of memory listing %s", dir);
                break;
            }
            names = nn;
        }
        names[n] = strdup(e->d_name);
        if (!names[n]) {
            rc = sparq_fail(SPARQ_ENOMEM, "out of memory listing %s", dir);
            break;
        }
        n++;
    }
    closedir(d);
    // Sorted, so the manifest order does not depend on the file system.
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    for (size_t i = 0; i < n && !rc; i++) {
        char *path = join(dir, names[i]);
        struct stat sb;
        if (!path) {
            rc = sparq_fail(SPARQ_ENOMEM, "out of memory");
            break;
        }
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            if (depth < MAX_DEPTH)
                rc = walk_librispeech(path, depth + 1, out, st, log);
        } else if (ends_with(names[i], ".trans.txt")) {
            struct kv *lines;
            size_t nl;
            rc = read_kv(path, &lines, &nl);
            for (size_t k = 0; k < nl && !rc; k++) {
                char flac[4096];
                snprintf(flac, sizeof flac, "%s/%s.flac", dir, lines[k].key);
                rc = add_checked(out, st, log, lines[k].key, flac, lines[k].value);
            }
            free_kv(lines, nl);
        }
        free(path);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

int sparq_import_librispeech(const char *root, struct sparq_manifest *out, struct sparq_import_stats *st, FILE *log)
{
    memset(out, 0, sizeof *out);
    memset(st, 0, sizeof *st);
    int rc = walk_librispeech(root, 0, out, st, log);
    if (!rc && out->count == 0 && st->skipped == 0)
        rc = sparq_fail(SPARQ_EFORMAT, "%s: no *.trans.txt files found", root);
    if (rc)
        sparq_manifest_free(out);
    return rc;
}

int sparq_manifest_check(const struct sparq_manifest *m, struct sparq_manifest *keep, struct sparq_import_stats *st,
                         FILE *log)
{
    memset(st, 0, sizeof *st);
    if (keep)
        memset(keep, 0, sizeof *keep);
    for (size_t i = 0; i < m->count; i++) {
        const struct sparq_utt *u = &m->utts[i];
        struct sparq_audio_info info;
        float *x = NULL;
        size_t n;
        // Decode fully: only decoding finds truncated compressed files.
        int bad = sparq_audio_probe(u->audio_path, &info) || sparq_audio_load(u->audio_path, 0, &x, &n);
        free(x);
        if (bad) {
            st->skipped++;
            note(log, "bad %s: %s", u->id, sparq_last_error());
            continue;
        }
        if (fabs(info.seconds - u->duration) > DURATION_SLACK) {
            st->skipped++;
            if (log)
                fprintf(log, "bad %s: %s: manifest duration %.3f s but the audio lasts %.3f s\n", u->id,
                        u->audio_path, u->duration, info.seconds);
            continue;
        }
        char *norm = sparq_text_normalize(u->text);
        int empty = !norm || !norm[0];
        free(norm);
        if (empty) {
            st->skipped++;
            note(log, "bad %s: %s: empty transcript", u->id, u->audio_path);
            continue;
        }
        if (info.rate != MODEL_RATE || info.channels != 1) {
            st->converted++;
            if (log)
                fprintf(log, "converted %s: %s: %d Hz, %d channel(s) -> 16 kHz mono when loaded\n", u->id,
                        u->audio_path, info.rate, info.channels);
        }
        st->imported++;
        if (keep) {
            int rc = sparq_manifest_add(keep, u->id, u->audio_path, u->duration, u->text);
            if (rc) {
                sparq_manifest_free(keep);
                return rc;
            }
        }
    }
    return SPARQ_OK;
}
