// sf_events: reads a list of event entries from a synchronous RAM and presents one event
// per cycle. Layer entries end in a lane mask (MASKW = lanes): each set lane, lowest first,
// is one event. Input entries (MASKW = 0) are one event each. A two-entry prefetch queue
// keeps one event per cycle flowing after a two-cycle start (go: read entry 0; next cycle:
// capture it; then events). ev_last marks the final event of the list.
`timescale 1ns/1ps
`default_nettype none
module sf_events #(
    parameter integer AW    = 4,     // entry address width
    parameter integer EW    = 8,     // entry width
    parameter integer MASKW = 2,     // lane mask width (0: one event per entry)
    parameter integer LIW   = 1,     // lane index width
    parameter integer PW    = EW - MASKW
) (
    input  wire          clk,
    input  wire          rst,
    input  wire          go,         // first cycle of the accumulate phase
    input  wire [AW:0]   count,      // entries in the list
    output wire [AW-1:0] raddr,
    input  wire [EW-1:0] rdata,
    output wire          ev_valid,
    output wire [PW-1:0] ev_pos,     // the head entry without its lane mask
    output reg  [LIW-1:0] ev_lane,   // lane of this event (lowest remaining lane)
    output wire          ev_last,
    input  wire          ev_ready
);
    localparam integer MW = (MASKW > 0) ? MASKW : 1;
    reg [AW:0]   rd_ptr;     // next entry to read; 0 between phases
    reg [AW:0]   left;       // entries not yet read
    reg          rd_end;     // left == 0, registered
    reg          inflight;
    reg [EW-1:0] q0, q1;
    reg [1:0]    qn;
    reg          act;        // between go and the last event taken: only then are entries read
    reg          room;       // qn + inflight <= 1: an entry read now has a place without a pop

    wire [MW-1:0] mask = (MASKW > 0) ? q0[MW-1:0] : {MW{1'b1}};
    // Lowest set lane and whether it is the only one left.
    integer i;
    reg found;
    always @* begin
        ev_lane = {LIW{1'b0}};
        found = 1'b0;
        for (i = 0; i < MW; i = i + 1) begin
            if (!found && mask[i]) begin
                ev_lane = i[LIW-1:0];
                found = 1'b1;
            end
        end
    end
    wire [MW-1:0] lowbit = mask & (~mask + {{(MW-1){1'b0}}, 1'b1});
    wire          only   = (MASKW == 0) || ((mask & ~lowbit) == {MW{1'b0}});

    assign ev_valid = (qn != 2'd0);
    assign ev_pos   = q0[EW-1:EW-PW];
    wire   take     = ev_valid && ev_ready;
    wire   pop      = take && only;
    wire   push     = inflight;
    wire [1:0] occ  = qn - {1'b0, pop} + {1'b0, push};
    wire   more     = go ? (count != {(AW+1){1'b0}}) : (act && !rd_end);
    // occ <= 1, from a flag: without room (qn + inflight == 2, so qn >= 1) only a pop
    // makes a place. The read counters' enables hang off issue, so it stays shallow.
    wire   issue    = more && (go || room || (ev_ready && only));
    // qn + inflight next cycle (= occ + issue) <= 1, from this cycle's fill (0, 1 or 2).
    wire   fill1    = (qn == 2'd1) != inflight;
    wire   room_nx  = room ? (!fill1 || pop || !issue) : (pop && !issue);
    assign raddr    = rd_ptr[AW-1:0];
    assign ev_last  = ev_valid && only && (qn == 2'd1) && !inflight && rd_end;

    always @(posedge clk) begin
        if (rst) begin
            qn       <= 2'd0;
            inflight <= 1'b0;
            rd_ptr   <= {(AW+1){1'b0}};
            left     <= {(AW+1){1'b0}};
            rd_end   <= 1'b1;
            act      <= 1'b0;
            room     <= 1'b1;
        end else if (go) begin
            qn       <= 2'd0;
            inflight <= issue;
            rd_ptr   <= issue ? {{AW{1'b0}}, 1'b1} : {(AW+1){1'b0}};
            left     <= issue ? count - 1'b1 : count;
            rd_end   <= (count <= {{AW{1'b0}}, 1'b1});
            act      <= issue;
            room     <= 1'b1;
        end else begin
            if (take && ev_last) begin
                act    <= 1'b0;
                rd_ptr <= {(AW+1){1'b0}};
            end
            inflight <= issue;
            room     <= room_nx;
            if (issue) begin
                rd_ptr <= rd_ptr + 1'b1;
                left   <= left - 1'b1;
                rd_end <= (left == {{AW{1'b0}}, 1'b1});
            end
            qn <= occ;
            case ({pop, push})
                2'b01: if (qn == 2'd0) q0 <= rdata; else q1 <= rdata;
                2'b10: q0 <= q1;
                2'b11: if (qn == 2'd1) q0 <= rdata; else begin q0 <= q1; q1 <= rdata; end
                default: ;
            endcase
            // A lane of the head was taken but lanes remain: clear it.
            if (take && !only && MASKW > 0) q0[MW-1:0] <= mask & ~lowbit;
        end
    end
endmodule
`default_nettype wire
