// sparq-layer: device
// The reliability layer shared by every link (sim, usb; ref for tests):
// a transport wrapper that sits between the device driver (device.c) and a
// raw transport. Per command it renumbers the wire sequence number, checks
// every reply's magic, both CRCs, sequence number and opcode echo, resyncs
// on garbage, retries what is safe to retry, and proves or refuses what is
// not. docs/board.md ("Reliability") has the argument in full.
//
// Safe to retry: every command except COMPUTE / COMPUTE_S with the
// accumulate flag and EPILOGUE with dblock > 0 (writes, STORE_W and
// WRITE_LUT rewrite the same bytes, READ/COUNTERS/IDENTIFY only read, RESET,
// an overwriting COMPUTE(_S) and an EPILOGUE of block 0 give the same state
// twice; an overwriting COMPUTE that ran twice is harmless). For an
// accumulate COMPUTE(_S) whose outcome is unknown (reply lost, corrupted or
// late) the link reads the device's MAC counter (also read right before it):
// it ran once -> success, did not run -> resend, anything else -> error. An
// EPILOGUE of a later block is resent: OK -> it had not run, STATE -> it had
// (a second one changes nothing) or the device lost its state, which the next
// EPILOGUE or the COMPUTE reading that bank then reports. Before a READ or
// EPILOGUE that follows accumulate COMPUTEs, and before the next COMPUTE
// (with two result buffers it may come before that READ), the MAC counter is
// checked against the link's own tally, which catches a command the wire
// duplicated. Jobs that all overwrite (K in one COMPUTE) need no counter
// read. A device that lost its state (reset) answers "state" and the error
// goes up: never a wrong result.
//
// Fault injection (tests, `sparq selftest --faults`): a second wrapper,
// placed under the link, drops, duplicates, corrupts and delays packets in
// either direction and can reset the device after a given command.
#ifndef SPARQ_LINK_H
#define SPARQ_LINK_H

#include <stdint.h>

#include "sparq_device.h"

struct sparq_link_options {
    int max_attempts;      // per command, first try included (default 8)
    int verify_accumulate; // 1 (default): MAC counter checks described above; 0 only for tests
};

struct sparq_link_counts {
    uint64_t commands;     // commands from the driver
    uint64_t retries;      // resends
    uint64_t timeouts;     // attempts without a matching reply
    uint64_t nacks;        // device said header crc / crc / truncated: not executed
    uint64_t bad_replies;  // replies dropped for a CRC mismatch
    uint64_t stale;        // well-formed replies to an earlier attempt, discarded
    uint64_t skipped;      // bytes skipped while resynchronising
    uint64_t resolved;     // uncertain accumulates settled by the MAC counter, later EPILOGUEs by a resend
    uint64_t verified;     // MAC counter checks before READ that passed
    uint64_t failures;     // commands reported as errors by the link
    uint64_t wire_out;     // bytes sent to the inner transport (retries and counter reads included)
    uint64_t wire_in;      // bytes read from it (stale and skipped bytes included)
};

// Wraps `inner` (ownership passes to the link; closing the link closes it).
// opt may be NULL for the defaults.
int sparq_link_wrap(struct sparq_transport *out, struct sparq_transport inner, const struct sparq_link_options *opt);
// Counters of a link transport (NULL if tr is not one).
const struct sparq_link_counts *sparq_link_counts(const struct sparq_transport *tr);

struct sparq_fault_options {
    uint64_t seed;
    // Per-packet probabilities (0..1), host -> device and device -> host.
    double drop_cmd, dup_cmd, corrupt_cmd;
    double drop_reply, dup_reply, corrupt_reply, delay_reply;
    // Reset the device once, right after this many commands have been
    // forwarded (0: never). With hard_reset NULL a RESET command is slipped
    // in and its reply swallowed (ref/sim); usb passes sparq_usb_fpga_reset.
    uint64_t reset_after;
    int (*hard_reset)(void *arg);
    void *hard_reset_arg;
};

struct sparq_fault_counts {
    uint64_t commands, replies;
    uint64_t dropped_cmd, duped_cmd, corrupted_cmd;
    uint64_t dropped_reply, duped_reply, corrupted_reply, delayed_reply;
    uint64_t resets;
};

int sparq_fault_wrap(struct sparq_transport *out, struct sparq_transport inner, const struct sparq_fault_options *opt);
// Changes the fault probabilities of a running wrapper (counts are kept).
int sparq_fault_set(struct sparq_transport *tr, const struct sparq_fault_options *opt);
const struct sparq_fault_counts *sparq_fault_counts(const struct sparq_transport *tr);

#endif
