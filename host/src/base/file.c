// Whole-file reads and mkdir -p: every layer and command used to carry its
// own copy, each with its own idea of errors and limits.
#include "sparq_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sparq_error.h"

int sparq_read_file(const char *path, size_t max_bytes, char **data, size_t *len)
{
    *data = NULL;
    if (len)
        *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return sparq_fail(SPARQ_EIO, "%s: cannot open: %s", path, strerror(errno));
    // Read in growing chunks rather than trusting a size from fstat: the
    // file may be a pipe, or change while we read it.
    size_t cap = 0, n = 0;
    char *buf = NULL;
    int rc = SPARQ_OK;
    for (;;) {
        if (n + 1 >= cap) {
            size_t c = cap ? cap * 2 : 4096;
            char *nb = realloc(buf, c);
            if (!nb) {
                rc = sparq_fail(SPARQ_ENOMEM, "%s: out of memory reading %zu bytes", path, c);
                break;
            }
            buf = nb;
            cap = c;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (n > max_bytes) {
            rc = sparq_fail(SPARQ_EFORMAT, "%s: larger than %zu bytes", path, max_bytes);
            break;
        }
        if (got == 0) {
            if (ferror(f))
                rc = sparq_fail(SPARQ_EIO, "%s: read error", path);
            break;
        }
    }
    fclose(f);
    if (rc) {
        free(buf);
        return rc;
    }
    buf[n] = 0;
    *data = buf;
    if (len)
        *len = n;
    return SPARQ_OK;
}

int sparq_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int make_one(const char *dir)
{
    struct stat st;
    if (mkdir(dir, 0755) == 0)
        return SPARQ_OK;
    if (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return SPARQ_OK;
    return sparq_fail(SPARQ_EIO, "%s: cannot create directory: %s", dir,
                      errno == EEXIST ? "exists and is not a directory" : strerror(errno));
}

int sparq_mkdir_p(const char *path)
{
    char buf[4096];
    if (!*path || snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return sparq_fail(SPARQ_EINVAL, "%s: empty or too long a directory path", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/' || p[-1] == '/')
            continue;
        *p = 0;
        int rc = make_one(buf);
        *p = '/';
        if (rc)
            return rc;
    }
    return make_one(buf);
}

int sparq_path_join(char *buf, size_t size, const char *a, const char *b)
{
    int n = snprintf(buf, size, "%s/%s", a, b);
    return n < 0 || (size_t)n >= size ? sparq_fail(SPARQ_EINVAL, "%s/%s: path too long", a, b) : SPARQ_OK;
}
