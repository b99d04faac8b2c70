// sparq-layer: compress
// Budgeted mixed-precision search: measure how much each weight matmul's dev
// loss suffers under each candidate compression (that layer alone, post
// training: magnitude N:M mask, MSE per-channel scales), then pick one
// candidate per layer so that the exported model file fits a size budget
// (percent of the fp32 parameters) at the lowest summed loss increase
// (sparq_budget_choose, an exact multiple-choice knapsack). The additive
// model of per-layer costs is the usual assumption (HAWQ-style); the chosen
// spec is then fine-tuned like any other (sparq finetune --compress).
#ifndef SPARQ_SEARCH_H
#define SPARQ_SEARCH_H

#include <stddef.h>

#include "sparq_compress.h"
#include "sparq_model.h"
#include "sparq_quant.h"
#include "sparq_train.h"

#define SPARQ_SEARCH_MAX_OPTIONS 12

struct sparq_search_options {
    int n_options;
    struct sparq_layer_setting options[SPARQ_SEARCH_MAX_OPTIONS]; // candidates per layer
    struct sparq_compress_spec fixed; // layers matched by a rule here are not searched (e.g. sub1_w=int8)
    double budget_percent;            // whole exported file <= this % of the fp32 parameter bytes
    int max_utts;                     // dev utterances used for the loss (0: all)
    int batch_frames;                 // padded frames per forward batch
    enum sparq_scale_method scale_method;
    int progress;                     // progress line on stderr
};
// Candidates int8, int4, int4-2:4, int2-2:4, int4-1:4, int2-1:4 (ternary),
// budget 9.4 %, 40 utterances, MSE scales.
void sparq_search_default_options(struct sparq_search_options *o);
// "int8,int4-2:4,..." into o->options.
int sparq_search_parse_options(struct sparq_search_options *o, const char *list);

struct sparq_search_layer {
    int tensor;                                // index in the model's tensor table
    char name[48];
    int out, in;
    double cost[SPARQ_SEARCH_MAX_OPTIONS];     // dev loss increase, this layer alone
    size_t bytes[SPARQ_SEARCH_MAX_OPTIONS];    // sparq_layer_bytes
    int choice;                                // chosen option
};

struct sparq_search_result {
    int n_layers;
    struct sparq_search_layer *layers;
    double base_loss;           // dev CTC loss of the float model
    double predicted_loss;      // base + sum of chosen costs
    size_t fp32_bytes;          // 4 * parameters
    size_t budget_bytes;        // budget_percent of fp32_bytes
    size_t file_bytes;          // exact size of the chosen spec's exported file
    char *spec;                 // --compress text of the choice (malloc'd)
    double seconds;
};
void sparq_search_result_free(struct sparq_search_result *r);

// Measures and chooses. The model is left unchanged.
int sparq_search_run(struct sparq_model *m, const struct sparq_dataset *dev, const struct sparq_search_options *o,
                     struct sparq_search_result *r);
// Table of layers x candidates (loss increase, chosen one marked) and the JSON.
void sparq_search_print(const struct sparq_search_result *r, const struct sparq_search_options *o, FILE *out);
char *sparq_search_json(const struct sparq_search_result *r, const struct sparq_search_options *o);

#endif
