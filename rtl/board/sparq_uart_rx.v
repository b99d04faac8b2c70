`default_nettype none
// UART receiver, 8N1, one byte out per frame. The line is synchronised by
// two flip-flops (it comes from another clock domain: the USB bridge), a
// start bit must still be low half a bit after its falling edge (a glitch
// is not a byte), data bits are sampled in the middle of each bit, and a
// low stop bit is a framing error: the byte is dropped, frame_err_o pulses
// and the receiver waits for the line to go idle (high) again, so a break
// (line held low) yields one error, not a stream of zeros.
// No flow control: the byte is valid for one cycle; the consumer buffers it.
module sparq_uart_rx #(
    parameter CLKS_PER_BIT = 8  // clock cycles per bit (clock / baud), >= 4
) (
    input  wire       clk_i,
    input  wire       rst_ni,
    input  wire       rx_i,        // the serial line, idle high (asynchronous)
    output reg  [7:0] data_o,
    output reg        valid_o,     // one cycle per received byte
    output reg        frame_err_o  // one cycle per frame with a low stop bit
);
    localparam CB = $clog2(CLKS_PER_BIT);
    // First sample (1..2 cycles after the edge, which lies anywhere inside the
    // cycle before it was seen): (C-1)/2 centres the sample window best
    // for small C (docs/board.md, UART timing).
    localparam integer  HALF_I = (CLKS_PER_BIT - 1) / 2;
    localparam integer  LAST_I = CLKS_PER_BIT - 1;
    localparam [CB-1:0] HALF = HALF_I[CB-1:0];
    localparam [CB-1:0] LAST = LAST_I[CB-1:0];

    generate
        if (CLKS_PER_BIT < 4) begin : g_bad_params
            sparq_uart_rx_illegal_parameters u_stop ();
        end
    endgenerate

    localparam [1:0] S_IDLE = 2'd0, S_START = 2'd1, S_BITS = 2'd2, S_WAIT = 2'd3;

    reg [1:0]    sync_q;   // the 2-FF synchroniser (powers up idle)
    reg [1:0]    state_q;
    reg [CB-1:0] cnt_q;    // cycles to the next sample
    reg [3:0]    bit_q;    // bits sampled in this frame: 8 data, then the stop bit
    reg [7:0]    shift_q;
    wire         line = sync_q[1];

    always @(posedge clk_i) begin
        if (!rst_ni) begin
            sync_q      <= 2'b11;
            state_q     <= S_WAIT;  // a line held low at reset is not a start bit
            cnt_q       <= {CB{1'b0}};
            bit_q       <= 4'd0;
            valid_o     <= 1'b0;
            frame_err_o <= 1'b0;
        end else begin
            sync_q      <= {sync_q[0], rx_i};
            valid_o     <= 1'b0;
            frame_err_o <= 1'b0;
            case (state_q)
                S_IDLE: if (!line) begin
                    state_q <= S_START;
                    cnt_q   <= HALF - 1'b1;
                end
                S_START: if (cnt_q != 0) begin
                    cnt_q <= cnt_q - 1'b1;
                end else if (line) begin
                    state_q <= S_IDLE;  // too short for a start bit: noise
                end else begin
                    state_q <= S_BITS;
                    cnt_q   <= LAST;
                    bit_q   <= 4'd0;
                end
                S_BITS: if (cnt_q != 0) begin
                    cnt_q <= cnt_q - 1'b1;
                end else if (bit_q != 4'd8) begin
                    shift_q <= {line, shift_q[7:1]};  // LSB first
                    bit_q   <= bit_q + 1'b1;
                    cnt_q   <= LAST;
                end else if (line) begin
                    // Stop bit good: back to idle at once, half a bit early,
                    // so a sender up to that much faster is still followed.
                    data_o  <= shift_q;
                    valid_o <= 1'b1;
                    state_q <= S_IDLE;
                end else begin
                    frame_err_o <= 1'b1;
                    state_q     <= S_WAIT;
                end
                default: if (line)  // S_WAIT: after a framing error, for the line to idle
                    state_q <= S_IDLE;
            endcase
        end
    end
endmodule
`default_nettype wire
