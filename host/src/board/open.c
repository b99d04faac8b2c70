// Backends by name: the only file that lists them, so adding a transport
// touches this table and nothing in the device layer.
#include <string.h>

#include "sparq_backend.h"
#include "sparq_error.h"
#include "sparq_link.h"
#include "sparq_uart.h"
#include "sparq_usb.h"

static int open_backend(struct sparq_device **dst, const char *backend, int link)
{
    struct sparq_transport tr;
    int rc;
    if (!strcmp(backend, "ref"))
        rc = sparq_transport_ref(&tr, NULL);
    else if (!strcmp(backend, "sim"))
        rc = sparq_transport_sim(&tr);
    else if (!strcmp(backend, "usb") && link) // a board (sparq_usb.h), through the same layer
        return sparq_device_open_usb(dst, NULL);
    else if (!strncmp(backend, "uart:", 5) && link) { // a serial board: uart:PATH[@BAUD] (sparq_uart.h)
        struct sparq_uart_options uo;
        rc = sparq_uart_parse(&uo, backend + 5);
        return rc ? rc : sparq_device_open_uart(dst, &uo);
    } else
        return sparq_fail(SPARQ_EINVAL, "device: unknown backend '%s' (expected ref, sim%s)", backend,
                          link ? ", usb or uart:PATH[@BAUD]" : "");
    if (!rc && link)
        rc = sparq_link_wrap(&tr, tr, NULL); // takes the raw transport (closes it on failure)
    if (rc)
        return rc;
    return sparq_device_open_transport(dst, tr);
}

int sparq_device_open(struct sparq_device **dst, const char *backend) { return open_backend(dst, backend, 1); }

int sparq_device_open_raw(struct sparq_device **dst, const char *backend) { return open_backend(dst, backend, 0); }
