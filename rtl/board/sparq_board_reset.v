`default_nettype none
// Board reset, shared by the accelerator image and the loopback image: a
// power-on counter, then the FX2's FPGA_RESET line (PD0, vendor request
// SPARQ_REQ_FPGA_RESET), synchronised to the one clock (IFCLK).
module sparq_board_reset (
    input  wire clk_i,
    input  wire fpga_reset_i, // FX2 PD0, active high
    output wire rst_no
);
    reg [7:0] por_q = 8'd0; // iCE40 FFs power up as 0; the only initialised register
    reg [1:0] rst_sync_q = 2'b11;
    always @(posedge clk_i) begin
        if (!por_q[7])
            por_q <= por_q + 8'd1;
        rst_sync_q <= {rst_sync_q[0], fpga_reset_i};
    end
    assign rst_no = por_q[7] && !rst_sync_q[1];
endmodule
`default_nettype wire
