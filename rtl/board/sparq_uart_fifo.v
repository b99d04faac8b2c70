`default_nettype none
// Byte FIFO between the UART receiver and the controller. A UART has no
// flow control: bytes arrive every 10 bit times whether or not the
// controller is ready (it pauses rx while a weight block is written), so
// they wait here. A byte that finds the FIFO full is dropped and counted
// in overflow_o (sticky until reset); the packet's CRC then fails and the
// host resends it. Small on purpose: flip-flops, no block RAM.
module sparq_uart_fifo #(
    parameter DEPTH = 8  // bytes (power of two, >= 2)
) (
    input  wire       clk_i,
    input  wire       rst_ni,
    input  wire [7:0] in_data_i,
    input  wire       in_valid_i,   // no ready: the UART cannot wait
    output wire [7:0] out_data_o,
    output wire       out_valid_o,
    input  wire       out_ready_i,
    output reg        overflow_o    // a byte was dropped since reset
);
    localparam AB = $clog2(DEPTH);
    generate
        if (DEPTH < 2 || (DEPTH & (DEPTH - 1)) != 0) begin : g_bad_params
            sparq_uart_fifo_illegal_parameters u_stop ();
        end
    endgenerate

    reg  [7:0]  mem_q [0:DEPTH-1];
    reg  [AB:0] w_q, r_q;
    wire [AB:0] count = w_q - r_q;
    wire        full  = count[AB];
    wire        push  = in_valid_i && !full;
    wire        pop   = out_valid_o && out_ready_i;

    assign out_valid_o = count != 0;
    assign out_data_o  = mem_q[r_q[AB-1:0]];

    always @(posedge clk_i) begin
        if (!rst_ni) begin
            w_q        <= {(AB + 1){1'b0}};
            r_q        <= {(AB + 1){1'b0}};
            overflow_o <= 1'b0;
        end else begin
            if (push)
                w_q <= w_q + 1'b1;
            if (pop)
                r_q <= r_q + 1'b1;
            if (in_valid_i && full)
                overflow_o <= 1'b1;
        end
    end
    always @(posedge clk_i)
        if (push)
            mem_q[w_q[AB-1:0]] <= in_data_i;
endmodule
`default_nettype wire
