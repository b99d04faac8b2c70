// sparq-layer: explore
// Design-space exploration (docs/explore.md): which array, buffers, clock
// and link to build for a model. Every configuration is planned on the model
// device (sparq_runtime_plan_on: the decode's calls, busy cycles by the
// engine's job-cycle formula, wire bytes by the driver's own accounting; no
// simulation), its area read from cached Yosys runs, and its fit checked
// against the FPGAs sparq targets.
#ifndef SPARQ_EXPLORE_H
#define SPARQ_EXPLORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sparq_device.h"
#include "sparq_runtime.h"

#define SPARQ_EXPLORE_MAX_LINKS 8

// A link the board could have: name and sustained bytes per second (MB/s).
struct sparq_explore_link {
    char name[24];
    double mbps;
};

// The default links: FX2 USB 2.0 (40 MB/s), FT601 USB 3.0 (200 MB/s), and a
// UART at 3 Mbaud 8N1 (0.3 MB/s, the iCEBreaker/HX8K-breakout images).
int sparq_explore_default_links(struct sparq_explore_link *links);
// "NAME=MBPS" (e.g. "uart1M=0.1"): one link; SPARQ_EINVAL naming the text.
int sparq_explore_parse_link(const char *text, struct sparq_explore_link *link);

// Whether the RTL elaborates this configuration (rtl/sparq_engine.v's
// illegal-parameter checks: ROWS and the depths powers of two, ROWS, COLS
// >= 2, WDEPTH >= 32, RDEPTH >= ROWS, LANES 1 or 4, ...). SPARQ_EINVAL with a
// message naming the parameter otherwise.
int sparq_explore_config_check(const struct sparq_device_config *cfg);
// Short label "16x16 L4 w1024 x4096 r256" (buf of at least 96 bytes).
void sparq_explore_config_label(const struct sparq_device_config *cfg, char *buf, size_t size);

// One planned configuration: the decode's weight matmuls on the model device.
struct sparq_explore_plan {
    struct sparq_device_config cfg;
    int n_layers;
    struct sparq_runtime_layer_stats *layers; // (n_layers), owned
    uint64_t busy, macs, model_macs, dense_macs, bytes;
    uint64_t to_dev, from_dev; // bytes by direction: weights, activations, commands / results, replies
    int resident;              // matrices in the weight store (loaded once, not in the bytes)
    int chained;               // feed-forward chains run on the device (W1 -> epilogue -> W2)
    double peak_macs; // sum over layers of busy x PEs x MACs a PE can do per cycle for its format
};
// Plans the decode of utterances with these fbank frame counts in batches of
// `batch` on hardware `cfg` (the runtime's planner).
int sparq_explore_plan(struct sparq_runtime *rt, const struct sparq_device_config *cfg, const int *frames, size_t n,
                       int batch, struct sparq_explore_plan *p);
void sparq_explore_plan_free(struct sparq_explore_plan *p);

// Times of a plan at a clock and a link: each layer takes the longer of its
// compute (busy / clock) and its transfers, as in the runtime's throughput
// report; layers add up. Transfers: wire bytes / link rate, but at least
// each direction's bytes / clock, since the accelerator's FIFO ports move one
// byte per clock (the report leaves this out; it matters when the link is
// faster than the clock, e.g. FT601 at 200 MB/s into a 100 MHz array).
struct sparq_explore_time {
    double compute_s; // sum of busy / clock
    double link_s;    // sum of the layers' transfer times
    int port_bound;   // layers whose transfers the 1-byte-per-clock port limits, not the link
    double total_s;   // sum of per-layer max
    int link_bound;   // layers whose transfers (link or port) take longer than their compute
    int layers;       // layers with calls (a chain's two matrices count once)
};
void sparq_explore_time(const struct sparq_explore_plan *p, double clock_mhz, double mbps, struct sparq_explore_time *t);
// 1 if layer i of the plan is link-bound at this clock and link.
int sparq_explore_layer_link_bound(const struct sparq_explore_plan *p, int i, double clock_mhz, double mbps);

// --- area ---------------------------------------------------------------------
// Resources of one configuration from Yosys (scripts/explore_synth.sh): the
// generic cell count (make synth's recipe), synth_ice40 (SB_LUT4, SB_CARRY,
// flip-flops, SB_RAM40_4K, SB_MAC16 with -dsp) and synth_ecp5 (LUT4, CCU2C,
// TRELLIS_FF, DP16KD, MULT18X18D, TRELLIS_DPR16X4). A field is -1 when the
// flow was not run.
struct sparq_explore_area {
    double generic_cells;
    double ice_lut, ice_carry, ice_ff, ice_bram, ice_dsp;
    double ecp5_lut, ecp5_ccu, ecp5_ff, ecp5_bram, ecp5_mult, ecp5_dram;
};
void sparq_explore_area_clear(struct sparq_explore_area *a);
// Adds the counts of a Yosys `stat` report (a file written by
// scripts/explore_synth.sh for FLOW generic, ice40 or ecp5) to a.
int sparq_explore_area_read(struct sparq_explore_area *a, const char *flow, const char *stat_path);

// FPGAs the project targets and whether an area fits each.
enum { SPARQ_FPGA_HX8K, SPARQ_FPGA_UP5K, SPARQ_FPGA_ECP5_85F, SPARQ_FPGA_COUNT };
const char *sparq_explore_fpga_name(int fpga);
// 1 fits, 0 does not, -1 unknown (that flow was not run). `why` (if not
// NULL, 64 bytes) names the first resource that does not fit.
int sparq_explore_fits(const struct sparq_explore_area *a, int fpga, char *why);
// The one number plotted against RTF: the largest share of an LFE5U-85F
// resource (LUT4 equivalents, flip-flops, DP16KD, MULT18X18D) the
// configuration takes, from synth_ecp5 (1.0 = the whole largest target);
// -1 without an ECP5 run.
double sparq_explore_area_metric(const struct sparq_explore_area *a);


// --- the sweep -----------------------------------------------------------------
struct sparq_explore_options {
    const struct sparq_device_config *cfgs; // the hardware configurations
    int n_cfgs;
    const double *clocks; // MHz
    int n_clocks;
    struct sparq_explore_link links[SPARQ_EXPLORE_MAX_LINKS];
    int n_links;
    int batch;             // utterances per decoding batch
    const int *frames;     // fbank frames per utterance
    size_t n_utts;
    double audio_seconds;  // audio of those utterances (real-time factors)
    // Area: the Yosys flows to run (or read from the cache) per configuration,
    // a subset of "generic", "ice40", "ecp5"; none = no area.
    const char *flows[3];
    int n_flows;
    const char *cache_dir;    // scripts/explore_synth.sh's cache
    const char *synth_script; // path of scripts/explore_synth.sh
    int jobs;                 // Yosys runs at once
};

struct sparq_explore_point {
    struct sparq_explore_plan plan;
    char infeasible[160]; // not empty: the driver cannot run the model on this hardware (why)
    struct sparq_explore_area area;
    int fits[SPARQ_FPGA_COUNT];
    double area_metric;
    int *pareto; // (n_clocks x n_links): 1 if no other point has both less area and a lower RTF
};

struct sparq_explore_result {
    struct sparq_explore_point *pts; // (n_cfgs)
    int n;
};

// Plans every configuration, synthesises (or reads) its area, marks the
// Pareto front per clock and link.
int sparq_explore_run(struct sparq_runtime *rt, const struct sparq_explore_options *o, struct sparq_explore_result *r);
void sparq_explore_result_free(struct sparq_explore_result *r);
// The table (stdout), and if not NULL the JSON and the gnuplot data
// (scripts/explore_pareto.gp).
int sparq_explore_print(const struct sparq_explore_options *o, const struct sparq_explore_result *r, FILE *out);
int sparq_explore_write_json(const struct sparq_explore_options *o, const struct sparq_explore_result *r,
                             const char *model, const char *data, const char *path);
int sparq_explore_write_dat(const struct sparq_explore_options *o, const struct sparq_explore_result *r,
                            const char *path);

#endif
