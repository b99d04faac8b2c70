// Edge testbench of rtl/sparq_array.v (4 x 3): feeding as the engine does
// it (BCAST = 1: no skew; BCAST = 0, systolic: column c late by c cycles,
// row r by r), tiles back to back at the minimum period (ROWS/2 steps
// with BCAST = 1, 2*ROWS with 0) and at longer ones, int2 weights (4 lanes
// a step). Checks that every column emits exactly one result per row per
// tile, in row order (BCAST = 1: even rows on res_o, the odd row after each
// beside it on res2_o, a pair a cycle), each equal to the integer dot
// product computed here.
// TAP output.
`timescale 1ns/1ps
`default_nettype none
module tb_array;
    parameter BCAST = 1; // the array's weight broadcast (pe.sh also runs 0)
    localparam ROWS = 4, COLS = 3, NT = 6, MAXG = 200;
    localparam MINP = BCAST ? ROWS / 2 : 2 * ROWS, SKEW = BCAST ? 0 : 1, RCH = BCAST + 1;
    reg clk = 0, rst_n = 0;
    reg [ROWS*128-1:0] x;
    reg [ROWS-1:0] xv, first, last;
    reg [COLS*16-1:0] w;
    reg [COLS*8-1:0] pos;
    wire [COLS*32-1:0] res, res2;
    wire [COLS-1:0] res_v;

    sparq_array #(.ROWS(ROWS), .COLS(COLS), .LANES(4), .BCAST(BCAST)) dut (.clk_i(clk), .rst_ni(rst_n), .en_i(1'b1), .x_i(x),
        .xv_i(xv), .first_i(first), .last_i(last), .w_i(w), .pos_i(pos), .res_o(res), .res2_o(res2),
        .res_v_o(res_v));
    always #5 clk = ~clk;

    integer seed = 7;
    reg [127:0] xg [0:ROWS-1][0:MAXG-1];
    reg [7:0]  wg [0:COLS-1][0:MAXG-1];  // 4 int2 codes, lane l in [2l +: 2]
    reg [7:0]  pg [0:COLS-1][0:MAXG-1];
    integer tile_len [0:NT-1];
    integer tile_start [0:NT-1];
    integer expect [0:NT-1][0:ROWS-1][0:COLS-1];
    integer got_n [0:COLS-1];
    integer total, n, r, c, k, s, g, bad, xs, wsx, l;
    // the lane split's word: lane 0 sign-extended to 8 bits, lane 1 to 4
    function [15:0] lane_word(input [7:0] q);
        lane_word = {q[7:6], q[5:4], {2{q[3]}}, q[3:2], {6{q[1]}}, q[1:0]};
    endfunction

    function integer step_first(input integer gi);
        integer kk;
        begin
            step_first = 0;
            for (kk = 0; kk < NT; kk = kk + 1)
                if (gi == tile_start[kk]) step_first = 1;
        end
    endfunction
    function integer step_last(input integer gi);
        integer kk;
        begin
            step_last = 0;
            for (kk = 0; kk < NT; kk = kk + 1)
                if (gi == tile_start[kk] + tile_len[kk] - 1) step_last = 1;
        end
    endfunction

    // collect outputs: the i-th result of column c is (tile i/ROWS, row i%ROWS)
    always @(posedge clk) begin : collect
        integer cc, idx, h;
        for (cc = 0; cc < COLS; cc = cc + 1)
            if (rst_n && res_v[cc])
                for (h = 0; h < RCH; h = h + 1) begin
                    idx = got_n[cc];
                    if (idx >= NT * ROWS ||
                        $signed(h ? res2[32*cc +: 32] : res[32*cc +: 32]) !== expect[idx / ROWS][idx % ROWS][cc])
                        bad = bad + 1;
                    got_n[cc] = got_n[cc] + 1;
                end
    end

    initial begin
        bad = 0;
        for (c = 0; c < COLS; c = c + 1) got_n[c] = 0;
        total = 0;
        for (k = 0; k < NT; k = k + 1) begin
            tile_len[k] = (k < 3) ? MINP : MINP + 3 + k;
            tile_start[k] = total;
            total = total + tile_len[k];
        end
        for (g = 0; g < total; g = g + 1) begin
            for (r = 0; r < ROWS; r = r + 1) xg[r][g] = {$random(seed), $random(seed), $random(seed), $random(seed)};
            for (c = 0; c < COLS; c = c + 1) begin
                wg[c][g] = $random(seed);
                pg[c][g] = $random(seed);
            end
        end
        for (k = 0; k < NT; k = k + 1)
            for (r = 0; r < ROWS; r = r + 1)
                for (c = 0; c < COLS; c = c + 1) begin
                    expect[k][r][c] = 0;
                    for (s = 0; s < tile_len[k]; s = s + 1)
                        for (l = 0; l < 4; l = l + 1) begin
                            g = tile_start[k] + s;
                            xs = (xg[r][g] >> (32 * l + 8 * ((pg[c][g] >> (2 * l)) & 3))) & 255;
                            if (xs > 127) xs = xs - 256;
                            wsx = (wg[c][g] >> (2 * l)) & 3;
                            if (wsx > 1) wsx = wsx - 4;
                            expect[k][r][c] = expect[k][r][c] + xs * wsx;
                        end
                end
        x = 0; xv = 0; first = 0; last = 0; w = 0; pos = 0;
        repeat (3) @(posedge clk);
        rst_n = 1;
        for (n = 0; n < total + ROWS + COLS + 3 * ROWS + 8; n = n + 1) begin
            @(negedge clk);
            for (r = 0; r < ROWS; r = r + 1) begin
                g = n - SKEW * r;
                xv[r] = (g >= 0 && g < total);
                x[128*r +: 128] = xv[r] ? xg[r][g] : 128'hx;
                first[r] = xv[r] ? step_first(g) : 1'b0;
                last[r] = xv[r] ? step_last(g) : 1'b0;
            end
            for (c = 0; c < COLS; c = c + 1) begin
                g = n - SKEW * c;
                w[16*c +: 16] = (g >= 0 && g < total) ? lane_word(wg[c][g]) : 16'hx;
                pos[8*c +: 8] = (g >= 0 && g < total) ? pg[c][g] : 8'hx;
            end
        end
        for (c = 0; c < COLS; c = c + 1)
            if (got_n[c] != NT * ROWS) bad = bad + 1;
        if (bad == 0)
            $display("ok 1 - array 4x3, BCAST %0d: %0d tiles back to back (min period %0d), every column emits its results in order",
                     BCAST, NT, MINP);
        else $display("not ok 1 - array 4x3, BCAST %0d: %0d wrong or missing results", BCAST, bad);
        $display("1..1");
        $finish;
    end
endmodule
`default_nettype wire
