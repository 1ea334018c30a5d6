// sf_spram_rom: a DEPTH x WIDTH read-only memory in ROWS x COLS SPRAM blocks, filled through a
// nibble-wide load port before use (SPRAM cannot be initialised).
// Layout (src/hw/memory.rs, LargeLayout): WIDTH <= 16: PER_WORD words of SLOT bits share one
// 16-bit block word, word i at block word i / PER_WORD, bits [(i % PER_WORD) * SLOT +: WIDTH];
// WIDTH > 16: block word i of column c holds bits [c * 16 +: 16]. Block word w sits in block
// row w / 16384 at address w % 16384.
// Read: raddr presented in one cycle, rdata valid the next (as sf_ram). Load: while `loading`,
// ld_we writes nibble ld_nib of column ld_col of block word ld_word.
`timescale 1ns/1ps
`default_nettype none
module sf_spram_rom #(
    parameter integer WIDTH    = 2,
    parameter integer AW       = 10,   // logical address width
    parameter integer SLOT     = 2,
    parameter integer PW_LOG   = 3,    // log2(PER_WORD)
    parameter integer COLS     = 1,
    parameter integer ROWS     = 1,
    parameter integer RW       = 1,    // bits to index ROWS (at least 1)
    parameter integer CW       = 1,    // bits to index COLS (at least 1)
    parameter integer WW       = 14    // block word index width (14 + row bits)
) (
    input  wire              clk,
    input  wire              loading,
    input  wire              ld_we,
    input  wire [WW-1:0]     ld_word,
    input  wire [CW-1:0]     ld_col,
    input  wire [1:0]        ld_nib,
    input  wire [3:0]        ld_data,
    input  wire [AW-1:0]     raddr,
    output wire [WIDTH-1:0]  rdata
);
    // Block word of the read (logical address without its slot bits).
    /* verilator lint_off WIDTH */
    wire [WW-1:0] rword = raddr >> PW_LOG;
    /* verilator lint_on WIDTH */
    wire [13:0] addr = loading ? ld_word[13:0] : rword[13:0];
    wire [3:0]  mask = 4'b0001 << ld_nib;
    wire [16*COLS*ROWS-1:0] dout;
    genvar r, c;
    generate
        for (r = 0; r < ROWS; r = r + 1) begin : g_row
            for (c = 0; c < COLS; c = c + 1) begin : g_col
                /* verilator lint_off WIDTH */
                wire sel = loading && ld_we && (ld_word[WW-1:14] == r) && (ld_col == c);
                /* verilator lint_on WIDTH */
                sf_spram b (
                    .clk(clk), .addr(addr), .din({4{ld_data}}), .mask(mask), .we(sel),
                    .dout(dout[(r*COLS + c)*16 +: 16]));
            end
        end
    endgenerate
    // Row and slot of the read, for the cycle its data arrives.
    reg [RW-1:0] rrow;
    /* verilator lint_off UNUSEDSIGNAL */
    reg [AW-1:0] raddr_d;
    /* verilator lint_on UNUSEDSIGNAL */
    always @(posedge clk) begin
        /* verilator lint_off WIDTH */
        rrow    <= (ROWS > 1) ? (rword >> 14) : {RW{1'b0}};
        /* verilator lint_on WIDTH */
        raddr_d <= raddr;
    end
    /* verilator lint_off UNUSEDSIGNAL */
    wire [16*COLS-1:0] rowq = dout[rrow*16*COLS +: 16*COLS];
    /* verilator lint_on UNUSEDSIGNAL */
    generate
        if (COLS > 1 || PW_LOG == 0) begin : g_wide
            assign rdata = rowq[WIDTH-1:0];
        end else begin : g_slots
            wire [PW_LOG-1:0] slot = raddr_d[PW_LOG-1:0];
            assign rdata = rowq[slot*SLOT +: WIDTH];
        end
    endgenerate
endmodule
`default_nettype wire
