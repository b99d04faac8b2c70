`default_nettype none
// UART transmitter, 8N1: takes a byte when idle (valid/ready), sends the
// start bit, 8 data bits LSB first and one stop bit, CLKS_PER_BIT cycles
// each; the next byte may follow the stop bit at once. The line is driven
// from a flip-flop (no glitches on the pin).
module sparq_uart_tx #(
    parameter CLKS_PER_BIT = 8  // clock cycles per bit (clock / baud), >= 2
) (
    input  wire       clk_i,
    input  wire       rst_ni,
    input  wire [7:0] data_i,
    input  wire       valid_i,
    output wire       ready_o,
    output wire       tx_o      // the serial line, idle high
);
    localparam CB = $clog2(CLKS_PER_BIT);
    localparam integer  LAST_I = CLKS_PER_BIT - 1;
    localparam [CB-1:0] LAST = LAST_I[CB-1:0];

    reg [8:0]    shift_q;  // {stop, data} still to send, from bit 0
    reg [3:0]    left_q;   // bits still to send including the one on the line; 0: idle
    reg [CB-1:0] cnt_q;    // cycles left in the current bit
    reg          tx_q;

    assign ready_o = left_q == 4'd0;
    assign tx_o    = tx_q;

    always @(posedge clk_i) begin
        if (!rst_ni) begin
            left_q <= 4'd0;
            cnt_q  <= {CB{1'b0}};
            tx_q   <= 1'b1;
        end else if (left_q == 4'd0) begin
            if (valid_i) begin
                tx_q    <= 1'b0;  // start bit
                shift_q <= {1'b1, data_i};
                left_q  <= 4'd10;
                cnt_q   <= LAST;
            end
        end else if (cnt_q != 0) begin
            cnt_q <= cnt_q - 1'b1;
        end else begin
            left_q <= left_q - 1'b1;
            if (left_q != 4'd1) begin
                tx_q    <= shift_q[0];
                shift_q <= {1'b1, shift_q[8:1]};
                cnt_q   <= LAST;
            end
        end
    end
endmodule
`default_nettype wire
