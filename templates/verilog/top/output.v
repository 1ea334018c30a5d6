{#- The output layer `l`'s output buffer and stream, and the early-exit spike counts. #}
{%- if l.is_out %}

    // ---------------- output buffer: the output layer's rows of this step
{%- if !(v.pipe && l.out_logic) %}
    reg  [{{ l.raw - 1 }}:0] out_raddr;
{%- endif %}
    wire [{{ v.out_w - 1 }}:0] out_rdata;
{%- if v.out_spikes && l.multi %}
    // A count per lane (multi-spike output).
    wire [{{ v.out_w - 1 }}:0] out_wdata = {{ l.count_bus(v.qw) }};
{%- else if v.out_spikes %}
    wire [{{ v.out_w - 1 }}:0] out_wdata = {{ l.gp }}u_spk[{{ l.lanes - 1 }}:0];
{%- else %}
    wire [{{ v.out_w - 1 }}:0] out_wdata = {{ l.u_trunc("u_vm", l.gvw, l.vw) }};
{%- endif %}
{%- if v.pipe && l.out_logic %}
    // Two steps of rows in flip-flops, read at the row shown and at the next (both addresses
    // registers); out_ready only selects between the two reads, so no address decodes behind
    // the pin. Read-first, as sf_ram (the rows read are never those being written).
    (* ram_style = "logic" *) reg [{{ v.out_w - 1 }}:0] out_mem [0:{{ v.out_depth - 1 }}];
    reg  [{{ v.out_w - 1 }}:0] out_q;
    assign out_rdata = out_q;
`ifndef SYNTHESIS
    integer out_i;
    initial begin
        out_q = {{ v.out_w }}'d0;
        for (out_i = 0; out_i < {{ v.out_depth }}; out_i = out_i + 1) out_mem[out_i] = {{ v.out_w }}'d0;
    end
`endif
    always @(posedge clk) if ({{ l.pre }}_u_on) out_mem[{{ v.out_wa }}] <= out_wdata;
{%- else %}
    sf_ram #(.WIDTH({{ v.out_w }}), .DEPTH({{ v.out_depth }}), .AW({{ v.out_aw }}), .LOGIC({% if l.out_logic %}1{% else %}0{% endif %})) out_buf (
        .clk(clk), .we({{ l.pre }}_u_on), .waddr({{ v.out_wa }}), .wdata(out_wdata),
        .raddr({{ v.out_ra }}), .rdata(out_rdata));
{%- endif %}
    reg o_s2;
    reg [{{ l.raw - 1 }}:0] o_row;
    reg o_lrow;   // o_row is the last row (kept with o_row)
{%- if v.pipe %}
    // o_s2's copy for the logic inside (o_s2 drives the pin, so it sits by the I/O).
    (* keep *) reg o_s2i;
    always @(posedge clk) begin
        if (rst) o_s2i <= 1'b0;
        else if (go_out) o_s2i <= 1'b1;
        else if (o_s2i && out_ready && o_lrow) o_s2i <= 1'b0;
    end
    wire o_adv  = o_s2i && out_ready;
{%- else %}
    wire o_adv  = o_s2 && out_ready;
{%- endif %}
    assign out_valid = o_s2;
    assign out_data  = out_rdata;
    assign out_last  = o_s2 && o_lrow;
    assign fin_out   = o_adv && o_lrow;
{%- if v.pipe %}
    // The next row, kept in a register: no carry chain between out_ready and the buffer's
    // read (its two steps make it twice as deep as the sequential schedule's).
    reg [{{ l.raw - 1 }}:0] o_row1;
    always @(posedge clk) begin
        if (go_out) o_row1 <= {{ l.raw }}'d1;
        else if (o_adv && !o_lrow) o_row1 <= o_row1 + {{ l.raw }}'d1;
    end
{%- if l.out_logic %}
    always @(posedge clk) begin
        if (go_out) out_q <= out_mem[{gout_t[0], {{ l.raw }}'d0}];
        else if (o_adv && !o_lrow) out_q <= out_mem[{gout_t[0], o_row1}];
        else out_q <= out_mem[{gout_t[0], o_row}];
    end
{%- else %}
    always @* begin
        if (go_out) out_raddr = {{ l.raw }}'d0;
        else if (o_adv && !o_lrow) out_raddr = o_row1;
        else out_raddr = o_row;
    end
{%- endif %}
{%- else %}
    always @* begin
        if (go_out) out_raddr = {{ l.raw }}'d0;
        else if (o_adv && !o_lrow) out_raddr = o_row + {{ l.raw }}'d1;
        else out_raddr = o_row;
    end
{%- endif %}
    always @(posedge clk) begin
        if (rst) o_s2 <= 1'b0;
        else if (go_out) begin
            o_s2   <= 1'b1;
            o_row  <= {{ l.raw }}'d0;
            o_lrow <= 1'b{% if l.rows == 1 %}1{% else %}0{% endif %};
        end else if (o_adv) begin
            if (o_lrow) o_s2 <= 1'b0;
            else begin
                o_row  <= o_row + {{ l.raw }}'d1;
                o_lrow <= (o_row == {{ l.raw }}'d{{ l.rows_minus(2) }});
            end
        end
    end
{%- if v.early_exit || v.prog.dec.is_some() %}

    // ---------------- early exit{% if v.prog.dec.is_some() %} (here, the cascade's stage){% endif %}: spike counts of the output neurons
    reg [{{ v.cnt_w - 1 }}:0] ex_cnt [0:{{ v.n_out - 1 }}];
    integer ex_i;
    always @(posedge clk) begin
        if (rst || first{% if v.prog.dec.is_some() %} || (run && fin && dec_r){% endif %}) begin
            for (ex_i = 0; ex_i < {{ v.n_out }}; ex_i = ex_i + 1) ex_cnt[ex_i] <= {{ v.cnt_w }}'d0;
        end else if ({{ l.pre }}_u_on) begin
            for (ex_i = 0; ex_i < {{ l.lanes }}; ex_i = ex_i + 1)
                if (u_spk[ex_i])
                    ex_cnt[(u_c0 + ex_i) * {{ l.pos }} + { {{ 32 - v.uyw }}'d0, uy} * {{ l.w }} + { {{ 32 - v.uxw }}'d0, ux}]
                        <= ex_cnt[(u_c0 + ex_i) * {{ l.pos }} + { {{ 32 - v.uyw }}'d0, uy} * {{ l.w }} + { {{ 32 - v.uxw }}'d0, ux}] + {% if l.multi %}{ {{ v.cnt_w - l.cb }}'d0, u_cntm[ex_i*{{ v.qw }} +: {{ l.cb }}] }{% else %}{{ v.cnt_w }}'d1{% endif %};
        end
    end
{%- endif %}
{%- if v.prog.dec.is_some() %}

    // ---------------- the cascade's decision: the stage's counts' margin (the largest less
    // the runner-up, the largest itself with one class) against margin_r, in DEC's go cycle.
    reg [{{ v.cnt_w - 1 }}:0] cs_best, cs_second;
    integer cs_j;
    always @* begin
        cs_best = {{ v.cnt_w }}'d0;
        cs_second = {{ v.cnt_w }}'d0;
        for (cs_j = 0; cs_j < {{ v.n_out }}; cs_j = cs_j + 1)
            if (ex_cnt[cs_j] > cs_best) begin
                cs_second = cs_best;
                cs_best = ex_cnt[cs_j];
            end else if (ex_cnt[cs_j] > cs_second) cs_second = ex_cnt[cs_j];
    end
    wire [{{ v.cnt_w - 1 }}:0] cs_diff = cs_best - cs_second;   // never negative: second <= best
    assign cs_met = {1'b0, cs_diff} >= margin_r;
    assign fin_dec = go_dec;
{%- endif %}
{%- endif %}
