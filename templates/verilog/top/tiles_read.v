{#- The tile buffer's read address: the running ACC phase's ROM (view::tiles). #}
{%- if let Some(x) = v.tiles %}

    // ------------------------------------------------------------------ tile buffer read
    // One ACC phase runs at a time: the buffer's read port is its weight ROM's.
    assign tx_raddr = {{ x.aw }}'d0{% for r in x.reads %}
        | ({% if let Some(g) = r.gate %}(pc_oh[{{ r.pc }}] && {{ g }}){% else %}pc_oh[{{ r.pc }}]{% endif %} ? {{ r.addr }} : {{ x.aw }}'d0){% endfor %};
{%- for sl in x.slots %}
    assign {{ sl.xs }} = {{ sl.or }};
{%- endfor %}
{%- endif %}
