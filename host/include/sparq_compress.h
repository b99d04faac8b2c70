// sparq-layer: compress
// Compression settings per weight matrix: parsing of `--compress` specs and
// the budgeted mixed-precision choice (a multiple-choice knapsack).
#ifndef SPARQ_COMPRESS_H
#define SPARQ_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "sparq_format.h"

// What one weight matrix becomes: float (width 0) or a packed format.
struct sparq_layer_setting {
    int width;            // 0 = stays float, else 8, 4, 2
    int kept;             // N of N:M (4 = dense)
    enum sparq_grid grid; // integer grid for the width
};

#define SPARQ_SPEC_MAX_RULES 160

// A spec is a comma-separated list of rules, later rules win:
//   "int4-2:4"                      every matrix
//   "*=int4-2:4,subsample*=int8,output=int8"   glob patterns on matrix names
//   "int2-1:4/full"                 /full selects the full two's-complement grid
//   "float" (or "fp32")             no compression
//   "float-2:4", "float-1:4"        sparsity alone (float values; stored dense)
// Formats are the names of the type table ("int4-2:4"); "int8" is "int8-4:4".
struct sparq_compress_spec {
    int count;
    struct {
        char pattern[64];
        struct sparq_layer_setting setting;
    } rules[SPARQ_SPEC_MAX_RULES];
};

// Parses `text`; on error returns SPARQ_EINVAL with a message naming the rule.
int sparq_compress_spec_parse(struct sparq_compress_spec *spec, const char *text);
// Setting for a matrix named `name` (float if no rule matches).
struct sparq_layer_setting sparq_compress_spec_lookup(const struct sparq_compress_spec *spec, const char *name);
// "int4-2:4", "int2-1:4/full" or "float" into buf.
void sparq_layer_setting_name(const struct sparq_layer_setting *s, char *buf, size_t size);

// Exact bytes of an (out, in) matrix with a setting: packed values and
// positions plus one fp32 scale per row, or 4 bytes per weight when float.
size_t sparq_layer_bytes(const struct sparq_layer_setting *s, int out, int in);

// Budgeted choice: layer i may take option j of options[i] (count[i] of
// them) with size bytes[i][j] and cost cost[i][j] (e.g. dev-loss increase
// when only that layer is compressed so). Picks one option per layer with
// total bytes <= budget minimising the total cost, exactly up to a size
// granularity of `quantum` bytes (sizes are rounded up, so the budget always
// holds). choice[i] receives j. Returns SPARQ_EINVAL if no choice fits.
int sparq_budget_choose(int *choice, int layers, const int *count, const size_t *const *bytes,
                        const double *const *cost, size_t budget, size_t quantum);

#endif
