// Private to host/src/device: the device handle the driver files share
// (device.c: framing, opening, identify; device_gemm.c: the GEMM driver,
// matrices and chains).
#ifndef SPARQ_DEVICE_INTERNAL_H
#define SPARQ_DEVICE_INTERNAL_H

// IDENTIFY (version 3) byte 39, the second byte of the capability word:
// host port bytes per clock (rtl/sparq_top.v PORT_BYTES); 0 on a byte-wide
// port and on bitstreams from before the field.
#define SPARQ_ID_PORT 39

#include <stddef.h>
#include <stdint.h>

#include "sparq_device.h"
#include "sparq_device_wire.h"
#include "sparq_protocol.h"

// A configuration with any protocol-version-3 feature (more activation
// banks, two result buffers, a weight store, more requant entries, tables):
// what decides IDENTIFY's version and whether a wide host port is allowed.
int sparq_device_config_v3(const struct sparq_device_config *c);

struct sparq_device {
    struct sparq_transport tr;
    struct sparq_device_info info;
    int lanes; // MAC lanes per PE (IDENTIFY version 2; 1 for version 1)
    struct sparq_link_stats link;
    uint64_t kind[SPARQ_WIRE_KINDS]; // link.bytes_out + bytes_in by kind (sparq_device_wire.h)
    int seq;
    int kchunk;
    int xmode;        // 0 auto, 1 stream activations, 2 keep them resident
    int xbanks;       // activation banks filled per weight tile (1 or 2)
    int wbank, xbank; // next bank to fill
    uint8_t *buf;     // scratch for payloads and replies
    size_t cap;
    // Model device (sparq_device_open_model): no transport; every command is
    // counted as sent and answered OK, COMPUTE jobs by the job-cycle model.
    int model;
    struct sparq_device_config cfg;
    struct sparq_device_counters mc;
    int model_link;      // also count the reliability layer's counter reads
    int model_unverified; // accumulate COMPUTEs since its last check
    uint64_t model_wire_out, model_wire_in; // those reads' bytes
    // Requant parameters the device holds (WRITE_Q payload), valid until a
    // RESET or a failed command.
    int q_valid;
    size_t q_len;
    uint8_t q_last[SPARQ_Q_ENTRY_BYTES * 256];
    // Version 3. The store / param memory / tables may have lost their valid
    // flag (RESET, a failed command, raw bytes): the generation counters go
    // up, and a matrix written in an older generation is rewritten before use.
    uint64_t store_gen, q_gen;
    struct sparq_device_matrix_priv *mats; // loaded matrices (store and param allocation)
    int lut_n;                             // tables cached below (<= info.luts)
    int lut_next;                          // next slot to replace
    uint8_t (*lut_have)[SPARQ_LUT_ENTRIES];
    int *lut_ok;
    int rnext;                             // result buffer of the next job (two buffers)
    int chain_host;                        // test knob: chain2 through the host
};

struct sparq_device_matrix_priv {
    struct sparq_device *dev;   // NULL once the device is closed
    struct sparq_device_matrix_priv *next;
    uint64_t saddr, sn;         // store entries [saddr, saddr + sn) per column (sn 0: none)
    uint64_t qaddr, qn;         // param entries
    uint64_t gen, qgen;         // generation they were last written in
};


// The device may have lost its store, tables and params (RESET, an error,
// bytes the driver did not frame): generations up, caches dropped.
void sparq_dev_lose_state(struct sparq_device *d);
// Grows the scratch buffer to n bytes.
int sparq_dev_ensure(struct sparq_device *d, size_t n);
// One command and its reply (or a model device's count of it); a non-OK
// status becomes SPARQ_EDEVICE.
int sparq_dev_command(struct sparq_device *d, int op, const uint8_t *args, size_t nargs, const uint8_t *payload,
                      size_t npayload, uint8_t *body, size_t cap, size_t *len);

#endif
