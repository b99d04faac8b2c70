`default_nettype none
// ROWS x COLS grid of sparq_pe. Row r gets its activation stream on the
// left edge, column c its weight stream on the top edge (both already skewed
// by the engine: row r is r cycles late, column c is c cycles late, so PE
// (r,c) sees step s at cycle s+r+c). Results leave at the top of each column.
// LANES (1 or 4): MAC lanes per PE (sparq_pe), which set the edge widths.
// WBCAST = 1 (the LANES = 4 default): each column's weights go to all its
// rows at once instead of moving down, so the engine feeds every row at the
// same cycle (PE (r,c) sees step s at cycle s+c), a column's rows finish a
// tile together and the result chain, loaded in parallel, emits one result
// a cycle: a tile may last ROWS cycles instead of 2*ROWS (row r finishing r
// cycles after row 0, the chain spaces results two cycles apart).
module sparq_array #(
    parameter ROWS  = 16, // frames per tile
    parameter COLS  = 16, // output channels per tile
    parameter ACC_W = 32, // PE accumulator bits (sparq_pe); results leave sign-extended to 32
    parameter LANES = 1,  // MAC lanes per PE
    parameter WBCAST = (LANES == 4) ? 1 : 0, // weights broadcast down each column (see above)
    parameter XB = 32 * LANES,            // derived: activation bits per row
    parameter WB = (LANES == 1) ? 8 : 16, // derived: weight code bits per column
    parameter PB = 2 * LANES              // derived: position bits per column
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
    output wire [COLS*32-1:0]   res_o,    // result leaving the top of column c
    output wire [COLS-1:0]      res_v_o
);
    generate
        if (ROWS < 1 || COLS < 1 || ACC_W < 17 || ACC_W > 32 || (LANES != 1 && LANES != 4) ||
            (WBCAST != 0 && WBCAST != 1)) begin : g_bad_params
            sparq_array_illegal_parameters u_stop ();
        end
    endgenerate

    // Each PE's outputs live in its generate block; neighbours refer to them
    // by name (no copies through net arrays, which keeps simulation lean).
    genvar r, c;
    generate
        for (r = 0; r < ROWS; r = r + 1) begin : g_row
            for (c = 0; c < COLS; c = c + 1) begin : g_col
                // the right column's x_o and the bottom row's w_o lead nowhere
                /* verilator lint_off UNUSEDSIGNAL */
                wire [XB-1:0] x_o;
                wire        xv_o, first_o, last_o;
                wire [WB-1:0] w_o;
                wire [PB-1:0] pos_o;
                /* verilator lint_on UNUSEDSIGNAL */
                wire [ACC_W-1:0] chain_o;
                wire        chain_v_o;
                wire [XB-1:0] x_in;
                wire        xv_in, first_in, last_in, chain_v_in;
                wire [WB-1:0] w_in;
                wire [PB-1:0] pos_in;
                wire [ACC_W-1:0] chain_in;
                if (c == 0) begin : g_left
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
                if (r == 0 || WBCAST != 0) begin : g_wtop
                    assign w_in = w_i[WB*c +: WB];
                    assign pos_in = pos_i[PB*c +: PB];
                end else begin : g_wbelow
                    assign w_in = g_row[r-1].g_col[c].w_o;
                    assign pos_in = g_row[r-1].g_col[c].pos_o;
                end
                if (r == 0) begin : g_top
                    if (ACC_W < 32) begin : g_ext
                        assign res_o[32*c +: 32] = {{(32-ACC_W){chain_o[ACC_W-1]}}, chain_o};
                    end else begin : g_full
                        assign res_o[32*c +: 32] = chain_o;
                    end
                    assign res_v_o[c] = chain_v_o;
                end
                if (r == ROWS - 1) begin : g_bottom
                    assign chain_in = {ACC_W{1'b0}};
                    assign chain_v_in = 1'b0;
                end else begin : g_above
                    assign chain_in = g_row[r+1].g_col[c].chain_o;
                    assign chain_v_in = g_row[r+1].g_col[c].chain_v_o;
                end
                sparq_pe #(.ACC_W(ACC_W), .LANES(LANES), .WPASS(1 - WBCAST)) u_pe (
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
