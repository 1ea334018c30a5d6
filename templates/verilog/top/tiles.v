{#- The tile buffer of weights streamed from external memory: controller, requests, gearbox, buffer (view::tiles). #}
{%- if let Some(x) = v.tiles %}
    // ------------------------------------------------------------------ tile buffer (weights from SDRAM)
    // The weights live in the SDRAM (<module>_sdram.hex, loaded by the host before the first
    // inference). Each layer's weights are one request (a tile), in layer order, into half
    // j % 2 of the buffer: tiles 0 and 1 from the inference's first cycle, tile j from the
    // first cycle of the layer after tile j - 2's. A word the controller hands over is written
    // at the next edge, so a tile is readable CL + 3 cycles after its last READ; the sequencer
    // holds a layer's first phase until then (hw::sdram::TileFetch is the specification).
    reg  [{{ x.tw - 1 }}:0] tx_next;   // the next tile to request
{%- if x.tiled %}
    // With layers in tiles the requests step through a table per layer: the tiles are back to
    // back in the memory (the address a running sum), a layer's `ntl + 1` of `len` words each;
    // the need of tile j comes from tile j - 2's (layer, tile), registered as tile j - 1 is requested.
    reg  [{{ x.raw - 1 }}:0] tx_addr;
    reg  [{{ x.qlw - 1 }}:0] tx_ql, tx_ql1;                                 // the layer (ordinal) of the next tile, of the one before
    reg  [{{ v.prog.tjw - 1 }}:0] tx_t, tx_t1;                              // their tiles within the layer
    reg  [{{ x.lw - 1 }}:0] tx_len;
    reg  [{{ v.prog.tjw - 1 }}:0] tx_ntl;
    reg  [{{ x.layw - 1 }}:0] tx_s1;                                     // tile j - 1's layer's first slot
    always @* begin
        case (tx_ql)
{%- for r in x.reqs %}
            {{ x.qlw }}'d{{ r.j }}: begin tx_len = {{ x.lw }}'d{{ r.len }}; tx_ntl = {{ v.prog.tjw }}'d{{ r.ntl }}; end
{%- endfor %}
            default: begin tx_len = {{ x.lw }}'d0; tx_ntl = {{ v.prog.tjw }}'d0; end
        endcase
        case (tx_ql1)
{%- for r in x.reqs %}
            {{ x.qlw }}'d{{ r.j }}: tx_s1 = {{ x.layw }}'d{{ r.need }};
{%- endfor %}
            default: tx_s1 = {{ x.layw }}'d0;
        endcase
    end
    // The (layer, tile) pair tile j waits for: 0 for tiles 0 and 1, else tile j - 2's + 2.
    // Registered as the request is taken, from what tile j - 2 then is (the one before the
    // request taken), so the request's valid compares two registers.
    reg  [{{ x.layw - 1 }}:0] tx_need;
    wire tx_valid = run && (tx_next != {{ x.tw }}'d{{ x.tiles_n }}) && (lay_q >= tx_need);
{%- else %}
    reg  [{{ x.raw - 1 }}:0] tx_addr;
    reg  [{{ x.lw - 1 }}:0] tx_len;
    reg  [{{ x.layw - 1 }}:0] tx_need;
    always @* begin
        case (tx_next)
{%- for r in x.reqs %}
            {{ x.tw }}'d{{ r.j }}: begin tx_addr = {{ x.raw }}'d{{ r.addr }}; tx_len = {{ x.lw }}'d{{ r.len }}; tx_need = {{ x.layw }}'d{{ r.need }}; end
{%- endfor %}
            default: begin tx_addr = {{ x.raw }}'d0; tx_len = {{ x.lw }}'d0; tx_need = {{ x.layw }}'d0; end
        endcase
    end
    wire tx_valid = run && (tx_next != {{ x.tw }}'d{{ x.reqs.len() }}) && (lay_q >= tx_need);
{%- endif %}
    wire tx_ready, ctl_rv;
    wire [{{ x.dw - 1 }}:0] ctl_rd;
    sf_sdram_stream {{ x.stream }} ctl (
        .clk(clk), .rst(rst), .req_valid(tx_valid), .req_addr(tx_addr), .req_len(tx_len), .req_ready(tx_ready),
        .restart(first), .quiet(ctl_quiet), .rd_valid(ctl_rv), .rd_data(ctl_rd),
        .sd_cs_n(sd_cs_n), .sd_ras_n(sd_ras_n), .sd_cas_n(sd_cas_n), .sd_we_n(sd_we_n), .sd_ba(sd_ba), .sd_a(sd_a),
        .sd_dq(sd_dq));
{%- if x.tiled %}
    always @(posedge clk) begin
        if (rst || first) begin
            tx_next <= {{ x.tw }}'d0; tx_addr <= {{ x.raw }}'d0;
            tx_ql <= {{ x.qlw }}'d0; tx_t <= {{ v.prog.tjw }}'d0;
            tx_ql1 <= {{ x.qlw }}'d0; tx_t1 <= {{ v.prog.tjw }}'d0;
            tx_need <= {{ x.layw }}'d0;
        end else if (tx_valid && tx_ready) begin
            tx_next <= tx_next + {{ x.tw }}'d1;
            tx_need <= (tx_next == {{ x.tw }}'d0) ? {{ x.layw }}'d0 : tx_s1 + { {{- x.layw - v.prog.tjw }}'d0, tx_t1} + {{ x.layw }}'d2;
            tx_addr <= tx_addr + {% if x.raw > x.lw %}{ {{- x.raw - x.lw }}'d0, tx_len}{% else %}tx_len[{{ x.raw - 1 }}:0]{% endif %};
            tx_ql1 <= tx_ql; tx_t1 <= tx_t;
            if (tx_t == tx_ntl) begin
                tx_t <= {{ v.prog.tjw }}'d0;
                tx_ql <= tx_ql + {{ x.qlw }}'d1;
            end else tx_t <= tx_t + {{ v.prog.tjw }}'d1;
        end
    end
{%- else %}
    always @(posedge clk) begin
        if (rst || first) tx_next <= {{ x.tw }}'d0;
        else if (tx_valid && tx_ready) tx_next <= tx_next + {{ x.tw }}'d1;
    end
{%- endif %}
    // Gearbox: the ROMs' words arrive in address order, ROM after ROM. A buffer row holds
    // {{ x.units }} memory words, the ROM's words in slots of their width's next power of two: the
    // memory words of a ROM word go to consecutive positions from the start of its slot. A row
    // is written with its last word (the row full, or the ROM's last word).
    reg  [{{ x.mw - 1 }}:0] gx_m;   // ROM
    reg  [{{ x.ww - 1 }}:0] gx_w;   // its memory word
    reg  [{{ x.cw - 1 }}:0] gx_c;   // the memory word within its ROM word
    reg  [{{ x.pw - 1 }}:0] gx_p;   // the position in the row
    reg  [{{ x.rw - 1 }}:0] gx_r;   // the row within the ROM
    reg  [{{ x.tw - 1 }}:0] tiles_in;   // tiles readable
    reg  gx_lastw, gx_lastc, gx_tend;
    reg  [{{ x.pw - 1 }}:0] gx_um;
    reg  [{{ x.aw - 1 }}:0] gx_base;
{%- if x.tiled %}
    // With layers in tiles the table is per ROM: a tile's slices are its layer's ROMs in turn,
    // then the layer's first ROM again for its next tile (gx_t), each tile into the other half
    // of the buffer (gx_h) from the ROM's offset in a half.
    reg  [{{ v.prog.tjw - 1 }}:0] gx_t, gx_ntl;
    reg  gx_h;
    reg  [{{ x.mw - 1 }}:0] gx_first;
    reg  [{{ x.aw - 1 }}:0] gx_off;
    always @* begin
        case (gx_m)
{%- for m in x.mems %}
            {{ x.mw }}'d{{ m.m }}: begin gx_lastw = (gx_w == {{ x.ww }}'d{{ m.words - 1 }}); gx_lastc = (gx_c == {{ x.cw }}'d{{ m.cols - 1 }}); gx_um = {{ x.pw }}'d{{ m.unit_mask }}; gx_off = {{ x.aw }}'d{{ m.base }}; gx_tend = 1'b{% if m.tile_end %}1{% else %}0{% endif %}; gx_first = {{ x.mw }}'d{{ m.first }}; gx_ntl = {{ v.prog.tjw }}'d{{ m.ntl }}; end
{%- endfor %}
            default: begin gx_lastw = 1'b1; gx_lastc = 1'b1; gx_um = {{ x.pw }}'d0; gx_off = {{ x.aw }}'d0; gx_tend = 1'b0; gx_first = {{ x.mw }}'d0; gx_ntl = {{ v.prog.tjw }}'d0; end
        endcase
        gx_base = gx_off + (gx_h ? {{ x.aw }}'d{{ x.half }} : {{ x.aw }}'d0);
    end
{%- else %}
    always @* begin
        case (gx_m)
{%- for m in x.mems %}
            {{ x.mw }}'d{{ m.m }}: begin gx_lastw = (gx_w == {{ x.ww }}'d{{ m.words - 1 }}); gx_lastc = (gx_c == {{ x.cw }}'d{{ m.cols - 1 }}); gx_um = {{ x.pw }}'d{{ m.unit_mask }}; gx_base = {{ x.aw }}'d{{ m.base }}; gx_tend = 1'b{% if m.tile_end %}1{% else %}0{% endif %}; end
{%- endfor %}
            default: begin gx_lastw = 1'b1; gx_lastc = 1'b1; gx_um = {{ x.pw }}'d0; gx_base = {{ x.aw }}'d0; gx_tend = 1'b0; end
        endcase
    end
{%- endif %}
    // The next position: the next slot after a ROM word's last memory word, else the next one.
    wire [{{ x.pw - 1 }}:0] gx_pn = (gx_lastc ? (gx_p | gx_um) : gx_p) + {{ x.pw }}'d1;
    wire gx_done = gx_lastw || (gx_pn == {{ x.pw }}'d{{ x.units }});   // this word completes a row
    wire gx_we = ctl_rv && gx_done;
    assign tiles_nx = tiles_in + {{ "{" }}{{ x.tw - 1 }}'d0, gx_we && gx_lastw && gx_tend};
    always @(posedge clk) begin
        if (rst || first) begin
            gx_m <= {{ x.mw }}'d0; gx_w <= {{ x.ww }}'d0; gx_c <= {{ x.cw }}'d0; gx_p <= {{ x.pw }}'d0; gx_r <= {{ x.rw }}'d0;
{%- if x.tiled %}
            gx_t <= {{ v.prog.tjw }}'d0; gx_h <= 1'b0;
{%- endif %}
            tiles_in <= {{ x.tw }}'d0;
        end else begin
            tiles_in <= tiles_nx;
            if (ctl_rv) begin
                gx_c <= gx_lastc ? {{ x.cw }}'d0 : gx_c + {{ x.cw }}'d1;
                gx_p <= gx_done ? {{ x.pw }}'d0 : gx_pn;
                if (gx_lastw) begin
                    gx_w <= {{ x.ww }}'d0;
                    gx_r <= {{ x.rw }}'d0;
{%- if x.tiled %}
                    if (gx_tend) begin
                        gx_h <= !gx_h;
                        if (gx_t == gx_ntl) begin
                            gx_t <= {{ v.prog.tjw }}'d0;
                            gx_m <= gx_m + {{ x.mw }}'d1;
                        end else begin
                            gx_t <= gx_t + {{ v.prog.tjw }}'d1;
                            gx_m <= gx_first;
                        end
                    end else gx_m <= gx_m + {{ x.mw }}'d1;
{%- else %}
                    gx_m <= gx_m + {{ x.mw }}'d1;
{%- endif %}
                end else begin
                    gx_w <= gx_w + {{ x.ww }}'d1;
                    if (gx_done) gx_r <= gx_r + {{ x.rw }}'d1;
                end
            end
        end
    end
{%- if x.units > 1 %}
    reg  [{{ x.dw * (x.units - 1) - 1 }}:0] gx_hold;   // the row's earlier words
    always @(posedge clk) begin
{%- for c in 0..(x.units - 1) %}
        if (ctl_rv && !gx_done && gx_p == {{ x.pw }}'d{{ c }}) gx_hold[{{ c * x.dw }} +: {{ x.dw }}] <= ctl_rd;
{%- endfor %}
    end
    wire [{{ x.width - 1 }}:0] gx_row = {
{%- for c in (0..x.units).rev() %}
        (gx_p == {{ x.pw }}'d{{ c }}) ? ctl_rd : {% if c + 1 < x.units %}gx_hold[{{ c * x.dw }} +: {{ x.dw }}]{% else %}{{ x.dw }}'d0{% endif %}{% if !loop.last %},{% endif %}
{%- endfor %}
    };
{%- else %}
    wire [{{ x.width - 1 }}:0] gx_row = ctl_rd;
{%- endif %}
    wire [{{ x.aw - 1 }}:0] gx_waddr = gx_base + {% if x.aw > x.rw %}{{ "{" }}{{ x.aw - x.rw }}'d0, gx_r}{% else %}gx_r[{{ x.aw - 1 }}:0]{% endif %};
    wire [{{ x.aw - 1 }}:0] tx_raddr;   // the running ACC phase's ROM read (end of the module)
    /* verilator lint_off UNUSEDSIGNAL */
    wire [{{ x.width - 1 }}:0] tx_q;    // narrower ROMs read its low bits
{%- for sl in x.slots %}
    // The {{ sl.slot }}-bit slots of narrow weights: one multiplexer for their ROMs (their ACC phases
    // run one at a time; each ROM's slot register is zero outside its phase, view::tiles).
    wire [{{ sl.pw_log - 1 }}:0] {{ sl.xs }};   // the OR of their slot registers (end of the module)
    wire [{{ sl.slot - 1 }}:0] {{ sl.name }} = tx_q[{{ sl.lo }} +: {{ sl.slot }}];   // each takes its width's low bits
{%- endfor %}
    /* verilator lint_on UNUSEDSIGNAL */
    sf_ram #(.WIDTH({{ x.width }}), .DEPTH({{ x.depth }}), .AW({{ x.aw }}), .INIT(""), .LOGIC({% if x.logic %}1{% else %}0{% endif %}), .BLOCK({% if v.hold_brams && !x.logic %}1{% else %}0{% endif %})) tx_buf (
        .clk(clk), .we(gx_we), .waddr(gx_waddr), .wdata(gx_row), .raddr(tx_raddr), .rdata(tx_q));
{%- endif %}
