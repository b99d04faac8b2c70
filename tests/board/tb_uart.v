`timescale 1ns / 1ps
`default_nettype none
// UART receiver and transmitter testbench (run by tests/board/lint.sh), at
// 4 clocks per bit (the PTY simulation's rate) and 8 (the boards' 24 MHz /
// 3 Mbaud): transmitter -> receiver round trip of back-to-back bytes; a
// sender 2 % fast and 2 % slow with random phase; a low stop bit and a break
// give one framing error each and the next byte still arrives; a one-cycle
// glitch is no byte. Random bytes from +seed=N (printed).
module tb_uart_at #(
    parameter C = 4
) (
    input wire clk,
    input wire rst_n
);
    integer seed;
    reg        line;        // the testbench's sender
    reg        use_tx;      // 1: the receiver hears the DUT transmitter
    reg  [7:0] tx_data;
    reg        tx_valid;
    wire       tx_ready, tx_line;
    wire [7:0] rx_data;
    wire       rx_valid, frame_err;
    sparq_uart_tx #(.CLKS_PER_BIT(C)) u_tx (
        .clk_i(clk), .rst_ni(rst_n), .data_i(tx_data), .valid_i(tx_valid), .ready_o(tx_ready), .tx_o(tx_line)
    );
    sparq_uart_rx #(.CLKS_PER_BIT(C)) u_rx (
        .clk_i(clk), .rst_ni(rst_n), .rx_i(use_tx ? tx_line : line),
        .data_o(rx_data), .valid_o(rx_valid), .frame_err_o(frame_err)
    );

    // What the receiver delivered, in order.
    reg [7:0] got [0:1023];
    integer   ngot, nerr;
    always @(posedge clk) begin
        if (rx_valid) begin
            got[ngot] = rx_data;
            ngot = ngot + 1;
        end
        if (frame_err)
            nerr = nerr + 1;
    end

    reg [7:0] sent [0:1023];
    integer   i, bad;
    real      bit_ns;

    task send_byte(input [8:0] b, input real ns); // b[8]: stop bit level
        integer k;
        begin
            line = 1'b0;
            #(ns);
            for (k = 0; k < 9; k = k + 1) begin
                line = b[k];
                #(ns);
            end
            line = 1'b1;
        end
    endtask

    task expect_bytes(input integer n, input [8*40-1:0] what);
        begin
            bad = ngot != n || nerr != 0;
            for (i = 0; i < n && i < ngot; i = i + 1)
                if (got[i] !== sent[i])
                    bad = 1;
            if (bad)
                $display("not ok - C=%0d %0s: %0d of %0d bytes, %0d framing errors", C, what, ngot, n, nerr);
            else
                $display("ok - C=%0d %0s: %0d bytes exact", C, what, n);
        end
    endtask

    task sender_at(input real err, input [8*40-1:0] what);
        begin
            ngot = 0;
            nerr = 0;
            bit_ns = C * 10.0 * (1.0 + err);
            #($urandom(seed) % 10000 / 1000.0);  // random phase against the clock
            for (i = 0; i < 200; i = i + 1) begin
                sent[i] = $random(seed);
                send_byte({1'b1, sent[i]}, bit_ns);  // back to back: no idle after the stop bit
            end
            repeat (4 * C) @(posedge clk);
            expect_bytes(200, what);
        end
    endtask

    initial begin
        if (!$value$plusargs("seed=%d", seed))
            seed = 1;
        seed = seed + C;
        line = 1'b1;
        use_tx = 1'b1;
        tx_valid = 1'b0;
        tx_data = 8'd0;
        ngot = 0;
        nerr = 0;
        @(posedge rst_n);
        repeat (3) @(posedge clk);
        #1;

        // Round trip: valid held high, each byte taken the cycle the last stop bit ends.
        for (i = 0; i < 300; i = i + 1) begin
            sent[i] = $random(seed);
            tx_data = sent[i];
            tx_valid = 1'b1;
            while (!tx_ready) begin  // sampled between edges: ready before the next one
                @(posedge clk);
                #1;
            end
            @(posedge clk);  // taken on this edge
            #1;
        end
        tx_valid = 1'b0;
        repeat (12 * C) @(posedge clk);
        expect_bytes(300, "tx -> rx round trip, back to back");
        use_tx = 1'b0;

        sender_at(0.02, "sender 2% slow");
        sender_at(-0.02, "sender 2% fast");

        // A low stop bit, a 3-byte-long break, then a good byte.
        ngot = 0;
        nerr = 0;
        send_byte({1'b0, 8'hA5}, C * 10.0);
        #(C * 10.0 * 5);
        line = 1'b0;
        #(C * 10.0 * 30);
        line = 1'b1;
        #(C * 10.0 * 3);
        sent[0] = 8'h3C;
        send_byte({1'b1, sent[0]}, C * 10.0);
        repeat (4 * C) @(posedge clk);
        if (nerr == 2 && ngot == 1 && got[0] == 8'h3C)
            $display("ok - C=%0d low stop bit and break: 2 framing errors, no byte, next byte 0x3c", C);
        else
            $display("not ok - C=%0d low stop bit and break: %0d framing errors, %0d bytes (want 2, 1)", C, nerr,
                     ngot);

        // A glitch shorter than half a bit is not a start bit.
        ngot = 0;
        nerr = 0;
        @(negedge clk);
        line = 1'b0;
        @(negedge clk);
        line = 1'b1;
        repeat (20 * C) @(posedge clk);
        if (ngot == 0 && nerr == 0)
            $display("ok - C=%0d a one-cycle glitch is no byte", C);
        else
            $display("not ok - C=%0d a one-cycle glitch gave %0d bytes, %0d errors", C, ngot, nerr);
    end
endmodule

module tb_uart;
    reg clk = 1'b0, rst_n = 1'b0;
    integer seed;
    always #5 clk = !clk;
    tb_uart_at #(.C(4)) u_c4 (.clk(clk), .rst_n(rst_n));
    tb_uart_at #(.C(8)) u_c8 (.clk(clk), .rst_n(rst_n));
    initial begin
        if (!$value$plusargs("seed=%d", seed))
            seed = 1;
        $display("# tb_uart seed %0d", seed);
        repeat (4) @(posedge clk);
        rst_n = 1'b1;
        #(10 * 8 * 10 * 1200);
        $finish;
    end
endmodule
`default_nettype wire
