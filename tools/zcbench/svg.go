package main

import (
	"bytes"
	"fmt"
	"html"
	"math"
)

// colors of the table's columns in the chart.
var colors = []string{"#9e9e9e", "#616161", "#90caf9", "#1e88e5", "#a5d6a7", "#43a047", "#e65100"}

// svg draws the table as a grouped bar chart: one group per protocol,
// family, limit and payload, one bar per column, in MB/s on a log scale (the
// host is ten times faster than the sandboxes).
func (rep *report) svg() []byte {
	const (
		barW, gap, chartH, top, left, bottom = 9, 14, 260, 40, 60, 70
	)
	lines := rep.ratiosOrCells()
	groupW := len(columns)*barW + gap
	width := max(left+len(lines)*groupW+20, left+4*150)
	height := top + chartH + bottom + 20*len(columns)/2
	maxV := 10.0
	for _, r := range rep.Rows {
		maxV = max(maxV, r.MBps)
	}
	decades := math.Ceil(math.Log10(maxV))
	// y maps MB/s (1 and up) to a height above the axis.
	y := func(v float64) int {
		return int(float64(chartH) * math.Log10(max(v, 1)) / decades)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="10">`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="13">zcbench: sender MB/s, log scale (median of %s runs of %s)</text>`+"\n", left, rep.Machine["reps"], rep.Machine["duration"])
	for v := 1.0; v <= math.Pow(10, decades); v *= 10 {
		gy := top + chartH - y(v)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#ddd"/><text x="5" y="%d">%.0f</text>`+"\n", left, width-10, gy, gy, gy+3, v)
	}
	for g, ra := range lines {
		x0 := left + g*groupW
		for c, col := range columns {
			r, ok := rep.byKey[key{ra.Proto, ra.Family, ra.Limit, ra.Payload, col.mode, col.env}]
			if !ok || r.Error != "" {
				continue
			}
			h := y(r.MBps)
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"><title>%s: %.0f MB/s</title></rect>`+"\n",
				x0+c*barW, top+chartH-h, barW-1, h, colors[c], html.EscapeString(col.title), r.MBps)
		}
		label := fmt.Sprintf("%s%d l%d %dB", ra.Proto, ra.Family, ra.Limit, ra.Payload)
		fmt.Fprintf(&b, `<text transform="translate(%d,%d) rotate(40)">%s</text>`+"\n", x0, top+chartH+12, html.EscapeString(label))
	}
	for c, col := range columns {
		x := left + (c%4)*150
		y := top + chartH + bottom + 20*(c/4)
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n", x, y-9, colors[c], x+14, y, html.EscapeString(col.title))
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}
