// sf_sdram_stream: streaming read controller for one SDR SDRAM chip (burst length 1, CAS
// latency CL, one command per cycle). It implements `hw::sdram::Streamer` command for
// command: the state registers hold the Streamer's state before a cycle's decision, the
// decision is combinational, and the command it chooses is registered into the pins (so the
// chip sees command k in the cycle after the edge that chose it). One request at a time
// (req_ready: every READ of the last one issued; a request taken at an edge is served from
// the next, so no path runs from the request ports to the pins), in chunks of one row at most: ACTIVATE,
// READs back to back, PRECHARGE; every bank is closed between chunks. A REFRESH comes before
// a chunk that, with its worst-case OVERHEAD, would end past the refresh deadline REFI, and
// while idle once the overhead alone would. Timing rules are down-counters (cycles still to
// wait), so the design runs for ever. The word read by the READ chosen at edge k is on dq in
// the chip's cycle k + CL and leaves as rd_valid/rd_data one edge later.
// Address mapping (power-of-two geometry): addr = {row, bank, col}, so consecutive rows sit
// in different banks. Timing parameters are cycles at the design's clock (each at least 1).
// After reset it initialises the chip: INIT cycles of NOP, PRECHARGE ALL, two REFRESHes, LOAD
// MODE REGISTER (burst length 1, sequential, CAS latency CL), tMRD; requests wait for it.
// `quiet` (hw::sdram::Streamer::quiet): idle, no request, every wait over, no READ's word on
// its way, no REFRESH due; this cycle's command is then a NOP. `restart` at an edge where
// `quiet` holds (and no request is offered) brings the refresh deadline to now and clears the
// address registers: the state after it is Streamer::at_start's, whatever ran before, and its
// first command is a REFRESH. A design restarts its controller as each inference starts.
`timescale 1ns/1ps
`default_nettype none
module sf_sdram_stream #(
    parameter integer BA_W     = 2,    // bank address bits
    parameter integer RA_W     = 13,   // row address bits
    parameter integer CA_W     = 9,    // column address bits
    parameter integer A_W      = 13,   // address pins (>= RA_W, >= 11 for A10)
    parameter integer DW       = 16,   // data bus
    parameter integer LW       = 25,   // request length bits
    parameter integer CW       = 16,   // counter bits (holds REFI + OVERHEAD + 2^CA_W and INIT)
    parameter integer CL       = 2,
    parameter integer RCD      = 1,
    parameter integer RP       = 1,
    parameter integer RAS      = 3,
    parameter integer RC       = 4,
    parameter integer RRD      = 1,
    parameter integer RFC      = 4,
    parameter integer REFI     = 390,  // more than 2 x OVERHEAD + 16 (hw::sdram::Streamer::new)
    parameter integer INIT     = 5000, // power-up wait
    parameter integer MRD      = 2
) (
    input  wire                      clk,
    input  wire                      rst,
    input  wire                      req_valid,
    input  wire [RA_W+BA_W+CA_W-1:0] req_addr,
    input  wire [LW-1:0]             req_len,
    output wire                      req_ready,
    input  wire                      restart,   // with `quiet`: back to the start state (below)
    output wire                      quiet,
    output reg                       rd_valid,
    output reg  [DW-1:0]             rd_data,
    output reg                       sd_cs_n,
    output reg                       sd_ras_n,
    output reg                       sd_cas_n,
    output reg                       sd_we_n,
    output reg  [BA_W-1:0]           sd_ba,
    output reg  [A_W-1:0]            sd_a,
    input  wire [DW-1:0]             sd_dq
);
    localparam integer AW = RA_W + BA_W + CA_W;
    // hw::sdram::Streamer::overhead and ::budget: a chunk's worst-case cycles besides its
    // READs, and the most READs of a chunk.
    localparam integer OVERHEAD = RC + RP + RCD + RAS + CL + RFC + 4;
    localparam integer BUDGET = REFI - 2 * OVERHEAD;
    localparam integer NB = 1 << BA_W;
    localparam [1:0] IDLE = 2'd0, READING = 2'd1, CLOSING = 2'd2, INIT_SEQ = 2'd3;
    // Timing reloads (a counter holds the cycles still to wait after this one). Every value
    // fits its width: CW and LW are sized by the emitter (back::verilog::sdram) to hold them.
    /* verilator lint_off WIDTH */
    localparam [CW-1:0] RCD1 = RCD - 1, RP1 = RP - 1, RAS1 = RAS - 1, RC1 = RC - 1;
    localparam [CW-1:0] RRD1 = RRD - 1, RFC1 = RFC - 1, ONE = 1, INIT_W = INIT, MRD1 = MRD - 1, REFI_W = REFI;
    localparam [A_W-1:0] MODE = CL << 4;   // hw::sdram::mode_register
    localparam [CA_W:0] ROW_WORDS = 1 << CA_W;
    localparam [CA_W:0] BUDGET_C = BUDGET < (1 << CA_W) ? BUDGET : (1 << CA_W);
    localparam [CW:0]   SLACK = REFI - OVERHEAD;
    /* verilator lint_on WIDTH */

    reg [1:0]      phase;
    reg [2:0]      init_step;
    reg [CW-1:0]   init_left, mrd_left;
    reg [CW-1:0]   since_refresh;
    reg [CW-1:0]   rfc_left, rcd_left, ras_left, rrd_left;
    reg [CW-1:0]   rp_left [0:NB-1];
    reg [CW-1:0]   rc_left [0:NB-1];
    reg [AW-1:0]   addr;
    reg [LW-1:0]   left;
    reg [BA_W-1:0] bank;
    reg [CA_W-1:0] col;
    reg [CA_W:0]   chunk;
    reg [CL:0]     in_flight;   // bit j: a READ chosen j edges ago

    assign req_ready = left == 0;
    wire           take   = req_ready && req_valid && req_len != 0;
    // A request taken at an edge is served from the next: decisions use registered state only.
    wire [AW-1:0]  a_now  = addr;
    wire [CA_W-1:0] n_col = a_now[CA_W-1:0];
    wire [BA_W-1:0] n_bank = a_now[CA_W+BA_W-1:CA_W];
    wire [RA_W-1:0] n_row = a_now[AW-1:CA_W+BA_W];

    // Words of the next chunk: to the end of the row, of the request, of the budget. A chunk
    // is at most a row, so the sums are CA_W + 1 bits wide, not LW: the request's length is
    // clipped to a row first (min(cols - col, left) = min(cols - col, min(left, cols))), and
    // the budget to a row (BUDGET_C). It is a function of addr and left only, so it is
    // computed from their next values and registered with them (words_q, l_nz): the refresh
    // test and the ACTIVATE see a register, not the arithmetic. The refresh test compares
    // since_refresh + words with the constant REFI - OVERHEAD (positive: hw::sdram::Streamer
    // refuses timing where it is not).
    reg  [AW-1:0]  addr_n;
    reg  [LW-1:0]  left_n;
    wire           long_n     = |left_n[LW-1:CA_W];
    wire [CA_W:0]  l_clip     = long_n ? ROW_WORDS : left_n[CA_W:0];
    wire [CA_W:0]  to_row_end = ROW_WORDS - {1'b0, addr_n[CA_W-1:0]};
    wire [CA_W:0]  w_row      = to_row_end < l_clip ? to_row_end : l_clip;
    wire [CA_W:0]  words_n    = w_row < BUDGET_C ? w_row : BUDGET_C;
    reg  [CA_W:0]  words_q;
    reg            l_nz;
    wire [CW:0]    ahead      = {1'b0, since_refresh} + (l_nz ? {{(CW - CA_W){1'b0}}, words_q} : {(CW + 1){1'b0}});
    wire refresh_due = ahead > SLACK;

    integer i, b;
    reg all_rp, all_bank_waits;
    always @* begin
        all_rp = 1'b1;
        all_bank_waits = 1'b1;
        for (i = 0; i < NB; i = i + 1) begin
            if (rp_left[i] != 0) all_rp = 1'b0;
            if (rp_left[i] != 0 || rc_left[i] != 0) all_bank_waits = 1'b0;
        end
    end
    // `quiet` needs no request left, and l_nz is (left != 0) registered, so there `ahead` is
    // since_refresh alone: the refresh test in `quiet` is a compare of a register with a
    // constant, without the adder (it leads, through the design's start, to its requests).
    wire idle_due = {1'b0, since_refresh} > SLACK;
    assign quiet = phase == IDLE && left == 0 && in_flight == 0 && !idle_due && all_bank_waits
                   && rfc_left == 0 && rcd_left == 0 && ras_left == 0 && rrd_left == 0
                   && init_left == 0 && mrd_left == 0;
    wire do_restart = restart && quiet && !take;

    wire do_pa   = phase == INIT_SEQ && init_step == 0 && init_left == 0;
    wire do_iref = phase == INIT_SEQ && (init_step == 1 || init_step == 2) && rfc_left == 0 && all_rp;
    wire do_lmr  = phase == INIT_SEQ && init_step == 3 && rfc_left == 0;
    wire do_read = phase == READING && rcd_left == 0;
    wire do_pre  = phase == CLOSING && ras_left == 0;
    wire do_ref  = phase == IDLE && refresh_due && rfc_left == 0 && mrd_left == 0 && all_rp;
    wire do_act  = phase == IDLE && !refresh_due && l_nz && rfc_left == 0 && mrd_left == 0
                   && rp_left[n_bank] == 0 && rc_left[n_bank] == 0 && rrd_left == 0;

    always @* begin
        addr_n = addr;
        left_n = left;
        if (take) begin
            addr_n = req_addr;
            left_n = req_len;
        end else if (do_read) begin
            addr_n = addr + 1'b1;
            left_n = left - 1'b1;
        end
    end

    function [CW-1:0] down(input [CW-1:0] c);
        down = c == 0 ? {CW{1'b0}} : c - 1'b1;
    endfunction

    always @(posedge clk) begin
        if (rst) begin
            phase <= INIT_SEQ;
            init_step <= 0;
            init_left <= INIT_W;
            mrd_left <= 0;
            since_refresh <= 0;
            rfc_left <= 0; rcd_left <= 0; ras_left <= 0; rrd_left <= 0;
            for (b = 0; b < NB; b = b + 1) begin
                rp_left[b] <= 0;
                rc_left[b] <= 0;
            end
            addr <= 0; left <= 0; bank <= 0; col <= 0; chunk <= 0;
            words_q <= 0; l_nz <= 1'b0;
            in_flight <= 0;
            rd_valid <= 1'b0;
            rd_data <= 0;
            {sd_cs_n, sd_ras_n, sd_cas_n, sd_we_n} <= 4'b0111;
            sd_ba <= 0;
            sd_a <= 0;
        end else begin
            // Counters count the cycle; a command below reloads its own.
            rfc_left <= down(rfc_left);
            rcd_left <= down(rcd_left);
            ras_left <= down(ras_left);
            rrd_left <= down(rrd_left);
            init_left <= down(init_left);
            mrd_left <= down(mrd_left);
            for (b = 0; b < NB; b = b + 1) begin
                rp_left[b] <= down(rp_left[b]);
                rc_left[b] <= down(rc_left[b]);
            end
            since_refresh <= do_restart ? REFI_W : since_refresh + 1'b1;
            addr <= addr_n;
            left <= left_n;
            words_q <= words_n;
            l_nz <= left_n != 0;
            {sd_cs_n, sd_ras_n, sd_cas_n, sd_we_n} <= 4'b0111;   // NOP
            sd_ba <= 0;
            sd_a <= 0;
            if (do_pa) begin
                {sd_cs_n, sd_ras_n, sd_cas_n, sd_we_n} <= 4'b0010;
                sd_a[10] <= 1'b1;                                 // all banks
                for (b = 0; b < NB; b = b + 1) rp_left[b] <= RP1;
                init_step <= 1;
            end else if (do_iref) begin
                {sd_cs_n, sd_ras_n, sd_cas_n, sd_we_n} <= 4'b0001;
                rfc_left <= RFC1;
                since_refresh <= ONE;
                init_step <= init_step + 1'b1;
            end else if (do_lmr) begin
                {sd_cs_n, sd_ras_n, sd_cas_n, sd_we_n} <= 4'b0000;
                sd_a <= MODE;
                mrd_left <= MRD1;
                phase <= IDLE;                                    // the next command waits for tMRD
            end else if (do_read) begin
                {sd_cs_n, sd_ras_n, sd_cas_n, sd_we_n} <= 4'b0101;
                sd_ba <= bank;
                sd_a <= {{(A_W - CA_W){1'b0}}, col};                                     // A10 low: no auto precharge
                col <= col + 1'b1;
                chunk <= chunk - 1'b1;
                if (chunk == 1) phase <= CLOSING;
            end else if (do_pre) begin
                {sd_cs_n, sd_ras_n, sd_cas_n, sd_we_n} <= 4'b0010;
                sd_ba <= bank;                                    // A10 low: this bank
                rp_left[bank] <= RP1;
                phase <= IDLE;
            end else if (do_ref) begin
                {sd_cs_n, sd_ras_n, sd_cas_n, sd_we_n} <= 4'b0001;
                rfc_left <= RFC1;
                since_refresh <= ONE;
            end else if (do_act) begin
                {sd_cs_n, sd_ras_n, sd_cas_n, sd_we_n} <= 4'b0011;
                sd_ba <= n_bank;
                sd_a <= n_row;
                bank <= n_bank;
                col <= n_col;
                chunk <= words_q;
                rcd_left <= RCD1;
                ras_left <= RAS1;
                rc_left[n_bank] <= RC1;
                rrd_left <= RRD1;
                phase <= READING;
            end
            if (do_restart) begin
                addr <= 0; bank <= 0; col <= 0; chunk <= 0;
            end
            in_flight <= {in_flight[CL-1:0], do_read};
            rd_valid <= in_flight[CL];
            rd_data <= sd_dq;
        end
    end
endmodule
`default_nettype wire
