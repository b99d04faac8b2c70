`default_nettype none
// Requant parameter memory of sparq_ctrl for protocol version 3 (QDEPTH
// entries; sparq_ctrl_qload keeps the one set of COLS registers of a v1/v2
// device). WRITE_Q payload bytes are assembled into one entry
// {shift[5:0], mult[30:0], bias[31:0]} and written to entry qaddr + column.
// 16 banks by entry mod 16, so an EPILOGUE reads its 16 consecutive entries
// (from any qaddr) in one cycle (port B); the READ streamer reads one entry
// per result (port A; AP consecutive entries for a wide host port's READ,
// the same bank rotation as port B). Both ports answer one cycle after the request; port B
// wins a collision and port A's user waits (hold). mult >= 2^31 or shift > 62
// sets err_o (ARG).
module sparq_ctrl_qmem #(
    parameter QDEPTH = 16384, // entries (power of two, >= 32)
    parameter EL     = 16,    // entries port B returns (channels of an epilogue frame)
    parameter QW     = 69,
    parameter AP     = 1,     // entries port A returns (1..16)
    parameter QA = $clog2(QDEPTH) // derived
) (
    input  wire             clk_i,
    input  wire             rst_ni,
    input  wire             start_i,  // a WRITE_Q is being checked: restart at qaddr_i
    input  wire [QA-1:0]    qaddr_i,
    input  wire             byte_i,   // a payload byte arrives
    input  wire [7:0]       data_i,
    output reg              err_o,
    input  wire             a_re_i,
    input  wire [QA-1:0]    a_addr_i,
    output wire [32*AP-1:0] a_bias_o, // entry a_addr + j in lane j
    output wire [31*AP-1:0] a_mult_o,
    output wire [6*AP-1:0]  a_shift_o,
    input  wire             b_re_i,
    input  wire [QA-1:0]    b_base_i,
    output wire [EL*QW-1:0] b_data_o  // entry b_base + c in [QW*c +: QW]
);
    generate
        if (QDEPTH < 32 || (QDEPTH & (QDEPTH - 1)) != 0 || EL < 1 || EL > 16 || QW != 69 ||
            AP < 1 || AP > 16) begin : g_bad_params
            sparq_ctrl_qmem_illegal_parameters u_stop ();
        end
    endgenerate

    reg [QA-1:0] idx_q, idx_d;   // entry being received
    reg [3:0]    bi_q, bi_d;     // byte within the entry
    reg          err_d;
    reg [31:0]   bias_q;
    reg [30:0]   mult_q;

    always @* begin
        idx_d = idx_q;
        bi_d = bi_q;
        err_d = err_o;
        if (start_i) begin
            idx_d = qaddr_i;
            bi_d = 4'd0;
            err_d = 1'b0;
        end else if (byte_i) begin
            if (bi_q == 4'd8) begin
                bi_d = 4'd0;
                idx_d = idx_q + {{(QA-1){1'b0}}, 1'b1};
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
            idx_q <= idx_d;
            bi_q <= bi_d;
            err_o <= err_d;
            if (byte_i && !start_i) begin
                if (bi_q < 4'd4)
                    bias_q[8*bi_q[1:0] +: 8] <= data_i;
                else if (bi_q < 4'd7)
                    mult_q[8*bi_q[1:0] +: 8] <= data_i;
                else if (bi_q == 4'd7)
                    mult_q[30:24] <= data_i[6:0];
            end
        end
    end
    wire         we = rst_ni && byte_i && !start_i && bi_q == 4'd8;
    wire [QW-1:0] wentry = {data_i[5:0], mult_q, bias_q};

    reg  [3:0]    a_sel_q, b_sel_q;
    wire [QW-1:0] bank [0:15];
    genvar b;
    generate
        for (b = 0; b < 16; b = b + 1) begin : g_bank
            // port B: the first entry >= b_base that falls in bank b
            /* verilator lint_off CMPCONST */
            wire [QA-5:0] brow = b_base_i[QA-1:4] + {{(QA-5){1'b0}}, (b[3:0] < b_base_i[3:0])};
            wire [QA-5:0] arow = a_addr_i[QA-1:4] + {{(QA-5){1'b0}}, (AP > 1 && b[3:0] < a_addr_i[3:0])};
            /* verilator lint_on CMPCONST */
            sparq_ram #(.WIDTH(QW), .DEPTH(QDEPTH / 16)) u_mem (
                .clk_i   (clk_i),
                .we_i    (we && idx_q[3:0] == b[3:0]),
                .re_i    (a_re_i || b_re_i),
                .waddr_i (idx_q[QA-1:4]),
                .wdata_i (wentry),
                .raddr_i (b_re_i ? brow : arow),
                .rdata_o (bank[b])
            );
        end
        for (b = 0; b < EL; b = b + 1) begin : g_lane
            wire [3:0] s = b_sel_q + b[3:0];
            assign b_data_o[QW*b +: QW] = bank[s];
        end
    endgenerate
    always @(posedge clk_i) begin
        a_sel_q <= a_addr_i[3:0];
        b_sel_q <= b_base_i[3:0];
    end
    generate
        for (b = 0; b < AP; b = b + 1) begin : g_alane
            wire [3:0]    s = a_sel_q + b[3:0];
            wire [QW-1:0] a_e = bank[s];
            assign a_bias_o[32*b +: 32] = a_e[31:0];
            assign a_mult_o[31*b +: 31] = a_e[62:32];
            assign a_shift_o[6*b +: 6] = a_e[68:63];
        end
    endgenerate
endmodule
`default_nettype wire
