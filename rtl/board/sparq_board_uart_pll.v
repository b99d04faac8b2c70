`default_nettype none
// iCE40 PLL for the UART boards: the board oscillator (12 MHz on the
// iCEBreaker and the HX8K breakout) to the design clock, on a global net.
// Divider values come from `icepll -i 12 -o MHZ` (board.mk passes them);
// USE_PLL 0 runs the design on the oscillator itself. PAD 1: the
// oscillator pin is the PLL's own input pad (the UP5K's pin 35 is: nextpnr
// cannot route it through the fabric to the PLL), 0: any global clock pin.
module sparq_board_uart_pll #(
    parameter USE_PLL      = 1,
    parameter PAD          = 0,
    parameter [3:0] DIVR   = 4'd0,      // 12 MHz -> 24 MHz (icepll -i 12 -o 24)
    parameter [6:0] DIVF   = 7'd63,
    parameter [2:0] DIVQ   = 3'd5,
    parameter [2:0] FILTER = 3'd1
) (
    input  wire osc_i,
    output wire clk_o,
    output wire lock_o
);
    generate
        if (USE_PLL != 0 && PAD != 0) begin : g_pad_pll
            SB_PLL40_PAD #(
                .FEEDBACK_PATH("SIMPLE"),
                .DIVR(DIVR),
                .DIVF(DIVF),
                .DIVQ(DIVQ),
                .FILTER_RANGE(FILTER)
            ) u_pll (
                .PACKAGEPIN(osc_i),
                .PLLOUTGLOBAL(clk_o),
                .LOCK(lock_o),
                .RESETB(1'b1),
                .BYPASS(1'b0)
            );
        end else if (USE_PLL != 0) begin : g_pll
            SB_PLL40_CORE #(
                .FEEDBACK_PATH("SIMPLE"),
                .DIVR(DIVR),
                .DIVF(DIVF),
                .DIVQ(DIVQ),
                .FILTER_RANGE(FILTER)
            ) u_pll (
                .REFERENCECLK(osc_i),
                .PLLOUTGLOBAL(clk_o),
                .LOCK(lock_o),
                .RESETB(1'b1),
                .BYPASS(1'b0)
            );
        end else begin : g_osc
            assign clk_o  = osc_i;
            assign lock_o = 1'b1;
        end
    endgenerate
endmodule
`default_nettype wire
