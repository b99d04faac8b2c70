`default_nettype none
// Cypress FX2LP slave FIFO (synchronous mode, 8-bit bus, IFCLK from the FX2)
// to two valid/ready byte streams. EP2 (FIFOADR 00) carries host -> FPGA
// bytes, EP6 (FIFOADR 10) FPGA -> host bytes; FLAGA is EP2 empty and FLAGB
// EP6 full (firmware/fx2_main.c sets PINFLAGSAB = 0xE8), all active low.
//
// Timing (why one strobe every other cycle): a flag pin reflects strobes the
// FX2 sampled at earlier edges only, so after a strobe the next decision
// must wait one cycle to see its effect. Flags go straight from the pin into
// the strobe registers (one cycle for pin -> LUT -> FF); every FX2-bound
// output is a register, and FIFOADR/SLOE never change on an edge that
// samples a strobe (FIFOADR hold time). One byte per 2 IFCLK cycles per
// direction: 15 MB/s at IFCLK = 30 MHz.
// Bus turnaround: the FPGA stops driving FD one cycle before SLOE asserts,
// and SLOE deasserts one cycle before the FPGA drives FD.
module sparq_fx2_fifo #(
    parameter PKTEND_IDLE = 64,  // idle tx cycles before a short IN packet is committed (PKTEND)
    parameter PACKET      = 512, // EP6 AUTOINLEN: the FX2 commits full packets itself (power of two)
    parameter DEPTH       = 4    // bytes buffered per direction (power of two, >= 2)
) (
    input  wire       clk_i,        // IFCLK
    input  wire       rst_ni,
    // FX2 pins (the board top level owns the tristate buffer of FD)
    input  wire [7:0] fd_i,
    output wire [7:0] fd_o,
    output wire       fd_oe_o,
    input  wire       ep2_empty_ni, // FLAGA: EP2 OUT FIFO empty (active low)
    input  wire       ep6_full_ni,  // FLAGB: EP6 IN FIFO full (active low)
    output wire       slrd_no,
    output wire       slwr_no,
    output wire       sloe_no,
    output wire       pktend_no,
    output wire [1:0] fifoadr_o,
    // host -> FPGA stream
    output wire [7:0] rx_data_o,
    output wire       rx_valid_o,
    input  wire       rx_ready_i,
    // FPGA -> host stream
    input  wire [7:0] tx_data_i,
    input  wire       tx_valid_i,
    output wire       tx_ready_o
);
    localparam AB = $clog2(DEPTH);           // FIFO pointer bits (derived)
    localparam PB = $clog2(PACKET);          // packet byte counter bits (derived)
    localparam IB = $clog2(PKTEND_IDLE + 1); // idle counter bits (derived)

    generate
        if (DEPTH < 2 || (DEPTH & (DEPTH - 1)) != 0 || PACKET < 2 || (PACKET & (PACKET - 1)) != 0 ||
            PKTEND_IDLE < 1) begin : g_bad_params
            sparq_fx2_fifo_illegal_parameters u_stop ();
        end
    endgenerate

    localparam MODE_RX = 1'b0, MODE_TX = 1'b1;
    localparam [1:0] ADR_EP2 = 2'b00, ADR_EP6 = 2'b10;

    // --- registers ---------------------------------------------------------
    reg          mode_q, mode_d;
    reg  [1:0]   turn_q, turn_d;    // turnaround cycles left after a mode switch
    reg          slrd_q, slrd_d, slwr_q, slwr_d, pktend_q, pktend_d, sloe_q, sloe_d, oe_q, oe_d;
    reg  [7:0]   fdo_q, fdo_d;
    reg  [PB-1:0] pkt_q, pkt_d;     // bytes in the EP6 packet being filled
    reg  [IB-1:0] idle_q, idle_d;   // cycles without tx data since the last write

    reg  [7:0]   rxm_q [0:DEPTH-1];
    reg  [AB:0]  rxw_q, rxr_q;
    reg  [7:0]   txm_q [0:DEPTH-1];
    reg  [AB:0]  txw_q, txr_q;

    wire [AB:0] rx_count = rxw_q - rxr_q;
    wire [AB:0] tx_count = txw_q - txr_q;
    wire        rx_full  = rx_count[AB];
    wire        tx_full  = tx_count[AB];

    assign rx_valid_o = rx_count != 0;
    assign rx_data_o  = rxm_q[rxr_q[AB-1:0]];
    assign tx_ready_o = !tx_full;

    wire rx_pop  = rx_valid_o && rx_ready_i;
    wire tx_push = tx_valid_i && tx_ready_o;
    wire rx_push = slrd_q;           // the FX2 hands over fd_i on this edge
    reg  tx_pop;

    // --- strobe and mode logic ---------------------------------------------
    wire ep2_has  = ep2_empty_ni;    // flag pins are active low
    wire ep6_room = ep6_full_ni;
    wire strobing = slrd_q || slwr_q || pktend_q;
    wire pkt_due  = pkt_q != 0 && idle_q == PKTEND_IDLE[IB-1:0];
    wire rx_go    = ep2_has && !rx_full;
    wire tx_go    = (tx_count != 0 || pkt_due) && ep6_room;

    always @* begin
        mode_d   = mode_q;
        turn_d   = turn_q != 2'd0 ? turn_q - 2'd1 : 2'd0;
        slrd_d   = 1'b0;
        slwr_d   = 1'b0;
        pktend_d = 1'b0;
        fdo_d    = fdo_q;
        pkt_d    = pkt_q;
        tx_pop   = 1'b0;
        idle_d   = (tx_count != 0 || tx_valid_i) ? {IB{1'b0}} :
                   (idle_q == PKTEND_IDLE[IB-1:0] ? idle_q : idle_q + {{(IB-1){1'b0}}, 1'b1});
        case (mode_q)
            MODE_RX: begin
                if (!strobing && tx_go && (!rx_go || tx_full)) begin
                    mode_d = MODE_TX;
                    turn_d = 2'd2;
                end else if (turn_q == 2'd0 && !slrd_q && rx_go) begin
                    slrd_d = 1'b1;
                end
            end
            default: begin // MODE_TX
                if (!strobing && rx_go && !tx_go) begin
                    mode_d = MODE_RX;
                    turn_d = 2'd2;
                end else if (turn_q == 2'd0 && !strobing && ep6_room) begin
                    if (tx_count != 0) begin
                        slwr_d = 1'b1;
                        fdo_d  = txm_q[txr_q[AB-1:0]];
                        tx_pop = 1'b1;
                        pkt_d  = pkt_q + {{(PB-1){1'b0}}, 1'b1}; // wraps at PACKET: auto-committed
                    end else if (pkt_due) begin
                        pktend_d = 1'b1;
                        pkt_d    = {PB{1'b0}};
                    end
                end
            end
        endcase
        // FD: the FX2 drives it while SLOE is low, we drive it in TX mode;
        // one quiet cycle between the two (turn_q counts it).
        sloe_d = mode_d == MODE_RX && turn_d <= 2'd1;
        oe_d   = mode_d == MODE_TX && turn_d <= 2'd1;
    end

    always @(posedge clk_i) begin
        if (!rst_ni) begin
            mode_q   <= MODE_RX;
            turn_q   <= 2'd2;
            slrd_q   <= 1'b0;
            slwr_q   <= 1'b0;
            pktend_q <= 1'b0;
            sloe_q   <= 1'b0;
            oe_q     <= 1'b0;
            pkt_q    <= {PB{1'b0}};
            idle_q   <= {IB{1'b0}};
            rxw_q    <= {(AB + 1){1'b0}};
            rxr_q    <= {(AB + 1){1'b0}};
            txw_q    <= {(AB + 1){1'b0}};
            txr_q    <= {(AB + 1){1'b0}};
        end else begin
            mode_q   <= mode_d;
            turn_q   <= turn_d;
            slrd_q   <= slrd_d;
            slwr_q   <= slwr_d;
            pktend_q <= pktend_d;
            sloe_q   <= sloe_d;
            oe_q     <= oe_d;
            pkt_q    <= pkt_d;
            idle_q   <= idle_d;
            if (rx_push)
                rxw_q <= rxw_q + {{AB{1'b0}}, 1'b1};
            if (rx_pop)
                rxr_q <= rxr_q + {{AB{1'b0}}, 1'b1};
            if (tx_push)
                txw_q <= txw_q + {{AB{1'b0}}, 1'b1};
            if (tx_pop)
                txr_q <= txr_q + {{AB{1'b0}}, 1'b1};
        end
    end

    // Datapath registers: no reset.
    always @(posedge clk_i) begin
        fdo_q <= fdo_d;
        if (rx_push)
            rxm_q[rxw_q[AB-1:0]] <= fd_i;
        if (tx_push)
            txm_q[txw_q[AB-1:0]] <= tx_data_i;
    end

    assign fd_o      = fdo_q;
    assign fd_oe_o   = oe_q;
    assign slrd_no   = !slrd_q;
    assign slwr_no   = !slwr_q;
    assign pktend_no = !pktend_q;
    assign sloe_no   = !sloe_q;
    assign fifoadr_o = mode_q == MODE_TX ? ADR_EP6 : ADR_EP2;
endmodule
`default_nettype wire
