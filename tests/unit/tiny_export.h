// The runtime tests' packed tiny model (test_conv_runtime, test_frontend_runtime,
// test_pipeline): the caller's model (tiny_model.h, created and initialised)
// exported int4 2:4 with sub1_w at int8 to a new temporary file.
#ifndef SPARQ_TINY_EXPORT_H
#define SPARQ_TINY_EXPORT_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "sparq_compress.h"
#include "sparq_error.h"
#include "sparq_export.h"

#define TINY_EXPORT_SPEC "int4-2:4,sub1_w=int8"

// Writes the file /tmp/<stem>_XXXXXX (its name into path, cap bytes; unlink it
// when done). SPARQ_OK or the export's error.
static inline int tiny_export(const struct sparq_model *m, const char *stem, char *path, size_t cap)
{
    snprintf(path, cap, "/tmp/%s_XXXXXX", stem);
    int fd = mkstemp(path);
    if (fd < 0)
        return sparq_fail(SPARQ_EIO, "tiny_export: cannot create %s", path);
    close(fd);
    struct sparq_compress_spec spec;
    int rc = sparq_compress_spec_parse(&spec, TINY_EXPORT_SPEC);
    return rc ? rc : sparq_export(m, &spec, NULL, SPARQ_SCALE_MSE, path, NULL);
}

#endif
