{#- Each update datapath's neuron lanes, fed by its layers' memories and parameters (view::update). #}
{%- for g in v.ugroups %}
    // ------------------------------------------------------------------ {% if v.pipe %}update pass {{ g.p }}{% else %}shared update pass{% endif %}: datapath
    reg  [{{ g.sh.ls * g.sh.vw - 1 }}:0] {{ g.p }}u_x, {{ g.p }}u_thr, {{ g.p }}u_bias, {{ g.p }}u_bl, {{ g.p }}u_vr, {{ g.p }}u_vmin;
    reg  [{{ g.sh.ls * g.sh.sw - 1 }}:0] {{ g.p }}u_s;
    reg  [{{ g.sh.ls * g.sh.yw - 1 }}:0] {{ g.p }}u_y, {{ g.p }}u_cs, {{ g.p }}u_csl;
    reg  [{{ g.sh.ls * g.sh.pb - 1 }}:0] {{ g.p }}u_bb, {{ g.p }}u_sb;
    reg  [1:0] {{ g.p }}u_lm, {{ g.p }}u_sm;
    reg  [4:0] {{ g.p }}u_lk, {{ g.p }}u_sk;
    reg        {{ g.p }}u_spiking, {{ g.p }}u_cuba, {{ g.p }}u_sat, {{ g.p }}u_floor, {{ g.p }}u_multi;
    reg  [{{ g.sh.vw - 1 }}:0] {{ g.p }}u_vhi, {{ g.p }}u_vlo;
    reg  [{{ g.sh.yw - 1 }}:0] {{ g.p }}u_yhi, {{ g.p }}u_ylo;
    // The row's words select by `ul_oh`, one flip-flop per layer set the cycle after `ul`
    // changes (the first row's words arrive a cycle after its go): AND-OR, no decode.
    reg  [{{ g.ks.len() - 1 }}:0] {{ g.p }}ul_oh;
    always @(posedge clk) begin
{%- for l in v.layers %}{%- if l.gp == g.p %}
        {{ g.p }}ul_oh[{{ l.gk }}] <= ({{ g.p }}ul == {{ g.lw }}'d{{ l.gk }});
{%- endif %}{%- endfor %}
    end
    always @* begin
        {{ g.p }}u_x = {{ g.sh.ls * g.sh.vw }}'d0; {{ g.p }}u_s = {{ g.sh.ls * g.sh.sw }}'d0; {{ g.p }}u_y = {{ g.sh.ls * g.sh.yw }}'d0;
        {{ g.p }}u_thr = {{ g.sh.ls * g.sh.vw }}'d0; {{ g.p }}u_bias = {{ g.sh.ls * g.sh.vw }}'d0; {{ g.p }}u_bl = {{ g.sh.ls * g.sh.vw }}'d0; {{ g.p }}u_vr = {{ g.sh.ls * g.sh.vw }}'d0;
        {{ g.p }}u_vmin = {{ g.sh.ls * g.sh.vw }}'d0;
        {{ g.p }}u_cs = {{ g.sh.ls * g.sh.yw }}'d0; {{ g.p }}u_csl = {{ g.sh.ls * g.sh.yw }}'d0;
        {{ g.p }}u_bb = {{ g.sh.ls * g.sh.pb }}'d0; {{ g.p }}u_sb = {{ g.sh.ls * g.sh.pb }}'d0;
{%- for l in v.layers %}{%- if l.gp == g.p %}
        // {{ l.name }}
        {{ g.p }}u_x   = {{ g.p }}u_x   | ({ {{ g.sh.ls * g.sh.vw }}{{ "{" }}{{ g.p }}ul_oh[{{ l.gk }}]} } & {{ l.u_state("x", g.sh) }});
        {{ g.p }}u_s   = {{ g.p }}u_s   | ({ {{ g.sh.ls * g.sh.sw }}{{ "{" }}{{ g.p }}ul_oh[{{ l.gk }}]} } & {{ l.u_state("s", g.sh) }});
        {{ g.p }}u_y   = {{ g.p }}u_y   | ({ {{ g.sh.ls * g.sh.yw }}{{ "{" }}{{ g.p }}ul_oh[{{ l.gk }}]} } & {{ l.u_state("y", g.sh) }});
        {{ g.p }}u_thr = {{ g.p }}u_thr | ({ {{ g.sh.ls * g.sh.vw }}{{ "{" }}{{ g.p }}ul_oh[{{ l.gk }}]} } & {{ l.u_param("thr", g.sh) }});
        {{ g.p }}u_bias = {{ g.p }}u_bias | ({ {{ g.sh.ls * g.sh.vw }}{{ "{" }}{{ g.p }}ul_oh[{{ l.gk }}]} } & {{ l.u_param("bias", g.sh) }});
        {{ g.p }}u_bl  = {{ g.p }}u_bl  | ({ {{ g.sh.ls * g.sh.vw }}{{ "{" }}{{ g.p }}ul_oh[{{ l.gk }}]} } & {{ l.u_param("bias_late", g.sh) }});
        {{ g.p }}u_vr  = {{ g.p }}u_vr  | ({ {{ g.sh.ls * g.sh.vw }}{{ "{" }}{{ g.p }}ul_oh[{{ l.gk }}]} } & {{ l.u_param("vreset", g.sh) }});
{%- if l.floor %}
        {{ g.p }}u_vmin = {{ g.p }}u_vmin | ({ {{ g.sh.ls * g.sh.vw }}{{ "{" }}{{ g.p }}ul_oh[{{ l.gk }}]} } & {{ l.u_param("vmin", g.sh) }});
{%- endif %}
        {{ g.p }}u_cs  = {{ g.p }}u_cs  | ({ {{ g.sh.ls * g.sh.yw }}{{ "{" }}{{ g.p }}ul_oh[{{ l.gk }}]} } & {{ l.u_param("syn_bias", g.sh) }});
        {{ g.p }}u_csl = {{ g.p }}u_csl | ({ {{ g.sh.ls * g.sh.yw }}{{ "{" }}{{ g.p }}ul_oh[{{ l.gk }}]} } & {{ l.u_param("syn_bias_late", g.sh) }});
        {{ g.p }}u_bb  = {{ g.p }}u_bb  | ({ {{ g.sh.ls * g.sh.pb }}{{ "{" }}{{ g.p }}ul_oh[{{ l.gk }}]} } & {{ l.u_param("beta_b", g.sh) }});
        {{ g.p }}u_sb  = {{ g.p }}u_sb  | ({ {{ g.sh.ls * g.sh.pb }}{{ "{" }}{{ g.p }}ul_oh[{{ l.gk }}]} } & {{ l.u_param("syn_b", g.sh) }});
{%- endif %}{%- endfor %}
    end
    always @* begin
        case ({{ g.p }}ul)
{%- for l in v.layers %}{%- if l.gp == g.p %}
            {{ g.lw }}'d{{ l.gk }}: begin  // {{ l.name }}
                {{ g.p }}u_lm = 2'd{{ l.leak }}; {{ g.p }}u_lk = 5'd{{ l.leak_k }}; {{ g.p }}u_sm = 2'd{{ l.sleak }}; {{ g.p }}u_sk = 5'd{{ l.sleak_k }};
                {{ g.p }}u_spiking = 1'b{% if l.spiking %}1{% else %}0{% endif %}; {{ g.p }}u_cuba = 1'b{% if l.cuba %}1{% else %}0{% endif %}; {{ g.p }}u_sat = 1'b{% if l.sat %}1{% else %}0{% endif %};
                {{ g.p }}u_floor = 1'b{% if l.floor %}1{% else %}0{% endif %}; {{ g.p }}u_multi = 1'b{% if l.multi %}1{% else %}0{% endif %};
                {{ g.p }}u_vhi = {{ l.bound(true, true, g.sh) }}; {{ g.p }}u_vlo = {{ l.bound(true, false, g.sh) }};
                {{ g.p }}u_yhi = {{ l.bound(false, true, g.sh) }}; {{ g.p }}u_ylo = {{ l.bound(false, false, g.sh) }};
            end
{%- endif %}{%- endfor %}
            default: begin
                {{ g.p }}u_lm = 2'd0; {{ g.p }}u_lk = 5'd0; {{ g.p }}u_sm = 2'd0; {{ g.p }}u_sk = 5'd0;
                {{ g.p }}u_spiking = 1'b0; {{ g.p }}u_cuba = 1'b0; {{ g.p }}u_sat = 1'b0; {{ g.p }}u_floor = 1'b0; {{ g.p }}u_multi = 1'b0;
                {{ g.p }}u_vhi = {{ g.sh.vw }}'d0; {{ g.p }}u_vlo = {{ g.sh.vw }}'d0; {{ g.p }}u_yhi = {{ g.sh.yw }}'d0; {{ g.p }}u_ylo = {{ g.sh.yw }}'d0;
            end
        endcase
    end
    // Lanes of the write-stage row that hold neurons of the layer.
    wire [{{ g.sh.ls - 1 }}:0] {{ g.p }}u_valid = {{ g.p }}u_lmask & ({{ g.p }}ufcb ? {{ g.p }}u_lastmask : {{ "{" }}{{ g.sh.ls }}{1'b1}});
    wire [{{ g.sh.ls - 1 }}:0] {{ g.p }}u_sp;
    /* verilator lint_off UNUSEDSIGNAL */
    // Spike counts: read by multi-spike layers' event lists and outputs only.
    wire [{{ g.sh.ls * v.qw - 1 }}:0] {{ g.p }}u_cnt, {{ g.p }}u_cntm;
    /* verilator lint_on UNUSEDSIGNAL */
    /* verilator lint_off UNUSEDSIGNAL */
    // Membrane values are streamed only by a value-output layer.
    wire [{{ g.sh.ls * g.sh.vw - 1 }}:0] {{ g.p }}u_v;
    /* verilator lint_on UNUSEDSIGNAL */
    wire [{{ g.sh.ls * g.sh.vw - 1 }}:0] {{ g.p }}u_xn;
    wire [{{ g.sh.ls * g.sh.yw - 1 }}:0] {{ g.p }}u_yn;
    genvar {{ g.p }}u_gi;
    generate
        for ({{ g.p }}u_gi = 0; {{ g.p }}u_gi < {{ g.sh.ls }}; {{ g.p }}u_gi = {{ g.p }}u_gi + 1) begin : {{ g.p }}u_lane
            sf_neuron #(
                .VW({{ g.sh.vw }}), .SW({{ g.sh.sw }}), .YW({{ g.sh.yw }}),
                .RESET({{ v.reset }}), .FIRE_EQ({% if v.fire_eq %}1{% else %}0{% endif %}), .P({{ v.leak_bits }}), .KW(5),
                .FLOOR({% if v.floor %}1{% else %}0{% endif %}), .QB({{ v.qb }}), .QW({{ v.qw }})
            ) n (
                .clk(clk),
                .x({{ g.p }}u_x[{{ g.p }}u_gi*{{ g.sh.vw }} +: {{ g.sh.vw }}]),
                .s({{ g.p }}u_s[{{ g.p }}u_gi*{{ g.sh.sw }} +: {{ g.sh.sw }}]),
                .y({{ g.p }}u_y[{{ g.p }}u_gi*{{ g.sh.yw }} +: {{ g.sh.yw }}]),
                .thr({{ g.p }}u_thr[{{ g.p }}u_gi*{{ g.sh.vw }} +: {{ g.sh.vw }}]),
                .bias({{ g.p }}u_bias[{{ g.p }}u_gi*{{ g.sh.vw }} +: {{ g.sh.vw }}]),
                .bias_late({{ g.p }}u_bl[{{ g.p }}u_gi*{{ g.sh.vw }} +: {{ g.sh.vw }}]),
                .vreset({{ g.p }}u_vr[{{ g.p }}u_gi*{{ g.sh.vw }} +: {{ g.sh.vw }}]),
                .syn_bias({{ g.p }}u_cs[{{ g.p }}u_gi*{{ g.sh.yw }} +: {{ g.sh.yw }}]),
                .syn_bias_late({{ g.p }}u_csl[{{ g.p }}u_gi*{{ g.sh.yw }} +: {{ g.sh.yw }}]),
                .beta_b({{ g.p }}u_bb[{{ g.p }}u_gi*{{ g.sh.pb }} +: {{ g.sh.pb }}]),
                .syn_b({{ g.p }}u_sb[{{ g.p }}u_gi*{{ g.sh.pb }} +: {{ g.sh.pb }}]),
                .leak_mode({{ g.p }}u_lm), .leak_k({{ g.p }}u_lk), .syn_mode({{ g.p }}u_sm), .syn_k({{ g.p }}u_sk),
                .spiking({{ g.p }}u_spiking), .cuba({{ g.p }}u_cuba), .sat({{ g.p }}u_sat),
                .v_hi({{ g.p }}u_vhi), .v_lo({{ g.p }}u_vlo), .y_hi({{ g.p }}u_yhi), .y_lo({{ g.p }}u_ylo),
                .late({% if v.fsums.is_some() %}fz_late{% else %}{{ g.p }}late{% endif %}), .last({% if v.fsums.is_some() %}fz_last{% else %}{{ g.p }}last{% endif %}),
                .vmin({{ g.p }}u_vmin[{{ g.p }}u_gi*{{ g.sh.vw }} +: {{ g.sh.vw }}]), .floor_en({{ g.p }}u_floor), .multi({{ g.p }}u_multi),
                .spike({{ g.p }}u_sp[{{ g.p }}u_gi]),
                .count({{ g.p }}u_cnt[{{ g.p }}u_gi*{{ v.qw }} +: {{ v.qw }}]),
                .v_out({{ g.p }}u_v[{{ g.p }}u_gi*{{ g.sh.vw }} +: {{ g.sh.vw }}]),
                .x_next({{ g.p }}u_xn[{{ g.p }}u_gi*{{ g.sh.vw }} +: {{ g.sh.vw }}]),
                .y_next({{ g.p }}u_yn[{{ g.p }}u_gi*{{ g.sh.yw }} +: {{ g.sh.yw }}]));
            // Padding lanes stay at zero and never spike.
            assign {{ g.p }}u_xnm[{{ g.p }}u_gi*{{ g.sh.vw }} +: {{ g.sh.vw }}] = {{ g.p }}u_valid[{{ g.p }}u_gi] ? {{ g.p }}u_xn[{{ g.p }}u_gi*{{ g.sh.vw }} +: {{ g.sh.vw }}] : {{ g.sh.vw }}'d0;
            assign {{ g.p }}u_ynm[{{ g.p }}u_gi*{{ g.sh.yw }} +: {{ g.sh.yw }}] = {{ g.p }}u_valid[{{ g.p }}u_gi] ? {{ g.p }}u_yn[{{ g.p }}u_gi*{{ g.sh.yw }} +: {{ g.sh.yw }}] : {{ g.sh.yw }}'d0;
            assign {{ g.p }}u_vm[{{ g.p }}u_gi*{{ g.sh.vw }} +: {{ g.sh.vw }}]  = {{ g.p }}u_valid[{{ g.p }}u_gi] ? {{ g.p }}u_v[{{ g.p }}u_gi*{{ g.sh.vw }} +: {{ g.sh.vw }}] : {{ g.sh.vw }}'d0;
            assign {{ g.p }}u_cntm[{{ g.p }}u_gi*{{ v.qw }} +: {{ v.qw }}] = {{ g.p }}u_valid[{{ g.p }}u_gi] ? {{ g.p }}u_cnt[{{ g.p }}u_gi*{{ v.qw }} +: {{ v.qw }}] : {{ v.qw }}'d0;
        end
    endgenerate
    assign {{ g.p }}u_spk = {{ g.p }}u_sp & {{ g.p }}u_valid;

{%- endfor %}
