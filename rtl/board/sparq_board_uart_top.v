`default_nettype none
// iCE40 UART board top (iCEBreaker UP5K, HX8K breakout): the sparq
// accelerator behind the board's FTDI UART, no other interface. Oscillator
// -> PLL -> one clock domain; reset from power-on and PLL lock
// (sparq_board_reset); LEDs for reset/error and link activity.
// Sizes and clocks per board: rtl/board/board.mk; pins: *.pcf.
module sparq_board_uart_top #(
    parameter ROWS      = 2,
    parameter COLS      = 2,
    parameter WDEPTH    = 256,
    parameter XDEPTH    = 256,
    parameter RDEPTH    = 64,
    parameter CNT_W     = 48,
    parameter CLK_HZ    = 24000000,  // design clock after the PLL
    parameter BAUD      = 3000000,   // host side: sparq ... --backend uart:/dev/ttyUSB1@BAUD
    parameter RX_FIFO   = 8,
    parameter USE_PLL   = 1,
    parameter PLL_PAD   = 0,         // 1: osc_i is the PLL's input pad (UP5K pin 35)
    parameter [3:0] PLL_DIVR = 4'd0,
    parameter [6:0] PLL_DIVF = 7'd63,
    parameter [2:0] PLL_DIVQ = 3'd5,
    parameter [2:0] PLL_FILTER = 3'd1,
    parameter LED_ON    = 1'b1       // LED polarity (iCEBreaker: 0, active low)
) (
    input  wire       osc_i,   // board oscillator
    input  wire       rx_i,    // FTDI TXD -> FPGA
    output wire       tx_o,    // FPGA -> FTDI RXD
    output wire [1:0] led_o    // 0: in reset or a line error seen, 1: link activity
);
    localparam CLKS_PER_BIT = CLK_HZ / BAUD;
    // Drop a partial packet after 40 ms of silence: less than the host's
    // SPARQ_UART_RX_TIMEOUT_MS (50 ms), longer than FTDI's 16 ms latency timer.
    localparam TIMEOUT = CLK_HZ / 25 / 256 * 256;
    generate
        if (CLK_HZ % BAUD != 0 || CLKS_PER_BIT < 4) begin : g_bad_params
            sparq_board_uart_top_baud_not_a_divisor_of_clock u_stop ();
        end
    endgenerate

    wire clk, lock, rst_n, activity, frame_err, overflow;
    sparq_board_uart_pll #(
        .USE_PLL(USE_PLL), .PAD(PLL_PAD), .DIVR(PLL_DIVR), .DIVF(PLL_DIVF), .DIVQ(PLL_DIVQ), .FILTER(PLL_FILTER)
    ) u_pll (.osc_i(osc_i), .clk_o(clk), .lock_o(lock));
    sparq_board_reset u_reset (.clk_i(clk), .fpga_reset_i(!lock), .rst_no(rst_n));

    sparq_board_uart_core #(
        .ROWS(ROWS), .COLS(COLS), .WDEPTH(WDEPTH), .XDEPTH(XDEPTH), .RDEPTH(RDEPTH), .TIMEOUT(TIMEOUT),
        .CNT_W(CNT_W), .RQ_SERIAL(1), .WL_DBUF(0), .CHK_REG(2), .CLKS_PER_BIT(CLKS_PER_BIT),
        .RX_FIFO(RX_FIFO)
    ) u_core (
        .clk_i(clk), .rst_ni(rst_n), .rx_i(rx_i), .tx_o(tx_o), .activity_o(activity),
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

    // Activity stretched to ~0.3 s so single commands blink.
    reg [22:0] act_q = 23'd0;
    always @(posedge clk) begin
        if (activity)
            act_q <= {23{1'b1}};
        else if (act_q != 23'd0)
            act_q <= act_q - 23'd1;
    end
    assign led_o = {act_q != 23'd0, !rst_n || error} ^ {2{!LED_ON}};
endmodule
`default_nettype wire
