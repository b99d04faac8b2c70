`default_nettype none
// ROWS x COLS grid of sparq_pe. Row r gets its activation stream on the
// left edge, column c its weight stream on the top edge (both already skewed
// by the engine: row r is r cycles late, column c is c cycles late, so PE
// (r,c) sees step s at cycle s+r+c). Results leave at the top of each column.
module sparq_array #(
    parameter ROWS = 16, // frames per tile
    parameter COLS = 16  // output channels per tile
) (
    input  wire                 clk_i,
    input  wire                 rst_ni,
    input  wire [1:0]           width_i,
    input  wire [ROWS*32-1:0]   x_i,      // row r: bits [32r +: 32]
    input  wire [ROWS-1:0]      xv_i,
    input  wire [ROWS-1:0]      first_i,
    input  wire [ROWS-1:0]      last_i,
    input  wire [COLS*8-1:0]    w_i,      // column c: bits [8c +: 8]
    input  wire [COLS*2-1:0]    pos_i,
    output wire [COLS*32-1:0]   res_o,    // result leaving the top of column c
    output wire [COLS-1:0]      res_v_o
);
    generate
        if (ROWS < 1 || COLS < 1) begin : g_bad_params
            sparq_array_illegal_parameters u_stop ();
        end
    endgenerate

    // Horizontal nets: (ROWS) x (COLS+1); vertical: (ROWS+1) x (COLS).
    wire [31:0] xh   [0:ROWS-1][0:COLS];
    wire        xvh  [0:ROWS-1][0:COLS];
    wire        fh   [0:ROWS-1][0:COLS];
    wire        lh   [0:ROWS-1][0:COLS];
    wire [7:0]  wv   [0:ROWS][0:COLS-1];
    wire [1:0]  pv   [0:ROWS][0:COLS-1];
    wire [31:0] ch   [0:ROWS][0:COLS-1];
    wire        chv  [0:ROWS][0:COLS-1];

    genvar r, c;
    generate
        for (r = 0; r < ROWS; r = r + 1) begin : g_left
            assign xh[r][0]  = x_i[32*r +: 32];
            assign xvh[r][0] = xv_i[r];
            assign fh[r][0]  = first_i[r];
            assign lh[r][0]  = last_i[r];
        end
        for (c = 0; c < COLS; c = c + 1) begin : g_top
            assign wv[0][c]   = w_i[8*c +: 8];
            assign pv[0][c]   = pos_i[2*c +: 2];
            assign ch[ROWS][c]  = 32'd0;
            assign chv[ROWS][c] = 1'b0;
            assign res_o[32*c +: 32] = ch[0][c];
            assign res_v_o[c] = chv[0][c];
        end
        for (r = 0; r < ROWS; r = r + 1) begin : g_row
            for (c = 0; c < COLS; c = c + 1) begin : g_col
                sparq_pe u_pe (
                    .clk_i     (clk_i),
                    .rst_ni    (rst_ni),
                    .width_i   (width_i),
                    .x_i       (xh[r][c]),
                    .xv_i      (xvh[r][c]),
                    .first_i   (fh[r][c]),
                    .last_i    (lh[r][c]),
                    .w_i       (wv[r][c]),
                    .pos_i     (pv[r][c]),
                    .chain_i   (ch[r+1][c]),
                    .chain_v_i (chv[r+1][c]),
                    .x_o       (xh[r][c+1]),
                    .xv_o      (xvh[r][c+1]),
                    .first_o   (fh[r][c+1]),
                    .last_o    (lh[r][c+1]),
                    .w_o       (wv[r+1][c]),
                    .pos_o     (pv[r+1][c]),
                    .chain_o   (ch[r][c]),
                    .chain_v_o (chv[r][c])
                );
            end
        end
    endgenerate
endmodule
`default_nettype wire
