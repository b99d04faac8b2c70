`default_nettype none
// Activation writes for the bit-serial engine (sparq_engine, LANES = 0),
// whose row memories hold 16-bit halves {bank, word, half}: a 32-bit word
// write becomes the low half now and the high half the next cycle. The
// loaders write a word at most every 4 cycles (a byte-wide link), so the
// high half never meets the next word.
module sparq_xhalf #(
    parameter AW = 9, // word address bits {bank, word}
    parameter RB = 4  // row bits
) (
    input  wire          clk_i,
    input  wire          rst_ni,
    input  wire          we_i,
    input  wire [RB-1:0] row_i,
    input  wire [AW-1:0] addr_i,
    input  wire [31:0]   data_i,
    output wire          we_o,
    output wire [RB-1:0] row_o,
    output wire [AW:0]   addr_o, // {addr, half}
    output wire [15:0]   data_o
);
    reg          pend_q;
    reg [RB-1:0] row_q;
    reg [AW-1:0] addr_q;
    reg [15:0]   data_q;
    always @(posedge clk_i) begin
        if (!rst_ni)
            pend_q <= 1'b0;
        else
            pend_q <= we_i;
        if (we_i) begin
            row_q <= row_i;
            addr_q <= addr_i;
            data_q <= data_i[31:16];
        end
    end
`ifdef VERILATOR
    // a high half would be lost: a port that writes a word a cycle (PORT_BYTES 4) cannot feed LANES = 0
    always @(posedge clk_i)
        if (rst_ni && we_i && pend_q)
            $fatal(1, "sparq_xhalf: activation words on consecutive cycles");
`endif
    assign we_o = we_i || pend_q;
    assign row_o = we_i ? row_i : row_q;
    assign addr_o = we_i ? {addr_i, 1'b0} : {addr_q, 1'b1};
    assign data_o = we_i ? data_i[15:0] : data_q;
endmodule
`default_nettype wire
