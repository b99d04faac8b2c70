// Finding serial boards (sparq_uart.h): candidate ports and their USB
// bridge from sysfs, and an IDENTIFY probe with a short timeout.
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_error.h"
#include "sparq_link.h"
#include "sparq_uart.h"

static int read_hex(const char *dir, const char *file)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    unsigned v;
    int ok = fscanf(f, "%x", &v) == 1;
    fclose(f);
    return ok ? (int)v : -1;
}

// /sys/class/tty/NAME/device is the USB interface (ttyACM) or the
// usb-serial port under it (ttyUSB); idVendor lives on the USB device above.
static void usb_ids(const char *dev_path, int *vid, int *pid)
{
    const char *name = strrchr(dev_path, '/');
    char sys[PATH_MAX], real[PATH_MAX];
    *vid = *pid = -1;
    snprintf(sys, sizeof sys, "/sys/class/tty/%s/device", name ? name + 1 : dev_path);
    if (!realpath(sys, real))
        return;
    for (int up = 0; up < 4; up++) {
        if ((*vid = read_hex(real, "idVendor")) >= 0) {
            *pid = read_hex(real, "idProduct");
            return;
        }
        char *slash = strrchr(real, '/');
        if (!slash || slash == real)
            return;
        *slash = 0;
    }
}

static const char *bridge_name(int vid)
{
    return vid == 0x0403 ? "FTDI" : vid == 0x1a86 ? "CH340" : vid == 0x10c4 ? "CP210x" : "";
}

static void add(struct sparq_uart_port *ports, int max, int *count, const char *path)
{
    if (*count < max) {
        struct sparq_uart_port *p = &ports[*count];
        snprintf(p->path, sizeof p->path, "%s", path);
        usb_ids(path, &p->vid, &p->pid);
        p->bridge = bridge_name(p->vid);
    }
    (*count)++;
}

int sparq_uart_list(struct sparq_uart_port *ports, int max, int *count)
{
    *count = 0;
    const char *env = getenv("SPARQ_UART_PORTS");
    if (env && *env) {
        char *copy = strdup(env), *save = NULL;
        if (!copy)
            return sparq_fail(SPARQ_ENOMEM, "uart: out of memory");
        for (char *tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save))
            add(ports, max, count, tok);
        free(copy);
        return SPARQ_OK;
    }
    static const char *patterns[] = { "/dev/ttyUSB*", "/dev/ttyACM*" };
    for (int i = 0; i < 2; i++) {
        glob_t g;
        if (glob(patterns[i], 0, NULL, &g) == 0)
            for (size_t k = 0; k < g.gl_pathc; k++)
                add(ports, max, count, g.gl_pathv[k]);
        globfree(&g);
    }
    return SPARQ_OK;
}

int sparq_uart_probe(const char *path, int baud, struct sparq_device_info *info)
{
    struct sparq_uart_options uo;
    memset(&uo, 0, sizeof uo);
    snprintf(uo.path, sizeof uo.path, "%s", path);
    uo.baud = baud;
    uo.timeout_ms = 150; // a board answers IDENTIFY at once; other gadgets must not hold us up
    struct sparq_transport raw, link;
    struct sparq_link_options lo = { .max_attempts = 2, .verify_accumulate = 1 };
    int rc = sparq_transport_uart(&raw, &uo);
    if (!rc)
        rc = sparq_link_wrap(&link, raw, &lo);
    struct sparq_device *dev = NULL;
    if (!rc)
        rc = sparq_device_open_transport(&dev, link); // IDENTIFY, then RESET
    if (!rc)
        rc = sparq_device_identify(dev, info);
    if (dev)
        sparq_device_close(dev);
    return rc;
}
