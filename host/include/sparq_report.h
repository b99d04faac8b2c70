// sparq-layer: runtime
// Throughput report of the integer runtime: per weight matmul and in total,
// MACs, device cycles, PE utilisation, bytes over the link by direction,
// where the weights live (resident in the store, streamed, or in a
// feed-forward chain), and the time a board would take at a given clock and
// link speed (compute- or link-bound), and a batch-size sweep on this
// hardware and on protocol-version-2 hardware (before/after), as a table and
// as JSON (plus .dat files for scripts/roofline.gp). Measured on ref/sim/usb (device counters, wire
// bytes), planned on the model device for cpu (docs/runtime.md).
#ifndef SPARQ_REPORT_H
#define SPARQ_REPORT_H

#include <stdio.h>

#include "sparq_runtime.h"

struct sparq_report_options {
    double clock_mhz;      // device clock (100)
    double link_mbps[2];   // sustained link speeds in MB/s: FX2 USB 2.0 (40), FT601 USB 3.0 (200)
    const char *link_names[2];
    double audio_seconds;  // audio processed (for the real-time factor); 0 = unknown
    // Batch-size sweep (sparq_runtime_plan): fbank frames of each utterance
    // decoded (NULL: no sweep) and the batch sizes to plan (1 2 4 8 16 32).
    const int *utt_frames;
    size_t n_utts;
    const int *batch_sizes;
    int n_batch_sizes;
};
void sparq_report_default_options(struct sparq_report_options *o);

// The whole model on a board, from the last sparq_runtime_decode: per stage
// the host CPU seconds measured per batch (F: fbank + the front-end when on
// the host; E: the device stage's host ops, the device calls' own CPU time
// excluded; D: CTC decoding) and the device seconds at each link (the table's
// per-layer rule on each batch's counters). serial = sum of F + E + device + D;
// overlapped = the pipeline's time, F_0 + sum_i max(device_i + E_i,
// F_(i+1) + D_(i-1)) + D_last (one thread runs the device stage, another the
// rest). SPARQ_EINVAL when no pipelined decode ran.
struct sparq_pipeline_times {
    size_t batches;
    int batch_frames;                             // at most this many padded fbank frames per batch
    int padded;                                   // padded rows ran too (else the valid rows only)
    int threads;                                  // how the decode ran (1 serial, 2 overlapped)
    int fe_outside;                               // the front-end was outside the device stage
    double frontend_cpu, encoder_cpu, decode_cpu; // F, E, D summed over batches
    double device[2];                             // device seconds at each link, summed over batches
    double serial[2], overlapped[2];              // whole-model seconds at each link
    double wall;                                  // wall seconds of the decode on this machine
};
int sparq_report_pipeline(const struct sparq_runtime *rt, const struct sparq_report_options *o,
                          struct sparq_pipeline_times *t);

// Prints the table to `out` and, if json_path is not NULL, writes the JSON.
int sparq_report_print(struct sparq_runtime *rt, const struct sparq_report_options *o, FILE *out,
                       const char *json_path);

#endif
