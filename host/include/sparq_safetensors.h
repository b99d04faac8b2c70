// sparq-layer: model
// The safetensors file format (https://github.com/huggingface/safetensors):
//   u64 little-endian header length N, N bytes of JSON
//   {"NAME": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"key": "string", ...}}   (optional)
//   then the raw little-endian tensor bytes; offsets count from the end of the header.
// The reader checks every byte against the file before anything is used
// (docs/modelfile.md, "PyTorch state dicts"); errors name the file and the tensor.
#ifndef SPARQ_SAFETENSORS_H
#define SPARQ_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define SPARQ_ST_MAX_DIMS 8
#define SPARQ_ST_MAX_HEADER ((uint64_t)100 << 20) // 100 MB of JSON is not a header

// The dtypes sparq reads: floats (converted to float32), BatchNorm's int64
// step counter and uint8 (the masks `sparq export` writes).
enum sparq_st_dtype { SPARQ_ST_F32, SPARQ_ST_F16, SPARQ_ST_BF16, SPARQ_ST_I64, SPARQ_ST_U8 };

struct sparq_st_tensor {
    char *name;
    enum sparq_st_dtype dtype;
    int ndim;
    int64_t shape[SPARQ_ST_MAX_DIMS];
    size_t numel;
    const uint8_t *data; // little-endian bytes inside the file buffer
    size_t offset;       // data_offsets[0], from the end of the header
    size_t nbytes;
};

struct sparq_st_meta {
    char *key, *value;
};

struct sparq_st_file {
    int count;
    struct sparq_st_tensor *tensors; // in header order
    int n_meta;
    struct sparq_st_meta *meta;
    uint8_t *owned; // the file bytes when read by sparq_st_read()
};

const char *sparq_st_dtype_name(enum sparq_st_dtype d);
size_t sparq_st_dtype_size(enum sparq_st_dtype d);

// Parses untrusted bytes (kept borrowed: they must outlive `f`); `label`
// names the source in messages. Rejects: a header length outside the file,
// non-object JSON, unknown dtypes, bad shapes, offsets past the data or
// begin > end, byte lengths != numel * dtype size, overlapping tensors,
// data bytes no tensor covers, duplicate names, non-string metadata.
int sparq_st_parse(struct sparq_st_file *f, const uint8_t *bytes, size_t size, const char *label);
int sparq_st_read(struct sparq_st_file *f, const char *path);
void sparq_st_free(struct sparq_st_file *f);

const struct sparq_st_tensor *sparq_st_find(const struct sparq_st_file *f, const char *name);
const char *sparq_st_meta_get(const struct sparq_st_file *f, const char *key); // NULL if absent

// IEEE half and bfloat16 to float (exact: every value is representable).
float sparq_f16_to_float(uint16_t h);
float sparq_bf16_to_float(uint16_t h);
// A float tensor (F32/F16/BF16) into dst (numel floats). Non-finite values
// are rejected naming the tensor and the element.
int sparq_st_to_float(const struct sparq_st_tensor *t, float *dst, const char *label);

// Writer: tensors in the order added, each copied. Serialised with the
// header padded by spaces to a multiple of 8 bytes, data back to back.
struct sparq_st_writer {
    int count, cap;
    struct sparq_st_tensor *tensors; // data points to owned copies
    int n_meta, meta_cap;
    struct sparq_st_meta *meta;
};
void sparq_st_writer_init(struct sparq_st_writer *w);
void sparq_st_writer_free(struct sparq_st_writer *w);
int sparq_st_writer_add(struct sparq_st_writer *w, const char *name, enum sparq_st_dtype dtype, int ndim,
                        const int64_t *shape, const void *data);
int sparq_st_writer_meta(struct sparq_st_writer *w, const char *key, const char *value);
int sparq_st_serialize(const struct sparq_st_writer *w, uint8_t **out, size_t *size);
int sparq_st_write(const struct sparq_st_writer *w, const char *path);

#endif
