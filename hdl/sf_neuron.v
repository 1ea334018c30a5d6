// sf_neuron: the update of one neuron lane (combinational), exactly the plan's arithmetic
// (src/hw/mod.rs):
//   cuba: i = Y + S + CS (+ CSL after step 0);  Y' = leak_syn(i);  v = X + i + C (+ CL)
//   else: v = X + S + C (+ CL after step 0)
//   s = v > THR (v >= THR with FIRE_EQ)          (SPIKING only)
//   vhat = zero: s ? VR : v   subtract: v - s*THR   subtract-undecayed: v
//   X' = leak(vhat) - (undecayed && s ? THR : 0);  X' = Y' = 0 after the last step
//   leak: 0 -> 0, 1 -> x, 2 -> x - (x >>> K), 3 -> (x * B + 2^(P-1)) >>> P
// With SAT=1 v, i and X' saturate to their widths.
`timescale 1ns/1ps
`default_nettype none
module sf_neuron #(
    parameter integer VW = 16,      // membrane X/V width
    parameter integer SW = 1,       // static accumulator width (HAS_S)
    parameter integer YW = 1,       // synaptic state width (CUBA)
    parameter integer HAS_S = 0,
    parameter integer CUBA = 0,
    parameter integer SPIKING = 1,
    parameter integer RESET = 0,    // 0 zero, 1 subtract, 2 subtract-undecayed
    parameter integer FIRE_EQ = 0,
    parameter integer SAT = 0,
    parameter integer P = 16,       // leak fraction bits
    parameter integer LEAK = 1,     // 0 zero, 1 one, 2 shift, 3 multiply
    parameter integer LEAK_K = 1,
    parameter integer SLEAK = 1,    // synaptic leak mode (CUBA)
    parameter integer SLEAK_K = 1
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
    input  wire [P:0]    beta_b,       // leak multiplier (LEAK = 3)
    input  wire [P:0]    syn_b,        // synaptic leak multiplier (SLEAK = 3)
    input  wire          late,         // step > 0
    input  wire          last,         // last step of the inference
    output wire          spike,
    output wire [VW-1:0] v_out,
    output wire [VW-1:0] x_next,
    output wire [YW-1:0] y_next
);
    localparam integer MW0 = (VW > SW ? VW : SW);
    localparam integer MW1 = (MW0 > YW ? MW0 : YW);
    localparam integer W   = MW1 + 4;            // sums of a few state-width terms
    localparam integer PW  = W + P + 2;          // leak products

    function signed [W-1:0] sx_v(input [VW-1:0] a); sx_v = {{(W-VW){a[VW-1]}}, a}; endfunction
    function signed [W-1:0] sx_s(input [SW-1:0] a); sx_s = {{(W-SW){a[SW-1]}}, a}; endfunction
    function signed [W-1:0] sx_y(input [YW-1:0] a); sx_y = {{(W-YW){a[YW-1]}}, a}; endfunction

    // Saturation bounds of the V and Y widths, and the leak rounding constant.
    localparam [W-1:0]  VHI = {{(W-VW+1){1'b0}}, {(VW-1){1'b1}}};
    localparam integer  YWS = (YW > 1) ? YW : 2;   // YW is 1 when there is no synaptic state
    localparam [W-1:0]  YHI = {{(W-YWS+1){1'b0}}, {(YWS-1){1'b1}}};
    localparam [PW-1:0] RND = {{(PW-P){1'b0}}, 1'b1, {(P-1){1'b0}}};

    function signed [W-1:0] fit_v(input signed [W-1:0] a);
        if (SAT != 0) fit_v = (a > $signed(VHI)) ? $signed(VHI) : (a < $signed(~VHI)) ? $signed(~VHI) : a;
        else fit_v = a;
    endfunction
    function signed [W-1:0] fit_y(input signed [W-1:0] a);
        if (SAT != 0) fit_y = (a > $signed(YHI)) ? $signed(YHI) : (a < $signed(~YHI)) ? $signed(~YHI) : a;
        else fit_y = a;
    endfunction

    // Decay: 0, x, x - (x >>> k), or (x * b + 2^(P-1)) >>> P (computed wide, kept to W bits).
    /* verilator lint_off UNUSEDSIGNAL */
    function signed [W-1:0] leak(input signed [W-1:0] a, input integer mode, input integer k, input [P:0] b);
        reg signed [PW-1:0] prod;
        reg signed [PW-1:0] rounded;
        begin
            prod = $signed({{(PW-W){a[W-1]}}, a}) * $signed({{(PW-P-1){1'b0}}, b});
            rounded = (prod + $signed(RND)) >>> P;
            case (mode)
                0: leak = {W{1'b0}};
                1: leak = a;
                2: leak = a - (a >>> k);
                default: leak = rounded[W-1:0];
            endcase
        end
    endfunction
    /* verilator lint_on UNUSEDSIGNAL */

    wire signed [W-1:0] xs  = sx_v(x);
    wire signed [W-1:0] ss  = (HAS_S != 0) ? sx_s(s) : {W{1'b0}};
    wire signed [W-1:0] cur_raw = sx_y(y) + ss + sx_y(syn_bias) + (late ? sx_y(syn_bias_late) : {W{1'b0}});
    wire signed [W-1:0] cur = fit_y(cur_raw);
    wire signed [W-1:0] v_raw = (CUBA != 0)
        ? xs + cur + sx_v(bias) + (late ? sx_v(bias_late) : {W{1'b0}})
        : xs + ss + sx_v(bias) + (late ? sx_v(bias_late) : {W{1'b0}});
    wire signed [W-1:0] v = fit_v(v_raw);
    wire signed [W-1:0] th = sx_v(thr);
    wire fire = (SPIKING != 0) && ((FIRE_EQ != 0) ? (v >= th) : (v > th));
    wire signed [W-1:0] vhat = (fire && RESET == 0) ? sx_v(vreset) : (fire && RESET == 1) ? v - th : v;
    wire signed [W-1:0] nxt_raw = leak(vhat, LEAK, LEAK_K, beta_b) - ((fire && RESET == 2) ? th : {W{1'b0}});
    /* verilator lint_off UNUSEDSIGNAL */
    // Computed wide; only the low VW (YW) bits are state (range analysis or saturation).
    wire signed [W-1:0] nxt = fit_v(nxt_raw);
    wire signed [W-1:0] ynx = leak(cur, SLEAK, SLEAK_K, syn_b);
    /* verilator lint_on UNUSEDSIGNAL */

    assign spike  = fire;
    assign v_out  = v[VW-1:0];
    assign x_next = last ? {VW{1'b0}} : nxt[VW-1:0];
    assign y_next = (last || CUBA == 0) ? {YW{1'b0}} : ynx[YW-1:0];
endmodule
`default_nettype wire
