`default_nettype none
// ROWS x COLS grid of sparq_pe. Row r gets its activation stream on the
// left edge, column c its weight stream on the top edge. Results leave at
// the top of each column.
// LANES (1 or 4): MAC lanes per PE (sparq_pe), which set the edge widths.
// BCAST = 0 (LANES = 1, the board): systolic. Activations move right and
// weights move down one PE a cycle; the engine skews the edges (row r r
// cycles late, column c c cycles late, so PE (r,c) sees step s at cycle
// s+r+c). Row r finishes a tile r cycles after row 0, so the column's
// result chain spaces results two cycles apart: a tile lasts >= 2*ROWS.
// BCAST = 1 (the LANES = 4 default): each row's activations go to all its
// columns and each column's weights to all its rows at once, with no skew
// (every PE sees step s at the same cycle), so all PEs finish a tile
// together and the pipeline drains in ROWS/2 + a few cycles instead of
// ROWS/2 + COLS. Each column then has two result chains, loaded in
// parallel: even rows (top: row 0, res_o) and odd rows (row 1, res2_o),
// which emit a pair of frames a cycle: a tile may last ROWS/2 cycles.
module sparq_array #(
    parameter ROWS  = 16, // frames per tile
    parameter COLS  = 16, // output channels per tile
    parameter ACC_W = 32, // PE accumulator bits (sparq_pe); results leave sign-extended to 32
    parameter LANES = 1,  // MAC lanes per PE
    parameter BCAST = (LANES == 4) ? 1 : 0, // broadcast activations and weights (see above)
    parameter XB = 32 * LANES,            // derived: activation bits per row
    parameter WB = (LANES == 1) ? 8 : 16, // derived: weight code bits per column
    parameter PB = 2 * LANES,             // derived: position bits per column
    parameter RCH = BCAST + 1             // derived: result chains per column
) (
    input  wire                 clk_i,
    input  wire                 rst_ni,
    input  wire                 en_i,     // a job runs (sparq_pe)
    input  wire [ROWS*XB-1:0]   x_i,      // row r: bits [XB*r +: XB], one word per lane
    input  wire [ROWS-1:0]      xv_i,
    input  wire [ROWS-1:0]      first_i,
    input  wire [ROWS-1:0]      last_i,
    input  wire [COLS*WB-1:0]   w_i,      // column c: lane codes [WB*c +: WB]
    input  wire [COLS*PB-1:0]   pos_i,    // column c: lane positions [PB*c +: PB]
    output wire [COLS*32-1:0]   res_o,    // result leaving the top of column c (BCAST: even rows)
    output wire [COLS*32-1:0]   res2_o,   // BCAST: the odd rows' result, beside res_o (else 0)
    output wire [COLS-1:0]      res_v_o   // res_o (and res2_o) valid
);
    generate
        if (ROWS < 1 || COLS < 1 || ACC_W < 17 || ACC_W > 32 || (LANES != 1 && LANES != 4) ||
            (BCAST != 0 && BCAST != 1) || (BCAST == 1 && ROWS % 2 != 0)) begin : g_bad_params
            sparq_array_illegal_parameters u_stop ();
        end
    endgenerate

    // Each PE's outputs live in its generate block; neighbours refer to them
    // by name (no copies through net arrays, which keeps simulation lean).
    genvar r, c;
    generate
        for (r = 0; r < ROWS; r = r + 1) begin : g_row
            for (c = 0; c < COLS; c = c + 1) begin : g_col
                // the right column's x_o and the bottom row's w_o lead nowhere (with BCAST: all)
                /* verilator lint_off UNUSEDSIGNAL */
                wire [XB-1:0] x_o;
                wire        xv_o, first_o, last_o;
                wire [WB-1:0] w_o;
                wire [PB-1:0] pos_o;
                wire        chain_v_o; // (row 1's with two chains: row 0's is the pair's valid)
                /* verilator lint_on UNUSEDSIGNAL */
                wire [ACC_W-1:0] chain_o;
                wire [XB-1:0] x_in;
                wire        xv_in, first_in, last_in, chain_v_in;
                wire [WB-1:0] w_in;
                wire [PB-1:0] pos_in;
                wire [ACC_W-1:0] chain_in;
                if (c == 0 || BCAST != 0) begin : g_left
                    assign x_in = x_i[XB*r +: XB];
                    assign xv_in = xv_i[r];
                    assign first_in = first_i[r];
                    assign last_in = last_i[r];
                end else begin : g_inner
                    assign x_in = g_row[r].g_col[c-1].x_o;
                    assign xv_in = g_row[r].g_col[c-1].xv_o;
                    assign first_in = g_row[r].g_col[c-1].first_o;
                    assign last_in = g_row[r].g_col[c-1].last_o;
                end
                if (r == 0 || BCAST != 0) begin : g_wtop
                    assign w_in = w_i[WB*c +: WB];
                    assign pos_in = pos_i[PB*c +: PB];
                end else begin : g_wbelow
                    assign w_in = g_row[r-1].g_col[c].w_o;
                    assign pos_in = g_row[r-1].g_col[c].pos_o;
                end
                // row r < RCH tops chain r; row r's chain continues at row r + RCH
                if (r < RCH) begin : g_top
                    wire [31:0] chain32;
                    if (ACC_W < 32) begin : g_ext
                        assign chain32 = {{(32-ACC_W){chain_o[ACC_W-1]}}, chain_o};
                    end else begin : g_full
                        assign chain32 = chain_o;
                    end
                    if (r == 0) begin : g_even
                        assign res_o[32*c +: 32] = chain32;
                        assign res_v_o[c] = chain_v_o;
                    end else begin : g_odd // (the same valid as row 0's)
                        assign res2_o[32*c +: 32] = chain32;
                    end
                end
                if (r == 0 && RCH == 1) begin : g_no2
                    assign res2_o[32*c +: 32] = 32'd0;
                end
                if (r + RCH >= ROWS) begin : g_bottom
                    assign chain_in = {ACC_W{1'b0}};
                    assign chain_v_in = 1'b0;
                end else begin : g_above
                    assign chain_in = g_row[r+RCH].g_col[c].chain_o;
                    assign chain_v_in = g_row[r+RCH].g_col[c].chain_v_o;
                end
                sparq_pe #(.ACC_W(ACC_W), .LANES(LANES), .PASS(1 - BCAST)) u_pe (
                    .clk_i     (clk_i),
                    .rst_ni    (rst_ni),
                    .en_i      (en_i),
                    .x_i       (x_in),
                    .xv_i      (xv_in),
                    .first_i   (first_in),
                    .last_i    (last_in),
                    .w_i       (w_in),
                    .pos_i     (pos_in),
                    .chain_i   (chain_in),
                    .chain_v_i (chain_v_in),
                    .x_o       (x_o),
                    .xv_o      (xv_o),
                    .first_o   (first_o),
                    .last_o    (last_o),
                    .w_o       (w_o),
                    .pos_o     (pos_o),
                    .chain_o   (chain_o),
                    .chain_v_o (chain_v_o)
                );
            end
        end
    endgenerate
endmodule
`default_nettype wire
