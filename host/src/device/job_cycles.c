// The engine's job-cycle formula (the busy counter of one COMPUTE job): a
// closed formula of the job shape, since rtl/sparq_engine.v's schedule does
// not depend on data. The C model, the model device, the runtime's plan and
// design-space exploration all count cycles with it.
#include "sparq_device.h"

uint64_t sparq_devmodel_format_cycles(const struct sparq_device_config *cfg, int t, int kblocks, int kept,
                                      int width)
{
    if (cfg->lanes == SPARQ_LANES_SERIAL) {
        // Bit-serial PEs: a kept weight takes `width` cycles (one weight bit
        // each), plus one cycle a tile that clears the accumulators; a tile
        // lasts at least ROWS cycles (its results leave the column's chain
        // one a cycle); the pipeline (read, two activation halves, load, the
        // last weight's bits, the chain, the result writer) drains in ROWS +
        // 12 (rtl/sparq_engine.v, LANES = 0).
        uint64_t tiles = (uint64_t)((t + cfg->rows - 1) / cfg->rows);
        uint64_t busy = (uint64_t)kblocks * 4u * (uint64_t)kept * (uint64_t)width + 1u;
        uint64_t period = busy > (uint64_t)cfg->rows ? busy : (uint64_t)cfg->rows;
        return tiles * period + (uint64_t)cfg->rows + 12u;
    }
    // A step carries L = min(lanes, 8/width) kept entries of a tile row (4
    // lanes: 1 int8, 2 int4 or 4 int2 weights a step); a tile lasts at least
    // M steps so the result shift chains of the previous tile have drained
    // (M = 2*ROWS with one lane; ROWS/2 with 4, whose array broadcasts
    // activations and weights and drains each column by two chains, a pair
    // of frames a cycle); then the pipeline drains for M + 4 cycles, plus
    // COLS (the column skew) with one lane (rtl/sparq_engine.v, MIN_P and
    // DRAIN_CYCLES).
    uint64_t per_step = width == 2 ? 4u : width == 4 ? 2u : 1u;
    uint64_t lanes = cfg->lanes > 1 ? (uint64_t)cfg->lanes : 1u;
    if (lanes > per_step)
        lanes = per_step;
    uint64_t tiles = (uint64_t)((t + cfg->rows - 1) / cfg->rows);
    uint64_t steps = (uint64_t)kblocks * 4u * (uint64_t)kept / lanes;
    uint64_t min_p = cfg->lanes == 4 ? (uint64_t)(cfg->rows / 2) : (uint64_t)(2 * cfg->rows);
    uint64_t period = steps > min_p ? steps : min_p;
    uint64_t drain = min_p + 4u + (cfg->lanes == 4 ? 0u : (uint64_t)cfg->cols);
    return tiles * period + drain;
}

uint64_t sparq_devmodel_job_cycles(const struct sparq_device_config *cfg, int t, int kblocks, int kept)
{
    return sparq_devmodel_format_cycles(cfg, t, kblocks, kept, 8);
}
