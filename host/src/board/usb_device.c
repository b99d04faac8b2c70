// Opens a sparq device over the `usb` transport, with the reliability layer
// between the driver and the link.
#include "sparq_link.h"
#include "sparq_usb.h"

int sparq_device_open_usb(struct sparq_device **dev, const struct sparq_usb_options *opt)
{
    struct sparq_transport usb, link;
    int rc = sparq_transport_usb(&usb, opt);
    if (rc)
        return rc;
    if ((rc = sparq_link_wrap(&link, usb, NULL)))
        return rc;
    return sparq_device_open_transport(dev, link);
}
