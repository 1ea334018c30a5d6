// sf_ram: simple dual-port memory with one synchronous write port and one synchronous,
// read-first read port (a read of the address being written returns the old word).
// INIT names a $readmemh file (empty: all zeros). LOGIC=1 asks synthesis for flip-flops
// or LUTs instead of block RAM (small memories); BLOCK=1 holds synthesis to block RAM, which
// otherwise moves ROMs it finds cheaper in logic (a 64-word ROM in logic is three LUT levels
// from its address). Infers iCE40 EBR, ECP5 DP16KD, 7 Series BRAM.
// Under SYNTHESIS a memory without INIT is left to the device's power-up contents, zero for
// iCE40 and ECP5 block RAM, LUT RAM and flip-flops: the zeroing loop, unrolled by Yosys into
// one assignment per word, stalls synthesis of deep memories (16K words) for hours.
// The generated designs never use the word read from an address in the cycle it is written
// (the accumulate pipeline forwards that write instead; no other unit reads and writes one
// memory at once), so synthesis is told not to build collision logic (no_rw_check); the
// simulation model stays read-first.
`timescale 1ns/1ps
`default_nettype none
module sf_ram #(
    parameter integer WIDTH = 8,
    parameter integer DEPTH = 16,
    parameter integer AW    = 4,
    parameter         INIT  = "",
    parameter integer LOGIC = 0,
    parameter integer BLOCK = 0
) (
    input  wire             clk,
    input  wire             we,
    input  wire [AW-1:0]    waddr,
    input  wire [WIDTH-1:0] wdata,
    input  wire [AW-1:0]    raddr,
    output wire [WIDTH-1:0] rdata
);
    // Synthesis style of the block RAM branch ("auto": synthesis chooses). Only attributes
    // read it, which Verilator ignores.
    /* verilator lint_off UNUSEDPARAM */
    localparam STYLE = (BLOCK != 0) ? "block" : "auto";
    /* verilator lint_on UNUSEDPARAM */
    generate
        if (LOGIC != 0) begin : g_logic
            (* ram_style = "logic" *) reg [WIDTH-1:0] mem [0:DEPTH-1];
            reg [WIDTH-1:0] q;
            integer i;
            initial begin
                q = {WIDTH{1'b0}};
                if (INIT != "") $readmemh(INIT, mem);
`ifndef SYNTHESIS
                else for (i = 0; i < DEPTH; i = i + 1) mem[i] = {WIDTH{1'b0}};
`endif
            end
            always @(posedge clk) begin
                if (we) mem[waddr] <= wdata;
                q <= mem[raddr];
            end
            assign rdata = q;
        end else begin : g_bram
            (* no_rw_check, ram_style = STYLE, rom_style = STYLE *) reg [WIDTH-1:0] mem [0:DEPTH-1];
            reg [WIDTH-1:0] q;
            integer i;
            initial begin
                q = {WIDTH{1'b0}};
                if (INIT != "") $readmemh(INIT, mem);
`ifndef SYNTHESIS
                else for (i = 0; i < DEPTH; i = i + 1) mem[i] = {WIDTH{1'b0}};
`endif
            end
            always @(posedge clk) begin
                if (we) mem[waddr] <= wdata;
                q <= mem[raddr];
            end
            assign rdata = q;
        end
    endgenerate
endmodule
`default_nettype wire
