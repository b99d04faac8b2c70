`default_nettype none
// ROWS x COLS grid of bit-serial PEs (sparq_pe_serial; LANES = 0, the iCE40
// board). Row r's group of 4 activations is broadcast to all its columns,
// column c's kept weight to all its rows: no skew and no pass-through
// registers, so every PE runs the same bit step in the same cycle.
//
// A kept weight's activations arrive as two halves of the row's group of 4
// (lo: channels 0-1, then hi: 2-3) while the PEs still add the previous
// weight; each column latches its weight (code and position) with lo and
// tells its PEs which half to keep (hce). ld moves the weight into the
// column's code shift register (bit k there k + 1 cycles later, when the
// PEs add the activation shifted by k) and the activations into the PEs'.
// The column's bit, with av (an add step of a valid weight), is the enable
// of its PEs' accumulators.
//
// cap copies every PE's sum into its column's result chain at once; the
// chain then moves up a PE a cycle, so column c's results leave at the top
// in frame order, row 0 the cycle after cap, one a cycle for ROWS cycles
// (res_v_o: one shift register for the whole array). The engine spaces
// tiles at least ROWS cycles apart.
module sparq_array_serial #(
    parameter ROWS  = 8,  // frames per tile
    parameter COLS  = 4,  // output channels per tile
    parameter ACC_W = 24  // PE accumulator bits; results leave sign-extended to 32
) (
    input  wire               clk_i,
    input  wire               rst_ni,
    input  wire [1:0]         width_i, // the job's weights: 0 int8, 1 int4, 2 int2 (B = 8 >> width)
    // the engine's issue stage (bit step p of a tile)
    input  wire               iv_i,   // p = e*B: entry e's memories are read
    input  wire               a_i,    // p is a bit step of the tile
    input  wire               sg_i,   // p is a sign bit step (p mod B = B - 1)
    input  wire               tl_i,   // p is the tile's last bit step
    input  wire               st_i,   // the job's first tile starts: clear the accumulators
    // the memories, a cycle after iv_i (x_i: the low half; the high half a cycle later)
    input  wire [ROWS*16-1:0] x_i,    // row r: a half of its group of 4 activations [16*r +: 16]
    input  wire [COLS*8-1:0]  w_i,    // column c: kept weight code, bit 0 first
    input  wire [COLS*2-1:0]  pos_i,  // column c: the weight's position in the group
    output wire [COLS*32-1:0] res_o,  // result leaving the top of column c
    output wire [COLS-1:0]    res_v_o
);
    generate
        if (ROWS < 1 || COLS < 1 || ACC_W < 17 || ACC_W > 32) begin : g_bad_params
            sparq_array_serial_illegal_parameters u_stop ();
        end
    endgenerate

    // Entry e (issued at p) latches its activation halves at p + 1 (lo) and
    // p + 2 (hi) while the PEs still add entry e - 1, loads at p + B + 1 and
    // adds bit k at p + B + 2 + k; the tile's last add is followed by cap +
    // clr (p + B + 3 after the last bit step). A 10-stage delay line of the
    // issue flags, tapped by B, gives those cycles (registered taps).
    reg  [9:0] iv_d, a_d, sg_d, tl_d; // [i]: i + 1 cycles after issue
    reg        ld_q, av_q, inv_q, sub_q, cap_q, clr_q;
    wire       lo = iv_d[0], hi = iv_d[1];
    wire [3:0] bb = 4'd8 >> width_i; // B
    always @(posedge clk_i) begin
        if (!rst_ni) begin
            {iv_d, a_d, sg_d, tl_d} <= 40'd0;
            {ld_q, av_q, inv_q, sub_q, cap_q, clr_q} <= 6'd0;
        end else begin
            iv_d <= {iv_d[8:0], iv_i};
            a_d <= {a_d[8:0], a_i};
            sg_d <= {sg_d[8:0], sg_i};
            tl_d <= {tl_d[8:0], tl_i};
            ld_q <= iv_d[bb - 4'd1];  // p + B + 1
            inv_q <= sg_d[bb - 4'd1]; // p + B + 1: the shift before the sign step
            av_q <= a_d[bb];          // p + B + 2
            sub_q <= sg_d[bb];
            cap_q <= tl_d[bb + 4'd1]; // p + B + 3
            clr_q <= tl_d[bb + 4'd1] || st_i; // with cap, or before the job's first add
        end
    end

    reg [ROWS-1:0] rv_q; // the chains' top entries still to leave
    always @(posedge clk_i) begin
        if (!rst_ni)
            rv_q <= {ROWS{1'b0}};
        else if (cap_q)
            rv_q <= {ROWS{1'b1}};
        else
            rv_q <= {1'b0, rv_q[ROWS-1:1]};
    end

    genvar r, c;
    generate
        for (c = 0; c < COLS; c = c + 1) begin : g_col
            reg  [7:0] wh_q, wsr_q;
            always @(posedge clk_i) begin
                if (lo)
                    wh_q <= w_i[8*c +: 8];
                wsr_q <= ld_q ? wh_q : {1'b0, wsr_q[7:1]};
            end
            wire [1:0] pos = pos_i[2*c +: 2];
            wire hce = pos[1] ? hi : lo;
            wire ce = (av_q && wsr_q[0]) || clr_q;
            assign res_v_o[c] = rv_q[0];
            for (r = 0; r < ROWS; r = r + 1) begin : g_row
                wire [ACC_W-1:0] chain_o, chain_in;
                if (r + 1 < ROWS) begin : g_above
                    assign chain_in = g_col[c].g_row[r+1].chain_o;
                end else begin : g_bottom
                    assign chain_in = {ACC_W{1'b0}};
                end
                if (r == 0) begin : g_top
                    if (ACC_W < 32) begin : g_ext
                        assign res_o[32*c +: 32] = {{(32-ACC_W){chain_o[ACC_W-1]}}, chain_o};
                    end else begin : g_full
                        assign res_o[32*c +: 32] = chain_o;
                    end
                end
                sparq_pe_serial #(.ACC_W(ACC_W)) u_pe (
                    .clk_i   (clk_i),
                    .x_i     (x_i[16*r +: 16]),
                    .pos0_i  (pos[0]),
                    .hce_i   (hce),
                    .ld_i    (ld_q),
                    .inv_i   (inv_q),
                    .sub_i   (sub_q),
                    .ce_i    (ce),
                    .clr_i   (clr_q),
                    .cap_i   (cap_q),
                    .chain_i (chain_in),
                    .chain_o (chain_o)
                );
            end
        end
    endgenerate
endmodule
`default_nettype wire
