// Model file container: round trip, truncation, corruption, bad fields.
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "sparq_error.h"
#include "sparq_modelfile.h"

static int build(struct sparq_mfile *f)
{
    float v[5] = { 1.5f, -2.0f, 0.0f, 3.25f, 1e-30f };
    int32_t iv[3] = { -7, 0, 2147483647 };
    float w[3 * 20];
    for (int i = 0; i < 60; i++)
        w[i] = (float)((i * 37) % 19) - 9.0f;
    struct sparq_packed p;
    sparq_mfile_init(f);
    int rc = sparq_pack(&p, w, NULL, 4, 2, 3, 20, NULL);
    rc = rc ? rc : sparq_mfile_add_f32(f, "cmvn_mean", v, 5);
    rc = rc ? rc : sparq_mfile_add_i32(f, "ints", iv, 3);
    rc = rc ? rc : sparq_mfile_add_text(f, "config", "d_model = 144\n");
    rc = rc ? rc : sparq_mfile_add_packed(f, "block0.ffn1_w1", &p);
    rc = rc ? rc : sparq_mfile_add_f32(f, "empty", NULL, 0);
    sparq_packed_free(&p);
    return rc;
}

int main(void)
{
    struct sparq_mfile f, g;
    CHECK(build(&f) == 0 && f.count == 5, "container with five sections builds");
    CHECK(sparq_mfile_add_f32(&f, "ints", NULL, 0) != 0, "duplicate section names are rejected");
    uint8_t *bytes;
    size_t size;
    int rc = sparq_mfile_serialize(&f, &bytes, &size);
    CHECK(rc == 0 && memcmp(bytes, "SPARQMF", 8) == 0, "serialises with the magic (%zu bytes)", size);
    rc = sparq_mfile_parse(&g, bytes, size, "mem");
    const struct sparq_mf_section *pk = rc ? NULL : sparq_mfile_find(&g, "block0.ffn1_w1", SPARQ_MF_PACKED);
    const struct sparq_mf_section *tx = rc ? NULL : sparq_mfile_find(&g, "config", SPARQ_MF_TEXT);
    const float *mean = NULL;
    int same = rc == 0 && pk && tx && pk->packed.size == f.sections[3].packed.size &&
               memcmp(pk->packed.bytes, f.sections[3].packed.bytes, pk->packed.size) == 0 &&
               memcmp(pk->packed.scales, f.sections[3].packed.scales, 3 * sizeof(float)) == 0 &&
               !strcmp(tx->data, "d_model = 144\n") &&
               sparq_mfile_get_f32(&g, "mem", "cmvn_mean", 5, &mean) == 0 && mean[3] == 3.25f && mean[4] == 1e-30f &&
               ((const int32_t *)sparq_mfile_find(&g, "ints", SPARQ_MF_I32)->data)[2] == 2147483647;
    CHECK(same, "parse(serialize(f)) reproduces every section exactly");
    CHECK(rc == 0 && sparq_mfile_get_f32(&g, "mem", "cmvn_mean", 80, &mean) != 0 &&
              strstr(sparq_last_error(), "'cmvn_mean'") && strstr(sparq_last_error(), "expected 80"),
          "a wrong element count names the section: %s", sparq_last_error());
    CHECK(rc == 0 && sparq_mfile_get_f32(&g, "mem", "nope", 1, &mean) != 0, "a missing section is reported");
    sparq_mfile_free(&g);

    int truncations_rejected = 1;
    for (size_t n = 0; n < size; n++) {
        if (sparq_mfile_parse(&g, bytes, n, "mem") == 0) {
            truncations_rejected = 0;
            sparq_mfile_free(&g);
        }
    }
    CHECK(truncations_rejected, "every truncation (0..%zu bytes) is rejected", size - 1);
    int flips_rejected = 1;
    for (size_t i = 0; i < size; i++) {
        bytes[i] ^= 0x10;
        if (sparq_mfile_parse(&g, bytes, size, "mem") == 0) {
            flips_rejected = 0;
            sparq_mfile_free(&g);
        }
        bytes[i] ^= 0x10;
    }
    CHECK(flips_rejected, "every single-bit corruption is rejected");

    // Atomic write and read back through a file; a corrupt file keeps its name in the message.
    char path[] = "/tmp/sparq_mf_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    rc = sparq_mfile_write(&f, path);
    CHECK(rc == 0 && sparq_mfile_read(&g, path) == 0 && g.count == 5, "write + read through a file");
    sparq_mfile_free(&g);
    FILE *fp = fopen(path, "r+b");
    fseek(fp, 40, SEEK_SET);
    fputc(0xFF, fp);
    fclose(fp);
    rc = sparq_mfile_read(&g, path);
    CHECK(rc != 0 && strstr(sparq_last_error(), path) && strstr(sparq_last_error(), "CRC"),
          "corrupt file: one-line error naming the file: %s", sparq_last_error());
    unlink(path);
    CHECK(sparq_mfile_read(&g, "/nonexistent/model.sparq") != 0 && strstr(sparq_last_error(), "/nonexistent"),
          "missing file is reported with its path");
    free(bytes);
    sparq_mfile_free(&f);
    return check_done();
}
