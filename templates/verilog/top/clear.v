{#- The early-exit clear of the state memories and the exit decision (idle without early exit). #}

    // ------------------------------------------------------------------ clear (early exit)
    reg clr_act;
    /* verilator lint_off UNUSEDSIGNAL */
    reg [{{ v.clear_w - 1 }}:0] clr_row;  // one bit wider than a row address: compared with `rows`
    /* verilator lint_on UNUSEDSIGNAL */
{%- if v.early_exit %}
    wire clr_on = go_clr || clr_act;
    wire [{{ v.clear_w - 1 }}:0] clr_cur = go_clr ? {{ v.clear_w }}'d0 : clr_row;
    assign fin_clr = clr_on && (clr_cur == {{ v.clear_w }}'d{{ v.clear_rows - 1 }});
    always @(posedge clk) begin
        if (rst || fin_clr) begin
            clr_act <= 1'b0;
            clr_row <= {{ v.clear_w }}'d0;
        end else if (clr_on) begin
            clr_act <= 1'b1;
            clr_row <= clr_cur + {{ v.clear_w }}'d1;
        end
    end
{%- for l in v.layers %}
    always @* begin
        clr_on_{{ l.k }}  = clr_on && (clr_cur < {{ v.clear_w }}'d{{ l.rows }});
        clr_row_{{ l.k }} = clr_cur[{{ l.raw - 1 }}:0];
    end
{%- endfor %}
    // Decided: the leader's count beats every other count plus the steps left (ties to the
    // lowest index), so the class cannot change.
    reg [{{ v.cnt_w - 1 }}:0] ex_best;
    reg [31:0] ex_lead;
    reg ex_dec;
    integer ex_j;
{%- if v.out_max > 1 %}
    // A multi-spike output neuron gains at most {{ v.out_max }} spikes per step.
    wire [{{ v.cnt_w + 1 }}:0] ex_rem = ({{ v.cnt_w + 2 }}'d{{ v.t_max - 1 }} - { {{ v.cnt_w + 2 - v.tw }}'d0, t }) * {{ v.cnt_w + 2 }}'d{{ v.out_max }};
{%- else %}
    wire [{{ v.cnt_w + 1 }}:0] ex_rem = {{ v.cnt_w + 2 }}'d{{ v.t_max - 1 }} - { {{ v.cnt_w + 2 - v.tw }}'d0, t };
{%- endif %}
    always @* begin
        ex_best = ex_cnt[0];
        ex_lead = 32'd0;
        for (ex_j = 1; ex_j < {{ v.n_out }}; ex_j = ex_j + 1)
            if (ex_cnt[ex_j] > ex_best) begin
                ex_best = ex_cnt[ex_j];
                ex_lead = ex_j;
            end
        ex_dec = 1'b1;
        for (ex_j = 0; ex_j < {{ v.n_out }}; ex_j = ex_j + 1)
            if (ex_j != ex_lead) begin
                if (!(({ 2'd0, ex_best } > { 2'd0, ex_cnt[ex_j] } + ex_rem) ||
                      (({ 2'd0, ex_best } == { 2'd0, ex_cnt[ex_j] } + ex_rem) && (ex_lead < ex_j))))
                    ex_dec = 1'b0;
            end
    end
    assign decided = ex_dec;
    assign fin_ex  = go_ex;
{%- else %}
    always @(posedge clk) begin
        clr_act <= 1'b0;
        clr_row <= {{ v.clear_w }}'d0;
    end
{%- for l in v.layers %}
    always @* begin
        clr_on_{{ l.k }}  = clr_act;
        clr_row_{{ l.k }} = clr_row[{{ l.raw - 1 }}:0];
    end
{%- endfor %}
{%- endif %}
