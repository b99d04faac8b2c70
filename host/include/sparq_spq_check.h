// sparq-layer: runtime
// Checks a compressed model file (.spq, docs/modelfile.md) against the
// model its 'config' section describes, beyond what the container's CRC
// proves: every section the model needs is there with the right kind and
// size, no section is left over (an edited n_layers leaves layers unused or
// missing), every float is finite, cmvn_istd and BatchNorm variances are
// > 0, packed scales are >= 0. Errors name the file and the section.
#ifndef SPARQ_SPQ_CHECK_H
#define SPARQ_SPQ_CHECK_H

#include "sparq_model.h"
#include "sparq_modelfile.h"

// m: a model created from the file's config (sparq_model_create), which
// lists the weight tensors; `path` names the file in messages.
int sparq_spq_check(const struct sparq_mfile *f, const char *path, const struct sparq_model *m);

#endif
