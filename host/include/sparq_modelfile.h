// sparq-layer: pack
// The sparq model file container (docs/modelfile.md): a checked list of
// named sections (float arrays, int arrays, packed N:M matrices, text).
// Readers validate every byte before anything is used; every error names
// the file and the section or field.
#ifndef SPARQ_MODELFILE_H
#define SPARQ_MODELFILE_H

#include <stddef.h>
#include <stdint.h>

#include "sparq_format.h"

#define SPARQ_MF_MAGIC "SPARQMF" // 8 bytes with the terminating NUL
#define SPARQ_MF_VERSION 1
#define SPARQ_MF_HEADER_BYTES 32
#define SPARQ_MF_NAME_MAX 63

enum sparq_mf_kind {
    SPARQ_MF_F32 = 1,    // little-endian float32 array
    SPARQ_MF_I32 = 2,    // little-endian int32 array
    SPARQ_MF_PACKED = 3, // packed N:M matrix with per-row scales
    SPARQ_MF_TEXT = 4,   // UTF-8 text (e.g. the model configuration)
};

struct sparq_mf_section {
    char name[SPARQ_MF_NAME_MAX + 1];
    enum sparq_mf_kind kind;
    size_t count;               // floats / ints / text bytes; 0 for packed
    void *data;                 // f32, i32 or text (owned)
    struct sparq_packed packed; // kind PACKED (owned)
};

struct sparq_mfile {
    int count, capacity;
    struct sparq_mf_section *sections;
};

void sparq_mfile_init(struct sparq_mfile *f);
void sparq_mfile_free(struct sparq_mfile *f);

// Adders copy their input. Names are unique, 1..63 bytes.
int sparq_mfile_add_f32(struct sparq_mfile *f, const char *name, const float *v, size_t n);
int sparq_mfile_add_i32(struct sparq_mfile *f, const char *name, const int32_t *v, size_t n);
int sparq_mfile_add_text(struct sparq_mfile *f, const char *name, const char *text);
int sparq_mfile_add_packed(struct sparq_mfile *f, const char *name, const struct sparq_packed *p);

// Serialises to bytes (caller frees *out) / writes atomically to path.
int sparq_mfile_serialize(const struct sparq_mfile *f, uint8_t **out, size_t *size);
int sparq_mfile_write(const struct sparq_mfile *f, const char *path);

// Parses untrusted bytes; `label` names the source in error messages.
int sparq_mfile_parse(struct sparq_mfile *f, const uint8_t *bytes, size_t size, const char *label);
int sparq_mfile_read(struct sparq_mfile *f, const char *path);

// Lookup: NULL if absent or of another kind.
const struct sparq_mf_section *sparq_mfile_find(const struct sparq_mfile *f, const char *name,
                                                enum sparq_mf_kind kind);
// Lookup that requires the section and its exact element count; the error
// names the section ("model.bin: section 'cmvn_mean': 40 floats, expected 80").
int sparq_mfile_get_f32(const struct sparq_mfile *f, const char *label, const char *name, size_t expect,
                        const float **out);

#endif
