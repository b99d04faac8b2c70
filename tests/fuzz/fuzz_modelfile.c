// libFuzzer target: the model file parser on untrusted bytes. The CRCs are
// recomputed over the fuzzed bytes first, so the fuzzer reaches the section
// parsing instead of stopping at the checksum.
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "sparq_modelfile.h"

static void set_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *b = malloc(size + SPARQ_MF_HEADER_BYTES + 4);
    size_t n = size + SPARQ_MF_HEADER_BYTES + 4;
    memset(b, 0, SPARQ_MF_HEADER_BYTES);
    memcpy(b, SPARQ_MF_MAGIC, 8);
    set_u32(b + 8, SPARQ_MF_VERSION);
    set_u32(b + 12, size ? data[0] % 8 : 0); // section count
    set_u32(b + 16, (uint32_t)n);
    memcpy(b + SPARQ_MF_HEADER_BYTES, data, size);
    set_u32(b + 24, (uint32_t)crc32(0, b, 24));
    set_u32(b + n - 4, (uint32_t)crc32(0, b, (uInt)(n - 4)));
    struct sparq_mfile f;
    if (sparq_mfile_parse(&f, b, n, "fuzz") == 0) {
        uint8_t *again;
        size_t again_n;
        // Whatever parses must serialise back to the same bytes.
        if (sparq_mfile_serialize(&f, &again, &again_n) != 0 || again_n != n || memcmp(again, b, n) != 0)
            abort();
        free(again);
        sparq_mfile_free(&f);
    }
    free(b);
    return 0;
}
