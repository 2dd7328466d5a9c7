package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/zcstack/zcstack/internal/runsc"
)

// row is one line of the JSON report.
type row struct {
	Proto           string  `json:"proto"`
	Family          int     `json:"family"`
	Limit           int     `json:"limit"`
	Payload         int     `json:"payload"`
	Mode            string  `json:"mode"`
	Env             string  `json:"env"`
	MBps            float64 `json:"mb_per_s"`
	Min             float64 `json:"min"`
	Max             float64 `json:"max"`
	RxMBps          float64 `json:"rx_mb_per_s"`
	SyscallsPerSend float64 `json:"syscalls_per_send"`
	Runs            int     `json:"runs"`
	Error           string  `json:"error"`
}

// ratio is New ZCopy over ZCopy under runsc-zc for one cell.
type ratio struct {
	Proto        string  `json:"proto"`
	Family       int     `json:"family"`
	Limit        int     `json:"limit"`
	Payload      int     `json:"payload"`
	NewOverZcopy float64 `json:"new_over_zcopy"`
	Min          float64 `json:"min"`
	Max          float64 `json:"max"`
}

type report struct {
	Machine map[string]string `json:"machine"`
	Rows    []row             `json:"rows"`
	Ratios  []ratio           `json:"ratios"`

	byKey map[key]row
}

func (b *bench) report() *report {
	rep := &report{Machine: machine(b.cfg), byKey: map[key]row{}}
	for _, k := range b.cells() {
		rs := b.runs[k]
		var tx, rx, sc []float64
		for _, r := range rs {
			tx = append(tx, r.TxMBps)
			rx = append(rx, r.RxMBps)
			sc = append(sc, r.SyscallsPerSend)
		}
		med, lo, hi := median(tx)
		rxMed, _, _ := median(rx)
		scMed, _, _ := median(sc)
		r := row{Proto: k.proto, Family: k.family, Payload: k.payload, Mode: k.mode, Env: string(k.env),
			MBps: med, Min: lo, Max: hi, RxMBps: rxMed, SyscallsPerSend: scMed, Runs: len(rs)}
		if len(rs) > 0 {
			r.Error = rs[0].Error
		}
		// Copy mode ran once; it stands for every limit.
		limits := []int{k.limit}
		if k.mode == modeCopy {
			limits = b.cfg.limits
		}
		for _, l := range limits {
			r.Limit = l
			lk := k
			lk.limit = l
			rep.Rows = append(rep.Rows, r)
			rep.byKey[lk] = r
		}
	}
	// Paired ratios: repetition i of New ZCopy over repetition i of ZCopy,
	// which ran next to each other.
	for _, k := range b.cells() {
		if k.env != runsc.Zerocopy || k.mode != modeCmsg {
			continue
		}
		zk := k
		zk.mode = modeErrqueue
		news, olds := b.runs[k], b.runs[zk]
		var rs []float64
		for i := 0; i < len(news) && i < len(olds); i++ {
			if news[i].Error == "" && olds[i].Error == "" && olds[i].TxMBps > 0 {
				rs = append(rs, news[i].TxMBps/olds[i].TxMBps)
			}
		}
		med, lo, hi := median(rs)
		rep.Ratios = append(rep.Ratios, ratio{k.proto, k.family, k.limit, k.payload, med, lo, hi})
	}
	return rep
}

// machine describes where the numbers come from.
func machine(cfg config) map[string]string {
	m := map[string]string{
		"date":     time.Now().UTC().Format(time.RFC3339),
		"cpus":     fmt.Sprint(runtime.NumCPU()),
		"go":       runtime.Version(),
		"duration": cfg.duration.String(),
		"reps":     fmt.Sprint(cfg.reps),
	}
	if out, err := exec.Command("uname", "-sr").Output(); err == nil {
		m["kernel"] = strings.TrimSpace(string(out))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m["cpu"] = strings.TrimSpace(v)
				break
			}
		}
	}
	if cfg.txCPU >= 0 {
		m["pinning"] = fmt.Sprintf("host sender on CPU %d, receiver on CPU %d; sandboxes unpinned", cfg.txCPU, cfg.rxCPU)
	}
	return m
}

// columns of the table, in the series' terms.
var columns = []struct {
	title string
	env   runsc.Runtime
	mode  string
}{
	{"host copy", runsc.Host, modeCopy},
	{"host ZCopy", runsc.Host, modeErrqueue},
	{"runsc copy", runsc.Stock, modeCopy},
	{"runsc ZCopy", runsc.Stock, modeErrqueue},
	{"zc copy", runsc.Zerocopy, modeCopy},
	{"zc ZCopy", runsc.Zerocopy, modeErrqueue},
	{"zc New", runsc.Zerocopy, modeCmsg},
}

// printTable prints MB/s medians with syscalls per send, and New/ZCopy.
func (rep *report) printTable(w io.Writer) {
	fmt.Fprintf(w, "zcbench: sender MB/s, median of %s runs of %s (syscalls per send in brackets)\n",
		rep.Machine["reps"], rep.Machine["duration"])
	fmt.Fprintf(w, "machine: %s, %s CPUs, %s, %s\n", rep.Machine["cpu"], rep.Machine["cpus"], rep.Machine["kernel"], rep.Machine["go"])
	fmt.Fprintf(w, "ZCopy: MSG_ZEROCOPY + recvmsg(MSG_ERRQUEUE); New: MSG_ZEROCOPY + SCM_ZC_NOTIFICATION; copy ignores the limit\n\n")
	fmt.Fprintf(w, "%-4s %-2s %-5s %-7s", "", "", "limit", "payload")
	for _, c := range columns {
		fmt.Fprintf(w, " %16s", c.title)
	}
	fmt.Fprintf(w, " %9s\n", "New/ZCopy")
	for _, ra := range rep.ratiosOrCells() {
		fmt.Fprintf(w, "%-4s v%-1d %5d %7d", ra.Proto, ra.Family, ra.Limit, ra.Payload)
		for _, c := range columns {
			r, ok := rep.byKey[key{ra.Proto, ra.Family, ra.Limit, ra.Payload, c.mode, c.env}]
			switch {
			case !ok:
				fmt.Fprintf(w, " %16s", "-")
			case r.Error != "":
				fmt.Fprintf(w, " %16s", r.Error)
			default:
				fmt.Fprintf(w, " %16s", fmt.Sprintf("%.0f [%.2f]", r.MBps, r.SyscallsPerSend))
			}
		}
		if ra.NewOverZcopy > 0 {
			fmt.Fprintf(w, " %8.1f%%", 100*ra.NewOverZcopy)
		}
		fmt.Fprintln(w)
	}
	if ts := rep.targets(); len(ts) > 0 {
		fmt.Fprintln(w, "\ntargets (medians; New/ZCopy is the median of paired runs):")
		for _, t := range ts {
			fmt.Fprintln(w, "  "+t)
		}
	}
}

// targets checks the table against the goals zcstack set itself (the
// series' kernel ratios, and no cost when the extension is unused) and
// describes each with its measured value.
func (rep *report) targets() []string {
	var out []string
	for _, ra := range rep.Ratios {
		goal := 1.0
		if ra.Limit == 1 {
			goal = 1.17
			if ra.Payload == 4096 {
				goal = 1.5
			}
		}
		name := fmt.Sprintf("%s v%d %dB limit %d New/ZCopy", ra.Proto, ra.Family, ra.Payload, ra.Limit)
		out = append(out, verdict(name, ra.NewOverZcopy, goal))
	}
	for _, ra := range rep.ratiosOrCells() {
		if ra.Limit != 1 && len(rep.Ratios) > 0 {
			continue // copy rows repeat for every limit
		}
		stock, ok1 := rep.byKey[key{ra.Proto, ra.Family, ra.Limit, ra.Payload, modeCopy, runsc.Stock}]
		zcCopy, ok2 := rep.byKey[key{ra.Proto, ra.Family, ra.Limit, ra.Payload, modeCopy, runsc.Zerocopy}]
		if !ok1 || !ok2 || stock.MBps == 0 {
			continue
		}
		name := fmt.Sprintf("%s v%d %dB runsc-zc copy / runsc copy", ra.Proto, ra.Family, ra.Payload)
		out = append(out, verdict(name, zcCopy.MBps/stock.MBps, 0.97))
		if newer, ok := rep.byKey[key{ra.Proto, ra.Family, 32, ra.Payload, modeCmsg, runsc.Zerocopy}]; ok {
			name := fmt.Sprintf("%s v%d %dB runsc-zc New (limit 32) / runsc copy", ra.Proto, ra.Family, ra.Payload)
			out = append(out, verdict(name, newer.MBps/stock.MBps, 0.95))
		}
	}
	return out
}

func verdict(name string, got, goal float64) string {
	mark := "met"
	if got < goal {
		mark = "SHORT"
	}
	return fmt.Sprintf("%-52s %6.2f (goal >= %.2f) %s", name, got, goal, mark)
}

// ratiosOrCells lists the table's lines: the ratios if runsc-zc ran, else
// every (proto, family, limit, payload) that has a row.
func (rep *report) ratiosOrCells() []ratio {
	if len(rep.Ratios) > 0 {
		return rep.Ratios
	}
	var out []ratio
	seen := map[ratio]bool{}
	for _, r := range rep.Rows {
		ra := ratio{Proto: r.Proto, Family: r.Family, Limit: r.Limit, Payload: r.Payload}
		if !seen[ra] {
			seen[ra] = true
			out = append(out, ra)
		}
	}
	return out
}
