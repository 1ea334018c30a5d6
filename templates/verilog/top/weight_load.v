{#- The weight-load port: fills the weight ROMs in SPRAM after reset (view::rom::WeightLoad). #}
{%- if !v.wl.spram.is_empty() %}
    // ------------------------------------------------------------------ weight load (SPRAM)
    // Weight ROMs in SPRAM cannot be initialised: after reset the host streams their image,
    // {{ v.wl.nibbles }} nibbles (<module>_wl.hex: per ROM, per block word, per column, four
    // nibbles lowest first) through wl_valid/wl_ready/wl_data; `start` waits until it is in.
    reg  [{{ v.wl.mw - 1 }}:0] wl_m;   // ROM being loaded
    reg  [{{ v.wl.ww - 1 }}:0] wl_w;   // its block word
    reg  [{{ v.wl.cw - 1 }}:0] wl_c;   // column
    reg  [1:0]  wl_n;                  // nibble
    assign wl_ready = !wl_done;
    wire wl_fire = wl_valid && !wl_done;
    reg  wl_lastw, wl_lastc;
    always @* begin
        case (wl_m)
{%- for m in v.wl.spram %}
            {{ v.wl.mw }}'d{{ m.idx }}: begin wl_lastw = (wl_w == {{ v.wl.ww }}'d{{ m.words - 1 }}); wl_lastc = (wl_c == {{ v.wl.cw }}'d{{ m.cols - 1 }}); end
{%- endfor %}
            default: begin wl_lastw = 1'b1; wl_lastc = 1'b1; end
        endcase
    end
    always @(posedge clk) begin
        if (rst) begin
            wl_done <= 1'b0;
            wl_m <= {{ v.wl.mw }}'d0; wl_w <= {{ v.wl.ww }}'d0; wl_c <= {{ v.wl.cw }}'d0; wl_n <= 2'd0;
        end else if (wl_fire) begin
            wl_n <= wl_n + 2'd1;
            if (wl_n == 2'd3) begin
                if (wl_lastc) begin
                    wl_c <= {{ v.wl.cw }}'d0;
                    if (wl_lastw) begin
                        wl_w <= {{ v.wl.ww }}'d0;
                        if (wl_m == {{ v.wl.mw }}'d{{ v.wl.spram.len() - 1 }}) wl_done <= 1'b1;
                        else wl_m <= wl_m + {{ v.wl.mw }}'d1;
                    end else wl_w <= wl_w + {{ v.wl.ww }}'d1;
                end else wl_c <= wl_c + {{ v.wl.cw }}'d1;
            end
        end
    end

{%- endif %}
