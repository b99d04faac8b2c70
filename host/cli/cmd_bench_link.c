// sparq bench-link: what a USB board would spend on the link for the
// default Conformer's weight GEMMs. Runs each GEMM on the ref device model
// through the reliability layer, counts the bytes and command round trips
// that cross the link, and turns them into times for the FX2 path
// (docs/board.md): USB 2.0 bulk (~40 MB/s), the FPGA's slave-FIFO adapter
// (1 byte per 2 IFCLK cycles = 15 MB/s per direction at 30 MHz), and a
// round-trip latency per command; and for UART boards (FTDI & co.) the line
// rate, baud/10 bytes/s for 8N1, at 115200, 1 M and 3 M baud, with a USB-
// serial round trip per command. Estimates, labelled as such.
// sparq-command: bench-link: link-bound time per GEMM for a USB or UART board (estimate from counted bytes)
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_device.h"
#include "sparq_error.h"
#include "sparq_gemm.h"
#include "sparq_link.h"

#define USB_MBPS 40.0     // FX2LP bulk throughput commonly reached on USB 2.0 high speed
#define FIFO_MBPS 15.0    // sparq_fx2_fifo: one byte every 2 cycles of a 30 MHz IFCLK, FD shared by both directions
#define RTT_US 250.0      // one command + reply exchange: two 125 us microframes
#define UART_RTT_US 2000.0 // USB-serial bridge with its latency timer at 1 ms, once each way
static const int uart_bauds[3] = { 115200, 1000000, 3000000 };

struct shape {
    const char *name;
    int out, in;
    int per_layer; // how often a Conformer layer runs it
};

int cmd_bench_link(int argc, char **argv)
{
    const char *json = NULL;
    int T = 250; // 10 s of audio at 25 frames/s after 4x subsampling
    static const struct option longopts[] = {
        { "json", required_argument, 0, 'j' }, { "frames", required_argument, 0, 't' },
        { "help", no_argument, 0, 'h' },       { 0, 0, 0, 0 },
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'j')
            json = optarg;
        else if (c == 't')
            T = atoi(optarg);
        else if (c == 'h') {
            printf("usage: sparq bench-link [--frames T] [--json FILE]\n"
                   "  Bytes and round trips per GEMM of the default Conformer (d 144, ffn 576) on the\n"
                   "  ref device through the reliability layer, and the link-bound time on a USB board.\n");
            return 0;
        } else
            return 2;
    }
    if (T < 1 || T > 100000) {
        fprintf(stderr, "sparq bench-link: --frames %d out of range (1..100000)\n", T);
        return 2;
    }
    static const struct shape shapes[] = {
        { "ffn.w1 144->576", 576, 144, 2 },  { "ffn.w2 576->144", 144, 576, 2 },
        { "att.in 144->432", 432, 144, 1 },  { "att.out 144->144", 144, 144, 1 },
        { "conv.pw1 144->288", 288, 144, 1 }, { "conv.pw2 144->144", 144, 144, 1 },
    };
    static const int fmts[3][2] = { { 8, 4 }, { 4, 2 }, { 2, 1 } };
    FILE *jf = NULL;
    if (json && !(jf = fopen(json, "w"))) {
        fprintf(stderr, "sparq bench-link: cannot write %s\n", json);
        return 1;
    }
    if (jf)
        fprintf(jf,
                "{\"frames\": %d, \"usb_MBps\": %.1f, \"fifo_MBps\": %.1f, \"rtt_us\": %.1f, \"uart_rtt_us\": %.1f, "
                "\"uart_bauds\": [%d, %d, %d], \"gemms\": [",
                T, USB_MBPS, FIFO_MBPS, RTT_US, UART_RTT_US, uart_bauds[0], uart_bauds[1], uart_bauds[2]);
    printf("link-bound estimate per GEMM, T = %d frames, default 16x16 device buffers\n", T);
    printf("%-18s %-9s %10s %10s %6s %9s %9s %9s %10s %9s %9s\n", "GEMM", "format", "bytes out", "bytes in", "trips",
           "USB ms", "FIFO ms", "+RTT ms", "UART115k", "UART1M", "UART3M");
    int first = 1, rc_all = 0;
    double total[3] = { 0, 0, 0 }, total_uart[3] = { 0, 0, 0 }; // per format; UART at 3 Mbaud
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int f = 0; f < 3; f++) {
            int out = shapes[s].out, in = shapes[s].in, width = fmts[f][0], kept = fmts[f][1];
            struct sparq_transport ref, counted, link;
            struct sparq_device *dev = NULL;
            struct sparq_fault_options quiet;
            memset(&quiet, 0, sizeof quiet);
            int rc = sparq_transport_ref(&ref, NULL);
            if (!rc)
                rc = sparq_fault_wrap(&counted, ref, &quiet); // no faults: it only counts packets
            if (!rc)
                rc = sparq_link_wrap(&link, counted, NULL);
            if (!rc)
                rc = sparq_device_open_transport(&dev, link);
            float *wf = malloc(sizeof(float) * (size_t)out * (size_t)in);
            int8_t *x = malloc((size_t)T * (size_t)in);
            int32_t *y = malloc(sizeof(int32_t) * (size_t)T * (size_t)out);
            struct sparq_packed w;
            memset(&w, 0, sizeof w);
            if (!wf || !x || !y)
                rc = SPARQ_ENOMEM;
            for (int i = 0; !rc && i < out * in; i++)
                wf[i] = (float)((i * 7919) % 201 - 100);
            for (int i = 0; !rc && i < T * in; i++)
                x[i] = (int8_t)(i * 31);
            struct sparq_pack_options po = { SPARQ_GRID_FULL, NULL };
            if (!rc)
                rc = sparq_pack(&w, wf, NULL, width, kept, out, in, &po);
            const struct sparq_link_stats *ls = dev ? sparq_device_link(dev) : NULL;
            uint64_t out0 = ls ? ls->bytes_out : 0, in0 = ls ? ls->bytes_in : 0;
            uint64_t trips0 = dev ? sparq_fault_counts(&counted)->commands : 0;
            if (!rc)
                rc = sparq_device_gemm(dev, y, out, x, in, &w, T, 0);
            if (rc) {
                fprintf(stderr, "sparq bench-link: %s: %s\n", shapes[s].name, sparq_last_error());
                rc_all = 1;
            } else {
                double bo = (double)(ls->bytes_out - out0), bi = (double)(ls->bytes_in - in0);
                double trips = (double)(sparq_fault_counts(&counted)->commands - trips0);
                double usb = (bo + bi) / (USB_MBPS * 1e3), fifo = (bo + bi) / (FIFO_MBPS * 1e3);
                double slow = usb > fifo ? usb : fifo, rtt = slow + trips * RTT_US / 1e3;
                double uart[3]; // request/reply: the directions take turns on the line
                for (int b = 0; b < 3; b++)
                    uart[b] = (bo + bi) / (uart_bauds[b] / 10.0) * 1e3 + trips * UART_RTT_US / 1e3;
                char fmt[16];
                snprintf(fmt, sizeof fmt, "int%d %d:4", width, kept);
                printf("%-18s %-9s %10.0f %10.0f %6.0f %9.3f %9.3f %9.3f %10.1f %9.2f %9.2f\n", shapes[s].name, fmt, bo,
                       bi, trips, usb, fifo, rtt, uart[0], uart[1], uart[2]);
                total[f] += rtt * shapes[s].per_layer;
                total_uart[f] += uart[2] * shapes[s].per_layer;
                if (jf)
                    fprintf(jf,
                            "%s{\"gemm\": \"%s\", \"width\": %d, \"kept\": %d, \"bytes_out\": %.0f, \"bytes_in\": %.0f, "
                            "\"round_trips\": %.0f, \"usb_ms\": %.4f, \"fifo_ms\": %.4f, \"with_rtt_ms\": %.4f, "
                            "\"uart_ms\": [%.4f, %.4f, %.4f]}",
                            first ? "" : ", ", shapes[s].name, width, kept, bo, bi, trips, usb, fifo, rtt, uart[0], uart[1],
                            uart[2]);
                first = 0;
            }
            sparq_packed_free(&w);
            free(wf);
            free(x);
            free(y);
            if (dev)
                sparq_device_close(dev);
        }
    printf("one Conformer layer (2 FFNs, attention in/out, conv pointwise 1/2; %d frames), link-bound with round "
           "trips: int8 %.1f ms, int4 2:4 %.1f ms, int2 1:4 %.1f ms\n",
           T, total[0], total[1], total[2]);
    printf("the same layer over a 3 Mbaud UART: int8 %.1f ms, int4 2:4 %.1f ms, int2 1:4 %.1f ms\n", total_uart[0],
           total_uart[1], total_uart[2]);
    if (jf)
        fprintf(jf,
                "], \"layer_ms\": {\"int8\": %.3f, \"int4_2of4\": %.3f, \"int2_1of4\": %.3f}, "
                "\"layer_uart3M_ms\": {\"int8\": %.3f, \"int4_2of4\": %.3f, \"int2_1of4\": %.3f}",
                total[0], total[1], total[2], total_uart[0], total_uart[1], total_uart[2]);
    if (jf) {
        fprintf(jf, "}\n");
        fclose(jf);
    }
    return rc_all;
}
