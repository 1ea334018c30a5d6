{#- The popcount datapath the dense units of a streamed plan share (view::dense_shared, docs/hardware.md 4c). #}
{%- if let Some(sh) = v.dshared %}

    // ------------------------------------------------------------------ shared dense datapath
    // Stages C to E of the dense units {{ sh.units }}: one phase runs at a time, so one
    // datapath serves them, its inputs the active unit's (selected by its `act`), its widths
    // the widest unit's ({{ sh.lanes }} lanes, {{ sh.pw }}-bit plane words, {{ sh.accw }}-bit row
    // accumulators, {{ sh.tw }}-bit row sums). C: AND + nibble popcounts per lane; C2 pairs of
    // nibble counts summed, C3 those summed; D the row's popcounts accumulated (A of s & w per
    // lane, P of s); E the row sum (2 * A - P) << shift, which each unit takes modulo its
    // target width.
    /* verilator lint_off UNUSEDSIGNAL */
    // (the row sums' high bits and the lanes a narrower unit does not read)
    wire [{{ sh.pw - 1 }}:0] dsh_s = {{ sh.s }};
    wire                 dsh_pv = {{ sh.pv }};
    wire                 dsh_fd = {{ sh.fd }};
    wire [{{ sh.lanes - 1 }}:0] dsh_lm = {{ sh.lm }};
    wire [{{ sh.shw - 1 }}:0] dsh_sh = {{ sh.shift }};
{%- call popcount::functions("dsh", sh.pw, sh.nn, sh.np, sh.npad, sh.pair, sh.pcw, sh.pop) %}{%- endcall %}
    reg  [{{ sh.nn * 3 - 1 }}:0] dsh_nbs;
    reg  [{{ sh.np * 4 - 1 }}:0] dsh_bys;
    reg  [{{ sh.pcw - 1 }}:0] dsh_ps;
    reg  [{{ sh.accw - 1 }}:0] dsh_pacc;
    always @(posedge clk) begin
        dsh_nbs  <= dsh_pv ? dsh_nib(dsh_s) : {{ sh.nn * 3 }}'d0;
        dsh_bys  <= dsh_pair(dsh_nbs);
        dsh_ps   <= dsh_pcsum(dsh_bys);
        dsh_pacc <= (dsh_fd ? {{ sh.accw }}'d0 : dsh_pacc) + { {{- sh.accw - sh.pcw }}'d0, dsh_ps};
    end
{%- for w in sh.w %}
    wire [{{ sh.pw - 1 }}:0] dsh_w{{ loop.index0 }} = {{ w }};
{%- endfor %}
    wire [{{ sh.lanes * sh.pw - 1 }}:0] dsh_w = { {%- for w in sh.w.iter().rev() %}dsh_w{{ sh.w.len() - loop.index }}{% if !loop.last %}, {% endif %}{% endfor -%} };
    genvar dsh_gi;
    generate
        for (dsh_gi = 0; dsh_gi < {{ sh.lanes }}; dsh_gi = dsh_gi + 1) begin : dsh_dl
            reg  [{{ sh.nn * 3 - 1 }}:0] nb;
            reg  [{{ sh.np * 4 - 1 }}:0] by;
            reg  [{{ sh.pcw - 1 }}:0] pc;
            reg  [{{ sh.accw - 1 }}:0] a;
            reg  [{{ sh.tw - 1 }}:0] rs;
            wire [{{ sh.dw - 1 }}:0] df = {1'b0, a, 1'b0} - { {{- sh.dw - sh.accw }}'d0, dsh_pacc};
            wire [{{ sh.tw + sh.dw - 1 }}:0] dx = { { {{- sh.tw }}{df[{{ sh.dw - 1 }}]} }, df};
            always @(posedge clk) begin
                nb <= dsh_pv ? dsh_nib(dsh_s & dsh_w[dsh_gi*{{ sh.pw }} +: {{ sh.pw }}]) : {{ sh.nn * 3 }}'d0;
                by <= dsh_pair(nb);
                pc <= dsh_pcsum(by);
                a  <= (dsh_fd ? {{ sh.accw }}'d0 : a) + { {{- sh.accw - sh.pcw }}'d0, pc};
                rs <= dsh_lm[dsh_gi] ? (dx[{{ sh.tw - 1 }}:0] << dsh_sh) : {{ sh.tw }}'d0;
            end
            assign dsh_rs[dsh_gi*{{ sh.tw }} +: {{ sh.tw }}] = rs;
        end
    endgenerate
    /* verilator lint_on UNUSEDSIGNAL */
{%- endif %}
