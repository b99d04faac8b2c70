// Unit testbench of rtl/sparq_requant_serial.v (the multi-cycle requant of
// the board configuration) against rtl/sparq_requant.v (the combinational
// one, bit-exact with sparq_requant() in C through the co-simulation):
// random operands with shifts chosen so that in-range, rounding and both
// saturations all occur, plus the edge operands. Starts back to back and
// after random idle gaps. TAP output; `+seed=N` replays.
`timescale 1ns/1ps
`default_nettype none
module tb_requant;
    reg clk = 0, rst_n = 0;
    reg start = 0;
    reg [31:0] acc = 0, bias = 0;
    reg [30:0] mult = 0;
    reg [5:0] shift = 0;
    wire busy, done;
    wire [7:0] y;
    wire signed [7:0] y_ref;

    sparq_requant_serial dut (.clk_i(clk), .rst_ni(rst_n), .start_i(start), .acc_i(acc), .bias_i(bias),
                              .mult_i(mult), .shift_i(shift), .busy_o(busy), .done_o(done), .y_o(y));
    sparq_requant ref_u (.acc_i(acc), .bias_i(bias), .mult_i({1'b0, mult}), .shift_i(shift), .y_o(y_ref));

    always #5 clk = ~clk;

    localparam integer N = 4000;
    integer seed = 20261126;
    integer i, bad = 0, n_in = 0, n_hi = 0, n_lo = 0, cyc, max_cyc = 0, mag;
    reg [7:0] expect;
    reg [63:0] r;

    task one;
        begin
            #1 expect = y_ref;
            @(negedge clk);
            start = 1'b1;
            @(negedge clk);
            start = 1'b0;
            cyc = 1;
            while (!done && cyc < 200) begin
                @(negedge clk);
                cyc = cyc + 1;
            end
            if (cyc > max_cyc)
                max_cyc = cyc;
            if (!done || y !== expect) begin
                bad = bad + 1;
                if (bad <= 5)
                    $display("# acc %0d bias %0d mult %0d shift %0d: serial %0d (done %b), combinational %0d",
                             $signed(acc), $signed(bias), mult, shift, $signed(y), done, $signed(expect));
            end
            if ($signed(expect) == 127) n_hi = n_hi + 1;
            else if ($signed(expect) == -128) n_lo = n_lo + 1;
            else n_in = n_in + 1;
        end
    endtask

    initial begin
        if ($value$plusargs("seed=%d", seed)) ;
        $display("# seed %0d", seed);
        repeat (3) @(posedge clk);
        rst_n = 1;
        // edges: zero, extremes of acc/bias/mult, shift 0 and 62, rounding ties
        acc = 32'h80000000; bias = 32'h80000000; mult = 31'h7FFFFFFF; shift = 6'd62; one;
        acc = 32'h7FFFFFFF; bias = 32'd0; mult = 31'h7FFFFFFF; shift = 6'd62; one;
        acc = 32'h80000000; bias = 32'd0; mult = 31'h7FFFFFFF; shift = 6'd55; one;
        acc = 32'd0; bias = 32'd0; mult = 31'd0; shift = 6'd0; one;
        acc = 32'd127; bias = 32'd0; mult = 31'd1; shift = 6'd0; one;
        acc = 32'd255; bias = 32'd0; mult = 31'd1; shift = 6'd1; one;        // 127.5 -> 128 -> 127
        acc = 32'hFFFFFF01; bias = 32'd0; mult = 31'd1; shift = 6'd1; one;   // -127.5 -> -127
        acc = 32'hFFFFFEFF; bias = 32'd0; mult = 31'd1; shift = 6'd1; one;   // -128.5 -> -128
        acc = 32'd3; bias = 32'd0; mult = 31'd1; shift = 6'd2; one;          // 0.75 -> 1
        acc = 32'd2; bias = 32'd0; mult = 31'd1; shift = 6'd2; one;          // 0.5 -> 1 (half up)
        acc = 32'hFFFFFFFE; bias = 32'd0; mult = 31'd1; shift = 6'd2; one;   // -0.5 -> 0
        acc = 32'hFFFFFFFA; bias = 32'd0; mult = 31'd1; shift = 6'd2; one;   // -1.5 -> -1
        for (i = 0; i < N; i = i + 1) begin
            acc = $random(seed);
            bias = ($random(seed) & 1) ? $random(seed) : ($random(seed) % 1000);
            case ($random(seed) & 3)
                0: acc = acc >>> ($random(seed) & 31);
                1: acc = acc % 100000;
                default: ;
            endcase
            mult = ($random(seed) & 3) != 0 ? {1'b1, 30'd0} | ($random(seed) & 31'h3FFFFFFF)
                                            : ($random(seed) & 31'h7FFFFFFF) >> ($random(seed) & 31);
            // a shift that lands |v * mult| >> shift near the int8 range
            r = $signed(acc + bias) * $signed({33'd0, mult});
            if ($signed(r) < 0) r = -r;
            mag = 0;
            while (mag < 63 && (r >> mag) != 0) mag = mag + 1;
            mag = mag - 7 + (($random(seed) & 7) - 3);
            if ($random(seed) % 16 == 0) mag = $random(seed) & 63;
            shift = (mag < 0) ? 6'd0 : (mag > 62) ? 6'd62 : mag[5:0];
            one;
            repeat ($random(seed) & 3) @(negedge clk);
        end
        if (bad == 0)
            $display("ok 1 - serial requant == combinational on %0d operands (%0d in range, %0d at 127, %0d at -128), at most %0d cycles",
                     N + 12, n_in, n_hi, n_lo, max_cyc);
        else
            $display("not ok 1 - serial requant: %0d of %0d wrong", bad, N + 12);
        if (max_cyc <= 48)
            $display("ok 2 - serial requant latency at most 48 cycles (%0d)", max_cyc);
        else
            $display("not ok 2 - serial requant latency %0d cycles, expected at most 48", max_cyc);
        $finish;
    end
endmodule
`default_nettype wire
