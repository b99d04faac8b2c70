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

// Prints the table to `out` and, if json_path is not NULL, writes the JSON.
int sparq_report_print(struct sparq_runtime *rt, const struct sparq_report_options *o, FILE *out,
                       const char *json_path);

#endif
