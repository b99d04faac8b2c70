// sparq-layer: base
// Error reporting for library code: functions return SPARQ_OK or a negative
// code and leave a one-line message (naming the file or field) that main()
// prints. Only main() exits.
#ifndef SPARQ_ERROR_H
#define SPARQ_ERROR_H

#include <stddef.h>
#include <stdio.h>

enum {
    SPARQ_OK = 0,
    SPARQ_EINVAL = -1,   // bad argument or malformed data
    SPARQ_EIO = -2,      // file or device I/O failed
    SPARQ_ENOMEM = -3,   // allocation failed
    SPARQ_EFORMAT = -4,  // bytes do not follow a documented format
    SPARQ_EDEVICE = -5,  // device reported an error or is missing
    SPARQ_ETIMEOUT = -6, // device did not answer in time
};

// Records the message for the calling thread and returns `code`. The
// arguments may include sparq_last_error() itself (formatted before copying).
int sparq_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Prepends context to the last message: sparq_fail_wrap(rc, "%s: ", path)
// turns "bad field" into "model.spq: bad field". Returns `code`.
int sparq_fail_wrap(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// The last message recorded by sparq_fail() on this thread ("" if none).
const char *sparq_last_error(void);

// Checked helpers: on failure they record a message naming `what` and
// return NULL / a negative code.
void *sparq_malloc(size_t bytes, const char *what);
void *sparq_calloc(size_t count, size_t size, const char *what);
FILE *sparq_fopen(const char *path, const char *mode);
int sparq_fread_exact(void *dst, size_t bytes, FILE *f, const char *path, const char *field);

// Writes `bytes` to `path` atomically: a temporary file in the same folder,
// fsync, then rename. A crash never leaves a half-written `path`.
int sparq_write_file_atomic(const char *path, const void *data, size_t bytes);

#endif
