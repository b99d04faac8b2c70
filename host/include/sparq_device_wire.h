// sparq-layer: device
// Bytes on the wire by kind (issue 16): what a link carries, split into the
// model's weights (WRITE_W / STORE_W payloads, with their requant parameters
// and epilogue tables: WRITE_Q / WRITE_LUT payloads), activations in (WRITE_X
// payloads), results out (READ reply bodies) and overhead (command and reply
// headers, arguments and CRCs, other replies' bodies, the reliability
// layer's counter reads and its resends). The kinds add up to
// sparq_device_wire()'s out + in exactly (tests/unit/test_wire_kinds.c).
#ifndef SPARQ_DEVICE_WIRE_H
#define SPARQ_DEVICE_WIRE_H

#include <stdint.h>

#include "sparq_device.h"

enum sparq_wire_kind {
    SPARQ_WIRE_WEIGHTS,  // weights and their parameters / tables
    SPARQ_WIRE_ACT,      // activations to the device
    SPARQ_WIRE_RESULTS,  // results back
    SPARQ_WIRE_OVERHEAD, // framing, control replies, link checks, resends
    SPARQ_WIRE_KINDS
};
// Short names for tables and JSON: "weights", "act_in", "results", "overhead".
extern const char *const sparq_wire_kind_names[SPARQ_WIRE_KINDS];

struct sparq_wire_kinds {
    uint64_t kind[SPARQ_WIRE_KINDS]; // sum == out + in of sparq_device_wire()
    // The overhead, split: the driver's framing (headers, arguments, CRCs,
    // bodies of replies other than READ's), the reliability layer's counter
    // reads, and what else it moved (resends, discarded replies: 0 on a
    // clean link).
    uint64_t framing, checks, resends;
};
void sparq_device_wire_kinds(const struct sparq_device *dev, struct sparq_wire_kinds *k);

// Wire bytes of the reliability layer's own counter reads on a link
// transport (both directions, retries of those reads included); SPARQ_EINVAL
// if tr is not a link.
int sparq_link_check_bytes(const struct sparq_transport *tr, uint64_t *bytes);

#endif
