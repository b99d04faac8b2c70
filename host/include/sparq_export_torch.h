// sparq-layer: compress
// `sparq export --format safetensors`: a float model file, or a compressed
// .spq with its weights dequantized, as a PyTorch state dict in safetensors
// (sparq_torch.h). For a .spq every packed weight W also gets
// sparq.mask.W (U8, W's PyTorch shape, 1 = kept), sparq.scale.W (F32, one
// per output channel) and the __metadata__ entry "sparq_format:W" (e.g.
// "int4-2:4"); docs/modelfile.md, "PyTorch state dicts".
#ifndef SPARQ_EXPORT_TORCH_H
#define SPARQ_EXPORT_TORCH_H

#include <stddef.h>

struct sparq_torch_export_report {
    int compressed;     // 1: the input was a .spq
    int tensors;        // tensors written (state dict + sparq.*)
    int packed_weights; // weights that came from packed sections
    size_t file_bytes;
};

// Reads `model_path` (the kind is told by its magic bytes) and writes `out_path` atomically.
int sparq_export_safetensors(const char *model_path, const char *out_path, struct sparq_torch_export_report *rep);

#endif
