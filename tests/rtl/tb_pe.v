// Unit testbench of rtl/sparq_pe.v: random tiles of 1..6 steps at every
// weight width, every position, sign extension of every code; checks the
// emitted sum, its valid, and the one-cycle pass-through of x and w.
// TAP output; the golden sum is plain integer arithmetic here.
`timescale 1ns/1ps
`default_nettype none
module tb_pe;
    reg clk = 0, rst_n = 0;
    reg [1:0] width;
    reg [31:0] x;
    reg xv = 0, first = 0, last = 0;
    reg [7:0] w;
    reg [1:0] pos;
    reg [31:0] chain_in = 0;
    reg chain_v_in = 0;
    wire [31:0] x_o, chain_o;
    wire xv_o, first_o, last_o, chain_v_o;
    wire [7:0] w_o;
    wire [1:0] pos_o;

    sparq_pe dut (.clk_i(clk), .rst_ni(rst_n), .width_i(width), .x_i(x), .xv_i(xv), .first_i(first),
                  .last_i(last), .w_i(w), .pos_i(pos), .chain_i(chain_in), .chain_v_i(chain_v_in),
                  .x_o(x_o), .xv_o(xv_o), .first_o(first_o), .last_o(last_o), .w_o(w_o), .pos_o(pos_o),
                  .chain_o(chain_o), .chain_v_o(chain_v_o));

    always #5 clk = ~clk;

    integer seed = 20261126;
    integer bad_sum = 0, bad_pass = 0, bad_chain = 0, tiles = 0;
    integer t, s, len, bits, code, xs, expect, k;
    integer wmode;

    function integer sext(input integer v, input integer nbits);
        sext = (v >= (1 << (nbits - 1))) ? v - (1 << nbits) : v;
    endfunction

    initial begin
        width = 0; x = 0; w = 0; pos = 0;
        repeat (3) @(posedge clk);
        rst_n = 1;
        for (t = 0; t < 3000; t = t + 1) begin
            wmode = t % 3;
            bits = wmode == 0 ? 8 : wmode == 1 ? 4 : 2;
            width = wmode[1:0];
            len = 1 + ($unsigned($random(seed)) % 6);
            expect = 0;
            for (s = 0; s < len; s = s + 1) begin
                @(negedge clk);
                x = $random(seed);
                code = $unsigned($random(seed)) % (1 << bits);
                if (t < 256) code = t % (1 << bits); // every code early on
                w = code[7:0];
                pos = $unsigned($random(seed)) % 4;
                xv = 1; first = (s == 0); last = (s == len - 1);
                xs = sext((x >> (8 * pos)) & 255, 8);
                expect = expect + xs * sext(code, bits);
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
            tiles = tiles + 1;
        end
        $display("# %0d tiles", tiles);
        if (bad_sum == 0) $display("ok 1 - PE sums (int8/int4/int2, all positions, sign extension)");
        else $display("not ok 1 - PE sums: %0d of %0d wrong", bad_sum, tiles);
        if (bad_pass == 0) $display("ok 2 - PE passes x, w, pos and step flags on after one cycle");
        else $display("not ok 2 - PE pass-through: %0d wrong", bad_pass);
        if (bad_chain == 0) $display("ok 3 - PE result chain moves items from below and clears");
        else $display("not ok 3 - PE result chain: %0d wrong", bad_chain);
        $display("1..3");
        $finish;
    end
endmodule
`default_nettype wire
