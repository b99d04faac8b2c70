// Scripted command sequences for the device fault and port tests: frame a
// command byte for byte, send it raw, check the reply's status and sequence,
// and log every reply so two backends' logs can be compared entry by entry.
#ifndef DEVICE_SCRIPT_H
#define DEVICE_SCRIPT_H

#include <string.h>

#include "check.h"
#include "sparq_backend.h"
#include "sparq_device.h"
#include "sparq_error.h"
#include "sparq_protocol.h"
#include "sparq_wire.h"

#define MAX_STEPS 256

struct reply_log {
    int n;
    int status[MAX_STEPS], seq[MAX_STEPS], op[MAX_STEPS];
    size_t len[MAX_STEPS];
    uint16_t body_crc[MAX_STEPS];
};

// Frames a command into buf; returns its size. len_delta changes the length
// field (header CRC still valid) without changing the bytes sent.
static size_t frame(uint8_t *buf, int op, int seq, const uint8_t *args, size_t nargs, const uint8_t *pay,
                    size_t npay, int len_delta)
{
    buf[0] = SPARQ_MAGIC_CMD;
    buf[1] = (uint8_t)op;
    buf[2] = (uint8_t)seq;
    buf[3] = 0;
    sparq_wr32(buf + 4, (uint32_t)((int)(nargs + npay) + len_delta));
    sparq_wr16(buf + 8, sparq_crc16(SPARQ_CRC16_INIT, buf, 8));
    if (nargs)
        memcpy(buf + 10, args, nargs);
    if (npay)
        memcpy(buf + 10 + nargs, pay, npay);
    uint16_t c = sparq_crc16(SPARQ_CRC16_INIT, buf + 10, nargs + npay);
    sparq_wr16(buf + 10 + nargs + npay, c);
    return 12 + nargs + npay;
}

// Sends n raw bytes (then the host's silence if idle), takes one reply, logs
// it and checks its status and sequence number; returns whether they match.
static int expect(struct sparq_device *dev, struct reply_log *log, const uint8_t *bytes, size_t n, int idle,
                  int want_status, int want_seq, const char *what)
{
    uint8_t body[256];
    int st = -1, seq = -1, op = -1;
    size_t len = 0;
    sparq_device_send_raw(dev, bytes, n);
    if (idle)
        sparq_device_idle(dev);
    int rc = sparq_device_recv(dev, &st, &seq, &op, body, sizeof body, &len);
    if (log->n < MAX_STEPS) {
        log->status[log->n] = st;
        log->seq[log->n] = seq;
        log->op[log->n] = op;
        log->len[log->n] = len;
        log->body_crc[log->n] = sparq_crc16(SPARQ_CRC16_INIT, body, len);
        log->n++;
    }
    int ok = rc == SPARQ_OK && st == want_status && seq == want_seq;
    CHECK(ok, "%s: %s -> status %s (want %s), seq %d", sparq_device_backend(dev), what,
          rc ? sparq_last_error() : sparq_status_name(st), sparq_status_name(want_status), seq);
    return ok;
}

// Opens a backend without the reliability layer (raw bytes); NULL, checked, if it fails.
static struct sparq_device *open_raw_checked(const char *backend)
{
    struct sparq_device *dev = NULL;
    int rc = sparq_device_open_raw(&dev, backend);
    CHECK(rc == SPARQ_OK, "open %s (%s)", backend, rc ? sparq_last_error() : "ok");
    return rc ? NULL : dev;
}

#endif
