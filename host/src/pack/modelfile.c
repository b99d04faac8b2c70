// Model file container: serialisation, atomic write, validated parsing.
#include "sparq_modelfile.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "sparq_error.h"
#include "sparq_wire.h"

void sparq_mfile_init(struct sparq_mfile *f) { memset(f, 0, sizeof *f); }

void sparq_mfile_free(struct sparq_mfile *f)
{
    for (int i = 0; i < f->count; i++) {
        free(f->sections[i].data);
        sparq_packed_free(&f->sections[i].packed);
    }
    free(f->sections);
    memset(f, 0, sizeof *f);
}

static int check_name(const struct sparq_mfile *f, const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > SPARQ_MF_NAME_MAX)
        return sparq_fail(SPARQ_EINVAL, "model file: section name '%s' must be 1..%d bytes", name, SPARQ_MF_NAME_MAX);
    for (int i = 0; i < f->count; i++)
        if (!strcmp(f->sections[i].name, name))
            return sparq_fail(SPARQ_EINVAL, "model file: duplicate section '%s'", name);
    return SPARQ_OK;
}

static struct sparq_mf_section *new_section(struct sparq_mfile *f, const char *name, enum sparq_mf_kind kind)
{
    if (check_name(f, name))
        return NULL;
    if (f->count == f->capacity) {
        int cap = f->capacity ? 2 * f->capacity : 16;
        struct sparq_mf_section *s = realloc(f->sections, sizeof *s * (size_t)cap);
        if (!s) {
            sparq_fail(SPARQ_ENOMEM, "model file: out of memory");
            return NULL;
        }
        f->sections = s;
        f->capacity = cap;
    }
    struct sparq_mf_section *s = &f->sections[f->count];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->kind = kind;
    return s;
}

static int add_array(struct sparq_mfile *f, const char *name, enum sparq_mf_kind kind, const void *v, size_t n,
                     size_t elem)
{
    struct sparq_mf_section *s = new_section(f, name, kind);
    if (!s)
        return SPARQ_EINVAL;
    s->data = sparq_malloc(n * elem + 1, name);
    if (!s->data)
        return SPARQ_ENOMEM;
    if (n)
        memcpy(s->data, v, n * elem);
    s->count = n;
    f->count++;
    return SPARQ_OK;
}

int sparq_mfile_add_f32(struct sparq_mfile *f, const char *name, const float *v, size_t n)
{
    return add_array(f, name, SPARQ_MF_F32, v, n, sizeof(float));
}

int sparq_mfile_add_i32(struct sparq_mfile *f, const char *name, const int32_t *v, size_t n)
{
    return add_array(f, name, SPARQ_MF_I32, v, n, sizeof(int32_t));
}

int sparq_mfile_add_text(struct sparq_mfile *f, const char *name, const char *text)
{
    int rc = add_array(f, name, SPARQ_MF_TEXT, text, strlen(text), 1);
    if (rc == SPARQ_OK)
        ((char *)f->sections[f->count - 1].data)[f->sections[f->count - 1].count] = 0;
    return rc;
}

int sparq_mfile_add_packed(struct sparq_mfile *f, const char *name, const struct sparq_packed *p)
{
    struct sparq_mf_section *s = new_section(f, name, SPARQ_MF_PACKED);
    if (!s)
        return SPARQ_EINVAL;
    int rc = sparq_packed_init(&s->packed, p->type->width, p->type->kept, p->out, p->in);
    if (rc)
        return rc;
    memcpy(s->packed.bytes, p->bytes, p->size);
    memcpy(s->packed.scales, p->scales, sizeof(float) * (size_t)p->out);
    f->count++;
    return SPARQ_OK;
}

// --- little-endian byte writer / reader --------------------------------------

struct writer { uint8_t *buf; size_t len, cap; int failed; };

static void put(struct writer *w, const void *src, size_t n)
{
    if (w->failed)
        return;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->len + n)
            cap *= 2;
        uint8_t *b = realloc(w->buf, cap);
        if (!b) {
            w->failed = 1;
            return;
        }
        w->buf = b;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, src, n);
    w->len += n;
}
static void put_u8(struct writer *w, unsigned v) { uint8_t b = (uint8_t)v; put(w, &b, 1); }
static void put_u16(struct writer *w, unsigned v) { uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) }; put(w, b, 2); }
static void put_u32(struct writer *w, uint32_t v)
{
    uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    put(w, b, 4);
}
static void put_u64(struct writer *w, uint64_t v)
{
    put_u32(w, (uint32_t)v);
    put_u32(w, (uint32_t)(v >> 32));
}
static void put_f32s(struct writer *w, const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        put_u32(w, u);
    }
}
static void set_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t crc32_of(const uint8_t *p, size_t n)
{
    uLong c = crc32(0L, Z_NULL, 0);
    while (n > 0) { // zlib takes uInt lengths
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, p, chunk);
        p += chunk;
        n -= chunk;
    }
    return (uint32_t)c;
}

int sparq_mfile_serialize(const struct sparq_mfile *f, uint8_t **out, size_t *size)
{
    struct writer w = { 0 };
    put(&w, SPARQ_MF_MAGIC, 8);
    put_u32(&w, SPARQ_MF_VERSION);
    put_u32(&w, (uint32_t)f->count);
    put_u64(&w, 0); // total bytes, patched below
    put_u32(&w, 0); // header crc, patched below
    put_u32(&w, 0); // reserved
    for (int i = 0; i < f->count; i++) {
        const struct sparq_mf_section *s = &f->sections[i];
        size_t name_len = strlen(s->name);
        put_u16(&w, (unsigned)name_len);
        put(&w, s->name, name_len);
        put_u8(&w, s->kind);
        put_u8(&w, 0);
        if (s->kind == SPARQ_MF_PACKED) {
            const struct sparq_packed *p = &s->packed;
            put_u64(&w, 12 + 4 * (uint64_t)p->out + p->size);
            put_u8(&w, (unsigned)p->type->width);
            put_u8(&w, (unsigned)p->type->kept);
            put_u8(&w, 0);
            put_u8(&w, 0);
            put_u32(&w, (uint32_t)p->out);
            put_u32(&w, (uint32_t)p->in);
            put_f32s(&w, p->scales, (size_t)p->out);
            put(&w, p->bytes, p->size);
        } else if (s->kind == SPARQ_MF_TEXT) {
            put_u64(&w, s->count);
            put(&w, s->data, s->count);
        } else {
            put_u64(&w, 4 * (uint64_t)s->count);
            if (s->kind == SPARQ_MF_F32)
                put_f32s(&w, s->data, s->count);
            else
                for (size_t k = 0; k < s->count; k++)
                    put_u32(&w, (uint32_t)((const int32_t *)s->data)[k]);
        }
    }
    put_u32(&w, 0); // file crc, patched below
    if (w.failed) {
        free(w.buf);
        return sparq_fail(SPARQ_ENOMEM, "model file: out of memory while serialising");
    }
    set_u32(w.buf + 16, (uint32_t)w.len);
    set_u32(w.buf + 20, (uint32_t)((uint64_t)w.len >> 32));
    set_u32(w.buf + 24, crc32_of(w.buf, 24));
    set_u32(w.buf + w.len - 4, crc32_of(w.buf, w.len - 4));
    *out = w.buf;
    *size = w.len;
    return SPARQ_OK;
}

int sparq_mfile_write(const struct sparq_mfile *f, const char *path)
{
    uint8_t *bytes;
    size_t size;
    int rc = sparq_mfile_serialize(f, &bytes, &size);
    if (rc)
        return rc;
    rc = sparq_write_file_atomic(path, bytes, size);
    free(bytes);
    return rc;
}

int sparq_mfile_parse(struct sparq_mfile *f, const uint8_t *b, size_t size, const char *label)
{
    sparq_mfile_init(f);
    if (size < SPARQ_MF_HEADER_BYTES + 4)
        return sparq_fail(SPARQ_EFORMAT, "%s: %zu bytes is too short for a sparq model file", label, size);
    if (memcmp(b, SPARQ_MF_MAGIC, 8) != 0)
        return sparq_fail(SPARQ_EFORMAT, "%s: not a sparq model file (bad magic)", label);
    if (sparq_rd32(b + 24) != crc32_of(b, 24))
        return sparq_fail(SPARQ_EFORMAT, "%s: header CRC mismatch", label);
    uint32_t version = sparq_rd32(b + 8);
    if (version != SPARQ_MF_VERSION)
        return sparq_fail(SPARQ_EFORMAT, "%s: model file version %u, this sparq reads version %d", label, version,
                          SPARQ_MF_VERSION);
    uint64_t total = sparq_rd64(b + 16);
    if (total != size)
        return sparq_fail(SPARQ_EFORMAT, "%s: file is %zu bytes, header says %llu (truncated or padded)", label, size,
                          (unsigned long long)total);
    if (sparq_rd32(b + size - 4) != crc32_of(b, size - 4))
        return sparq_fail(SPARQ_EFORMAT, "%s: file CRC mismatch (corrupted)", label);
    if (sparq_rd32(b + 28) != 0)
        return sparq_fail(SPARQ_EFORMAT, "%s: reserved header field is not zero", label);
    uint32_t count = sparq_rd32(b + 12);
    size_t at = SPARQ_MF_HEADER_BYTES, end = size - 4;
    int rc = SPARQ_OK;
    for (uint32_t i = 0; i < count && rc == SPARQ_OK; i++) {
        if (end - at < 2) {
            rc = sparq_fail(SPARQ_EFORMAT, "%s: section %u: truncated header", label, i);
            break;
        }
        size_t name_len = b[at] | (size_t)b[at + 1] << 8;
        if (name_len == 0 || name_len > SPARQ_MF_NAME_MAX || end - at < 2 + name_len + 10) {
            rc = sparq_fail(SPARQ_EFORMAT, "%s: section %u: bad name length %zu", label, i, name_len);
            break;
        }
        char name[SPARQ_MF_NAME_MAX + 1];
        memcpy(name, b + at + 2, name_len);
        name[name_len] = 0;
        if (strlen(name) != name_len) {
            rc = sparq_fail(SPARQ_EFORMAT, "%s: section %u: name contains a NUL byte", label, i);
            break;
        }
        at += 2 + name_len;
        int kind = b[at];
        if (b[at + 1] != 0) {
            rc = sparq_fail(SPARQ_EFORMAT, "%s: section '%s': reserved byte is not zero", label, name);
            break;
        }
        uint64_t bytes = sparq_rd64(b + at + 2);
        at += 10;
        if (bytes > end - at) {
            rc = sparq_fail(SPARQ_EFORMAT, "%s: section '%s': %llu bytes run past the end of the file", label, name,
                            (unsigned long long)bytes);
            break;
        }
        const uint8_t *p = b + at;
        if (kind == SPARQ_MF_F32 || kind == SPARQ_MF_I32) {
            if (bytes % 4) {
                rc = sparq_fail(SPARQ_EFORMAT, "%s: section '%s': %llu bytes is not a whole number of 4-byte values",
                                label, name, (unsigned long long)bytes);
                break;
            }
            size_t n = (size_t)bytes / 4;
            int32_t *tmp = sparq_malloc(n * 4 + 1, name);
            if (!tmp) {
                rc = SPARQ_ENOMEM;
                break;
            }
            for (size_t k = 0; k < n; k++) {
                uint32_t u = sparq_rd32(p + 4 * k);
                memcpy(&tmp[k], &u, 4);
            }
            rc = kind == SPARQ_MF_F32 ? sparq_mfile_add_f32(f, name, (const float *)tmp, n)
                                      : sparq_mfile_add_i32(f, name, tmp, n);
            free(tmp);
        } else if (kind == SPARQ_MF_TEXT) {
            char *tmp = sparq_malloc((size_t)bytes + 1, name);
            if (!tmp) {
                rc = SPARQ_ENOMEM;
                break;
            }
            memcpy(tmp, p, (size_t)bytes);
            tmp[bytes] = 0;
            if (strlen(tmp) != bytes)
                rc = sparq_fail(SPARQ_EFORMAT, "%s: section '%s': text contains a NUL byte", label, name);
            else
                rc = sparq_mfile_add_text(f, name, tmp);
            free(tmp);
        } else if (kind == SPARQ_MF_PACKED) {
            if (bytes < 12) {
                rc = sparq_fail(SPARQ_EFORMAT, "%s: section '%s': packed header truncated", label, name);
                break;
            }
            const struct sparq_format_type *t = sparq_format_lookup(p[0], p[1]);
            uint32_t out = sparq_rd32(p + 4), in = sparq_rd32(p + 8);
            if (!t || p[2] || p[3] || out == 0 || in == 0 || out > (1u << 24) || in > (1u << 24)) {
                rc = sparq_fail(SPARQ_EFORMAT, "%s: section '%s': bad packed header (int%u %u:4, %u x %u)", label,
                                name, p[0], p[1], out, in);
                break;
            }
            uint64_t row_bytes = (uint64_t)((in + SPARQ_BLOCK - 1) / SPARQ_BLOCK) * (uint64_t)t->block_bytes;
            uint64_t expect = 12 + 4 * (uint64_t)out + out * row_bytes;
            if (bytes != expect) {
                rc = sparq_fail(SPARQ_EFORMAT, "%s: section '%s': %llu bytes, %s %u x %u needs %llu", label, name,
                                (unsigned long long)bytes, t->name, out, in, (unsigned long long)expect);
                break;
            }
            struct sparq_packed tmp;
            if ((rc = sparq_packed_init(&tmp, t->width, t->kept, (int)out, (int)in)))
                break;
            for (uint32_t o = 0; o < out; o++) {
                uint32_t u = sparq_rd32(p + 12 + 4 * o);
                memcpy(&tmp.scales[o], &u, 4);
            }
            memcpy(tmp.bytes, p + 12 + 4 * (size_t)out, tmp.size);
            rc = sparq_validate(t, (int)out, (int)in, tmp.bytes, tmp.size, tmp.scales);
            if (rc)
                rc = sparq_fail(rc, "%s: section '%s': %s", label, name, sparq_last_error());
            else
                rc = sparq_mfile_add_packed(f, name, &tmp);
            sparq_packed_free(&tmp);
        } else
            rc = sparq_fail(SPARQ_EFORMAT, "%s: section '%s': unknown kind %d", label, name, kind);
        if (rc == SPARQ_EINVAL) // duplicate / bad names from the adders
            rc = sparq_fail(SPARQ_EFORMAT, "%s: %s", label, sparq_last_error());
        at += (size_t)bytes;
    }
    if (rc == SPARQ_OK && at != end)
        rc = sparq_fail(SPARQ_EFORMAT, "%s: %zu unexpected bytes after the last section", label, end - at);
    if (rc)
        sparq_mfile_free(f);
    return rc;
}

int sparq_mfile_read(struct sparq_mfile *f, const char *path)
{
    sparq_mfile_init(f);
    FILE *fp = sparq_fopen(path, "rb");
    if (!fp)
        return SPARQ_EIO;
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? 2 * cap : 1 << 16;
            uint8_t *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(fp);
                return sparq_fail(SPARQ_ENOMEM, "%s: out of memory reading the file", path);
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, fp);
        len += got;
        if (got == 0)
            break;
    }
    int err = ferror(fp);
    fclose(fp);
    int rc = err ? sparq_fail(SPARQ_EIO, "%s: read error", path) : sparq_mfile_parse(f, buf, len, path);
    free(buf);
    return rc;
}

const struct sparq_mf_section *sparq_mfile_find(const struct sparq_mfile *f, const char *name,
                                                enum sparq_mf_kind kind)
{
    for (int i = 0; i < f->count; i++)
        if (f->sections[i].kind == kind && !strcmp(f->sections[i].name, name))
            return &f->sections[i];
    return NULL;
}

int sparq_mfile_get_f32(const struct sparq_mfile *f, const char *label, const char *name, size_t expect,
                        const float **out)
{
    const struct sparq_mf_section *s = sparq_mfile_find(f, name, SPARQ_MF_F32);
    if (!s)
        return sparq_fail(SPARQ_EFORMAT, "%s: missing section '%s'", label, name);
    if (s->count != expect)
        return sparq_fail(SPARQ_EFORMAT, "%s: section '%s': %zu floats, expected %zu", label, name, s->count, expect);
    *out = s->data;
    return SPARQ_OK;
}
