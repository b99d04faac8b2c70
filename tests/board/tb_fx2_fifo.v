// Testbench: rtl/board/sparq_fx2_fifo.v against a cycle model of the FX2LP
// slave FIFOs (EP2 OUT, EP6 IN; flags valid ~tXFLG after the edge that
// changed them). The DUT's streams are looped back through a queue with
// random backpressure. Checks: every byte arrives once and in order, no read
// of an empty or write of a full FIFO, no bus contention on FD, FIFOADR
// stable on strobe edges, no zero-length PKTEND, the tail committed.
// Randomised: +seed=N (lint.sh passes SPARQ_SEED) replays a run.
`timescale 1ns / 100ps
module tb_fx2_fifo;
    localparam N = 6000;       // bytes host -> FPGA -> host
    localparam EP6_CAP = 1024; // two 512-byte buffers
    reg clk = 0, rst_n = 0;
    always #16.667 clk = !clk; // IFCLK 30 MHz

    // FX2 model state
    reg [7:0] ep2 [0:N-1];
    integer ep2_wr = 0, ep2_rd = 0; // host has delivered ep2_wr bytes; FPGA read ep2_rd
    reg [7:0] got [0:N-1];
    integer ep6_cnt = 0, got_n = 0, committed = 0, since_commit = 0;
    integer errors = 0, zlp = 0, pktends = 0, cycles = 0, seed = 1, i, burst;

    wire [7:0] fd_o;
    wire fd_oe, slrd_n, slwr_n, sloe_n, pktend_n;
    wire [1:0] fifoadr;
    wire [7:0] fd_fx2 = (ep2_rd < ep2_wr) ? ep2[ep2_rd] : 8'hEE;
    wire [7:0] fd_bus = fd_oe ? fd_o : (!sloe_n ? fd_fx2 : 8'hZZ);
    wire #5 flaga_n = !(ep2_rd == ep2_wr);     // EP2 empty, active low
    wire #5 flagb_n = !(ep6_cnt >= EP6_CAP);   // EP6 full, active low

    // loopback through a queue with random backpressure
    wire [7:0] rx_data;
    wire rx_valid, tx_ready;
    reg rx_ready = 0;
    reg [7:0] lq [0:N-1];
    integer lq_wr = 0, lq_rd = 0;
    wire tx_valid = lq_rd < lq_wr;
    wire [7:0] tx_data = lq[lq_rd];

    sparq_fx2_fifo #(.PKTEND_IDLE(16)) dut (
        .clk_i(clk), .rst_ni(rst_n),
        .fd_i(fd_bus), .fd_o(fd_o), .fd_oe_o(fd_oe),
        .ep2_empty_ni(flaga_n), .ep6_full_ni(flagb_n),
        .slrd_no(slrd_n), .slwr_no(slwr_n), .sloe_no(sloe_n), .pktend_no(pktend_n), .fifoadr_o(fifoadr),
        .rx_data_o(rx_data), .rx_valid_o(rx_valid), .rx_ready_i(rx_ready),
        .tx_data_i(tx_data), .tx_valid_i(tx_valid), .tx_ready_o(tx_ready)
    );

    reg [1:0] adr_at_edge;
    reg strobe_at_edge;
    always @(posedge clk) begin
        cycles <= cycles + 1;
        adr_at_edge = fifoadr;
        strobe_at_edge = !slrd_n || !slwr_n || !pktend_n;
        if (fd_oe && !sloe_n) begin
            errors = errors + 1;
            $display("# cycle %0d: FD driven by both FPGA and FX2", cycles);
        end
        if (!slrd_n) begin
            if (fifoadr != 2'b00 || sloe_n) begin
                errors = errors + 1;
                $display("# cycle %0d: SLRD with FIFOADR %b SLOE_n %b", cycles, fifoadr, sloe_n);
            end else if (ep2_rd >= ep2_wr) begin
                errors = errors + 1;
                $display("# cycle %0d: read of empty EP2", cycles);
            end else
                ep2_rd <= ep2_rd + 1;
        end
        if (!slwr_n) begin
            if (fifoadr != 2'b10) begin
                errors = errors + 1;
                $display("# cycle %0d: SLWR with FIFOADR %b", cycles, fifoadr);
            end else if (ep6_cnt >= EP6_CAP) begin
                errors = errors + 1;
                $display("# cycle %0d: write to full EP6", cycles);
            end else begin
                got[got_n] = fd_bus;
                got_n = got_n + 1;
                since_commit = since_commit + 1;
                ep6_cnt = ep6_cnt + 1;
                if (since_commit == 512) begin // AUTOINLEN: committed by the FX2
                    committed = committed + 512;
                    since_commit = 0;
                end
            end
        end
        if (!pktend_n) begin
            pktends = pktends + 1;
            if (fifoadr != 2'b10 || since_commit == 0) begin
                zlp = zlp + 1;
                $display("# cycle %0d: PKTEND with FIFOADR %b and %0d bytes", cycles, fifoadr, since_commit);
            end
            committed = committed + since_commit;
            since_commit = 0;
        end
        // the host side: EP2 packets arrive in bursts, EP6 is drained in bursts
        if (($urandom % 64) == 0 && ep2_wr < N) begin
            burst = 1 + $urandom % 512;
            ep2_wr <= (ep2_wr + burst > N) ? N : ep2_wr + burst;
        end
        if (($urandom % 40) == 0)
            ep6_cnt = (ep6_cnt > 512) ? ep6_cnt - 512 : 0;
        // loopback queue
        rx_ready <= ($urandom % 4) != 0;
        // nonblocking: the DUT samples these streams on the same edge
        if (rx_valid && rx_ready) begin
            lq[lq_wr] <= rx_data;
            lq_wr <= lq_wr + 1;
        end
        if (tx_valid && tx_ready)
            lq_rd <= lq_rd + 1;
        #1;
        if (strobe_at_edge && fifoadr != adr_at_edge) begin
            errors = errors + 1;
            $display("# cycle %0d: FIFOADR changed on a strobe edge", cycles);
        end
    end

    initial begin
        if (!$value$plusargs("seed=%d", seed))
            seed = 1;
        $display("# seed %0d (replay with SPARQ_SEED=%0d)", seed, seed);
        i = $urandom(seed);
        for (i = 0; i < N; i = i + 1)
            ep2[i] = $urandom;
        repeat (4) @(posedge clk);
        rst_n = 1;
        wait (committed == N || cycles > 200000);
        repeat (50) @(posedge clk);
        for (i = 0; i < N; i = i + 1)
            if (i < got_n && got[i] !== ep2[i]) begin
                if (errors < 5)
                    $display("# byte %0d: got %h, sent %h", i, got[i], ep2[i]);
                errors = errors + 1;
            end
        if (errors == 0 && got_n == N)
            $display("ok 1 - %0d bytes looped through EP2 -> FPGA -> EP6 in order, none lost or repeated", N);
        else
            $display("not ok 1 - %0d of %0d bytes arrived, %0d errors", got_n, N, errors);
        if (committed == N && zlp == 0)
            $display("ok 2 - all bytes committed to the host (%0d short packets by PKTEND, no zero-length packet)", pktends);
        else
            $display("not ok 2 - %0d of %0d bytes committed, %0d bad PKTENDs", committed, N, zlp);
        $display("# %0d cycles for %0d bytes each way: %.3f bytes/cycle/direction with random host bursts",
                 cycles, N, N * 1.0 / cycles);
        $finish;
    end
endmodule
