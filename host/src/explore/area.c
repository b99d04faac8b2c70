// Area of a configuration from Yosys statistics, and whether it fits the
// FPGAs sparq targets (sparq_explore.h, docs/explore.md).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparq_error.h"
#include "sparq_explore.h"
#include "sparq_file.h"

void sparq_explore_area_clear(struct sparq_explore_area *a)
{
    double *f[] = { &a->generic_cells, &a->ice_lut,  &a->ice_carry, &a->ice_ff,    &a->ice_bram, &a->ice_dsp,
                    &a->ecp5_lut,      &a->ecp5_ccu, &a->ecp5_ff,   &a->ecp5_bram, &a->ecp5_mult, &a->ecp5_dram };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        *f[i] = -1;
}

static int prefix(const char *s, const char *p) { return !strncmp(s, p, strlen(p)); }

// A stat file holds one totals block (the script keeps Yosys' "design
// hierarchy" totals, or the flattened top's block): "Number of cells: N"
// and one "TYPE COUNT" line per cell type.
int sparq_explore_area_read(struct sparq_explore_area *a, const char *flow, const char *path)
{
    char *text = NULL;
    size_t len = 0;
    int rc = sparq_read_file(path, 1 << 22, &text, &len);
    if (rc)
        return rc;
    double cells = -1, lut = 0, carry = 0, ff = 0, bram = 0, dsp = 0, ccu = 0, mult = 0, dram = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char name[128];
        double v;
        if (sscanf(line, " Number of cells: %lf", &v) == 1) {
            cells = v;
            continue;
        }
        if (sscanf(line, " %127s %lf", name, &v) != 2)
            continue;
        if (!strcmp(name, "SB_LUT4") || !strcmp(name, "LUT4"))
            lut += v;
        else if (!strcmp(name, "SB_CARRY"))
            carry += v;
        else if (!strcmp(name, "CCU2C"))
            ccu += v;
        else if (prefix(name, "SB_DFF") || !strcmp(name, "TRELLIS_FF"))
            ff += v;
        else if (prefix(name, "SB_RAM40") || !strcmp(name, "DP16KD"))
            bram += v;
        else if (!strcmp(name, "SB_MAC16"))
            dsp += v;
        else if (!strcmp(name, "MULT18X18D"))
            mult += v;
        else if (!strcmp(name, "TRELLIS_DPR16X4"))
            dram += v;
    }
    free(text);
    if (cells < 0)
        return sparq_fail(SPARQ_EFORMAT, "%s: no 'Number of cells' line (not a Yosys stat report)", path);
    if (!strcmp(flow, "generic"))
        a->generic_cells = cells;
    else if (!strcmp(flow, "ice40")) {
        a->ice_lut = lut;
        a->ice_carry = carry;
        a->ice_ff = ff;
        a->ice_bram = bram;
        a->ice_dsp = dsp;
    } else if (!strcmp(flow, "ecp5")) {
        a->ecp5_lut = lut;
        a->ecp5_ccu = ccu;
        a->ecp5_ff = ff;
        a->ecp5_bram = bram;
        a->ecp5_mult = mult;
        a->ecp5_dram = dram;
    } else
        return sparq_fail(SPARQ_EINVAL, "%s: unknown synthesis flow '%s'", path, flow);
    return SPARQ_OK;
}

const char *sparq_explore_fpga_name(int fpga)
{
    static const char *names[] = { "HX8K", "UP5K", "ECP5-85F" };
    return fpga >= 0 && fpga < SPARQ_FPGA_COUNT ? names[fpga] : "?";
}

// ECP5 logic in LUT4s as rtl/board/report_ecp5.sh counts it: a CCU2C carry
// cell takes 2 LUT4s, a TRELLIS_DPR16X4 a slice's LUT pair (4 LUT4s).
static double ecp5_luts(const struct sparq_explore_area *a) { return a->ecp5_lut + 2 * a->ecp5_ccu + 4 * a->ecp5_dram; }

int sparq_explore_fits(const struct sparq_explore_area *a, int fpga, char *why)
{
    // Device resources: iCE40 HX8K 7,680 logic cells (one LUT4 + carry + FF
    // each), 32 SB_RAM40_4K, no DSP; UP5K 5,280 cells, 30 SB_RAM40_4K, 8
    // SB_MAC16 (the flow maps multipliers to LUTs, so DSPs are not needed);
    // LFE5U-85F 83,640 LUT4 and FFs, 208 DP16KD, 156 MULT18X18D.
    struct need { const char *what; double used, have; } r[4];
    int n = 0;
    if (fpga == SPARQ_FPGA_HX8K || fpga == SPARQ_FPGA_UP5K) {
        if (a->ice_lut < 0)
            return -1;
        double lcs = fpga == SPARQ_FPGA_HX8K ? 7680 : 5280;
        // A logic cell holds one LUT4 and one FF: at least max(LUT4, FF) cells.
        double cells = a->ice_lut > a->ice_ff ? a->ice_lut : a->ice_ff;
        r[n++] = (struct need){ "logic cells (max of SB_LUT4, FF)", cells, lcs };
        r[n++] = (struct need){ "SB_RAM40_4K", a->ice_bram, fpga == SPARQ_FPGA_HX8K ? 32 : 30 };
        r[n++] = (struct need){ "SB_MAC16", a->ice_dsp, fpga == SPARQ_FPGA_HX8K ? 0 : 8 };
    } else if (fpga == SPARQ_FPGA_ECP5_85F) {
        if (a->ecp5_lut < 0)
            return -1;
        r[n++] = (struct need){ "LUT4", ecp5_luts(a), 83640 };
        r[n++] = (struct need){ "FF", a->ecp5_ff, 83640 };
        r[n++] = (struct need){ "DP16KD", a->ecp5_bram, 208 };
        r[n++] = (struct need){ "MULT18X18D", a->ecp5_mult, 156 };
    } else
        return -1;
    for (int i = 0; i < n; i++)
        if (r[i].used > r[i].have) {
            if (why)
                snprintf(why, 64, "%s %.0f > %.0f", r[i].what, r[i].used, r[i].have);
            return 0;
        }
    if (why)
        why[0] = 0;
    return 1;
}

double sparq_explore_area_metric(const struct sparq_explore_area *a)
{
    if (a->ecp5_lut < 0)
        return -1;
    double f[] = { ecp5_luts(a) / 83640, a->ecp5_ff / 83640, a->ecp5_bram / 208, a->ecp5_mult / 156 };
    double m = 0;
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        m = f[i] > m ? f[i] : m;
    return m;
}
