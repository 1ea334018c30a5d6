{#- The LOAD unit: input values become input event entries; the sequential schedule's input list. #}

    // ------------------------------------------------------------------ LOAD: input values
    // One value per cycle; non-zero values become input event entries {c, y, x, value}.
    reg        ld_act;
    reg [{{ v.iaw }}:0] ld_idx;
    reg [{{ v.icw - 1 }}:0] ld_c;
    reg [{{ v.iyw - 1 }}:0] ld_y;
    reg [{{ v.ixw - 1 }}:0] ld_x;
    reg        ld_fx, ld_fy;  // ld_x, ld_y hold their last values (registered with them)
    reg [{{ v.iaw }}:0] inp_ev_cnt;
    wire ld_on  = go_inp || ld_act;
    wire ld_acc = ld_on && in_valid;
    assign in_ready = ld_on;
    reg        ld_lidx;   // ld_idx is the last index (kept with ld_idx)
{%- if v.follow %}
    reg        ld_wdone;  // the load of this inference has ended
{%- endif %}
{%- if v.n_in == 1 %}
    assign fin_inp  = ld_acc && ld_lidx;
{%- else %}
    // ld_lidx is 0 in the go cycle of a load of more than one value, so the phase end does
    // not wait on the sequencer's go.
    assign fin_inp  = ld_act && in_valid && ld_lidx;
{%- endif %}
    wire [{{ v.iaw }}:0] ld_base = go_inp ? {{ v.iaw + 1 }}'d0 : inp_ev_cnt;
    wire ld_nz = (in_data != {{ v.in_w }}'d0);
    // A load always runs to its end (fin_inp restores these values), so only rst resets it.
    always @(posedge clk) begin
        if (rst) begin
            ld_act     <= 1'b0;
            ld_idx     <= {{ v.iaw + 1 }}'d0;
            ld_lidx    <= 1'b{% if v.n_in == 1 %}1{% else %}0{% endif %};
            ld_c       <= {{ v.icw }}'d0;
            ld_y       <= {{ v.iyw }}'d0;
            ld_x       <= {{ v.ixw }}'d0;
            ld_fx <= 1'b{% if v.in_ww == 1 %}1{% else %}0{% endif %}; ld_fy <= 1'b{% if v.in_hh == 1 %}1{% else %}0{% endif %};
            inp_ev_cnt <= {{ v.iaw + 1 }}'d0;
{%- if v.follow %}
            ld_wdone   <= 1'b0;
{%- endif %}
        end else begin
            if (go_inp) ld_act <= 1'b1;
{%- if v.follow %}
            // The readers follow the load (sf_events_follow): the count starts each inference
            // at 0 and `ld_wdone` says the list is complete.
            if (done) begin
                inp_ev_cnt <= {{ v.iaw + 1 }}'d0;
                ld_wdone   <= 1'b0;
            end
            if (ld_acc && fin_inp) ld_wdone <= 1'b1;
{%- endif %}
            if (ld_acc) begin
                inp_ev_cnt <= ld_base + { {{ v.iaw }}'d0, ld_nz };
                if (fin_inp) begin
                    ld_act <= 1'b0;
                    ld_idx <= {{ v.iaw + 1 }}'d0;
                    ld_lidx <= 1'b{% if v.n_in == 1 %}1{% else %}0{% endif %};
                    ld_c   <= {{ v.icw }}'d0;
                    ld_y   <= {{ v.iyw }}'d0;
                    ld_x   <= {{ v.ixw }}'d0;
                    ld_fx <= 1'b{% if v.in_ww == 1 %}1{% else %}0{% endif %}; ld_fy <= 1'b{% if v.in_hh == 1 %}1{% else %}0{% endif %};
                end else begin
                    ld_idx <= ld_idx + {{ v.iaw + 1 }}'d1;
                    ld_lidx <= (ld_idx == {{ v.iaw + 1 }}'d{{ v.n_in_minus_2() }});
                    if (ld_fx) begin
                        ld_x <= {{ v.ixw }}'d0;
                        ld_fx <= 1'b{% if v.in_ww == 1 %}1{% else %}0{% endif %};
                        if (ld_fy) begin
                            ld_y <= {{ v.iyw }}'d0;
                            ld_fy <= 1'b{% if v.in_hh == 1 %}1{% else %}0{% endif %};
                            ld_c <= ld_c + {{ v.icw }}'d1;
                        end else begin
                            ld_y <= ld_y + {{ v.iyw }}'d1;
                            ld_fy <= {% if v.in_hh > 1 %}(ld_y == {{ v.iyw }}'d{{ v.in_hh - 2 }}){% else %}1'b1{% endif %};
                        end
                    end else begin
                        ld_x <= ld_x + {{ v.ixw }}'d1;
                        ld_fx <= {% if v.in_ww > 1 %}(ld_x == {{ v.ixw }}'d{{ v.in_ww - 2 }}){% else %}1'b1{% endif %};
                    end
                end
            end
        end
    end
{%- if v.pipe %}
{%- if v.per_step %}
    // Entries of the input of each step parity (a step's readers read its half while the
    // next step loads the other).
    reg  [{{ v.iaw }}:0] inp_ev_c0, inp_ev_c1;
    always @(posedge clk) begin
        if (ld_acc && fin_inp && !gin_t[0]) inp_ev_c0 <= ld_base + { {{ v.iaw }}'d0, ld_nz };
        if (ld_acc && fin_inp && gin_t[0])  inp_ev_c1 <= ld_base + { {{ v.iaw }}'d0, ld_nz };
    end
{%- endif %}
    // (The input's event lists are among the copies after the layers' lists below.)
{%- else if v.has_in_events %}
{%- if let Some(sb) = v.in_step %}
    // Streamed: the input of every step is kept, step t's entries at t x {{ v.n_in }}, with the
    // entries of each step (taken as its LOAD phase ends).
    localparam integer IN_AW = {{ sb.w }};
    wire [IN_AW-1:0] inp_ev_raddr;
    wire [{{ v.iew - 1 }}:0] inp_ev_rdata;
    reg  [{{ v.iaw }}:0] inp_ev_len [0:{{ v.t_max - 1 }}];
    always @(posedge clk) if (fin && pc_oh[0]) inp_ev_len[t{{ v.t_index() }}] <= inp_ev_cnt;
    sf_ram #(.WIDTH({{ v.iew }}), .DEPTH({{ v.n_in * v.t_max }}), .AW(IN_AW), .LOGIC({% if v.in_logic %}1{% else %}0{% endif %})) inp_ev (
        .clk(clk), .we(ld_acc && ld_nz), .waddr({{ v.in_waddr() }}), .wdata({ld_c, ld_y, ld_x, in_data}),
        .raddr(inp_ev_raddr), .rdata(inp_ev_rdata));
    // An event reader's address is 0 while it is idle, so the readers' addresses are OR-ed.
    assign inp_ev_raddr = {{ v.in_raddr() }};
{%- else %}
    wire [{{ v.iaw - 1 }}:0] inp_ev_raddr;
    wire [{{ v.iew - 1 }}:0] inp_ev_rdata;
    sf_ram #(.WIDTH({{ v.iew }}), .DEPTH({{ v.n_in }}), .AW({{ v.iaw }}), .LOGIC({% if v.in_logic %}1{% else %}0{% endif %})) inp_ev (
        .clk(clk), .we(ld_acc && ld_nz), .waddr(ld_base[{{ v.iaw - 1 }}:0]), .wdata({ld_c, ld_y, ld_x, in_data}),
        .raddr(inp_ev_raddr), .rdata(inp_ev_rdata));
    // An event reader's address is 0 while it is idle, so the readers' addresses are OR-ed.
    assign inp_ev_raddr = {{ v.iaw }}'d0{% for l in v.layers %}{% for p in l.projs %}{% if p.src_input %} | {{ p.pre }}_ev_raddr{% endif %}{% endfor %}{% endfor %};
{%- endif %}
{%- endif %}
