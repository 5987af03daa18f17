package lab

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"math"
	"time"
)

// Geometry of the timeline plot, in SVG user units.
const (
	svgWidth  = 900
	svgLeft   = 110 // lane labels
	svgRight  = 20
	svgTop    = 36
	svgLane   = 22
	svgGap    = 6
	svgBottom = 40
)

// laneColors colour the nodes' lanes; the lease lane uses the same colour per holder.
var laneColors = []string{"#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"}

// WriteSVG draws p as a plain SVG: one lane per node (who answered ARP/NDP), a "dark"
// lane (nobody answered), a "split" lane (two or more answered), a "lease" lane (the
// holder the API named), grey fault windows and the step marks. Hand-written: rects,
// lines and text only.
func WriteSVG(w io.Writer, p Plot) error {
	bw := bufio.NewWriter(w)
	pl := svgPlot{p: p, lanes: append(append([]string{}, p.Nodes...), "dark", "split", "lease")}
	pl.span = p.End.Sub(p.Start)
	if pl.span <= 0 {
		pl.span = time.Second
	}
	height := svgTop + len(pl.lanes)*(svgLane+svgGap) + svgBottom
	fmt.Fprintf(bw, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n",
		svgWidth, height, svgWidth, height)
	fmt.Fprintf(bw, `<rect width="%d" height="%d" fill="white"/>`+"\n", svgWidth, height)
	fmt.Fprintf(bw, `<text x="%d" y="18" font-size="13" font-weight="bold">%s</text>`+"\n", svgLeft, esc(p.Title))
	pl.windows(bw, height)
	pl.laneLabels(bw)
	pl.answers(bw)
	pl.holders(bw)
	pl.marks(bw, height)
	pl.axis(bw, height)
	fmt.Fprintln(bw, "</svg>")
	return bw.Flush()
}

type svgPlot struct {
	p     Plot
	lanes []string
	span  time.Duration
}

func esc(s string) string { return html.EscapeString(s) }

// x maps an instant to an x coordinate, clamped to the plot.
func (pl svgPlot) x(t time.Time) float64 {
	f := float64(t.Sub(pl.p.Start)) / float64(pl.span)
	f = math.Max(0, math.Min(1, f))
	return svgLeft + f*float64(svgWidth-svgLeft-svgRight)
}

func (pl svgPlot) laneY(i int) int { return svgTop + i*(svgLane+svgGap) }

func (pl svgPlot) lane(name string) int {
	for i, l := range pl.lanes {
		if l == name {
			return i
		}
	}
	return -1
}

func (pl svgPlot) color(node string) string {
	if i := pl.lane(node); i >= 0 && i < len(pl.p.Nodes) {
		return laneColors[i%len(laneColors)]
	}
	return "#444444"
}

func (pl svgPlot) rect(w io.Writer, lane int, from, to time.Time, fill, title string) {
	x0, x1 := pl.x(from), pl.x(to)
	if x1 <= x0 {
		x1 = x0 + 0.5
	}
	fmt.Fprintf(w, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s</title></rect>`+"\n",
		x0, pl.laneY(lane), x1-x0, svgLane, fill, esc(title))
}

func (pl svgPlot) windows(w io.Writer, height int) {
	for _, win := range pl.p.Windows {
		end := win.End
		if end.IsZero() {
			end = pl.p.End
		}
		x0, x1 := pl.x(win.Start), pl.x(end)
		fmt.Fprintf(w, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="#999999" fill-opacity="0.25"><title>%s</title></rect>`+"\n",
			x0, svgTop-6, math.Max(x1-x0, 1), height-svgTop-svgBottom+6, esc(win.Label))
	}
}

func (pl svgPlot) laneLabels(w io.Writer) {
	for i, l := range pl.lanes {
		fmt.Fprintf(w, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", svgLeft-8, pl.laneY(i)+svgLane-7, esc(l))
		fmt.Fprintf(w, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#dddddd"/>`+"\n",
			svgLeft, pl.laneY(i)+svgLane, svgWidth-svgRight, pl.laneY(i)+svgLane)
	}
}

// answers draws each run of probe rounds in the lanes of the nodes that answered, or in
// the dark lane; runs with two or more nodes also go to the split lane.
func (pl svgPlot) answers(w io.Writer) {
	segs := pl.p.Segments
	for i, s := range segs {
		from, to, ok := clipped(segs, i, pl.p.Start, pl.p.End)
		if !ok {
			continue
		}
		title := fmt.Sprintf("%v..%v: %v (%d rounds)", pl.rel(from), pl.rel(to), s.Nodes, s.Count)
		if len(s.Nodes) == 0 {
			pl.rect(w, pl.lane("dark"), from, to, "#d62728", title)
		}
		if len(s.Nodes) > 1 {
			pl.rect(w, pl.lane("split"), from, to, "#ff7f0e", title)
		}
		for _, n := range s.Nodes {
			if l := pl.lane(n); l >= 0 {
				pl.rect(w, l, from, to, pl.color(n), title)
			}
		}
	}
}

// holders draws the Lease holder read from the API, each span in its node's colour.
func (pl svgPlot) holders(w io.Writer) {
	hs, lane := pl.p.Holders, pl.lane("lease")
	for i, h := range hs {
		end := pl.p.End
		if i+1 < len(hs) {
			end = hs[i+1].Start
		}
		if end.Before(pl.p.Start) || h.Start.After(pl.p.End) {
			continue
		}
		fill := "#eeeeee"
		if h.Holder != "" {
			fill = pl.color(h.Holder)
		}
		pl.rect(w, lane, h.Start, end, fill, fmt.Sprintf("from %v: lease holder %q", pl.rel(h.Start), h.Holder))
	}
}

// maxMarkLabels: with more marks (etcd flapping) only their lines and tooltips are drawn.
const maxMarkLabels = 8

func (pl svgPlot) marks(w io.Writer, height int) {
	for _, m := range pl.p.Marks {
		x := pl.x(m.At)
		if len(pl.p.Marks) <= maxMarkLabels {
			fmt.Fprintf(w, `<text x="%.1f" y="%d" font-size="9">%s</text>`+"\n", x+2, svgTop-9, esc(m.Label))
		}
		fmt.Fprintf(w, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="black" stroke-dasharray="3,3"><title>%s</title></line>`+"\n",
			x, svgTop-6, x, height-svgBottom, esc(fmt.Sprintf("%v %s", pl.rel(m.At), m.Label)))
	}
}

// axis draws seconds since the plot's start, a tick every 1, 2, 5, 10, ... seconds.
func (pl svgPlot) axis(w io.Writer, height int) {
	y := height - svgBottom + 4
	step := tickStep(pl.span)
	for t := time.Duration(0); t <= pl.span && t/step <= 100; t += step {
		x := pl.x(pl.p.Start.Add(t))
		fmt.Fprintf(w, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="black"/>`+"\n", x, y, x, y+4)
		fmt.Fprintf(w, `<text x="%.1f" y="%d" text-anchor="middle">%g</text>`+"\n", x, y+16, t.Seconds())
	}
	fmt.Fprintf(w, `<text x="%d" y="%d" text-anchor="end">s</text>`+"\n", svgWidth-svgRight, y+30)
}

func tickStep(span time.Duration) time.Duration {
	for _, s := range []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute} {
		if span/s <= 20 {
			return s
		}
	}
	return 5 * time.Minute
}

func (pl svgPlot) rel(t time.Time) time.Duration {
	return t.Sub(pl.p.Start).Round(100 * time.Millisecond)
}
