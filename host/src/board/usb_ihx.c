// Intel HEX reader for FX2 firmware images (sdcc's .ihx). Strict: every
// record's length and checksum is checked, overlapping records and data
// after the end-of-file record are errors.
#include <stdlib.h>
#include <string.h>

#include "sparq_error.h"
#include "sparq_file.h"
#include "sparq_usb.h"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int sparq_ihx_parse(struct sparq_ihx *img, const char *text, size_t n, const char *name)
{
    memset(img, 0, sizeof *img);
    img->lo = 0x10000;
    int line = 0, eof = 0;
    size_t i = 0;
    while (i < n) {
        size_t end = i;
        while (end < n && text[end] != '\n')
            end++;
        size_t len = end - i;
        if (len && text[i + len - 1] == '\r')
            len--;
        line++;
        const char *p = text + i;
        i = end + 1;
        if (len == 0)
            continue;
        if (eof)
            return sparq_fail(SPARQ_EFORMAT, "%s:%d: data after the end-of-file record", name, line);
        if (p[0] != ':')
            return sparq_fail(SPARQ_EFORMAT, "%s:%d: record does not start with ':'", name, line);
        if (len < 11 || (len - 1) % 2)
            return sparq_fail(SPARQ_EFORMAT, "%s:%d: record too short or odd number of hex digits", name, line);
        uint8_t rec[300];
        size_t nb = (len - 1) / 2;
        if (nb > sizeof rec)
            return sparq_fail(SPARQ_EFORMAT, "%s:%d: record longer than 255 data bytes", name, line);
        for (size_t k = 0; k < nb; k++) {
            int h = hexval(p[1 + 2 * k]), l = hexval(p[2 + 2 * k]);
            if (h < 0 || l < 0)
                return sparq_fail(SPARQ_EFORMAT, "%s:%d: bad hex digit", name, line);
            rec[k] = (uint8_t)(h << 4 | l);
        }
        unsigned count = rec[0], addr = (unsigned)rec[1] << 8 | rec[2], type = rec[3];
        if (nb != count + 5u)
            return sparq_fail(SPARQ_EFORMAT, "%s:%d: byte count %u disagrees with the record length", name, line,
                              count);
        uint8_t sum = 0;
        for (size_t k = 0; k < nb; k++)
            sum = (uint8_t)(sum + rec[k]);
        if (sum != 0)
            return sparq_fail(SPARQ_EFORMAT, "%s:%d: checksum mismatch", name, line);
        if (type == 1) {
            eof = 1;
            continue;
        }
        if (type != 0)
            return sparq_fail(SPARQ_EFORMAT, "%s:%d: record type %02x not supported (16-bit images only)", name,
                              line, type);
        if (addr + count > 0x10000)
            return sparq_fail(SPARQ_EFORMAT, "%s:%d: record runs past address 0xFFFF", name, line);
        for (unsigned k = 0; k < count; k++) {
            if (img->used[addr + k])
                return sparq_fail(SPARQ_EFORMAT, "%s:%d: address 0x%04X written twice", name, line, addr + k);
            img->used[addr + k] = 1;
            img->data[addr + k] = rec[4 + k];
        }
        if (count) {
            if (addr < img->lo)
                img->lo = addr;
            if (addr + count > img->hi)
                img->hi = addr + count;
            img->bytes += count;
        }
    }
    if (!eof)
        return sparq_fail(SPARQ_EFORMAT, "%s: no end-of-file record (truncated file?)", name);
    if (!img->bytes)
        img->lo = 0;
    return SPARQ_OK;
}

int sparq_ihx_load(struct sparq_ihx *img, const char *path)
{
    char *buf;
    size_t n;
    int rc = sparq_read_file(path, 64u << 20, &buf, &n); // an FX2 image is a few tens of KB as hex
    if (rc)
        return rc;
    rc = sparq_ihx_parse(img, buf, n, path);
    free(buf);
    return rc;
}
