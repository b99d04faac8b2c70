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
    int lanes;       // MAC lanes per PE (RTL LANES): 4, or 1 (also when 0), or SPARQ_LANES_SERIAL
    // Protocol version 3 (docs/protocol.md). 0 everywhere = none of its
    // features: the device answers IDENTIFY as version 2 (1 with one lane).
    int xbanks;      // activation banks (RTL XBANKS): 2 when 0; at most 255
    int rbufs;       // result buffers (RTL RBUFS): 1 or 2; 1 when 0
    int wstore;      // weight-store entries per column (RTL WSTORE); 0 = no store
    int qdepth;      // requant parameter entries (RTL QDEPTH); cols when < cols
    int luts;        // 256-entry epilogue tables (RTL LUTS); 0 = no EPILOGUE
    int port_bytes;  // host port bytes per clock (RTL PORT_BYTES): 1, 2 or 4; 1 when 0 or not version 3
};
// Bit-serial PEs (RTL LANES = 0, the iCE40 board; IDENTIFY version 2 with
// lanes 0): a kept weight takes 8, 4 or 2 cycles for int8, int4, int2.
#define SPARQ_LANES_SERIAL (-1)
// The default configuration: the 16x16, 4-lane array that sim/sim.mk builds,
// with the version-3 features (xbanks 4, rbufs 2, wstore 262144, qdepth
// 16384, luts 16) and a 4-byte host port. rtl/sparq_top.v's own default is LANES = 1
// with no version-3 features (the iCE40 board tops set LANES = 0, bit-serial).
extern const struct sparq_device_config sparq_device_default_config;
// Zero version-3 fields take the version-2 hardware's values (xbanks 2,
// rbufs 1, qdepth cols); SPARQ_EINVAL (naming `who`) if a field is out of
// the RTL's range. The C model, the model device and IDENTIFY's
// description share it.
int sparq_device_config_normalize(struct sparq_device_config *cfg, const char *who);

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
    // Version 3 (IDENTIFY bytes 26..41); a version-1/2 device reports
    // xbanks 2, rbufs 1, wstore 0, qdepth cols, luts 0, caps 0.
    int xbanks, rbufs;
    int wstore;    // weight-store entries per column
    int qdepth;    // requant parameter entries
    int luts;      // epilogue tables
    int caps;      // SPARQ_CAP_* (sparq_protocol.h): store, epilogue, two result buffers
    int port_bytes; // host port bytes per clock (IDENTIFY byte 39; 1 on older devices)
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
// the real one would see: the driver's link bytes, COMPUTE / COMPUTE_S busy
// cycles (sparq_devmodel_format_cycles) and MACs, EPILOGUE busy cycles (t +
// SPARQ_EPILOGUE_CYCLES), and with link != 0 also the reliability layer's
// counter reads (sparq_device_wire). It has the version-3 features cfg gives
// it (IDENTIFY caps), so matrices load and chains fuse as on that device. The throughput
// report uses it to plan shapes it did not run (batch-size sweep). cfg NULL:
// the default configuration.
int sparq_device_open_model(struct sparq_device **dev, const struct sparq_device_config *cfg, int link);
// Opens a device over an already created transport (takes ownership).
int sparq_device_open_transport(struct sparq_device **dev, struct sparq_transport tr);
void sparq_device_close(struct sparq_device *dev);
const char *sparq_device_backend(const struct sparq_device *dev);

int sparq_device_identify(struct sparq_device *dev, struct sparq_device_info *info);
// What IDENTIFY reports for a device built with cfg (zero version-3 fields:
// the version-2 hardware's values), without opening one: the cpu backend's
// throughput report describes the default hardware with it.
void sparq_device_config_info(const struct sparq_device_config *cfg, struct sparq_device_info *info);
// The inverse: the configuration of a device that answered IDENTIFY with info
// and has `lanes` (sparq_device_lanes), for a C model of the same hardware.
void sparq_device_info_config(const struct sparq_device_info *info, int lanes, struct sparq_device_config *cfg);
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

// --- matrices on the device (protocol version 3) -------------------------------
// A matrix the device runs: its packed weights, optional requant params (bias
// folded in, NULL = raw int32 results only), and where it lives on the device.
// Zero-initialise it, set w (and q), then sparq_device_matrix_load().
struct sparq_device_matrix_priv; // driver-owned bookkeeping
struct sparq_device_matrix {
    const struct sparq_packed *w;
    const struct sparq_requant_params *q; // (w->out) or NULL
    // filled by sparq_device_matrix_load:
    int resident;          // 1: every tile is in the weight store (COMPUTE_S), 0: streamed
    int q_resident;        // 1: params live at qaddr (no per-call WRITE_Q)
    uint32_t *tile_addr;   // (tiles) store address of each column tile (all K blocks contiguous), driver-owned
    int tiles;             // column tiles (ceil(out / cols))
    int qaddr;             // first param entry (entries qaddr .. qaddr + out - 1) when q_resident
    uint64_t store_entries;// entries per column it occupies
    struct sparq_device_matrix_priv *priv;
};
// Puts the matrix in the weight store (and its params in the param memory) if
// there is room, else leaves it streamed (resident = 0; not an error). Returns
// an error only on device errors (and bad arguments). The driver reloads it by
// itself after a RESET or a failed STORE_W. Release it before closing the device
// to give its store space back (releasing after the close only frees memory).
int sparq_device_matrix_load(struct sparq_device *dev, struct sparq_device_matrix *m);
void sparq_device_matrix_release(struct sparq_device_matrix *m); // frees driver memory, store space
// The GEMMs on a matrix: raw int32 (as sparq_device_gemm) or q8 (as
// sparq_device_gemm_q8 with m->q). A loaded matrix needs the device it was
// loaded on; an unloaded one (all zero but w, q) streams on any device.
int sparq_device_gemm_m(struct sparq_device *dev, int32_t *y, int y_stride, const int8_t *x, int x_stride,
                        const struct sparq_device_matrix *m, int t, int accumulate);
int sparq_device_gemm_q8_m(struct sparq_device *dev, int8_t *y, int y_stride, const int8_t *x, int x_stride,
                           const struct sparq_device_matrix *m, int t);
// Two matrices chained on the device: h = LUT(requant(x * W1^T, m1->q)),
// y = requant(h * W2^T, m2->q). lut: 256 int8 (index code + 128), or NULL for
// identity. Only the input goes in and y comes out. Needs caps bit1 (EPILOGUE),
// 16 <= cols, m2->w->in == m1->w->out and both params; without the caps it runs
// the same arithmetic through the host (q8 read-out of W1, table on the host,
// W2 on the device), so results are identical on every device.
int sparq_device_chain2(struct sparq_device *dev, int8_t *y, int y_stride, const int8_t *x, int x_stride,
                        const struct sparq_device_matrix *m1, const int8_t *lut, const struct sparq_device_matrix *m2,
                        int t);
// Test knob: 0 (default) lets chain2 use EPILOGUE when the device has it, 1
// forces the host path (tests compare both).
void sparq_device_set_chain_host(struct sparq_device *dev, int host);

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
