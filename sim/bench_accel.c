// bench-accel: the accelerator on the Conformer's GEMM shapes, through the
// full protocol on the Verilator RTL ("sim" backend): compute cycles (busy
// counter), busy cycles relative to dense int8 of the same GEMM ("vs int8":
// a 4-lane PE does 2 int4 / 4 int2 MACs a cycle), PE utilisation, speedup of
// 2:4 and 1:4 over dense at each width, end-to-end cycles including the
// link (the host port's width as IDENTIFY reports it: activation payloads and
// READ bodies move that many bytes a cycle, the rest one), bytes moved, and
// the simulation speed (simulated cycles
// per CPU second, per GEMM and overall). Table on stdout, JSON to argv[1].
// A second argument "quick" runs two shapes only (d144 ffn2, all nine formats;
// d576 attn, int8): 3.7 M cycles, for comparing simulator builds.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sparq_backend.h"
#include "sparq_clock.h"
#include "sparq_device.h"
#include "sparq_error.h"
#include "sparq_gemm.h"
#include "sparq_gemm_case.h"

struct shape {
    const char *model, *what;
    int t, in, out;
    int widths; // bit0 int8, bit1 int4, bit2 int2
};

// Default Conformer: d=144, FFN 576, T=256 frames after subsampling; the 16x
// larger model: d=576, FFN 2304 (int8 only there, to keep the run short).
static const struct shape shapes[] = {
    { "d144", "ffn1 144->576", 256, 144, 576, 7 },
    { "d144", "ffn2 576->144", 256, 576, 144, 7 },
    { "d144", "attn 144->144", 256, 144, 144, 7 },
    { "d144", "conv 144->288", 256, 144, 288, 7 },
    { "d576", "ffn1 576->2304", 256, 576, 2304, 1 },
    { "d576", "ffn2 2304->576", 256, 2304, 576, 1 },
    { "d576", "attn 576->576", 256, 576, 576, 1 },
    { "d576", "conv 576->1152", 256, 576, 1152, 1 },
};
static const size_t quick_shapes[] = { 1, 6 };

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

struct result {
    uint64_t busy, macs, e2e, bytes;
    double secs, cpu; // wall and CPU time of the device GEMM
};

static int run(struct sparq_device *dev, const struct shape *s, int width, int kept, struct result *r)
{
    uint64_t rng = 12345; // the same data every run
    struct sparq_gemm_case c;
    int rc = sparq_gemm_case_make(&c, s->t, s->out, s->in, width, kept, &rng);
    if (rc)
        return rc;
    struct sparq_device_counters c0, c1;
    const struct sparq_link_stats *link = sparq_device_link(dev);
    if ((rc = sparq_device_reset(dev)) || (rc = sparq_device_counters(dev, &c0)))
        goto done;
    uint64_t b0 = link->bytes_out + link->bytes_in, cyc0 = sparq_device_cycles(dev);
    double t0 = sparq_clock_s(), c0cpu = cpu_now();
    // Requantized int8 output: what the next layer consumes.
    if ((rc = sparq_device_gemm_q8(dev, c.y8, s->out, c.x, s->in, &c.w, s->t, c.qp)))
        goto done;
    r->secs = sparq_clock_s() - t0;
    r->cpu = cpu_now() - c0cpu;
    r->e2e = sparq_device_cycles(dev) - cyc0;
    r->bytes = link->bytes_out + link->bytes_in - b0;
    if ((rc = sparq_device_counters(dev, &c1)))
        goto done;
    r->busy = c1.busy - c0.busy;
    r->macs = c1.macs - c0.macs;
    if (sparq_gemm_case_mismatches(&c, NULL, 0, c.y8))
        rc = sparq_fail(SPARQ_EDEVICE, "bench: %s %s: device result differs from sparq_gemm_ref", s->what,
                        c.w.type->name);
done:
    sparq_gemm_case_free(&c);
    return rc;
}

int main(int argc, char **argv)
{
    const char *json_path = argc > 1 ? argv[1] : "build/bench/accel.json";
    int quick = argc > 2 && !strcmp(argv[2], "quick");
    if (argc > 3 || (argc > 2 && !quick)) {
        fprintf(stderr, "bench-accel: usage: bench_accel [out.json [quick]]\n");
        return 2;
    }
    struct sparq_device *dev;
    if (sparq_device_open(&dev, "sim")) {
        fprintf(stderr, "bench-accel: %s\n", sparq_last_error());
        return 1;
    }
    struct sparq_device_info info;
    if (sparq_device_identify(dev, &info)) {
        fprintf(stderr, "bench-accel: %s\n", sparq_last_error());
        return 1;
    }
    cJSON *root = cJSON_CreateObject(), *rows = cJSON_AddArrayToObject(root, "gemms");
    cJSON_AddNumberToObject(root, "rows", info.rows);
    cJSON_AddNumberToObject(root, "cols", info.cols);
    int lanes = sparq_device_lanes(dev);
    cJSON_AddNumberToObject(root, "lanes", lanes);
    cJSON_AddNumberToObject(root, "port_bytes", info.port_bytes);
    cJSON_AddStringToObject(root, "output", "int8 requantized on device");
    printf("accelerator %dx%d, %d MAC lane%s per PE (Verilator RTL), host port %d byte%s a cycle each way "
           "(activations in, results out; else 1), int8 requantized output\n",
           info.rows, info.cols, lanes, lanes > 1 ? "s" : "", info.port_bytes, info.port_bytes > 1 ? "s" : "");
    printf("%-5s %-15s %-9s %10s %7s %6s %8s %11s %8s %10s %9s %7s\n", "model", "gemm (T=256)", "format", "busy cyc",
           "vs int8", "util%", "speedup", "e2e cyc", "e2e spd", "link bytes", "exposed%", "Mcyc/cs");
    static const int widths[3] = { 8, 4, 2 }, kepts[3] = { 4, 2, 1 };
    uint64_t total_cycles = 0;
    double total_secs = 0, total_cpu = 0;
    int failed = 0;
    size_t nshapes = quick ? sizeof quick_shapes / sizeof quick_shapes[0] : sizeof shapes / sizeof shapes[0];
    for (size_t i = 0; i < nshapes; i++) {
        const struct shape *s = &shapes[quick ? quick_shapes[i] : i];
        uint64_t int8_busy = 0; // dense int8 of this GEMM: the reference for "vs int8"
        for (int wi = 0; wi < 3; wi++) {
            if (!(s->widths >> wi & 1))
                continue;
            struct result dense = { 0 };
            for (int ki = 0; ki < 3; ki++) {
                struct result r = { 0 };
                if (run(dev, s, widths[wi], kepts[ki], &r)) {
                    fprintf(stderr, "bench-accel: %s\n", sparq_last_error());
                    failed = 1;
                    continue;
                }
                if (ki == 0)
                    dense = r;
                if (wi == 0 && ki == 0)
                    int8_busy = r.busy;
                double rel8 = int8_busy ? (double)r.busy / (double)int8_busy : 0.0;
                // peak: ROWS*COLS PEs, each min(lanes, 8/width) MACs a cycle (4 lanes: 1 int8, 2 int4, 4 int2)
                int per_pe = 8 / widths[wi] < lanes ? 8 / widths[wi] : lanes;
                double peak = (double)r.busy * info.rows * info.cols * per_pe;
                double util = 100.0 * (double)r.macs / peak;
                double spd = (double)dense.busy / (double)r.busy, e2e_spd = (double)dense.e2e / (double)r.e2e;
                // cycles the link was not busy moving bytes (compute not hidden, turnarounds)
                double exposed = 100.0 * (double)(r.e2e > r.bytes ? r.e2e - r.bytes : 0) / (double)r.e2e;
                double mcs = (double)r.e2e / r.cpu / 1e6;
                total_cycles += r.e2e;
                total_secs += r.secs;
                total_cpu += r.cpu;
                char fmt[16];
                snprintf(fmt, sizeof fmt, "int%d-%d:4", widths[wi], kepts[ki]);
                printf("%-5s %-15s %-9s %10llu %6.3fx %6.1f %7.2fx %11llu %7.2fx %10llu %8.1f%% %7.2f\n", s->model,
                       s->what, fmt, (unsigned long long)r.busy, rel8, util, spd, (unsigned long long)r.e2e, e2e_spd,
                       (unsigned long long)r.bytes, exposed, mcs);
                fflush(stdout);
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "model", s->model);
                cJSON_AddStringToObject(o, "gemm", s->what);
                cJSON_AddNumberToObject(o, "t", s->t);
                cJSON_AddNumberToObject(o, "in", s->in);
                cJSON_AddNumberToObject(o, "out", s->out);
                cJSON_AddStringToObject(o, "format", fmt);
                cJSON_AddNumberToObject(o, "busy_cycles", (double)r.busy);
                cJSON_AddNumberToObject(o, "busy_vs_dense_int8", rel8);
                cJSON_AddNumberToObject(o, "macs", (double)r.macs);
                cJSON_AddNumberToObject(o, "utilisation", util / 100.0);
                cJSON_AddNumberToObject(o, "speedup_vs_dense_busy", spd);
                cJSON_AddNumberToObject(o, "e2e_cycles", (double)r.e2e);
                cJSON_AddNumberToObject(o, "speedup_vs_dense_e2e", e2e_spd);
                cJSON_AddNumberToObject(o, "link_bytes", (double)r.bytes);
                cJSON_AddNumberToObject(o, "sim_cycles_per_cpu_s", (double)r.e2e / r.cpu);
                cJSON_AddItemToArray(rows, o);
            }
        }
    }
    printf("simulation speed: %.2f M cycles per CPU second, %.2f M cycles per wall second, over %llu cycles\n"
           "(single-threaded, includes the host driver; wall < CPU when the machine is shared)\n",
           (double)total_cycles / total_cpu / 1e6, (double)total_cycles / total_secs / 1e6,
           (unsigned long long)total_cycles);
    cJSON_AddNumberToObject(root, "sim_cycles_per_cpu_s", (double)total_cycles / total_cpu);
    cJSON_AddNumberToObject(root, "sim_cycles_per_wall_s", (double)total_cycles / total_secs);
    char *text = cJSON_Print(root);
    int rc = text ? sparq_write_file_atomic(json_path, text, strlen(text)) : SPARQ_ENOMEM;
    if (rc) {
        fprintf(stderr, "bench-accel: %s\n", sparq_last_error());
        failed = 1;
    } else {
        printf("wrote %s\n", json_path);
    }
    free(text);
    cJSON_Delete(root);
    sparq_device_close(dev);
    return failed;
}
