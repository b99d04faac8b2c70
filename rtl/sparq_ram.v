`default_nettype none
// Simple dual-port RAM: one write port, one registered read port (one
// cycle latency) with a read enable (the output holds while re_i is low),
// the shape Yosys maps onto FPGA block RAM.
module sparq_ram #(
    parameter WIDTH = 32,  // bits per word
    parameter DEPTH = 256, // words
    parameter AW = (DEPTH > 1) ? $clog2(DEPTH) : 1 // address bits (derived)
) (
    input  wire             clk_i,
    input  wire             we_i,
    input  wire             re_i,
    input  wire [AW-1:0]    waddr_i,
    input  wire [WIDTH-1:0] wdata_i,
    input  wire [AW-1:0]    raddr_i,
    output reg  [WIDTH-1:0] rdata_o
);
    generate
        if (WIDTH < 1 || DEPTH < 2) begin : g_bad_params
            sparq_ram_illegal_parameters u_stop ();
        end
    endgenerate

    reg [WIDTH-1:0] mem_q [0:DEPTH-1];
`ifdef VERILATOR
    // Simulation model, same behaviour: mem_q is used only in this block and
    // read before it is written, so a blocking write gives the read the old
    // word as the non-blocking one does, and spares Verilator the delayed
    // write's flag, value and address copies every cycle for each of the
    // 256 memories of the simulated build (docs/accelerator.md).
    /* verilator lint_off BLKSEQ */
    always @(posedge clk_i) begin
        if (re_i)
            rdata_o <= mem_q[raddr_i];
        if (we_i)
            mem_q[waddr_i] = wdata_i;
    end
    /* verilator lint_on BLKSEQ */
`else
    always @(posedge clk_i) begin
        if (we_i)
            mem_q[waddr_i] <= wdata_i;
        if (re_i)
            rdata_o <= mem_q[raddr_i];
    end
`endif
endmodule
`default_nettype wire
