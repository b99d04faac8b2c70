// sparq-layer: device
// The accelerator as the host sees it: one device API over interchangeable
// transports ("ref": the C device model, "sim": the Verilator RTL model,
// later "usb"). Every transport carries the byte protocol of
// docs/protocol.md (constants in sparq_protocol.h); the driver here tiles
// arbitrary GEMMs onto the array and its buffers.
#ifndef SPARQ_DEVICE_H
#define SPARQ_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "sparq_format.h"
#include "sparq_gemm.h"

// CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, MSB first): the protocol CRC,
// bit-identical with rtl/sparq_crc16.v.
uint16_t sparq_crc16(uint16_t crc, const uint8_t *data, size_t n);

// --- transports --------------------------------------------------------------
// A transport moves bytes. send() queues bytes to the device; recv() returns
// exactly n reply bytes or SPARQ_ETIMEOUT. idle() tells the device the host
// has stopped sending (a device with a partial packet then times it out).
struct sparq_transport_ops {
    const char *name;
    int (*send)(void *ctx, const uint8_t *data, size_t n);
    int (*recv)(void *ctx, uint8_t *data, size_t n);
    int (*idle)(void *ctx);
    uint64_t (*cycles)(void *ctx); // device clock cycles so far (0 if unknown)
    void (*close)(void *ctx);
};

struct sparq_transport {
    const struct sparq_transport_ops *ops;
    void *ctx;
};

// Hardware configuration of the accelerator (RTL parameters).
struct sparq_device_config {
    int rows, cols;  // array size
    int wdepth;      // weight entries per column per bank
    int xdepth;      // activation words (4 int8) per row per bank
    int rdepth;      // result frames
    int timeout;     // rx idle cycles before a partial packet is dropped
    int lanes;       // MAC lanes per PE (RTL LANES): 4, or 1 (also when 0)
};
// The default configuration: the 16x16, 4-lane array that sim/sim.mk builds
// (rtl/sparq_top.v's own default is LANES = 1, for the iCE40 board).
extern const struct sparq_device_config sparq_device_default_config;

// The C device model: consumes command bytes, produces reply bytes, no cycles.
struct sparq_devmodel;
int sparq_devmodel_create(struct sparq_devmodel **m, const struct sparq_device_config *cfg);
void sparq_devmodel_destroy(struct sparq_devmodel *m);
void sparq_devmodel_feed(struct sparq_devmodel *m, const uint8_t *data, size_t n);
// The host went quiet: a partially received packet ends with ST_TRUNCATED.
void sparq_devmodel_timeout(struct sparq_devmodel *m);
// Moves up to n queued reply bytes to out; returns how many.
size_t sparq_devmodel_take(struct sparq_devmodel *m, uint8_t *out, size_t n);
// Cycles the RTL engine spends on one COMPUTE job (the busy counter) with
// weights of `width` bits (8, 4, 2): a step carries min(lanes, 8/width)
// kept weights.
uint64_t sparq_devmodel_format_cycles(const struct sparq_device_config *cfg, int t, int kblocks, int kept,
                                      int width);
// The same for int8 weights, the longest job of a shape.
uint64_t sparq_devmodel_job_cycles(const struct sparq_device_config *cfg, int t, int kblocks, int kept);

int sparq_transport_ref(struct sparq_transport *tr, const struct sparq_device_config *cfg);

// --- device ------------------------------------------------------------------
struct sparq_device_info {
    int version, rows, cols, banks;
    int wdepth, xdepth, rdepth;
    int widths;    // bit0 int8, bit1 int4, bit2 int2
    int sparsity;  // bit0 4:4, bit1 2:4, bit2 1:4
    int timeout;   // rx idle timeout, cycles
};

struct sparq_device_counters {
    uint64_t total, busy, stall_in, stall_out, macs;
};

// Link statistics kept by the driver.
struct sparq_link_stats {
    uint64_t bytes_out, bytes_in; // host -> device, device -> host
    uint64_t commands;
};

struct sparq_device;

// Opening a backend by name ("ref", "sim", "usb"): sparq_backend.h.
// A model device: executes nothing, answers every command OK and counts what
// the real one would see: the driver's link bytes, COMPUTE busy cycles
// (sparq_devmodel_job_cycles) and MACs, and with link != 0 also the
// reliability layer's MAC-counter reads (sparq_device_wire). The throughput
// report uses it to plan shapes it did not run (batch-size sweep). cfg NULL:
// the default configuration.
int sparq_device_open_model(struct sparq_device **dev, const struct sparq_device_config *cfg, int link);
// Opens a device over an already created transport (takes ownership).
int sparq_device_open_transport(struct sparq_device **dev, struct sparq_transport tr);
void sparq_device_close(struct sparq_device *dev);
const char *sparq_device_backend(const struct sparq_device *dev);

int sparq_device_identify(struct sparq_device *dev, struct sparq_device_info *info);
// MAC lanes per PE of the opened device (IDENTIFY; 1 for a protocol-version-1
// device): an int4 step does min(2, lanes), an int2 step lanes MACs.
int sparq_device_lanes(const struct sparq_device *dev);
int sparq_device_reset(struct sparq_device *dev);
int sparq_device_counters(struct sparq_device *dev, struct sparq_device_counters *c);
const struct sparq_link_stats *sparq_device_link(const struct sparq_device *dev);
// Bytes on the wire, host -> device and back: the driver's bytes plus what
// the reliability layer adds (MAC-counter reads, retries). Without a link
// layer the same as sparq_device_link().
void sparq_device_wire(const struct sparq_device *dev, uint64_t *out, uint64_t *in);
uint64_t sparq_device_cycles(const struct sparq_device *dev);

// Y (t, out) = X (t, in) * W^T on the device; raw int32. accumulate != 0
// adds into y (on the host), else overwrites. Same contract as sparq_gemm_ref.
int sparq_device_gemm(struct sparq_device *dev, int32_t *y, int y_stride, const int8_t *x, int x_stride,
                      const struct sparq_packed *w, int t, int accumulate);
// Same GEMM, requantized to int8 on the device with per-channel params (out).
int sparq_device_gemm_q8(struct sparq_device *dev, int8_t *y, int y_stride, const int8_t *x, int x_stride,
                         const struct sparq_packed *w, int t, const struct sparq_requant_params *params);
// Caps the input-channel blocks per COMPUTE (0 = as many as fit). Smaller
// chunks exercise the device's accumulate mode; tests use it.
void sparq_device_set_kchunk(struct sparq_device *dev, int kblocks);
// How activations are kept when K needs several COMPUTEs: 0 the driver picks
// the fewer link bytes, 1 re-send them per output tile, 2 keep a frame
// chunk's full K resident in a bank (COMPUTE xoffset). Tests use 1 and 2.
void sparq_device_set_xmode(struct sparq_device *dev, int mode);
// Frame chunks (activation banks) that share one weight-tile upload when K
// fits one COMPUTE: 2 (default) sends each weight tile once per two result-
// buffer chunks; 1 once per chunk (the older schedule; tests compare both).
void sparq_device_set_xbanks(struct sparq_device *dev, int banks);

// --- raw protocol access (tests, firmware bring-up) --------------------------
// Sends one framed command (header, body = args then payload, crc).
int sparq_device_send(struct sparq_device *dev, int opcode, const uint8_t *args, size_t nargs,
                      const uint8_t *payload, size_t npayload);
// Sends bytes exactly as given (fault injection).
int sparq_device_send_raw(struct sparq_device *dev, const uint8_t *data, size_t n);
// Tells the transport the host stopped sending.
int sparq_device_idle(struct sparq_device *dev);
// Receives one reply: checks magic and both CRCs; body copied up to cap
// bytes. Returns SPARQ_OK (and *status) or an error for a broken reply.
int sparq_device_recv(struct sparq_device *dev, int *status, int *seq, int *opcode, uint8_t *body, size_t cap,
                      size_t *len);
// Sequence number the next command will carry.
int sparq_device_next_seq(const struct sparq_device *dev);
// Name of a status code ("ok", "crc", ...).
const char *sparq_status_name(int status);

#endif
