// sf_sdram_model: command-level model of one SDR SDRAM chip, for simulation only (the
// Verilog twin of `sim::sdram::Sdram::power_up`, written for this project). It samples the
// command pins at each rising edge once `en` is high (its cycle 0 is the first such edge),
// keeps each bank's state and the cycle of every command, and stops the simulation with a line
// starting "SDRAM VIOLATION" (naming the rule, cycle, bank, cycles needed and waited) on any
// command that breaks tRCD, tRP, tRAS, tRC, tRRD, tRFC, tWR, tMRD or tREFI (the longest gap
// between REFRESH commands) or a state rule (READ/WRITE to a closed bank, ACTIVATE to an open
// one, REFRESH or LOAD MODE with a bank open, an address beyond the chip). The chip starts
// powered up: it refuses any command but NOP for INIT cycles, and any ACTIVATE, READ or WRITE
// until LOAD MODE REGISTER (burst length 1, CAS latency CL) follows two REFRESHes; the refresh
// interval counts once it is initialised. A READ's word is on dq through the model's cycle
// READ + CL (set at the edge that ends the cycle before). Burst length 1. The words are stored
// by word address ({row, bank, col}, the map of `hw::sdram::locate`), so IMAGE is a $readmemh
// image in address order; words beyond DEPTH (the stored part) read as zero, like words never
// written. LOG names a file that gets one line per command ("C cycle ACT bank row", "RD bank
// col", "WR bank col data", "PRE bank", "PREA", "REF", "MRS mode") and per word on the bus
// ("D cycle word", hex): the format `sim::sdram::log_command` writes for the same run.
`timescale 1ns/1ps
`default_nettype none
module sf_sdram_model #(
    parameter integer BA_W  = 2,
    parameter integer RA_W  = 13,
    parameter integer CA_W  = 9,
    parameter integer A_W   = 13,
    parameter integer DW    = 16,
    parameter integer ROWS  = 8192,
    parameter integer DEPTH = 65536,   // words stored, from address 0
    parameter integer CL    = 2,
    parameter integer RCD   = 1,
    parameter integer RP    = 1,
    parameter integer RAS   = 3,
    parameter integer RC    = 4,
    parameter integer RRD   = 1,
    parameter integer RFC   = 4,
    parameter integer WR    = 1,
    parameter integer REFI  = 390,
    parameter integer INIT  = 5000,
    parameter integer MRD   = 2,
    parameter         IMAGE = "",
    parameter         LOG   = ""
) (
    input  wire            clk,
    input  wire            en,
    input  wire            cs_n,
    input  wire            ras_n,
    input  wire            cas_n,
    input  wire            we_n,
    input  wire [BA_W-1:0] ba,
    input  wire [A_W-1:0]  a,
    input  wire [DW-1:0]   dq_in,
    output reg  [DW-1:0]   dq
);
    localparam integer NB = 1 << BA_W;
    localparam integer COLS = 1 << CA_W;

    reg [DW-1:0] mem [0:DEPTH-1];
    reg          open       [0:NB-1];
    reg [RA_W-1:0] open_row [0:NB-1];
    reg          has_act    [0:NB-1];
    reg [63:0]   act_at     [0:NB-1];
    reg          has_pre    [0:NB-1];
    reg [63:0]   pre_at     [0:NB-1];
    reg          has_wr     [0:NB-1];
    reg [63:0]   wr_at      [0:NB-1];
    reg          has_last_act, has_ref, ready, has_mode;
    reg [63:0]   mode_at;
    integer      init_refreshes;
    reg [63:0]   last_act, last_ref, ref_at;
    reg [63:0]   cycle;
    reg [DW-1:0] rd_word [0:CL];      // word due on the bus j cycles from this one
    reg          rd_due  [0:CL];
    integer      fd, b, j;
    reg [63:0]   idx;

    initial begin
        for (j = 0; j < DEPTH; j = j + 1) mem[j] = 0;
        if (IMAGE != "") $readmemh(IMAGE, mem);
        for (b = 0; b < NB; b = b + 1) begin
            open[b] = 0; has_act[b] = 0; has_pre[b] = 0; has_wr[b] = 0;
            open_row[b] = 0; act_at[b] = 0; pre_at[b] = 0; wr_at[b] = 0;
        end
        for (j = 0; j <= CL; j = j + 1) begin rd_word[j] = 0; rd_due[j] = 0; end
        ready = 0; has_mode = 0; mode_at = 0; init_refreshes = 0;
        has_last_act = 0; has_ref = 0; last_act = 0; last_ref = 0; ref_at = 0;
        cycle = 0;
        dq = 0;
        fd = 0;
        if (LOG != "") fd = $fopen(LOG, "w");
    end

    task fail(input [8*32-1:0] rule, input integer bank, input [63:0] needed, input [63:0] since);
        begin
            $display("SDRAM VIOLATION cycle %0d: %0s (bank %0d): %0d cycles needed, %0d waited",
                     cycle, rule, bank, needed, cycle - since);
            if (fd != 0) $fclose(fd);
            $finish;
        end
    endtask

    task after(input [8*32-1:0] rule, input integer bank, input has, input [63:0] since, input [63:0] needed);
        if (has && cycle - since < needed) fail(rule, bank, needed, since);
    endtask

    task check_pre(input integer bank);
        if (open[bank]) begin
            after("tRAS", bank, has_act[bank], act_at[bank], RAS);
            after("tWR", bank, has_wr[bank], wr_at[bank], WR);
        end
    endtask

    task do_pre(input integer bank);
        begin
            if (open[bank]) begin
                open[bank] = 0;
                has_pre[bank] = 1;
                pre_at[bank] = cycle;
            end
            has_wr[bank] = 0;
        end
    endtask

    wire [3:0] cmd = {cs_n, ras_n, cas_n, we_n};
    wire [CA_W-1:0] col = a[CA_W-1:0];

    always @(posedge clk) if (en) begin
        if (ready && cycle - last_ref > REFI) fail("tREFI", -1, REFI, last_ref);
        if (cmd != 4'b0111 && !cs_n) begin
            if (!ready && cycle < INIT) fail("power-up initialisation", -1, INIT, 0);
            after("tRFC", -1, has_ref, ref_at, RFC);
            after("tMRD", -1, has_mode, mode_at, MRD);
            if (!ready && (cmd[2:0] == 3'b011 || cmd[2:0] == 3'b101 || cmd[2:0] == 3'b100))
                fail("power-up initialisation", ba, 0, cycle);
        end
        // The word of a READ issued CL cycles ago is on the bus this cycle.
        for (j = 0; j < CL; j = j + 1) begin
            rd_word[j] = rd_word[j + 1];
            rd_due[j] = rd_due[j + 1];
        end
        rd_word[CL] = 0;
        rd_due[CL] = 0;
        if (!cs_n) case (cmd[2:0])
            3'b011: begin   // ACTIVATE
                if (a[A_W-1:0] >= ROWS) fail("address", ba, 0, cycle);
                if (open[ba]) fail("ACTIVATE to an open bank", ba, 0, cycle);
                after("tRP", ba, has_pre[ba], pre_at[ba], RP);
                after("tRC", ba, has_act[ba], act_at[ba], RC);
                after("tRRD", ba, has_last_act, last_act, RRD);
                open[ba] = 1;
                open_row[ba] = a[RA_W-1:0];
                has_act[ba] = 1;
                act_at[ba] = cycle;
                has_last_act = 1;
                last_act = cycle;
                if (fd != 0) $fdisplay(fd, "C %0d ACT %0d %0d", cycle, ba, a[RA_W-1:0]);
            end
            3'b101, 3'b100: begin   // READ, WRITE
                if (!open[ba]) fail("READ/WRITE to a closed bank", ba, 0, cycle);
                if (a[10]) fail("auto precharge (unsupported)", ba, 0, cycle);
                after("tRCD", ba, has_act[ba], act_at[ba], RCD);
                idx = open_row[ba];
                idx = (idx * NB + ba) * COLS + col;
                if (cmd[0]) begin
                    rd_word[CL] = idx < DEPTH ? mem[idx] : {DW{1'b0}};
                    rd_due[CL] = 1;
                    if (fd != 0) $fdisplay(fd, "C %0d RD %0d %0d", cycle, ba, col);
                end else begin
                    if (idx < DEPTH) mem[idx] = dq_in;
                    has_wr[ba] = 1;
                    wr_at[ba] = cycle;
                    if (fd != 0) $fdisplay(fd, "C %0d WR %0d %0d %h", cycle, ba, col, dq_in);
                end
            end
            3'b010: begin   // PRECHARGE (A10: all banks)
                if (a[10]) begin
                    for (b = 0; b < NB; b = b + 1) check_pre(b);
                    for (b = 0; b < NB; b = b + 1) do_pre(b);
                    if (fd != 0) $fdisplay(fd, "C %0d PREA", cycle);
                end else begin
                    check_pre(ba);
                    do_pre(ba);
                    if (fd != 0) $fdisplay(fd, "C %0d PRE %0d", cycle, ba);
                end
            end
            3'b001: begin   // AUTO REFRESH
                for (b = 0; b < NB; b = b + 1)
                    if (open[b]) fail("REFRESH or LOAD MODE with a bank open", b, 0, cycle);
                for (b = 0; b < NB; b = b + 1) after("tRP", b, has_pre[b], pre_at[b], RP);
                last_ref = cycle;
                has_ref = 1;
                ref_at = cycle;
                if (!ready) init_refreshes = init_refreshes + 1;
                if (fd != 0) $fdisplay(fd, "C %0d REF", cycle);
            end
            3'b000: begin   // LOAD MODE REGISTER
                for (b = 0; b < NB; b = b + 1)
                    if (open[b]) fail("REFRESH or LOAD MODE with a bank open", b, 0, cycle);
                for (b = 0; b < NB; b = b + 1) after("tRP", b, has_pre[b], pre_at[b], RP);
                if (a != (CL << 4)) fail("mode register", -1, 0, cycle);
                if (!ready && init_refreshes < 2) fail("power-up initialisation", -1, 2, cycle);
                ready = 1;
                has_mode = 1;
                mode_at = cycle;
                if (fd != 0) $fdisplay(fd, "C %0d MRS %0d", cycle, a);
            end
            3'b111: ;       // NOP
            default: fail("unsupported command", ba, 0, cycle);
        endcase
        // The word due next cycle goes on the bus now; the word due this cycle is logged.
        if (rd_due[0] && fd != 0) $fdisplay(fd, "D %0d %h", cycle, rd_word[0]);
        dq <= rd_word[1];
        cycle = cycle + 1;
    end
endmodule
`default_nettype wire
