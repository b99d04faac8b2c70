// Testbench: the whole board design (rtl/board/sparq_board_top.v: FX2
// slave-FIFO adapter + sparq_top, 2x2 array) driven through a model of the
// FX2's FIFOs exactly as the USB host would: command packets appear in EP2,
// replies are collected from EP6 and checked (framing, both CRCs, fields).
// Proves the adapter and the accelerator agree on the byte stream.
`timescale 1ns / 100ps
module tb_board;
    reg clk = 0, fpga_reset = 1;
    always #16.667 clk = !clk; // IFCLK 30 MHz
    wire [7:0] fd;
    wire slrd_n, slwr_n, sloe_n, pktend_n;
    wire [1:0] adr, led;
    reg [7:0] ep2 [0:255];
    reg [7:0] ep6 [0:1023];
    integer ep2_wr = 0, ep2_rd = 0, ep6_n = 0, committed = 0, cycles = 0, base = 0, errors = 0, k;
    assign fd = !sloe_n ? ep2[ep2_rd] : 8'bz;
    wire #5 flaga_n = !(ep2_rd == ep2_wr);
    wire flagb_n = 1'b1; // the host keeps EP6 drained

    sparq_board_top #(.ROWS(2), .COLS(2), .WDEPTH(256), .XDEPTH(256), .RDEPTH(64), .TIMEOUT(4096)) dut (
        .ifclk_i(clk), .fpga_reset_i(fpga_reset), .fd_io(fd), .flaga_ni(flaga_n), .flagb_ni(flagb_n),
        .slrd_no(slrd_n), .slwr_no(slwr_n), .sloe_no(sloe_n), .pktend_no(pktend_n), .fifoadr_o(adr), .led_o(led)
    );

    always @(posedge clk) begin
        cycles <= cycles + 1;
        if (!slrd_n && adr == 2'b00 && ep2_rd < ep2_wr)
            ep2_rd <= ep2_rd + 1;
        if (!slwr_n && adr == 2'b10) begin
            ep6[ep6_n] = fd;
            ep6_n = ep6_n + 1;
        end
        if (!pktend_n)
            committed = ep6_n;
    end

    function [15:0] crc16(input [15:0] c_in, input [7:0] d);
        integer b;
        reg [15:0] c;
        begin
            c = c_in ^ {d, 8'h00};
            for (b = 0; b < 8; b = b + 1)
                c = c[15] ? ({c[14:0], 1'b0} ^ 16'h1021) : {c[14:0], 1'b0};
            crc16 = c;
        end
    endfunction

    // A command with no body; corrupt != 0 breaks its header CRC.
    task send_cmd(input [7:0] op, input [7:0] seq, input integer corrupt);
        reg [15:0] c;
        reg [7:0] h [0:9];
        integer i;
        begin
            h[0] = 8'hA5; h[1] = op; h[2] = seq; h[3] = 0;
            h[4] = 0; h[5] = 0; h[6] = 0; h[7] = 0;
            c = 16'hFFFF;
            for (i = 0; i < 8; i = i + 1)
                c = crc16(c, h[i]);
            h[8] = c[7:0] ^ (corrupt ? 8'h01 : 8'h00);
            h[9] = c[15:8];
            @(negedge clk);
            for (i = 0; i < 10; i = i + 1)
                ep2[ep2_wr + i] = h[i];
            ep2[ep2_wr + 10] = 8'hFF; // crc of the empty body
            ep2[ep2_wr + 11] = 8'hFF;
            ep2_wr = ep2_wr + (corrupt ? 10 : 12);
        end
    endtask

    // Waits for a reply of `len` body bytes starting at ep6[base]; checks it.
    task expect_reply(input [7:0] status, input [7:0] seq, input [7:0] op, input integer len, input [8*80-1:0] what);
        reg [15:0] c;
        integer i, start;
        begin
            start = cycles;
            while (committed < base + 12 + len && cycles < start + 20000)
                @(posedge clk);
            c = 16'hFFFF;
            for (i = 0; i < 8; i = i + 1)
                c = crc16(c, ep6[base + i]);
            if (committed < base + 12 + len) begin
                $display("not ok - %0s: %0d of %0d reply bytes committed", what, committed - base, 12 + len);
                errors = errors + 1;
            end else if (ep6[base] !== 8'h5A || ep6[base + 1] !== status || ep6[base + 2] !== seq ||
                         ep6[base + 3] !== op || ep6[base + 4] !== len[7:0] ||
                         {ep6[base + 9], ep6[base + 8]} !== c) begin
                $display("not ok - %0s: reply header %h %h %h %h len %h crc %h%h (want %h)", what, ep6[base],
                         ep6[base + 1], ep6[base + 2], ep6[base + 3], ep6[base + 4], ep6[base + 9], ep6[base + 8], c);
                errors = errors + 1;
            end else begin
                c = 16'hFFFF;
                for (i = 0; i < len; i = i + 1)
                    c = crc16(c, ep6[base + 10 + i]);
                if ({ep6[base + 11 + len], ep6[base + 10 + len]} !== c) begin
                    $display("not ok - %0s: body crc mismatch", what);
                    errors = errors + 1;
                end else
                    $display("ok - %0s (reply committed after %0d cycles)", what, cycles - start);
            end
            base = base + 12 + len;
        end
    endtask

    initial begin
        repeat (8) @(posedge clk);
        fpga_reset = 0; // the firmware releases PD0
        repeat (300) @(posedge clk);
        send_cmd(8'h01, 8'h11, 0);
        // the board's bit-serial PEs (LANES = 0): version 2, lanes field (body byte 24) 0
        expect_reply(8'h00, 8'h11, 8'h01, 26, "IDENTIFY through FX2 EP2 -> FPGA -> EP6");
        if ({ep6[11], ep6[10]} === 16'd2 && {ep6[13], ep6[12]} === 16'd2 && {ep6[15], ep6[14]} === 16'd2 &&
            {ep6[35], ep6[34]} === 16'd0)
            $display("ok - IDENTIFY reports protocol version 2, lanes 0 (bit-serial) and the 2x2 array of the board");
        else begin
            $display("not ok - IDENTIFY fields: version %h%h rows %h%h cols %h%h lanes %h%h", ep6[11], ep6[10],
                     ep6[13], ep6[12], ep6[15], ep6[14], ep6[35], ep6[34]);
            errors = errors + 1;
        end
        send_cmd(8'h01, 8'h12, 1);
        expect_reply(8'h01, 8'h12, 8'h01, 0, "a header with a broken CRC gets status 'header crc'");
        send_cmd(8'h08, 8'h13, 0);
        expect_reply(8'h00, 8'h13, 8'h08, 40, "COUNTERS after the error: the device still answers");
        if ({ep6[base - 42 + 7], ep6[base - 42 + 6], ep6[base - 42 + 5], ep6[base - 42 + 4], ep6[base - 42 + 3],
             ep6[base - 42 + 2], ep6[base - 42 + 1], ep6[base - 42]} > 64'd300)
            $display("ok - COUNTERS total cycles count the time since reset");
        else begin
            $display("not ok - COUNTERS total cycles implausible");
            errors = errors + 1;
        end
        $display("# %0d cycles simulated", cycles);
        $finish;
    end
endmodule
