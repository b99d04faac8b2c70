// sparq-layer: base
// Whole-file reads and folder creation with sparq's error convention:
// SPARQ_OK, or a negative code and a one-line message naming the path.
// (Writing goes through sparq_write_file_atomic() in sparq_error.h.)
#ifndef SPARQ_FILE_H
#define SPARQ_FILE_H

#include <stddef.h>

// Reads all of `path` into a new malloc'd buffer with a NUL after the last
// byte (so text can be parsed in place; the NUL is not counted in *len).
// A file longer than max_bytes is SPARQ_EFORMAT, so a wrong path cannot
// exhaust memory. Works on pipes and other unseekable files too.
int sparq_read_file(const char *path, size_t max_bytes, char **data, size_t *len);

// 1 if `path` exists and is a regular file, else 0.
int sparq_file_exists(const char *path);

// Creates `path` and any missing parents (mode 0755); existing ones are fine.
int sparq_mkdir_p(const char *path);

// "a/b" into buf; SPARQ_EINVAL naming both parts if it does not fit.
int sparq_path_join(char *buf, size_t size, const char *a, const char *b);

#endif
