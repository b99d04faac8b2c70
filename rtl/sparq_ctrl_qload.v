`default_nettype none
// Requant parameter loader of sparq_ctrl: WRITE_Q payload bytes go straight
// into the per-column registers (bias bytes 0..3, mult bytes 4..7 without
// bit 31, shift byte 8); sparq_ctrl keeps the parameters invalid until the
// whole packet checked out. mult >= 2^31 or shift > 62 sets err_o (ARG).
module sparq_ctrl_qload #(
    parameter COLS = 16,
    parameter CB = (COLS > 1) ? $clog2(COLS) : 1  // derived
) (
    input  wire          clk_i,
    input  wire          rst_ni,
    input  wire          start_i, // a WRITE_Q is being checked: restart at column 0
    input  wire          byte_i,  // a payload byte arrives
    input  wire [7:0]    data_i,
    output reg           err_o,
    // the parameters of one column, for the read streamer's requantizer
    input  wire [CB-1:0] col_i,
    output wire [31:0]   bias_o,
    output wire [30:0]   mult_o,
    output wire [5:0]    shift_o
);
    reg [CB-1:0] col_q, col_d;
    reg [3:0]    bi_q, bi_d;   // byte within the column's entry
    reg          err_d;
    reg [31:0]   bias_q [0:COLS-1];
    reg [30:0]   mult_q [0:COLS-1];
    reg [5:0]    shift_q [0:COLS-1];

    wire bias_we = byte_i && bi_q < 4'd4;
    wire mult_we = byte_i && bi_q >= 4'd4 && bi_q < 4'd8;
    wire shift_we = !start_i && byte_i && bi_q == 4'd8;
    assign bias_o = bias_q[col_i];
    assign mult_o = mult_q[col_i];
    assign shift_o = shift_q[col_i];

    always @* begin
        col_d = col_q;
        bi_d = bi_q;
        err_d = err_o;
        if (start_i) begin
            col_d = {CB{1'b0}};
            bi_d = 4'd0;
            err_d = 1'b0;
        end else if (byte_i) begin
            if (bi_q == 4'd8) begin
                bi_d = 4'd0;
                col_d = col_q + {{(CB-1){1'b0}}, 1'b1};
                if (data_i > 8'd62)
                    err_d = 1'b1;
            end else begin
                bi_d = bi_q + 4'd1;
                if (bi_q == 4'd7 && data_i[7]) // mult >= 2^31
                    err_d = 1'b1;
            end
        end
    end

    // no reset: every field is set by start_i before the first byte
    always @(posedge clk_i) begin
        if (rst_ni) begin
            col_q <= col_d;
            bi_q <= bi_d;
            err_o <= err_d;
            if (shift_we)
                shift_q[col_q] <= data_i[5:0];
        end
    end

    // bias and mult: one enable per byte, no shifters
    integer k, c;
    always @(posedge clk_i) begin
        for (c = 0; c < COLS; c = c + 1) begin
            if (col_q == c[CB-1:0]) begin
                for (k = 0; k < 4; k = k + 1)
                    if (bias_we && bi_q[1:0] == k[1:0])
                        bias_q[c][8*k +: 8] <= data_i;
                for (k = 0; k < 3; k = k + 1)
                    if (mult_we && bi_q[1:0] == k[1:0])
                        mult_q[c][8*k +: 8] <= data_i;
                if (mult_we && bi_q[1:0] == 2'd3)
                    mult_q[c][30:24] <= data_i[6:0];
            end
        end
    end
endmodule
`default_nettype wire
