{#- The popcount functions of a dense datapath (a unit's own, dense.v, or the one the units of a
    streamed plan share, dense_shared.v), named <pre>_pc4, _nib, _pair and _pcsum: the set bits of
    each nibble of a pw-bit word (nn nibbles, the last padded by npad bits), those counts summed in
    pairs (pair: np 4-bit counts), and the pairs' counts summed (pop: pcw bits). #}
{%- macro functions(pre, pw, nn, np, npad, pair, pcw, pop) %}
    function automatic [2:0] {{ pre }}_pc4(input [3:0] v);
        case (v)
            4'h0: {{ pre }}_pc4 = 3'd0;
            4'h1, 4'h2, 4'h4, 4'h8: {{ pre }}_pc4 = 3'd1;
            4'h7, 4'hb, 4'hd, 4'he: {{ pre }}_pc4 = 3'd3;
            4'hf: {{ pre }}_pc4 = 3'd4;
            default: {{ pre }}_pc4 = 3'd2;
        endcase
    endfunction
    function automatic [{{ nn * 3 - 1 }}:0] {{ pre }}_nib(input [{{ pw - 1 }}:0] x);
        integer n;
        reg [{{ nn * 4 - 1 }}:0] xp;
        begin
            xp = {{ "{" }}{% if npad > 0 %}{{ npad }}'d0, {% endif %}x};
            for (n = 0; n < {{ nn }}; n = n + 1) {{ pre }}_nib[n*3 +: 3] = {{ pre }}_pc4(xp[n*4 +: 4]);
        end
    endfunction
    function automatic [{{ np * 4 - 1 }}:0] {{ pre }}_pair(input [{{ nn * 3 - 1 }}:0] y);
        {{ pre }}_pair = {{ pair }};
    endfunction
    function automatic [{{ pcw - 1 }}:0] {{ pre }}_pcsum(input [{{ np * 4 - 1 }}:0] y);
        {{ pre }}_pcsum = {{ pop }};
    endfunction
{%- endmacro %}
