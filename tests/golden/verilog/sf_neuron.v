// sf_neuron: one neuron lane of the update datapath shared by all layers (layers update
// one at a time). Same arithmetic as the plan (src/hw/mod.rs, docs/hardware.md section 2):
//   cuba: i = Y + S + CS (+ CSL after step 0);  Y' = leak_syn(i);  v = X + i + C (+ CL)
//   else: v = X + S + C (+ CL after step 0)
//   s = v > THR (v >= THR with FIRE_EQ), only for spiking layers
//   vhat = zero: s ? VR : v   subtract: v - s*THR   subtract-undecayed: v
//   X' = leak(vhat) - (undecayed && s ? THR : 0);  X' = Y' = 0 after the last step
//   leak: 0 -> 0, 1 -> x, 2 -> x - (x >>> k), 3 -> (x * b + 2^(P-1)) >>> P
// Widths are the largest of all layers; inputs arrive sign-extended. A layer's own width
// applies through `sat` (clamp to [lo, hi] when the layer saturates) and through the
// truncation when the result is written back, which is exact because range analysis bounds
// every non-saturating value to its layer's width.
`timescale 1ns/1ps
`default_nettype none
module sf_neuron #(
    parameter integer VW = 16,      // widest membrane
    parameter integer SW = 1,       // widest static accumulator
    parameter integer YW = 1,       // widest synaptic state
    parameter integer RESET = 0,    // 0 zero, 1 subtract, 2 subtract-undecayed
    parameter integer FIRE_EQ = 0,
    parameter integer P = 16,
    parameter integer KW = 5        // width of the shift amounts
) (
    input  wire [VW-1:0] x,
    input  wire [SW-1:0] s,
    input  wire [YW-1:0] y,
    input  wire [VW-1:0] thr,
    input  wire [VW-1:0] bias,
    input  wire [VW-1:0] bias_late,
    input  wire [VW-1:0] vreset,
    input  wire [YW-1:0] syn_bias,
    input  wire [YW-1:0] syn_bias_late,
    input  wire [P:0]    beta_b,
    input  wire [P:0]    syn_b,
    input  wire [1:0]    leak_mode,
    input  wire [KW-1:0] leak_k,
    input  wire [1:0]    syn_mode,
    input  wire [KW-1:0] syn_k,
    input  wire          spiking,
    input  wire          cuba,
    input  wire          sat,       // the layer saturates
    input  wire [VW-1:0] v_hi,      // its membrane bounds (when sat)
    input  wire [VW-1:0] v_lo,
    input  wire [YW-1:0] y_hi,
    input  wire [YW-1:0] y_lo,
    input  wire          late,
    input  wire          last,
    output wire          spike,
    output wire [VW-1:0] v_out,
    output wire [VW-1:0] x_next,
    output wire [YW-1:0] y_next
);
    localparam integer MW0 = (VW > SW ? VW : SW);
    localparam integer MW1 = (MW0 > YW ? MW0 : YW);
    localparam integer W   = MW1 + 4;
    localparam integer PW  = W + P + 2;
    localparam [PW-1:0] RND = {{(PW-P){1'b0}}, 1'b1, {(P-1){1'b0}}};

    function signed [W-1:0] sx_v(input [VW-1:0] a); sx_v = {{(W-VW){a[VW-1]}}, a}; endfunction
    function signed [W-1:0] sx_s(input [SW-1:0] a); sx_s = {{(W-SW){a[SW-1]}}, a}; endfunction
    function signed [W-1:0] sx_y(input [YW-1:0] a); sx_y = {{(W-YW){a[YW-1]}}, a}; endfunction

    // Decay (computed wide, kept to W bits).
    /* verilator lint_off UNUSEDSIGNAL */
    function signed [W-1:0] leak(input signed [W-1:0] a, input [1:0] mode, input [KW-1:0] k, input [P:0] b);
        reg signed [PW-1:0] prod;
        reg signed [PW-1:0] rounded;
        begin
            prod = $signed({{(PW-W){a[W-1]}}, a}) * $signed({{(PW-P-1){1'b0}}, b});
            rounded = (prod + $signed(RND)) >>> P;
            case (mode)
                2'd0: leak = {W{1'b0}};
                2'd1: leak = a;
                2'd2: leak = a - (a >>> k);
                default: leak = rounded[W-1:0];
            endcase
        end
    endfunction
    /* verilator lint_on UNUSEDSIGNAL */

    wire signed [W-1:0] vhi = sx_v(v_hi), vlo = sx_v(v_lo), yhi = sx_y(y_hi), ylo = sx_y(y_lo);
    function signed [W-1:0] clamp(input signed [W-1:0] a, input signed [W-1:0] hi, input signed [W-1:0] lo);
        clamp = (a > hi) ? hi : (a < lo) ? lo : a;
    endfunction

    wire signed [W-1:0] xs  = sx_v(x);
    wire signed [W-1:0] ss  = sx_s(s);
    wire signed [W-1:0] cur_raw = sx_y(y) + ss + sx_y(syn_bias) + (late ? sx_y(syn_bias_late) : {W{1'b0}});
    wire signed [W-1:0] cur = sat ? clamp(cur_raw, yhi, ylo) : cur_raw;
    wire signed [W-1:0] v_raw = (cuba ? xs + cur : xs + ss) + sx_v(bias) + (late ? sx_v(bias_late) : {W{1'b0}});
    wire signed [W-1:0] v = sat ? clamp(v_raw, vhi, vlo) : v_raw;
    wire signed [W-1:0] th = sx_v(thr);
    wire fire = spiking && ((FIRE_EQ != 0) ? (v >= th) : (v > th));
    wire signed [W-1:0] vhat = (fire && RESET == 0) ? sx_v(vreset) : (fire && RESET == 1) ? v - th : v;
    wire signed [W-1:0] nxt_raw = leak(vhat, leak_mode, leak_k, beta_b) - ((fire && RESET == 2) ? th : {W{1'b0}});
    /* verilator lint_off UNUSEDSIGNAL */
    // Computed wide; the written-back state keeps the layer's width.
    wire signed [W-1:0] nxt = sat ? clamp(nxt_raw, vhi, vlo) : nxt_raw;
    wire signed [W-1:0] ynx = leak(cur, syn_mode, syn_k, syn_b);
    /* verilator lint_on UNUSEDSIGNAL */

    assign spike  = fire;
    assign v_out  = v[VW-1:0];
    assign x_next = last ? {VW{1'b0}} : nxt[VW-1:0];
    assign y_next = (last || !cuba) ? {YW{1'b0}} : ynx[YW-1:0];
endmodule
`default_nettype wire
