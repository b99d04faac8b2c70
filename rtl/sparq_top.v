`default_nettype none
// sparq accelerator top level: a byte-stream host port shaped like a USB
// bridge FIFO (Cypress FX2 slave FIFO / FT245 synchronous FIFO: 8-bit data,
// valid/ready per direction), the command controller and the compute engine.
// FX2 mapping: rx_valid_i = !EF (OUT FIFO not empty), rx_ready_o = SLRD,
// tx_valid_o = SLWR, tx_ready_i = !FF (IN FIFO not full).
// PORT_BYTES = 2 or 4: a word-wide port like an FT600/FT601's 16/32-bit FIFO
// bus; rx_valid_i and tx_valid_o are then the word's byte enables (BE[3:0]:
// the valid bytes are the low ones, any word may be partial) and the first
// stream byte is in bits [7:0] (docs/accelerator.md, "Host port").
module sparq_top #(
    parameter ROWS    = 16,   // array rows (frames per tile); a power of two
    parameter COLS    = 16,   // array columns (output channels per tile)
    parameter WDEPTH  = 1024, // weight entries per column per bank (power of two)
    parameter XDEPTH  = 4096, // activation words (4 x int8) per row per bank (power of two)
    parameter RDEPTH  = 256,  // result frames (power of two, >= ROWS)
    parameter TIMEOUT = 4096, // rx idle cycles that end a partial packet (multiple of 256)
    parameter CNT_W   = 64,   // performance counter bits (32..64); COUNTERS zero-extends to u64
    parameter RQ_SERIAL = 0,  // 1: multi-cycle requantizer on READ (about 300 LUTs instead of a
                              //    32x31 multiplier; for iCE40, docs/board.md)
    parameter WL_DBUF = 1,    // 1: double-buffered weight-block loader; 0: single buffer (rx waits
                              //    while a block's entries are written; 144 fewer flip-flops)
    parameter CHK_REG = 0,    // 1: argument/length checks registered (+1 cycle per command);
                              //    2: their products too (+2 cycles; the UP5K)
    parameter LANES   = 1,    // MAC lanes per PE: 1 (one int8 MAC a cycle, the iCE40 board) or 4
                              //    (precision-scalable: int4 2, int2 4 MACs a cycle; sim/sim.mk)
    // Protocol version 3 (docs/protocol.md); the defaults are the v1/v2 feature set of the
    // boards, and any other value makes IDENTIFY answer version 3.
    parameter XBANKS  = 2,    // activation banks (power of two, 2..16)
    parameter RBUFS   = 1,    // result buffers (2: a READ of one streams while a job writes the other)
    parameter WSTORE  = 0,    // weight-store entries per column (0: none; else a power of two >= 16)
    parameter QDEPTH  = COLS, // requant parameter entries (> COLS: a power of two >= 32)
    parameter LUTS    = 0,    // 256-entry int8 tables for EPILOGUE (0: none; needs LANES = 4)
    parameter PORT_BYTES = 1  // host port bytes per clock: 1 (FX2, UART), 2 (FT600) or 4 (FT601;
                              //    needs the version-3 features, sim/sim.mk)
) (
    input  wire                    clk_i,
    input  wire                    rst_ni,
    input  wire [8*PORT_BYTES-1:0] rx_data_i,
    input  wire [PORT_BYTES-1:0]   rx_valid_i,
    output wire                    rx_ready_o,
    output wire [8*PORT_BYTES-1:0] tx_data_o,
    output wire [PORT_BYTES-1:0]   tx_valid_o,
    input  wire                    tx_ready_i
);
    localparam WA = $clog2(WDEPTH);
    localparam XA = $clog2(XDEPTH);
    localparam RA = $clog2(RDEPTH);
    localparam CB = (COLS > 1) ? $clog2(COLS) : 1;
    localparam RB = (ROWS > 1) ? $clog2(ROWS) : 1;
    localparam XBB = (XBANKS > 1) ? $clog2(XBANKS) : 1;
    localparam SA = (WSTORE > 1) ? $clog2(WSTORE) : 1;
    localparam LB = (LUTS > 1) ? $clog2(LUTS) : 1;
    localparam EL = (COLS < 16) ? COLS : 16;
    localparam WL = (LANES == 4) ? 4 : 1; // weight entries per loader write

    wire          eng_start, eng_wbank, eng_acc, eng_busy, eng_wbank_cur;
    wire [XBB-1:0] eng_xbank, eng_xbank_cur;
    wire [1:0]    eng_job, eng_job_cur;
    wire          eng_rbuf, eng_rbuf_cur;
    wire [SA-1:0] eng_saddr, w_saddr;
    wire [7:0]    eng_lut;
    wire          w_st, r_buf, qb_re, lut_we;
    wire [EL*69-1:0] qb_data;
    wire [LB+7:0] lut_waddr;
    wire [7:0]    lut_wdata;
    wire [1:0]    eng_width;
    wire [2:0]    eng_kept;
    wire [15:0]   eng_t, eng_ncols, eng_kblocks;
    wire [19:0]   eng_xstride, eng_xoff;
    wire [WL-1:0] w_we;
    wire          x_we, cnt_clear;
    wire [CB-1:0] w_col, r_col;
    wire [WA:0]   w_addr;
    wire [10*WL-1:0] w_data;
    wire [RB-1:0] x_row;
    wire [XBB+XA-1:0] x_addr;
    wire [31:0]   x_data, r_data;
    wire [32*COLS-1:0] r_all;
    wire [RA-1:0] r_addr;
    wire          r_re;
    wire [CNT_W-1:0] busy_cnt, macs_cnt;

    sparq_ctrl #(
        .ROWS(ROWS), .COLS(COLS), .WDEPTH(WDEPTH), .XDEPTH(XDEPTH), .RDEPTH(RDEPTH), .TIMEOUT(TIMEOUT),
        .CNT_W(CNT_W), .RQ_SERIAL(RQ_SERIAL), .WL_DBUF(WL_DBUF), .CHK_REG(CHK_REG),
        .LANES(LANES), .XBANKS(XBANKS), .RBUFS(RBUFS), .WSTORE(WSTORE), .QDEPTH(QDEPTH), .LUTS(LUTS),
        .PORT_BYTES(PORT_BYTES)
    ) u_ctrl (
        .clk_i(clk_i), .rst_ni(rst_ni),
        .rx_data_i(rx_data_i), .rx_valid_i(rx_valid_i), .rx_ready_o(rx_ready_o),
        .tx_data_o(tx_data_o), .tx_valid_o(tx_valid_o), .tx_ready_i(tx_ready_i),
        .eng_start_o(eng_start), .eng_job_o(eng_job), .eng_wbank_o(eng_wbank), .eng_xbank_o(eng_xbank),
        .eng_rbuf_o(eng_rbuf), .eng_saddr_o(eng_saddr), .eng_lut_o(eng_lut), .eng_acc_o(eng_acc),
        .eng_width_o(eng_width), .eng_kept_o(eng_kept), .eng_t_o(eng_t), .eng_ncols_o(eng_ncols),
        .eng_kblocks_o(eng_kblocks), .eng_xstride_o(eng_xstride), .eng_xoff_o(eng_xoff), .eng_busy_i(eng_busy),
        .eng_job_i(eng_job_cur), .eng_wbank_i(eng_wbank_cur), .eng_xbank_i(eng_xbank_cur), .eng_rbuf_i(eng_rbuf_cur),
        .w_we_o(w_we), .w_st_o(w_st), .w_col_o(w_col), .w_addr_o(w_addr), .w_saddr_o(w_saddr), .w_data_o(w_data),
        .x_we_o(x_we), .x_row_o(x_row), .x_addr_o(x_addr), .x_data_o(x_data),
        .r_buf_o(r_buf), .r_addr_o(r_addr), .r_col_o(r_col), .r_re_o(r_re), .r_data_i(r_data), .r_all_i(r_all),
        .qb_re_i(qb_re), .qb_data_o(qb_data), .lut_we_o(lut_we), .lut_waddr_o(lut_waddr), .lut_wdata_o(lut_wdata),
        .cnt_clear_o(cnt_clear), .busy_cnt_i(busy_cnt), .macs_cnt_i(macs_cnt)
    );

    sparq_engine #(
        .ROWS(ROWS), .COLS(COLS), .WDEPTH(WDEPTH), .XDEPTH(XDEPTH), .RDEPTH(RDEPTH), .CNT_W(CNT_W),
        .LANES(LANES), .XBANKS(XBANKS), .RBUFS(RBUFS), .WSTORE(WSTORE), .LUTS(LUTS)
    ) u_engine (
        .clk_i(clk_i), .rst_ni(rst_ni),
        .start_i(eng_start), .job_i(eng_job), .wbank_i(eng_wbank), .xbank_i(eng_xbank), .rbuf_i(eng_rbuf),
        .saddr_i(eng_saddr), .lut_i(eng_lut), .acc_i(eng_acc),
        .width_i(eng_width), .kept_i(eng_kept), .t_i(eng_t), .ncols_i(eng_ncols), .kblocks_i(eng_kblocks),
        .xstride_i(eng_xstride), .xoff_i(eng_xoff),
        .busy_o(eng_busy), .job_o(eng_job_cur), .wbank_o(eng_wbank_cur), .xbank_o(eng_xbank_cur),
        .rbuf_o(eng_rbuf_cur),
        .w_we_i(w_we), .w_st_i(w_st), .w_col_i(w_col), .w_addr_i(w_addr), .w_saddr_i(w_saddr), .w_data_i(w_data),
        .x_we_i(x_we), .x_row_i(x_row), .x_addr_i(x_addr), .x_data_i(x_data),
        .r_buf_i(r_buf), .r_addr_i(r_addr), .r_col_i(r_col), .r_re_i(r_re), .r_data_o(r_data), .r_all_o(r_all),
        .qb_re_o(qb_re), .qb_data_i(qb_data), .lut_we_i(lut_we), .lut_waddr_i(lut_waddr), .lut_wdata_i(lut_wdata),
        .cnt_clear_i(cnt_clear), .busy_cnt_o(busy_cnt), .macs_cnt_o(macs_cnt)
    );
endmodule
`default_nettype wire
