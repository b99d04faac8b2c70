// sparq-layer: runtime
// Integer inference: the compressed model file (docs/modelfile.md) and the
// runtime that runs every weight matmul of the Conformer on int8 activations
// and packed N:M weights, on a chosen backend:
//   cpu    the fast CPU kernel (sparq_gemm_fast)
//   ref    the C device model (bit-exact model of the accelerator)
//   sim    the Verilator model of the RTL (cycle-accurate)
//   usb    a board over USB (sparq_usb.h), through the reliability layer
//   float  the dequantized weights in float, activations unquantized: the
//          fake-quantized model the integer one came from
// cpu, ref and sim give identical logits. Host ops (norms, softmax,
// attention products, depthwise conv, SiLU/GLU) stay in float on the host.
//
// Activations: each row (frame) of a matmul input gets its own dynamic
// symmetric int8 scale s = max|x| / 127 (code = clamp(rint(x/s), +-127));
// the int32 result is dequantized as acc * (s_row * s_w[o]) + bias[o]. Per-row
// scales need no calibration and make a frame's result independent of the
// other utterances in a batch. With the q8 read-out the device requantizes
// acc to int8 per channel first (q = sparq_requant(acc, 0, mult_o, shift_o))
// and the host computes q * (s_row * s_w[o] * 2^shift_o / mult_o) + bias[o].
#ifndef SPARQ_RUNTIME_H
#define SPARQ_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "sparq_compress.h"
#include "sparq_device_wire.h"
#include "sparq_export.h"
#include "sparq_model.h"
#include "sparq_quant.h"

struct sparq_runtime_layer_stats {
    char name[48];
    char format[24];          // "int4-2:4" or "float"
    int out, in;
    uint64_t calls, rows;     // GEMM calls and activation rows
    uint64_t macs;            // rows * kept weights (work actually done)
    uint64_t dense_macs;      // rows * out * in
    uint64_t device_cycles;   // sim: all device clock cycles while this layer ran (link included)
    uint64_t busy_cycles;     // ref/sim: cycles the compute engine ran (COUNTERS busy)
    uint64_t device_macs;     // ref/sim: MACs the device counted
    uint64_t bytes_out, bytes_in; // ref/sim: link bytes the driver sent and read
    uint64_t wire_bytes;      // ref/sim: both directions on the wire (reliability layer included)
    // The same calls on a model device (sparq_device_open_model), any backend:
    // busy cycles by the job-cycle model, MACs, wire bytes by the driver's
    // own accounting. Equal to the measured ones on ref/sim (tested).
    uint64_t model_busy, model_macs, model_bytes;
    uint64_t wire_to_dev, wire_from_dev;   // ref/sim: wire_bytes by direction (activations, weights,
                                           // commands / results, replies)
    uint64_t model_to_dev, model_from_dev; // the same split of model_bytes
    uint64_t wire_kind[SPARQ_WIRE_KINDS];  // ref/sim: wire_bytes by kind (sparq_device_wire.h)
    uint64_t model_kind[SPARQ_WIRE_KINDS]; // the same split of model_bytes
    // (sparq eval under mpirun sums the uint64_t counters from `calls` up to here.)
    double seconds;           // host wall time in this layer's GEMMs
    double host_cpu_seconds;  // host == 1: CPU seconds of its GEMMs on the host (kernel + read-out requant)
    int host;                 // 1: placed on the host (cpu kernel; no device numbers), 0: on the device
    int resident;             // 1: the matrix is in the device's weight store (loaded at open), 0: streamed
    int chain;                // 0: runs alone; 1: W1 of a feed-forward chain (sparq_chain.h): its device
                              // numbers cover the whole chain (W1 and W2); 2: W2 of a chain (device numbers
                              // on W1's row; calls, rows and MACs its own)
};

// How results come back from the device (docs/runtime.md, "Read-out").
enum sparq_readout {
    SPARQ_READOUT_I32, // exact int32 accumulators, 4 bytes per output
    SPARQ_READOUT_Q8,  // requantized to int8 on the device (sparq_requant), 1 byte per output
};

struct sparq_runtime;

// Where the front-end (the subsampling matmuls sub1_w, sub2_w, sub_lin_w:
// im2col rows in, 144-channel results out) runs on a device backend. On the
// host it runs the cpu backend's integer path (the same integers: logits do
// not change) and only the subsampled activations go to the device.
enum sparq_frontend {
    SPARQ_FRONTEND_AUTO,   // per layer, the faster one (sparq_runtime_open_ex): the default
    SPARQ_FRONTEND_DEVICE, // every packed matmul on the device
    SPARQ_FRONTEND_HOST,   // the front-end on the host
};
struct sparq_runtime_options {
    enum sparq_frontend frontend;
};
// "auto", "device", "host" -> *f; SPARQ_EINVAL (message naming `flag`) otherwise.
int sparq_runtime_parse_frontend(const char *flag, const char *text, enum sparq_frontend *f);
const char *sparq_frontend_name(enum sparq_frontend f);

// Loads a model file and opens the backend ("cpu", "ref", "sim", "usb",
// "float"), optionally with a read-out suffix: "ref:q8" (int8 read-out),
// "ref:i32" (int32). Without one: q8 when the file carries read-out clip
// levels, else i32, and the feed-forward modules as device chains
// (sparq_chain.h) when it carries chain clips (float then runs fine-tuning's
// simulation of them); a suffix runs every matmul alone as before. cpu applies
// the device's integer steps itself, so cpu, ref and sim stay identical.
// Device backends load every matrix into the weight store at open
// (sparq_device_matrix_load; streamed when it has no room).
int sparq_runtime_open(struct sparq_runtime **rt, const char *model_path, const char *backend);
// The same with options (NULL: the defaults, front-end "auto"). Auto places a
// front-end layer on the host when one host GEMM of 256 rows (best of 3, wall
// time, measured at open) is faster than the same rows planned on the device
// at the fastest link the report models (FT601, 200 MB/s, byte-wide port at
// 100 MHz): each runs in turn, so the faster plan is the one with less time.
int sparq_runtime_open_ex(struct sparq_runtime **rt, const char *model_path, const char *backend,
                          const struct sparq_runtime_options *opt);
// Matmuls placed on the host (0 with the front-end on the device).
int sparq_runtime_host_layers(const struct sparq_runtime *rt);
enum sparq_readout sparq_runtime_readout(const struct sparq_runtime *rt);
// Multiplier lanes per PE of the hardware the calls are planned on (the
// device's IDENTIFY, or the default configuration for cpu/float): a step of
// W-bit weights does min(lanes, 8 / W) multiply-accumulates per PE.
int sparq_runtime_lanes(const struct sparq_runtime *rt);
void sparq_runtime_close(struct sparq_runtime *rt);
// The float model carrying the host-side parameters (dequantized weights).
struct sparq_model *sparq_runtime_model(struct sparq_runtime *rt);
const char *sparq_runtime_backend(const struct sparq_runtime *rt);
// Makes sparq_forward on sparq_runtime_model(rt) (and only that model) run
// its matmuls on the backend until sparq_runtime_deactivate(); wrap
// sparq_forward / sparq_decode_dataset in it.
void sparq_runtime_activate(struct sparq_runtime *rt);
void sparq_runtime_deactivate(struct sparq_runtime *rt);
// Per-matmul statistics since open (or the last reset).
const struct sparq_runtime_layer_stats *sparq_runtime_stats(const struct sparq_runtime *rt, int *count);
void sparq_runtime_reset_stats(struct sparq_runtime *rt);
// The batch-size model: what decoding utterances of these fbank frame counts
// (n of them) would cost in batches of `batch` length-sorted utterances, as
// the calls sparq_forward makes (subsampling convs per utterance, the other
// matmuls on batch x longest rows) planned on a model device of the same
// hardware behind the reliability layer. Fills name, format, calls, rows,
// macs, dense_macs and model_busy / model_macs / model_bytes of `stats`
// (one per weight matmul, count from sparq_runtime_stats).
int sparq_runtime_plan(struct sparq_runtime *rt, const int *frames, size_t n, int batch,
                       struct sparq_runtime_layer_stats *stats);
// sparq_runtime_plan on a model device of the hardware `cfg` instead of the
// runtime's own (design-space exploration): the same calls, with what the
// runtime would do on that hardware (resident weights when its store holds
// them, chained feed-forward modules when it has the epilogue).
struct sparq_device_config;
int sparq_runtime_plan_on(struct sparq_runtime *rt, const struct sparq_device_config *cfg, const int *frames,
                          size_t n, int batch, struct sparq_runtime_layer_stats *stats);
// How a plan counts the rows of every matmul after the subsampling convs:
// PADDED as sparq_forward calls them (B x T2, padded to the batch's longest
// utterance: sparq_runtime_plan / _plan_on, sparq_decode_dataset with the
// runtime active), VALID as sparq_runtime_decode runs them (each utterance's
// own subsampled frames; padded rows are skipped). cfg NULL: the runtime's
// own hardware (as sparq_runtime_plan).
enum sparq_plan_rows { SPARQ_PLAN_PADDED, SPARQ_PLAN_VALID };
int sparq_runtime_plan_rows(struct sparq_runtime *rt, const struct sparq_device_config *cfg, const int *frames,
                            size_t n, int batch, enum sparq_plan_rows rows, struct sparq_runtime_layer_stats *stats);
// Array size etc. of the device (ref/sim); SPARQ_EINVAL for cpu/float.
struct sparq_device_info;
int sparq_runtime_device_info(struct sparq_runtime *rt, struct sparq_device_info *info);
// Decodes every utterance of ds (length-sorted batches of max_frames fbank
// frames, greedy or dec's beam search) into hyps[i], as sparq_decode_dataset
// with the runtime active, but in a pipeline across batches (issue 16): the
// device stage of batch i (the device calls and the host float ops between
// them: the encoder, and the front-end when it uses the device) runs beside
// the fbank and host-placed front-end of batch i+1 and the CTC decode of
// batch i-1, on another thread. Device stages run one at a time in batch
// order, so logits, hypotheses and device counters equal the serial run's.
// Each stage's host CPU time is kept per batch for the report
// (sparq_report_pipeline). One process only (MPI ranks: sparq_decode_dataset_dist_ex).
// Two things differ from sparq_decode_dataset, neither changes a valid
// frame's logits (a frame's integers do not depend on its batch: per-row
// scales, attention and the depthwise conv stop at each utterance's length):
// - the batches: at most max_frames padded fbank frames each, and at most
//   1/SPARQ_PIPELINE_BATCHES of the dataset's frames (but one utterance at
//   least), so a small test set still makes batches that overlap;
// - every matmul after the subsampling convs runs on the batch's valid rows
//   only (its padded frames go neither to the device nor through the host's
//   kernel; their outputs are 0, so padded frames' logits differ).
#define SPARQ_PIPELINE_BATCHES 16
struct sparq_dataset;
struct sparq_ctc_beam_options;
struct sparq_pipeline_options {
    int threads; // 1: the stages in turn on the calling thread; 2: overlapped (NULL options: 2)
    // Called (from either thread) with each batch's logits, before decoding:
    // utts[k] is the utterance of row block k (B x T2 x vocab floats).
    void (*on_batch)(void *ctx, size_t batch, const size_t *utts, size_t B, const float *logits, int T2, int vocab);
    void *ctx;
    int min_batches; // cut the dataset's frames into at least this many batches (0: SPARQ_PIPELINE_BATCHES; 1:
                     // max_frames alone decides, as sparq_decode_dataset)
    int padded;      // 1: run the padded rows too, as sparq_decode_dataset does (its counters)
    // ranks > 1: decode only the batches i with i % ranks == rank (the others' hyps stay NULL), as
    // sparq_decode_dataset_dist_ex deals them to MPI ranks; no whole-model record is kept (it
    // would cover this rank's batches only).
    int rank, ranks;
};
// The padded fbank frames per batch sparq_runtime_decode uses for ds (see above).
int sparq_runtime_batch_frames(const struct sparq_dataset *ds, int max_frames, int min_batches);
// Transcribes n audio files as sparq_longform_transcribe does each (the same
// windows, the same words), but through sparq_runtime_decode: the windows of
// consecutive files are queued (at most SPARQ_PIPELINE_BATCHES of them and 4
// windows' worth of samples) and decoded together, so one window's device
// stage overlaps the next one's fbank and front-end. emit() gets each file in
// order as soon as its last window is decoded: its transcript, or NULL and
// the error. Returns SPARQ_EINVAL if any file failed.
struct sparq_longform_options;
int sparq_runtime_transcribe(struct sparq_runtime *rt, const char *const *paths, int n,
                             const struct sparq_longform_options *o,
                             void (*emit)(void *ctx, int file, const char *text, int windows, const char *error),
                             void *ctx);
int sparq_runtime_decode(struct sparq_runtime *rt, const struct sparq_dataset *ds, int max_frames,
                         const struct sparq_ctc_beam_options *dec, const struct sparq_pipeline_options *po,
                         char **hyps);
// What batch `batch` of the last sparq_runtime_decode added in its device
// stage, per matmul (sparq_runtime_stats order): calls, busy cycles and wire
// bytes by direction, measured and planned (model_*); zero for host-placed
// matmuls. Over all batches they add up to the run's device counters.
int sparq_runtime_stage_counters(const struct sparq_runtime *rt, size_t batch, struct sparq_runtime_layer_stats *out);
// Feed-forward modules running as device chains (0: none; the file has no
// chain clips, or a read-out suffix asked for the per-matmul path).
int sparq_runtime_chains(const struct sparq_runtime *rt);
// Wire bytes of loading the model's matrices into the device at open (0 for
// cpu/float): the weights a resident model does not send per call.
uint64_t sparq_runtime_load_bytes(const struct sparq_runtime *rt);
// First error a backend reported inside the hook (the forward pass itself
// cannot return it); SPARQ_OK if none.
int sparq_runtime_error(const struct sparq_runtime *rt);

#endif
