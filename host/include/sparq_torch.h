// sparq-layer: model
// sparq's float Conformer-CTC as a PyTorch state dict: the parameter names,
// shapes and layouts of the reference Model class in
// tests/fixtures/make_conformer_fixtures.py (conv1/conv2/sub_lin, torchaudio
// ConformerLayer blocks layers.N.*, the CTC head out.*), held in a
// safetensors file (docs/modelfile.md, "PyTorch state dicts").
// Tensors that are not part of the state dict live under "sparq.":
// sparq.cmvn_mean / sparq.cmvn_istd, and for a compressed model
// sparq.mask.<weight> / sparq.scale.<weight>.
#ifndef SPARQ_TORCH_H
#define SPARQ_TORCH_H

#include <stddef.h>
#include <stdint.h>

#include "sparq_model.h"
#include "sparq_safetensors.h"

#define SPARQ_TORCH_EXTRA "sparq."       // the namespace a PyTorch loader strips
#define SPARQ_TORCH_META_CONFIG "sparq_config" // __metadata__ key: the config JSON

// Hyper-parameters a state dict does not carry, as JSON
// {"n_mels": 80, "n_heads": 4, ...}; keys of struct sparq_config, every key
// optional. Keys left out are 0 ("take it from the tensors").
int sparq_torch_config_parse(struct sparq_config *hint, const char *json, size_t len, const char *label);
int sparq_torch_config_load(struct sparq_config *hint, const char *path);
int sparq_torch_config_format(const struct sparq_config *c, char *dst, size_t cap);

// The state dict name and shape of the model-table tensor `sparq_name`
// (e.g. "layer0.conv_dw_w" -> "layers.0.conv_module.sequential.2.weight",
// (d, 1, K)). SPARQ_EINVAL if the name is not in the table.
int sparq_torch_tensor(const struct sparq_config *c, const char *sparq_name, char *torch_name, size_t cap,
                       int64_t shape[4], int *ndim);
// Moves `src` between sparq's layout and PyTorch's (to_torch = 1: sparq ->
// PyTorch) for elements of `esize` bytes (floats or mask bytes).
void sparq_torch_permute(const struct sparq_config *c, const char *sparq_name, const void *src, void *dst,
                         size_t esize, int to_torch);

// Builds the model from a state dict. Shapes come from the tensors; `hint`
// (may be NULL; else from sparq_torch_config_*) supplies n_heads and n_mels
// (n_mels also from sparq.cmvn_mean) and must agree with every shape. Without
// a hint the file's __metadata__ "sparq_config" is used. Missing, extra,
// misshapen or non-float tensors are errors naming the first one.
int sparq_torch_import(struct sparq_model *m, const struct sparq_st_file *f, const struct sparq_config *hint,
                       const char *label);
// Adds the model's state dict (what Model.load_state_dict(strict=True)
// takes), then sparq.cmvn_mean / sparq.cmvn_istd, and the config metadata.
int sparq_torch_export(const struct sparq_model *m, struct sparq_st_writer *w);

#endif
