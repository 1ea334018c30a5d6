{#- Spike planes of the layers some projection reads densely (view::layer::PlaneView, docs/hardware.md 4c). #}
{%- for l in v.layers %}
{%- if let Some(pl) = l.plane %}

    // ------------------------------------------------------------------ spike plane of {{ l.name }}
    // The update pass writes each row's spike bits (padding lanes 0) at Plane::slot(row): word
    // (g / m) * HW + pos, bits (g % m) * lanes: a masked write of its lane group (one write
    // enable per group); every bit is rewritten every step. Counters run from 0 at the
    // pass's first write (`u_on` is low between passes).
    reg  [{{ pl.hww - 1 }}:0] {{ l.pre }}_pl_pos;
    reg  [{{ pl.m - 1 }}:0] {{ l.pre }}_pl_oh;   // the row's lane group within its word, one-hot
    reg  [{{ pl.aw - 1 }}:0] {{ l.pre }}_pl_wa;
{%- if let Some(fz) = l.fused %}
    // Fused: the counters run on through the blocks, held between passes; a pass that is not
    // its block's last (step T - 1) has the next start again at the block's first row, whose
    // slot the block's first write keeps (`sv`; `bs` is that slot, or the write's own when it
    // is the block's first).
    reg                  {{ l.pre }}_pl_nb;   // the next write is a block's first
    reg  [{{ pl.hww - 1 }}:0] {{ l.pre }}_pl_sv_pos;
    reg  [{{ pl.m - 1 }}:0] {{ l.pre }}_pl_sv_oh;
    reg  [{{ pl.aw - 1 }}:0] {{ l.pre }}_pl_sv_wa;
    wire [{{ pl.hww - 1 }}:0] {{ l.pre }}_pl_bs_pos = {{ l.pre }}_pl_nb ? {{ l.pre }}_pl_pos : {{ l.pre }}_pl_sv_pos;
    wire [{{ pl.m - 1 }}:0] {{ l.pre }}_pl_bs_oh = {{ l.pre }}_pl_nb ? {{ l.pre }}_pl_oh : {{ l.pre }}_pl_sv_oh;
    wire [{{ pl.aw - 1 }}:0] {{ l.pre }}_pl_bs_wa = {{ l.pre }}_pl_nb ? {{ l.pre }}_pl_wa : {{ l.pre }}_pl_sv_wa;
    always @(posedge clk) begin
        if (fz_go) {{ l.pre }}_pl_nb <= 1'b1;
        else if ({{ l.pre }}_u_on) {{ l.pre }}_pl_nb <= fz_pew && (fz_tw == {{ fz.ttw }}'d{{ fz.t - 1 }});
        if ({{ l.pre }}_u_on && {{ l.pre }}_pl_nb) begin
            {{ l.pre }}_pl_sv_pos <= {{ l.pre }}_pl_pos;
            {{ l.pre }}_pl_sv_oh  <= {{ l.pre }}_pl_oh;
            {{ l.pre }}_pl_sv_wa  <= {{ l.pre }}_pl_wa;
        end
    end
    always @(posedge clk) begin
        if (fz_go) begin
            {{ l.pre }}_pl_pos <= {{ pl.hww }}'d0;
            {{ l.pre }}_pl_oh  <= {{ l.at_tile("ploh", pl.m) }};
            {{ l.pre }}_pl_wa  <= {{ l.at_tile("plwa", pl.aw) }};
        end else if ({{ l.pre }}_u_on && fz_pew && (fz_tw != {{ fz.ttw }}'d{{ fz.t - 1 }})) begin
            {{ l.pre }}_pl_pos <= {{ l.pre }}_pl_bs_pos;
            {{ l.pre }}_pl_oh  <= {{ l.pre }}_pl_bs_oh;
            {{ l.pre }}_pl_wa  <= {{ l.pre }}_pl_bs_wa;
        end else if (!{{ l.pre }}_u_on) begin
            // held
        end else if
{%- else %}
    always @(posedge clk) begin
        if (!{{ l.pre }}_u_on) begin
            {{ l.pre }}_pl_pos <= {{ pl.hww }}'d0;
            {{ l.pre }}_pl_oh  <= {{ l.at_tile("ploh", pl.m) }};
            {{ l.pre }}_pl_wa  <= {{ l.at_tile("plwa", pl.aw) }};
        end else if
{%- endif %} ({{ l.pre }}_pl_pos == {{ pl.hww }}'d{{ pl.hw - 1 }}) begin
            {{ l.pre }}_pl_pos <= {{ pl.hww }}'d0;
{%- if pl.m == 1 %}
            {{ l.pre }}_pl_wa  <= {{ l.pre }}_pl_wa + {{ pl.aw }}'d1;
{%- else %}
            if ({{ l.pre }}_pl_oh[{{ pl.m - 1 }}]) begin
                {{ l.pre }}_pl_oh <= {{ pl.m }}'d1;
                {{ l.pre }}_pl_wa <= {{ l.pre }}_pl_wa + {{ pl.aw }}'d1;
            end else begin
                {{ l.pre }}_pl_oh <= { {{- l.pre }}_pl_oh[{{ pl.m - 2 }}:0], 1'b0};
                {{ l.pre }}_pl_wa <= {{ l.pre }}_pl_wa - {{ pl.aw }}'d{{ pl.hw - 1 }};
            end
{%- endif %}
        end else begin
            {{ l.pre }}_pl_pos <= {{ l.pre }}_pl_pos + {{ pl.hww }}'d1;
            {{ l.pre }}_pl_wa  <= {{ l.pre }}_pl_wa + {{ pl.aw }}'d1;
        end
    end
    wire [{{ pl.m - 1 }}:0] {{ l.pre }}_pl_we = { {{ pl.m }}{ {{ l.pre }}_u_on } } & {{ l.pre }}_pl_oh;
    wire [{{ pl.width - 1 }}:0] {{ l.pre }}_pl_wd = { {{ pl.m }}{ {{ l.gp }}u_spk[{{ l.lanes - 1 }}:0] } };
{%- for c in pl.mems %}
    wire [{{ pl.width - 1 }}:0] {{ c.pre }}_rdata;
    sf_plane #(.WIDTH({{ pl.width }}), .GROUPS({{ pl.m }}), .DEPTH({{ c.depth }}), .AW({{ c.aw }}), .LOGIC({% if c.logic %}1{% else %}0{% endif %})) {{ c.pre }} (
        .clk(clk), .we({{ l.pre }}_pl_we), .waddr({{ c.waddr }}), .wdata({{ l.pre }}_pl_wd),
        .raddr({{ c.aw }}'d0{% for r in c.readers %} | ({ {{ c.aw }}{ {{ r.0 }}_act } } & ({{ r.1 }})){% endfor %}), .rdata({{ c.pre }}_rdata));
{%- endfor %}
{%- endif %}
{%- endfor %}
{%- for b in v.plbanks %}

    // ------------------------------------------------------------------ spike planes {{ b.pre }}: {{ b.comment }}
    // One memory for these planes (streamed schedule), each from its base, every step at its
    // step's words; planes whose lifetimes meet never share a word. One layer's update pass
    // writes at a time and one dense unit reads at a time: enables, addresses and data are
    // OR-ed, each zero while idle.
{%- if b.steps > 1 %}
    // Read by fused layers: a word holds a position's {{ b.steps }} steps side by side, step t's
    // lane groups at t x {{ b.m / b.steps }}; a writer writes its step's slice.
{%- endif %}
    wire [{{ b.width - 1 }}:0] {{ b.pre }}_rdata;
    sf_plane #(.WIDTH({{ b.width }}), .GROUPS({{ b.m }}), .DEPTH({{ b.rows }}), .AW({{ b.aw }}), .LOGIC({% if b.logic %}1{% else %}0{% endif %})) {{ b.pre }} (
        .clk(clk),
        .we({{ b.m }}'d0{% for mb in b.members %} | {{ mb.we }}{% endfor %}),
        .waddr({{ b.aw }}'d0{% for mb in b.members %} | ({ {{ b.aw }}{ {{ mb.pre }}_u_on } } & ({{ mb.waddr }})){% endfor %}),
        .wdata({{ b.width }}'d0{% for mb in b.members %} | ({ {{ b.width }}{ {{ mb.pre }}_u_on } } & {{ mb.wd }}){% endfor %}),
        .raddr({{ b.aw }}'d0{% for r in b.readers %} | ({ {{ b.aw }}{ {{ r.0 }}_act } } & ({{ r.1 }})){% endfor %}),
        .rdata({{ b.pre }}_rdata));
{%- for mb in b.members %}
    wire [{{ b.width - 1 }}:0] {{ mb.pre }}_pl_rdata = {{ b.pre }}_rdata;
{%- endfor %}
{%- endfor %}
