`default_nettype none
// ULX3S (ECP5 LFE5U-85F) top: the sparq accelerator behind the board's
// FT231X USB-serial bridge. 25 MHz oscillator -> EHXPLLL -> 60 MHz
// (CLKI_DIV 5, CLKFB_DIV 12, CLKOP_DIV 10: VCO 600 MHz, as ecppll -i 25
// -o 60 gives), 20 clocks per bit at 3 Mbaud (the FT231X's top rate).
// Pins: rtl/board/sparq_ulx3s.lpf. Sizes: board.mk (synth-ecp5).
module sparq_ulx3s_top #(
    parameter ROWS    = 16,
    parameter COLS    = 16,
    parameter WDEPTH  = 1024,
    parameter XDEPTH  = 4096,
    parameter RDEPTH  = 256,
    parameter CLK_HZ  = 60000000,  // after the PLL
    parameter BAUD    = 3000000,
    parameter RX_FIFO = 16
) (
    input  wire       clk_25mhz,
    input  wire       ftdi_txd,    // FT231X TXD -> FPGA
    output wire       ftdi_rxd,    // FPGA -> FT231X RXD
    output wire [7:0] led          // 0: in reset or a line error seen, 1: link activity
);
    localparam CLKS_PER_BIT = CLK_HZ / BAUD;
    localparam TIMEOUT = CLK_HZ / 25 / 256 * 256;  // 40 ms: under the host's 50 ms
    generate
        if (CLK_HZ % BAUD != 0 || CLKS_PER_BIT < 4) begin : g_bad_params
            sparq_ulx3s_top_baud_not_a_divisor_of_clock u_stop ();
        end
    endgenerate

    wire clk, lock, rst_n, activity, frame_err, overflow;
    (* FREQUENCY_PIN_CLKI = "25" *)
    (* FREQUENCY_PIN_CLKOP = "60" *)
    (* ICP_CURRENT = "12" *) (* LPF_RESISTOR = "8" *) (* MFG_ENABLE_FILTEROPAMP = "1" *) (* MFG_GMCREF_SEL = "2" *)
    EHXPLLL #(
        .PLLRST_ENA("DISABLED"), .INTFB_WAKE("DISABLED"), .STDBY_ENABLE("DISABLED"),
        .DPHASE_SOURCE("DISABLED"), .OUTDIVIDER_MUXA("DIVA"), .OUTDIVIDER_MUXB("DIVB"),
        .OUTDIVIDER_MUXC("DIVC"), .OUTDIVIDER_MUXD("DIVD"),
        .CLKI_DIV(5), .CLKOP_ENABLE("ENABLED"), .CLKOP_DIV(10), .CLKOP_CPHASE(4), .CLKOP_FPHASE(0),
        .FEEDBK_PATH("CLKOP"), .CLKFB_DIV(12)
    ) u_pll (
        .RST(1'b0), .STDBY(1'b0), .CLKI(clk_25mhz), .CLKOP(clk), .CLKFB(clk),
        .PHASESEL0(1'b0), .PHASESEL1(1'b0), .PHASEDIR(1'b1), .PHASESTEP(1'b1), .PHASELOADREG(1'b1),
        .PLLWAKESYNC(1'b0), .ENCLKOP(1'b0), .LOCK(lock)
    );
    sparq_board_reset u_reset (.clk_i(clk), .fpga_reset_i(!lock), .rst_no(rst_n));

    // The generic accelerator options (full requantizer, double-buffered
    // weights, combinational checks): the ECP5 has DSPs and room.
    sparq_board_uart_core #(
        .ROWS(ROWS), .COLS(COLS), .WDEPTH(WDEPTH), .XDEPTH(XDEPTH), .RDEPTH(RDEPTH), .TIMEOUT(TIMEOUT),
        .CNT_W(64), .RQ_SERIAL(0), .WL_DBUF(1), .CHK_REG(1), .CLKS_PER_BIT(CLKS_PER_BIT), .RX_FIFO(RX_FIFO)
    ) u_core (
        .clk_i(clk), .rst_ni(rst_n), .rx_i(ftdi_txd), .tx_o(ftdi_rxd), .activity_o(activity),
        .frame_err_o(frame_err), .overflow_o(overflow)
    );

    // Line errors are events; latch them so the LED shows one happened.
    reg err_q;
    always @(posedge clk) begin
        if (!rst_n)
            err_q <= 1'b0;
        else if (frame_err || overflow)
            err_q <= 1'b1;
    end
    wire error = err_q;

    reg [24:0] act_q = 25'd0;  // activity stretched to ~0.5 s
    always @(posedge clk) begin
        if (activity)
            act_q <= {25{1'b1}};
        else if (act_q != 25'd0)
            act_q <= act_q - 25'd1;
    end
    assign led = {6'd0, act_q != 25'd0, !rst_n || error};
endmodule
`default_nettype wire
