// The small base helpers every layer shares: the byte queue against a plain
// array model, whole-file reads and their limits, mkdir -p, the wire byte
// order, and the clock.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "sparq_bytequeue.h"
#include "sparq_clock.h"
#include "sparq_error.h"
#include "sparq_file.h"
#include "sparq_rng.h"
#include "sparq_wire.h"

static void test_bytequeue(uint64_t seed)
{
    // Random pushes and pops of random sizes, mirrored in a flat array.
    enum { MODEL = 1 << 20 };
    uint8_t *model = malloc(MODEL), tmp[5000];
    size_t m_head = 0, m_tail = 0, mismatches = 0, max_size = 0;
    uint64_t rng = seed;
    uint8_t next_byte = 0;
    struct sparq_bytequeue q = { 0 };
    for (int op = 0; op < 4000; op++) {
        size_t n = (size_t)(sparq_rng_next(&rng) % sizeof tmp);
        if (sparq_rng_next(&rng) % 2 && m_tail + n <= MODEL) {
            for (size_t i = 0; i < n; i++)
                tmp[i] = model[m_tail + i] = next_byte++;
            m_tail += n;
            if (sparq_bytequeue_push(&q, tmp, n))
                mismatches++;
        } else if (sparq_rng_next(&rng) % 2) {
            size_t got = sparq_bytequeue_pop(&q, tmp, n);
            size_t want = n < m_tail - m_head ? n : m_tail - m_head;
            if (got != want || memcmp(tmp, model + m_head, got))
                mismatches++;
            m_head += want;
        } else {
            size_t want = n < m_tail - m_head ? n : m_tail - m_head;
            if (memcmp(sparq_bytequeue_data(&q), model + m_head, want))
                mismatches++;
            sparq_bytequeue_drop(&q, n);
            m_head += want;
        }
        if (sparq_bytequeue_size(&q) != m_tail - m_head)
            mismatches++;
        if (sparq_bytequeue_size(&q) > max_size)
            max_size = sparq_bytequeue_size(&q);
    }
    CHECK(mismatches == 0 && max_size > 4096, "byte queue matches an array model over 4000 random ops (peak %zu bytes)",
          max_size);
    sparq_bytequeue_clear(&q);
    CHECK(sparq_bytequeue_size(&q) == 0 && sparq_bytequeue_pop(&q, tmp, 10) == 0, "a cleared queue is empty");
    sparq_bytequeue_free(&q);
    free(model);
}

static void test_files(void)
{
    char dir[] = "/tmp/sparq_test_base_XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp");
        return;
    }
    char deep[256], file[256];
    snprintf(deep, sizeof deep, "%s/a/b//c/", dir);
    CHECK(sparq_mkdir_p(deep) == SPARQ_OK && sparq_mkdir_p(deep) == SPARQ_OK, "mkdir_p makes nested folders, twice");
    struct stat st;
    snprintf(deep, sizeof deep, "%s/a/b/c", dir);
    CHECK(stat(deep, &st) == 0 && S_ISDIR(st.st_mode), "the innermost folder exists");

    CHECK(sparq_path_join(file, sizeof file, deep, "f.txt") == SPARQ_OK, "path_join fits");
    char tiny[8];
    CHECK(sparq_path_join(tiny, sizeof tiny, deep, "f.txt") == SPARQ_EINVAL && strstr(sparq_last_error(), "f.txt"),
          "path_join refuses to truncate: %s", sparq_last_error());
    // Longer than one read chunk, with a NUL inside: the length is the byte count.
    size_t n = 10000;
    char *text = malloc(n);
    for (size_t i = 0; i < n; i++)
        text[i] = (char)('a' + i % 26);
    text[77] = 0;
    sparq_write_file_atomic(file, text, n);
    char *data;
    size_t len;
    int rc = sparq_read_file(file, n, &data, &len);
    CHECK(rc == SPARQ_OK && len == n && !memcmp(data, text, n) && data[n] == 0,
          "read_file returns every byte and a NUL after them (%zu bytes)", len);
    free(data);
    rc = sparq_read_file(file, n - 1, &data, &len);
    CHECK(rc == SPARQ_EFORMAT && !data && strstr(sparq_last_error(), file), "over max_bytes is refused: %s",
          sparq_last_error());
    CHECK(sparq_file_exists(file) && !sparq_file_exists(deep), "file_exists: the file yes, a folder no");
    CHECK(sparq_mkdir_p(file) == SPARQ_EIO && strstr(sparq_last_error(), "f.txt"),
          "mkdir_p over a file fails naming it: %s", sparq_last_error());
    snprintf(file, sizeof file, "%s/missing.txt", dir);
    rc = sparq_read_file(file, n, &data, &len);
    CHECK(rc == SPARQ_EIO && !data && strstr(sparq_last_error(), "missing.txt"), "a missing file is named: %s",
          sparq_last_error());
    free(text);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", dir);
}

static void test_wire(uint64_t seed)
{
    uint64_t rng = seed;
    int bad = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t v = sparq_rng_next(&rng);
        uint8_t b[8];
        sparq_wr64(b, v);
        for (int k = 0; k < 8; k++)
            bad += b[k] != (uint8_t)(v >> (8 * k)); // little-endian: low byte first
        bad += sparq_rd64(b) != v || sparq_rd32(b) != (uint32_t)v || sparq_rd16(b) != (uint16_t)v;
        sparq_wr16(b, (unsigned)v);
        sparq_wr32(b + 2, (uint32_t)(v >> 16));
        bad += sparq_rd16(b) != (uint16_t)v || sparq_rd32(b + 2) != (uint32_t)(v >> 16);
    }
    CHECK(bad == 0, "wire: 1000 random values round-trip, low byte first");
}

int main(void)
{
    uint64_t seed = check_seed(0x5EEDBA5E);
    test_bytequeue(seed);
    test_files();
    test_wire(seed);
    double t0 = sparq_clock_s();
    usleep(2000);
    double t1 = sparq_clock_s();
    CHECK(t1 - t0 >= 0.0015, "the clock advances across a 2 ms sleep (%.4f s)", t1 - t0);
    return check_done();
}
