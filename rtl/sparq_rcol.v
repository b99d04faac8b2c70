`default_nettype none
// One column's result memory and its read-modify-write writer (sparq_engine):
// RBUFS buffers of RDEPTH frames. A job's results leave the array in frame
// order; the writer reads the old word of a result's frame the cycle the
// result arrives and writes old + result (accumulate) or the result the next.
//
// RCH = 2 (the broadcast array's two result chains, LANES = 4): a pair of
// frames (2k, 2k+1) arrives a cycle, so each buffer is two banks by frame
// parity, each with its own writer, both at the pair's address k. A read of
// frame a (the epilogue's, the controller's READ) reads a / 2 in both banks
// and picks the bank a cycle later by a's parity (ep_par_i, r_par_i): the
// reply bytes do not change. RCH = 1 (one chain, the board builds) is one bank.
module sparq_rcol #(
    parameter RDEPTH    = 256, // frames per buffer
    parameter RBUFS     = 1,   // buffers: 1 or 2
    parameter RCH       = 1,   // results per cycle: 1 or 2
    parameter GATE_IDLE = 0,   // hold the data registers while no result comes (sparq_engine)
    parameter RA = $clog2(RDEPTH),            // derived: frame address bits
    parameter TW = RA + 1,                    // derived: frame counter bits
    parameter BA = (RCH == 2) ? RA - 1 : RA   // derived: bank address bits
) (
    input  wire          clk_i,
    input  wire          rst_ni,
    input  wire          idle_i,     // no job runs: the frame counter restarts
    input  wire          busy_i,     // a job runs: its buffer is read at the job's address
    input  wire          res_v_i,    // a result (RCH = 2: a pair) leaves the column
    input  wire [31:0]   res_i,      // frame 2k (RCH = 2) or the next frame
    /* verilator lint_off UNUSEDSIGNAL */ // (RCH = 1)
    input  wire [31:0]   res2_i,     // frame 2k + 1 (RCH = 2)
    input  wire          ep_par_i,   // ep_addr_i[0] of the cycle before
    input  wire          r_par_i,    // r_addr_i[0] of the cycle before
    input  wire          r_buf_i,    // the READ's buffer of the cycle before (RBUFS = 2: data select)
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire          col_i,      // the column is one of the job's
    input  wire [TW-1:0] t_i,        // the job's frames
    input  wire          acc_i,      // add into the memory
    input  wire          rbuf_i,     // the job's buffer
    input  wire          epi_i,      // the job is an EPILOGUE: it reads ep_addr_i
    input  wire [RA-1:0] ep_addr_i,
    input  wire          re_i,       // read enable of every bank
    input  wire [RA-1:0] r_addr_i,   // the READ's frame (the buffer the job does not use)
    output wire [31:0]   job_data_o, // the job's buffer at ep_addr_i, a cycle later
    output wire [31:0]   rd_data_o   // the READ's buffer at r_addr_i, a cycle later
);
    generate
        if ((RCH != 1 && RCH != 2) || RBUFS < 1 || RBUFS > 2 || RDEPTH < 2 * RCH) begin : g_bad_params
            sparq_rcol_illegal_parameters u_stop ();
        end
    endgenerate

    reg  [TW-1:0]      fr_q;     // frame (RCH = 2: pair) of the next result leaving the column
    wire [RCH-1:0]     keep;     // bank b's result is one of the job's
    reg  [RCH-1:0]     a_v_q;
    reg  [BA-1:0]      a_addr_q;
    reg  [32*RCH-1:0]  a_item_q;
    wire [32*RCH-1:0]  items;
    wire [31:0]        rj [0:RCH-1]; // bank b of the job's buffer
    wire [31:0]        rr [0:RCH-1]; // bank b of the READ's buffer
    always @(posedge clk_i) begin
        if (!rst_ni) begin
            a_v_q <= {RCH{1'b0}};
        end else begin
            a_v_q <= keep;
        end
        // (before fr_q's update: Verilator then needs no shadow copy of fr_q)
        if (keep[0] || !GATE_IDLE) begin // used with a_v_q only (bank 1 keeps only with bank 0)
            a_addr_q <= fr_q[BA-1:0];
            a_item_q <= items;
        end
        if (idle_i)
            fr_q <= {TW{1'b0}};
        else if (res_v_i)
            fr_q <= fr_q + {{(TW-1){1'b0}}, 1'b1};
    end
    /* verilator lint_off UNUSEDSIGNAL */ // (RCH = 2: the low bit picks the bank)
    wire [RA-1:0] ep_a = ep_addr_i, r_a = r_addr_i;
    /* verilator lint_on UNUSEDSIGNAL */
    wire [BA-1:0] job_raddr = epi_i ? ep_a[RA-1:RA-BA] : fr_q[BA-1:0];
    wire [BA-1:0] rd_raddr = r_a[RA-1:RA-BA];

    genvar b;
    generate
        for (b = 0; b < RCH; b = b + 1) begin : g_bank
            wire [TW:0] frame; // the frame of bank b's result
            if (RCH == 2) begin : g_pair
                assign frame = {fr_q, (b == 1)};
                assign items[32*b +: 32] = (b == 1) ? res2_i : res_i;
            end else begin : g_one
                assign frame = {1'b0, fr_q};
                assign items = res_i;
            end
            assign keep[b] = res_v_i && (frame < {1'b0, t_i}) && col_i;
            wire [31:0] wdata = (acc_i ? rj[b] : 32'd0) + a_item_q[32*b +: 32];
            wire [31:0] rd0;
            sparq_ram #(.WIDTH(32), .DEPTH(RDEPTH / RCH)) u_rmem (
                .clk_i   (clk_i),
                .we_i    (a_v_q[b] && !rbuf_i),
                .re_i    (re_i),
                .waddr_i (a_addr_q),
                .wdata_i (wdata),
                .raddr_i ((busy_i && !rbuf_i) ? job_raddr : rd_raddr),
                .rdata_o (rd0)
            );
            if (RBUFS > 1) begin : g_rbuf2
                wire [31:0] rd1;
                sparq_ram #(.WIDTH(32), .DEPTH(RDEPTH / RCH)) u_rmem1 (
                    .clk_i   (clk_i),
                    .we_i    (a_v_q[b] && rbuf_i),
                    .re_i    (re_i),
                    .waddr_i (a_addr_q),
                    .wdata_i (wdata),
                    .raddr_i ((busy_i && rbuf_i) ? job_raddr : rd_raddr),
                    .rdata_o (rd1)
                );
                assign rj[b] = rbuf_i ? rd1 : rd0;
                assign rr[b] = r_buf_i ? rd1 : rd0;
            end else begin : g_rbuf1
                assign rj[b] = rd0;
                assign rr[b] = rd0;
            end
        end
        if (RCH == 2) begin : g_sel2
            assign job_data_o = ep_par_i ? rj[1] : rj[0];
            assign rd_data_o = r_par_i ? rr[1] : rr[0];
        end else begin : g_sel1
            assign job_data_o = rj[0];
            assign rd_data_o = rr[0];
        end
    endgenerate
endmodule
`default_nettype wire
