// Unit testbench of rtl/sparq_pe.v: random tiles of 1..6 steps at every
// weight width (LANES = 4: int8 lane 0, int4 lanes 0-1, int2 lanes 0-3, as
// the engine's lane split feeds them; LANES = 1 (-Ptb_pe.LANES=1): one code
// a step, sign-extended by the column feeder), every position, every code of
// each lane; checks the emitted sum, its valid, the one-cycle pass-through of
// x and w, and that en_i low holds every register.
// TAP output; the golden sum is plain integer arithmetic here.
`timescale 1ns/1ps
`default_nettype none
module tb_pe;
    parameter LANES = 4;
    localparam XB = 32 * LANES, WB = (LANES == 1) ? 8 : 16, PB = 2 * LANES;
    reg clk = 0, rst_n = 0, en = 1;
    reg [XB-1:0] x;
    reg xv = 0, first = 0, last = 0;
    reg [WB-1:0] w;
    reg [PB-1:0] pos;
    reg [31:0] chain_in = 0;
    reg chain_v_in = 0;
    wire [XB-1:0] x_o;
    wire [31:0] chain_o;
    wire xv_o, first_o, last_o, chain_v_o;
    wire [WB-1:0] w_o;
    wire [PB-1:0] pos_o;
    reg [XB+WB+PB+35:0] held;

    sparq_pe #(.LANES(LANES)) dut (.clk_i(clk), .rst_ni(rst_n), .en_i(en), .x_i(x), .xv_i(xv), .first_i(first),
                  .last_i(last), .w_i(w), .pos_i(pos), .chain_i(chain_in), .chain_v_i(chain_v_in),
                  .x_o(x_o), .xv_o(xv_o), .first_o(first_o), .last_o(last_o), .w_o(w_o), .pos_o(pos_o),
                  .chain_o(chain_o), .chain_v_o(chain_v_o));

    always #5 clk = ~clk;

    integer seed = 20261126;
    integer bad_sum = 0, bad_pass = 0, bad_chain = 0, bad_hold = 0, tiles = 0;
    integer t, s, len, bits, code, xs, expect, k, lanes, lane;
    integer wmode;
    // lane field offsets and widths of the PE's weight word
    function integer lane_lsb(input integer l);
        lane_lsb = l == 0 ? 0 : l == 1 ? 8 : l == 2 ? 12 : 14;
    endfunction
    function integer lane_bits(input integer l);
        lane_bits = l == 0 ? 8 : l == 1 ? 4 : 2;
    endfunction

    function integer sext(input integer v, input integer nbits);
        sext = (v >= (1 << (nbits - 1))) ? v - (1 << nbits) : v;
    endfunction

    initial begin
        x = 0; w = 0; pos = 0;
        repeat (3) @(posedge clk);
        rst_n = 1;
        for (t = 0; t < 3000; t = t + 1) begin
            wmode = t % 3;
            bits = wmode == 0 ? 8 : wmode == 1 ? 4 : 2;
            lanes = (wmode == 0 || LANES == 1) ? 1 : wmode == 1 ? 2 : 4;
            len = 1 + ($unsigned($random(seed)) % 6);
            expect = 0;
            for (s = 0; s < len; s = s + 1) begin
                @(negedge clk);
                x = {$random(seed), $random(seed), $random(seed), $random(seed)};
                w = 0;
                pos = $random(seed);
                for (lane = 0; lane < lanes; lane = lane + 1) begin
                    code = $unsigned($random(seed)) % (1 << bits);
                    if (t < 256) code = (t + lane) % (1 << bits); // every code early on
                    code = sext(code, bits); // the lane split sign-extends to the lane's width
                    w = w | ((code & ((1 << lane_bits(lane)) - 1)) << lane_lsb(lane));
                    xs = sext((x >> (32 * lane + 8 * ((pos >> (2 * lane)) & 3))) & 255, 8);
                    expect = expect + xs * code;
                end
                xv = 1; first = (s == 0); last = (s == len - 1);
                @(posedge clk); #1;
                if (x_o !== x || w_o !== w || pos_o !== pos || xv_o !== 1'b1 || first_o !== first || last_o !== last)
                    bad_pass = bad_pass + 1;
            end
            // the sum enters the chain register on the last step
            if (chain_v_o !== 1'b1 || $signed(chain_o) !== expect)
                bad_sum = bad_sum + 1;
            // an idle cycle in between, sometimes, and a chain item from below
            @(negedge clk);
            xv = 0; first = 0; last = 0;
            chain_in = $random(seed);
            chain_v_in = 1;
            @(posedge clk); #1;
            if (chain_v_o !== 1'b1 || chain_o !== chain_in)
                bad_chain = bad_chain + 1;
            @(negedge clk);
            chain_v_in = 0;
            @(posedge clk); #1;
            if (chain_v_o !== 1'b0 || xv_o !== 1'b0)
                bad_chain = bad_chain + 1;
            // en low: a valid last step and a chain item change nothing
            if (t % 7 == 0) begin
                @(negedge clk);
                held = {x_o, w_o, pos_o, xv_o, first_o, last_o, chain_o, chain_v_o};
                en = 0; x = ~x; w = ~w; xv = 1; first = 1; last = 1; chain_v_in = 1;
                @(posedge clk); #1;
                if ({x_o, w_o, pos_o, xv_o, first_o, last_o, chain_o, chain_v_o} !== held)
                    bad_hold = bad_hold + 1;
                @(negedge clk);
                en = 1; xv = 0; first = 0; last = 0; chain_v_in = 0;
            end
            tiles = tiles + 1;
        end
        $display("# %0d tiles, LANES=%0d", tiles, LANES);
        if (bad_sum == 0) $display("ok 1 - PE sums (int8/int4/int2, all positions, sign extension)");
        else $display("not ok 1 - PE sums: %0d of %0d wrong", bad_sum, tiles);
        if (bad_pass == 0) $display("ok 2 - PE passes x, w, pos and step flags on after one cycle");
        else $display("not ok 2 - PE pass-through: %0d wrong", bad_pass);
        if (bad_chain == 0) $display("ok 3 - PE result chain moves items from below and clears");
        else $display("not ok 3 - PE result chain: %0d wrong", bad_chain);
        if (bad_hold == 0) $display("ok 4 - PE holds every register while en_i is low");
        else $display("not ok 4 - PE moved with en_i low: %0d times", bad_hold);
        $display("1..4");
        $finish;
    end
endmodule
`default_nettype wire
