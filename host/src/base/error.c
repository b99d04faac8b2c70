#include "sparq_error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static _Thread_local char last_error[512];

// Callers often quote the previous message (sparq_fail(rc, "%s: %s", path,
// sparq_last_error())): format into a scratch buffer first, because
// vsnprintf from a buffer into itself is undefined and garbled the text.
int sparq_fail(int code, const char *fmt, ...)
{
    char scratch[sizeof last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(scratch, sizeof scratch, fmt, ap);
    va_end(ap);
    memcpy(last_error, scratch, sizeof last_error);
    return code;
}

int sparq_fail_wrap(int code, const char *fmt, ...)
{
    char scratch[sizeof last_error];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(scratch, sizeof scratch, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof scratch)
        snprintf(scratch + n, sizeof scratch - (size_t)n, "%s", last_error);
    memcpy(last_error, scratch, sizeof last_error);
    return code;
}

const char *sparq_last_error(void) { return last_error; }

void *sparq_malloc(size_t bytes, const char *what)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p)
        sparq_fail(SPARQ_ENOMEM, "out of memory allocating %zu bytes for %s", bytes, what);
    return p;
}

void *sparq_calloc(size_t count, size_t size, const char *what)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        sparq_fail(SPARQ_ENOMEM, "out of memory allocating %zu x %zu bytes for %s", count, size, what);
    return p;
}

FILE *sparq_fopen(const char *path, const char *mode)
{
    FILE *f = fopen(path, mode);
    if (!f)
        sparq_fail(SPARQ_EIO, "%s: %s", path, strerror(errno));
    return f;
}

int sparq_fread_exact(void *dst, size_t bytes, FILE *f, const char *path, const char *field)
{
    if (fread(dst, 1, bytes, f) != bytes)
        return sparq_fail(SPARQ_EFORMAT, "%s: truncated while reading %s (%zu bytes expected)", path, field, bytes);
    return SPARQ_OK;
}

int sparq_write_file_atomic(const char *path, const void *data, size_t bytes)
{
    size_t n = strlen(path);
    char *tmp = sparq_malloc(n + 16, "temporary file name");
    if (!tmp)
        return SPARQ_ENOMEM;
    snprintf(tmp, n + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int rc = sparq_fail(SPARQ_EIO, "%s: cannot create temporary file: %s", path, strerror(errno));
        free(tmp);
        return rc;
    }
    const unsigned char *p = data;
    size_t left = bytes;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int rc = sparq_fail(SPARQ_EIO, "%s: write failed: %s", path, strerror(errno));
            close(fd);
            unlink(tmp);
            free(tmp);
            return rc;
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        int rc = sparq_fail(SPARQ_EIO, "%s: cannot finish atomic write: %s", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return rc;
    }
    // mkstemp creates 0600; give the file the usual permissions.
    chmod(path, 0644);
    free(tmp);
    return SPARQ_OK;
}
