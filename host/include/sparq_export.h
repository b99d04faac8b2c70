// sparq-layer: compress
// Export: a float Conformer's weight matmuls compressed per a spec and packed
// into the compressed model file (.spq, docs/modelfile.md), everything else
// kept float. The runtime (sparq_runtime.h) loads what this writes.
#ifndef SPARQ_EXPORT_H
#define SPARQ_EXPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sparq_compress.h"
#include "sparq_model.h"
#include "sparq_quant.h"

// The "config" section of a .spq: the model's shape as 8 int32.
#define SPARQ_SPQ_CONFIG_INTS 8
void sparq_spq_config_to_ints(const struct sparq_config *c, int32_t v[SPARQ_SPQ_CONFIG_INTS]);
void sparq_spq_ints_to_config(struct sparq_config *c, const int32_t v[SPARQ_SPQ_CONFIG_INTS]);

// Is tensor i of the model's table a weight matmul the accelerator runs?
// (Every *_w with a fan-in except the depthwise conv.) Shape (out, in).
int sparq_tensor_is_matmul(const struct sparq_tensor_info *t, int *out, int *in);

// Per-tensor overrides from compression-aware fine-tuning: the masks and
// scales the model was trained with (NULL entries: computed at export), and
// the int8 read-out's clip levels it calibrated (sparq_readout.h; written
// for packed tensors only, NULL entries or a NULL array: none).
struct sparq_export_overrides {
    const uint8_t *const *masks;  // (n_tensors) each (out, in) or NULL
    const float *const *scales;   // (n_tensors) each (out) or NULL
    const float *const *readout_clips; // (n_tensors) each (out) or NULL
};

struct sparq_export_report {
    size_t file_bytes;      // whole model file
    size_t param_bytes;     // payload of all parameter sections
    size_t fp32_bytes;      // 4 * number of parameters
    size_t matmul_params;   // parameters in weight matmuls
    size_t matmul_bytes;    // their packed bytes (values, positions, scales)
};

// Writes the compressed model file: matmul weights per `spec` (masks by
// magnitude and scales by `method` unless overridden), everything else float.
int sparq_export(const struct sparq_model *m, const struct sparq_compress_spec *spec,
                 const struct sparq_export_overrides *ov, enum sparq_scale_method method, const char *path,
                 struct sparq_export_report *report);

// One line: "exported PATH: N bytes (P% of fp32 F bytes; parameter payload ...); matmul weights ..."
// with P = file bytes / fp32 parameter bytes
// (make demo and make ablate read the percentage from it).
void sparq_export_report_print(FILE *out, const char *path, const struct sparq_export_report *rep);

#endif
