package main

import (
	"bytes"
	"fmt"
	"html"
	"math"
)

// seriesGain is New ZCopy / ZCopy in the series' cover letter (v8, its
// selftest on a kernel), by limit, protocol and IP version.
var seriesGain = map[int]map[string]float64{
	1:  {"tcp4": 1.1742, "tcp6": 1.1670, "udp4": 1.2088, "udp6": 1.2634},
	32: {"tcp4": 1.0600, "tcp6": 1.0828, "udp4": 1.0031, "udp6": 1.0001},
}

// seriesSaving is the cover letter's CPU saving of New ZCopy over ZCopy:
// "around 17%" (TCP) and "23%" (UDP) at limit 1, "around 7%" for TCP at
// limit 32 ("slightly better" for UDP, no figure).
var seriesSaving = map[int]map[string]float64{
	1:  {"tcp": 0.17, "udp": 0.23},
	32: {"tcp": 0.07},
}

// Colors of the chart.
var (
	colors    = []string{"#9e9e9e", "#616161", "#90caf9", "#1e88e5", "#a5d6a7", "#43a047", "#e65100"}
	colorGain = "#e65100" // New/ZCopy
	colorCopy = "#43a047" // New/copy
	colorCPU  = "#1e88e5" // CPU saving
	colorRef  = "#b71c1c" // the series' figures
)

// svgChart lays out the panels of the chart.
type svgChart struct {
	b      bytes.Buffer
	lines  []line
	left   int
	groupW int
	width  int
}

const (
	panelH   = 220
	panelGap = 120 // the lines' names and a legend
	top0     = 60  // the title
)

// svg draws the point of the series: per line of the tables, New/ZCopy and
// New/copy throughput, and the CPU saving, with the series' kernel figures
// as reference marks; then the throughput of every column, log scale.
func (rep *report) svg() []byte {
	c := &svgChart{left: 60, groupW: 54}
	for _, n := range rep.networks {
		c.lines = append(c.lines, rep.lines(n)...)
	}
	c.width = max(c.left+len(c.lines)*c.groupW+20, 900)
	height := top0 + 3*(panelH+panelGap)
	fmt.Fprintf(&c.b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="10">`+"\n", c.width, height)
	fmt.Fprintf(&c.b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&c.b, `<text x="%d" y="18" font-size="13">zcbench: New ZCopy (SCM_ZC_NOTIFICATION) against ZCopy (MSG_ERRQUEUE) and copy under runsc-zc</text>`+"\n", c.left)
	fmt.Fprintf(&c.b, `<text x="%d" y="34">medians of %s runs of %s, %s; %s</text>`+"\n",
		c.left, rep.Machine["reps"], rep.Machine["duration"], html.EscapeString(rep.Machine["pinning"]), html.EscapeString(rep.Machine["date"]))

	top := top0
	c.ratioPanel(rep, top, "throughput: New/ZCopy and New/copy (bars from 100%, whiskers: the repetitions' range)",
		1, 0.5, 2, 0.25, []barSeries{
			{"New/ZCopy", "New/ZCopy", colorGain, func(ra ratio) *figure { return ra.NewOverZcopy }},
			{"New/copy", "New/copy", colorCopy, func(ra ratio) *figure { return ra.NewOverCopy }},
		}, "the series' New/ZCopy on a kernel", func(l line) (float64, bool) {
			f, ok := seriesGain[l.limit][fmt.Sprint(l.proto, l.family)]
			return f, ok
		})
	top += panelH + panelGap
	c.ratioPanel(rep, top, "CPU saving of New over ZCopy: 1 - New's CPU per send / ZCopy's",
		0, -0.2, 0.5, 0.1, []barSeries{
			{"CPU saving", "CPU saving (n/a: CPU not a cost, see the table's notes)", colorCPU, func(ra ratio) *figure { return ra.CPUSaving }},
		}, "the series' saving on a kernel", func(l line) (float64, bool) {
			f, ok := seriesSaving[l.limit][l.proto]
			return f, ok
		})

	// MB/s of every column, log scale.
	top += panelH + panelGap
	maxV := 10.0
	for _, r := range rep.Rows {
		maxV = max(maxV, r.MBps)
	}
	decades := math.Ceil(math.Log10(maxV))
	fmt.Fprintf(&c.b, `<text x="%d" y="%d" font-size="12">sender MB/s, log scale</text>`+"\n", c.left, top-6)
	logY := func(v float64) int { return top + panelH - int(float64(panelH)*math.Log10(max(v, 1))/decades) }
	for v := 1.0; v <= math.Pow(10, decades); v *= 10 {
		fmt.Fprintf(&c.b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#ddd"/><text x="5" y="%d">%.0f</text>`+"\n",
			c.left, c.width-10, logY(v), logY(v), logY(v)+3, v)
	}
	for g, l := range c.lines {
		for i, col := range columns {
			r, ok := rep.byKey[l.cell(col.mode, col.env)]
			if !ok || r.Error != "" {
				continue
			}
			x := c.left + g*c.groupW + 4 + i*6
			fmt.Fprintf(&c.b, `<rect x="%d" y="%d" width="5" height="%d" fill="%s"><title>%s %s: %.0f MB/s</title></rect>`+"\n",
				x, logY(r.MBps), top+panelH-logY(r.MBps), colors[i], html.EscapeString(col.title), l, r.MBps)
		}
	}
	c.labels(top + panelH)
	var titles []string
	for _, col := range columns {
		titles = append(titles, col.title)
	}
	c.legend(top+panelH+72, colors, titles)
	c.b.WriteString("</svg>\n")
	return c.b.Bytes()
}

// barSeries is a figure of the ratios drawn as bars.
type barSeries struct {
	name, legend, color string
	get                 func(ratio) *figure
}

// ratioPanel draws a panel at top: for each line a bar of each series from
// base, and a mark at ref(l). Its axis spans at least lo to hi and every
// median, with grid lines every step or a multiple of it; whiskers beyond
// stop at its ends.
func (c *svgChart) ratioPanel(rep *report, top int, title string, base, lo, hi, step float64, series []barSeries,
	refName string, ref func(line) (float64, bool)) {
	for _, ra := range rep.Ratios {
		for _, s := range series {
			if f := s.get(ra); f != nil {
				lo, hi = min(lo, f.Median), max(hi, f.Median)
			}
		}
	}
	for (hi-lo)/step > 10 {
		step *= 2
	}
	y := c.axis(top, title, math.Floor(lo/step)*step, math.Ceil(hi/step)*step, step, "%.0f%%", 100)
	w := (c.groupW - 12) / len(series)
	for g, l := range c.lines {
		ra, ok := rep.ratio(l)
		if !ok {
			continue
		}
		x := c.left + g*c.groupW + 4
		if series[0].get(ra) == nil {
			fmt.Fprintf(&c.b, `<text x="%d" y="%d" fill="#999">n/a</text>`+"\n", x+8, y(base)-4)
		}
		for i, s := range series {
			c.bar(x+i*(w+2), w, y(base), y, s.get(ra), s.color, s.name+" "+l.String())
		}
		if v, ok := ref(l); ok {
			c.ref(x-2, len(series)*(w+2), y(v), fmt.Sprintf("series: %.2f%%", 100*v))
		}
	}
	c.labels(top + panelH)
	var colors, names []string
	for _, s := range series {
		colors, names = append(colors, s.color), append(names, s.legend)
	}
	c.legend(top+panelH+72, append(colors, colorRef), append(names, refName))
}

// axis draws a linear y axis over [lo, hi] with a grid line every step,
// labelled with format of value*scale, and returns the mapping from values
// to y.
func (c *svgChart) axis(top int, title string, lo, hi, step float64, format string, scale float64) func(float64) int {
	y := func(v float64) int {
		v = min(max(v, lo), hi)
		return top + panelH - int(float64(panelH)*(v-lo)/(hi-lo))
	}
	fmt.Fprintf(&c.b, `<text x="%d" y="%d" font-size="12">%s</text>`+"\n", c.left, top-6, html.EscapeString(title))
	for v := lo; v <= hi+step/2; v += step {
		// +0: no "-0%" for a zero reached by adding steps.
		fmt.Fprintf(&c.b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#eee"/><text x="5" y="%d">%s</text>`+"\n",
			c.left, c.width-10, y(v), y(v), y(v)+3, fmt.Sprintf(format, math.Round(v*scale)+0))
	}
	// The separators between the tables of the network modes.
	for g := 1; g < len(c.lines); g++ {
		if c.lines[g].net != c.lines[g-1].net {
			x := c.left + g*c.groupW - 2
			fmt.Fprintf(&c.b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#999"/>`+"\n", x, x, top, top+panelH)
		}
	}
	return y
}

// bar draws f's median as a bar from y0, with its range as a whisker.
func (c *svgChart) bar(x, w, y0 int, y func(float64) int, f *figure, color, title string) {
	if f == nil {
		return
	}
	ym := y(f.Median)
	fmt.Fprintf(&c.b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"><title>%s: %.1f%% (%.1f%% to %.1f%%)</title></rect>`+"\n",
		x, min(ym, y0), w, max(abs(y0-ym), 1), color, html.EscapeString(title), 100*f.Median, 100*f.Min, 100*f.Max)
	fmt.Fprintf(&c.b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#333"/>`+"\n", x+w/2, x+w/2, y(f.Min), y(f.Max))
}

// ref draws a reference mark at height yv.
func (c *svgChart) ref(x, w, yv int, title string) {
	fmt.Fprintf(&c.b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2" stroke-dasharray="3,2"><title>%s</title></line>`+"\n",
		x, x+w+4, yv, yv, colorRef, html.EscapeString(title))
}

// labels writes each line's name under a panel whose bottom is at y, and
// the network mode of each table over its first line.
func (c *svgChart) labels(y int) {
	for g, l := range c.lines {
		x := c.left + g*c.groupW
		name := fmt.Sprintf("%s%d l%d %d", l.proto, l.family, l.limit, l.payload)
		fmt.Fprintf(&c.b, `<text transform="translate(%d,%d) rotate(35)">%s</text>`+"\n", x+4, y+10, html.EscapeString(name))
		if g == 0 || l.net != c.lines[g-1].net {
			fmt.Fprintf(&c.b, `<text x="%d" y="%d" fill="#555">--network=%s</text>`+"\n", x+4, y-panelH+10, html.EscapeString(string(l.net)))
		}
	}
}

// legend writes color swatches with their names in a row at height y.
func (c *svgChart) legend(y int, cs, names []string) {
	x := c.left
	for i, name := range names {
		fmt.Fprintf(&c.b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n",
			x, y-9, cs[i], x+14, y, html.EscapeString(name))
		x += 14 + 6*len(name) + 16
	}
}

func abs(x int) int { return max(x, -x) }
