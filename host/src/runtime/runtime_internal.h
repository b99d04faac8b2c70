// Private to host/src/runtime: the runtime's state, shared by runtime.c (open,
// the matmul hook), runtime_chain.c (the file's FFN chains) and
// runtime_plan.c (what a decode costs on a given hardware).
#ifndef SPARQ_RUNTIME_INTERNAL_H
#define SPARQ_RUNTIME_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "scratch.h"
#include "sparq_chain.h"
#include "sparq_device.h"
#include "sparq_gemm.h"
#include "sparq_modelfile.h"
#include "sparq_runtime.h"

enum backend_kind { BACKEND_CPU, BACKEND_REF, BACKEND_SIM, BACKEND_USB, BACKEND_UART, BACKEND_FLOAT };

// --- runtime
// -------------------------------------------------------------------

struct rt_weight {
    const float *w; // the tensor in the model's parameters (how the hook recognises it)
    int out, in;
    int packed; // 0: stays float
    struct sparq_packed p;
    struct sparq_gemm_prepared *prep; // cpu backend
    struct sparq_requant_params *rq;  // (out) int8 read-out (readout q8)
    float *rq_scale;                  // (out) s_w[o] * 2^shift / mult: dequantizes a q8 result
    float *clip;                      // (out) calibrated read-out clip levels from the file, or NULL
    // The matrix on the device (ref/sim/usb) and on the planning model
    // device: resident in the weight store when it has room, else streamed.
    struct sparq_device_matrix dm, pm;
    int chain; // index into the runtime's FFN chains, -1 if none
    int host;  // placed on the host (runtime_place.c): the cpu kernel on every backend
};

// One feed-forward module run as the device's chain (sparq_chain.h): W1's
// call runs both matrices and keeps W2's output for W2's call.
struct rt_chain {
    int w1, w2;               // indices into weights
    const float *b1, *b2;     // the biases in the model's parameters
    float a_in, a_1;          // the file's clips
    struct sparq_chain_ffn p; // every integer parameter (sparq_chain_make)
    float *w1code, *w2code;   // float backend: the weight codes, for the simulation
    int8_t *q1;               // W1's codes (float backend) or W2's codes (integer backends) from W1's call
    size_t cap_q1;
    int rows; // rows in q1, -1 once W2 took them
};

struct sparq_runtime {
    struct sparq_model m;
    int model_ok;
    enum backend_kind kind;
    char backend[16];
    enum sparq_readout readout;
    int calibrated; // the file carries read-out clip levels (sparq_readout.h)
    int n_chains;
    struct rt_chain *chains; // the file's FFN chains (sparq_chain.h)
    int use_chain;           // run them (no read-out suffix given); else every matmul
                             // alone, as before
    uint64_t load_wire;      // wire bytes of loading the matrices at open (device backends)
    enum sparq_frontend frontend; // as asked (runtime_place.c)
    int n_host;                   // matmuls placed on the host
    struct sparq_device *dev;
    struct sparq_device *plan;      // model device: what each call costs by the
                                    // job-cycle and link model
    struct sparq_device_config cfg; // the hardware the model device stands for
    pthread_mutex_t lock;           // the device and the statistics
    int n_weights;
    struct rt_weight *weights;
    struct sparq_runtime_layer_stats *stats;
    struct rt_scratch_pool scratch; // per-call buffers, kept between calls
    int error;
    // CPU seconds (rt_thread_cpu of the calling thread) spent standing in for the device: device calls
    // (ref/sim simulate the hardware), the cpu backend's GEMMs of
    // device-placed matmuls, the model device's planning. Under `lock`. The
    // pipeline subtracts it from its device stage's CPU time.
    double dev_cpu;
    int timing;                  // a pipelined decode runs: measure dev_cpu
    struct rt_pipe_record *pipe; // the last sparq_runtime_decode's stages, or NULL
    int rows_valid;              // the last sparq_runtime_decode skipped padded rows
};

// --- pipeline (pipeline.c): what each batch's stages took
struct rt_batch_record {
    double fe_cpu;                         // host CPU s: fbank (+ the front-end when on the host)
    double enc_cpu;                        // host CPU s of the device stage without dev_cpu: the
                                           // encoder's host ops (and the front-end's when on the device)
    double dec_cpu;                        // host CPU s: CTC decoding
    struct sparq_runtime_layer_stats *dev; // (n_weights) counters added in the device stage
};
struct rt_pipe_record {
    size_t n;         // batches
    int batch_frames; // at most this many padded fbank frames each (sparq_runtime_batch_frames)
    int padded;       // padded rows ran too (else the valid rows only)
    int threads;      // 1: stages in turn, 2: the device stage overlapped
    int fe_outside;   // the front-end ran outside the device stage (all on the host)
    double wall;      // wall seconds of the whole decode
    struct rt_batch_record *b;
};
void rt_pipe_free(struct rt_pipe_record *p, int n_weights);
// CPU seconds of the calling thread and, outside a parallel region with more
// than one OpenMP thread, of the team it would run (spin-waits included).
double rt_cpu_now(void);
double rt_thread_cpu(void); // the calling thread's CPU seconds
// The model hook (runtime.c): ctx is the runtime.
int rt_linear(void *ctx, float *out, const float *inp, const float *w, const float *b, int N, int IN, int OUT);
int rt_conv(void *ctx, float *out, const float *inp, const float *w, const float *b, int tout, int Fin, int Cin,
            int Cout);

// --- placement (runtime_place.c)
int rt_is_frontend(const char *name);
int rt_place_frontend(struct sparq_runtime *rt, enum sparq_frontend mode);
// The host's integer GEMM (cpu kernel, then the q8 requantization).
int rt_host_gemm(const struct sparq_runtime *rt, const struct rt_weight *rw, int32_t *acc, int8_t *y8,
                 const int8_t *xq, int N);
double rt_cpu_seconds(void);
// The requant parameters matrix i runs with on the device (NULL: int32).
const struct sparq_requant_params *rt_matrix_params(const struct sparq_runtime *rt, int i);

// The read-out clip level of channel o (the file's, or the data-free one).
double rt_channel_clip(const struct rt_weight *rw, int o);
// Every packed matrix into dev's weight store (resident) or streamed; m has
// one handle per weight, `stride` bytes apart.
int rt_load_matrices(const struct sparq_runtime *rt, struct sparq_device *dev, struct sparq_device_matrix *m,
                     size_t stride);
void rt_release_matrices(const struct sparq_runtime *rt, struct sparq_device_matrix *m, size_t stride);
// One call of weight idx on N rows through dev, with the handles m.
int rt_run_matrix(const struct sparq_runtime *rt, struct sparq_device *dev, const struct sparq_device_matrix *m,
                  size_t stride, int idx, int N);
void rt_count_call(const struct rt_weight *rw, struct sparq_runtime_layer_stats *s, int N);
// The file's FFN chains (section "chain"), and their integer parameters.
int rt_load_chains(struct sparq_runtime *rt, const struct sparq_mfile *f, const char *path);
int rt_make_chain(struct sparq_runtime *rt, struct rt_chain *ch);

// --- long-form windows (longform.c)
// One window of a file: n samples at x, whole = the file in one window.
typedef int (*rt_window_fn)(void *ctx, const float *x, size_t n, int whole);
// Reads `path` as a stream and hands win() each window in order (the cut rule of
// sparq_longform_transcribe); *windows counts them.
int rt_longform_windows(const char *path, double window_s, rt_window_fn win, void *ctx, int *windows);
// 0 if a window of n samples decodes; 1 if it is too short for the front end
// (a tail: it decodes to ""); an error if the whole file is that short.
int rt_longform_short(const struct sparq_model *m, const char *path, size_t n, int whole);
// Appends " words" (or "words" first) to a growing transcript.
int rt_append_words(char **text, size_t *len, size_t *cap, const char *words);

#endif
