`default_nettype none
// Epilogue datapath of sparq_engine: one frame of EL result channels per
// cycle -> requantized (rtl/sparq_requant_fn.vh, the READ formula; in the
// clocked block, so the Verilator model computes the 16 requantizations only
// for a valid frame, not every cycle) -> optional int8
// table -> one 16-channel activation block (channels >= ncols are 0).
// Two pipeline stages after the results arrive (v_i): the requantized codes
// are registered, then the table memories (one copy per channel, so all EL
// lookups happen in the same cycle) are read; word_o is valid with v_o.
module sparq_epilogue #(
    parameter EL   = 16,  // channels per cycle (min(COLS, 16))
    parameter LUTS = 16,  // tables of 256 int8
    parameter QW   = 69,  // parameter entry bits {shift[5:0], mult[30:0], bias[31:0]}
    parameter NW   = 5,   // bits of ncols_i
    parameter LB = (LUTS > 1) ? $clog2(LUTS) : 1  // derived: table index bits
) (
    input  wire              clk_i,
    input  wire              rst_ni,
    input  wire              pload_i,   // params_i holds the job's EL parameter entries
    input  wire [EL*QW-1:0]  params_i,
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [7:0]        lut_i,     // table (checked < LUTS) or 0xFF: none
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire [NW-1:0]     ncols_i,   // channels kept (the rest are 0)
    input  wire              v_i,       // r_i holds a frame's results
    input  wire [EL*32-1:0]  r_i,
    output reg               v_o,
    output wire [127:0]      word_o,    // channel c in byte c
    input  wire              lut_we_i,  // table write port (WRITE_LUT)
    input  wire [LB+7:0]     lut_waddr_i,
    input  wire [7:0]        lut_wdata_i
);
    generate
        if (EL < 1 || EL > 16 || LUTS < 1 || QW != 69) begin : g_bad_params
            sparq_epilogue_illegal_parameters u_stop ();
        end
    endgenerate

    `include "rtl/sparq_requant_fn.vh"
    reg          va_q;
    wire         none = (lut_i == 8'hFF);
    wire [7:0]   lv [0:EL-1];
    genvar c;
    generate
        for (c = 0; c < EL; c = c + 1) begin : g_ch
            // per-channel registers, not arrays: an array element written
            // non-blocking costs the Verilator model a delayed-write copy
            // every cycle
            reg [QW-1:0] p_q;
            reg [7:0]    q_q;   // requantized code of the frame in the table stage
            reg [7:0]    qd_q;  // ... one cycle later (no table)
            // entry i is the output for code i - 128: index = code + 128 = code ^ 0x80
            sparq_ram #(.WIDTH(8), .DEPTH(256 << LB)) u_lut (
                .clk_i   (clk_i),
                .we_i    (lut_we_i),
                .re_i    (va_q),
                .waddr_i (lut_waddr_i),
                .wdata_i (lut_wdata_i),
                .raddr_i ({lut_i[LB-1:0], q_q ^ 8'h80}),
                .rdata_o (lv[c])
            );
            always @(posedge clk_i) begin
                if (pload_i)
                    p_q <= params_i[QW*c +: QW];
                if (v_i)
                    q_q <= requant_fn(r_i[32*c +: 32], p_q[31:0], {1'b0, p_q[62:32]}, p_q[68:63]);
                if (va_q) // word_o is used with v_o only
                    qd_q <= q_q;
            end
            wire keep = ({{(32-NW){1'b0}}, ncols_i} > c);
            assign word_o[8*c +: 8] = !keep ? 8'd0 : none ? qd_q : lv[c];
        end
        if (EL < 16) begin : g_pad
            assign word_o[127:8*EL] = {(128-8*EL){1'b0}};
        end
    endgenerate
    always @(posedge clk_i) begin
        if (!rst_ni) begin
            va_q <= 1'b0;
            v_o <= 1'b0;
        end else begin
            va_q <= v_i;
            v_o <= va_q;
        end
    end
endmodule
`default_nettype wire
