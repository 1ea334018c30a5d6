{#- Per layer: its parameter ROM, its accumulate units and, for the output layer, the output buffer (view::layer). #}
{% for l in v.layers %}
    // ================================================================== layer {{ l.k }}: {{ l.name }} ({{ l.ident }})
    // {{ l.lanes }} lanes x {{ l.rows }} rows; V {{ l.vw }} bits{% if l.has_s %}, S {{ l.sw }} bits{% endif %}{% if l.cuba %}, Y {{ l.yw }} bits{% endif %}{% if l.sat %}, saturating{% endif %}
{%- if l.has_prom %}
{%- if l.fused.is_some() && !l.prom_by_cgi %}
    wire [{{ l.prom_aw - 1 }}:0] {{ l.pre }}_fpa;   // the fused unit's row: its block's first + the pass's
{%- endif %}
    // Per-neuron parameters (read with the row in the update pass).
    wire [{{ l.lanes * l.prom_bits - 1 }}:0] {{ l.pre }}_prom;
    sf_ram #(.WIDTH({{ l.lanes * l.prom_bits }}), .DEPTH({{ l.prom_depth }}), .AW({{ l.prom_aw }}), .INIT("{{ l.prom_file }}"), .LOGIC({% if l.prom_logic %}1{% else %}0{% endif %}), .BLOCK({% if v.hold_brams && !l.prom_logic %}1{% else %}0{% endif %})) {{ l.pre }}_params (
        .clk(clk), .we(1'b0), .waddr({{ l.prom_aw }}'d0), .wdata({{ l.lanes * l.prom_bits }}'d0),
{%- if l.prom_by_cgi %}
        .raddr({{ l.gp }}u_pa[{{ l.prom_aw - 1 }}:0]), .rdata({{ l.pre }}_prom));
{%- else if l.fused.is_some() %}
        .raddr({{ l.pre }}_fpa), .rdata({{ l.pre }}_prom));
{%- else %}
{%- if l.tiles > 1 %}
        .raddr({{ l.pre }}_pra[{{ l.prom_aw - 1 }}:0]), .rdata({{ l.pre }}_prom));
{%- else %}
        .raddr({{ l.gp }}u_raddr[{{ l.prom_aw - 1 }}:0]), .rdata({{ l.pre }}_prom));
{%- endif %}
{%- endif %}
{%- endif %}

{%- if let Some(fz) = l.fused %}
{%- include "verilog/top/fused.v" %}
{%- else %}

    assign fin_{{ l.pre }} = {{ l.gp }}u_fin;
{%- include "verilog/top/accumulate.v" %}
{%- endif %}
{%- include "verilog/top/output.v" %}
{% endfor %}
