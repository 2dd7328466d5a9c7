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
	// CPUPerSend is the CPU time of the run's whole process tree, less
	// the environment's start-up cost, over the sends, in µs.
	CPUPerSend float64 `json:"cpu_us_per_send"`
	Runs       int     `json:"runs"`
	Error      string  `json:"error"`
}

// ratio compares New ZCopy under runsc-zc with ZCopy and with copy mode for
// one cell. Each figure is the median over the repetitions of the ratio of
// runs that ran next to each other.
type ratio struct {
	Proto        string  `json:"proto"`
	Family       int     `json:"family"`
	Limit        int     `json:"limit"`
	Payload      int     `json:"payload"`
	NewOverZcopy float64 `json:"new_over_zcopy"`
	Min          float64 `json:"min"`
	Max          float64 `json:"max"`
	// CPUSaving is 1 - New's CPU per send / ZCopy's: the series' "cpu
	// savings".
	CPUSaving float64 `json:"cpu_saving"`
	// NewCPUOverCopyCPU is New's CPU per send over copy mode's at the same
	// payload: what notifications cost on top of a plain send.
	NewCPUOverCopyCPU float64 `json:"new_cpu_over_copy_cpu"`
}

type report struct {
	Machine map[string]string `json:"machine"`
	// StartupCPU is the median CPU time of an empty run of each
	// environment, in seconds, subtracted from every run's.
	StartupCPU map[string]float64 `json:"startup_cpu_s"`
	Rows       []row              `json:"rows"`
	Ratios     []ratio            `json:"ratios"`

	byKey map[key]row
}

// cpuPerSend returns the CPU time of run r of environment env per send, in
// µs, less the environment's start-up cost.
func (b *bench) cpuPerSend(env runsc.Runtime, r result) float64 {
	if r.Sends == 0 {
		return 0
	}
	startup := make([]float64, 0, len(b.startup[env]))
	for _, d := range b.startup[env] {
		startup = append(startup, d.Seconds())
	}
	s, _, _ := median(startup)
	return max(0, r.CPU.Seconds()-s) / float64(r.Sends) * 1e6
}

// pairedMedian returns the median of f(a[i], b[i]) over the repetitions
// in which both runs of the pair succeeded.
func pairedMedian(a, b []result, f func(a, b result) float64) float64 {
	var xs []float64
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i].Error == "" && b[i].Error == "" && a[i].Sends > 0 && b[i].Sends > 0 {
			xs = append(xs, f(a[i], b[i]))
		}
	}
	m, _, _ := median(xs)
	return m
}

func (b *bench) report() *report {
	rep := &report{Machine: machine(b.cfg), StartupCPU: map[string]float64{}, byKey: map[key]row{}}
	for env, ds := range b.startup {
		var xs []float64
		for _, d := range ds {
			xs = append(xs, d.Seconds())
		}
		rep.StartupCPU[string(env)], _, _ = median(xs)
	}
	for _, k := range b.cells() {
		rs := b.runs[k]
		var tx, rx, sc, cpu []float64
		for _, r := range rs {
			tx = append(tx, r.TxMBps)
			rx = append(rx, r.RxMBps)
			sc = append(sc, r.SyscallsPerSend)
			cpu = append(cpu, b.cpuPerSend(k.env, r))
		}
		med, lo, hi := median(tx)
		rxMed, _, _ := median(rx)
		scMed, _, _ := median(sc)
		cpuMed, _, _ := median(cpu)
		r := row{Proto: k.proto, Family: k.family, Payload: k.payload, Mode: k.mode, Env: string(k.env),
			MBps: med, Min: lo, Max: hi, RxMBps: rxMed, SyscallsPerSend: scMed, CPUPerSend: cpuMed, Runs: len(rs)}
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
	// Paired ratios: repetition i of New ZCopy over repetition i of ZCopy
	// and of copy mode, which ran close to each other.
	for _, k := range b.cells() {
		if k.env != runsc.Zerocopy || k.mode != modeCmsg {
			continue
		}
		zk, ck := k, k
		zk.mode = modeErrqueue
		ck.mode, ck.limit = modeCopy, b.cfg.limits[0]
		news, olds, copies := b.runs[k], b.runs[zk], b.runs[ck]
		var rs []float64
		for i := 0; i < len(news) && i < len(olds); i++ {
			if news[i].Error == "" && olds[i].Error == "" && olds[i].TxMBps > 0 {
				rs = append(rs, news[i].TxMBps/olds[i].TxMBps)
			}
		}
		med, lo, hi := median(rs)
		cpu := func(r result) float64 { return b.cpuPerSend(runsc.Zerocopy, r) }
		rep.Ratios = append(rep.Ratios, ratio{
			Proto: k.proto, Family: k.family, Limit: k.limit, Payload: k.payload,
			NewOverZcopy: med, Min: lo, Max: hi,
			CPUSaving: pairedMedian(news, olds, func(n, z result) float64 {
				return 1 - cpu(n)/cpu(z)
			}),
			NewCPUOverCopyCPU: pairedMedian(news, copies, func(n, c result) float64 {
				return cpu(n) / cpu(c)
			}),
		})
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
	fmt.Fprintf(w, "zcbench: medians of %s runs of %s; each cell: sender MB/s, CPU µs per send of the whole\n"+
		"environment (sender, receiver and sandbox; start-up cost subtracted), [syscalls per send]\n",
		rep.Machine["reps"], rep.Machine["duration"])
	fmt.Fprintf(w, "machine: %s, %s CPUs, %s, %s\n", rep.Machine["cpu"], rep.Machine["cpus"], rep.Machine["kernel"], rep.Machine["go"])
	fmt.Fprintf(w, "ZCopy: MSG_ZEROCOPY + recvmsg(MSG_ERRQUEUE); New: MSG_ZEROCOPY + SCM_ZC_NOTIFICATION; copy ignores the limit\n\n")
	fmt.Fprintf(w, "%-4s %-2s %-5s %-7s", "", "", "limit", "payload")
	for _, c := range columns {
		fmt.Fprintf(w, " %20s", c.title)
	}
	fmt.Fprintf(w, " %9s %9s %9s\n", "New/ZCopy", "cpu save", "New/copy")
	for _, ra := range rep.ratiosOrCells() {
		fmt.Fprintf(w, "%-4s v%-1d %5d %7d", ra.Proto, ra.Family, ra.Limit, ra.Payload)
		for _, c := range columns {
			r, ok := rep.byKey[key{ra.Proto, ra.Family, ra.Limit, ra.Payload, c.mode, c.env}]
			switch {
			case !ok:
				fmt.Fprintf(w, " %20s", "-")
			case r.Error != "":
				fmt.Fprintf(w, " %20s", r.Error)
			default:
				fmt.Fprintf(w, " %20s", fmt.Sprintf("%.0f %.1fµs [%.2f]", r.MBps, r.CPUPerSend, r.SyscallsPerSend))
			}
		}
		if ra.NewOverZcopy > 0 {
			fmt.Fprintf(w, " %8.1f%% %8.1f%% %9.2f", 100*ra.NewOverZcopy, 100*ra.CPUSaving, ra.NewCPUOverCopyCPU)
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
// series' kernel ratios and CPU savings, notifications that cost no more
// than a plain send, no cost when the extension is unused) and describes
// each with its measured value.
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
		name := fmt.Sprintf("%s v%d %dB limit %d", ra.Proto, ra.Family, ra.Payload, ra.Limit)
		out = append(out, verdict(name+" New/ZCopy MB/s", ra.NewOverZcopy, goal, true))
		if ra.Limit == 1 {
			saving := 0.17 // the series' TCP figure
			if ra.Proto == "udp" {
				saving = 0.23
			}
			out = append(out, verdict(name+" cpu saving", ra.CPUSaving, saving, true))
			out = append(out, verdict(name+" New/copy CPU per send", ra.NewCPUOverCopyCPU, 1.03, false))
		}
	}
	for _, ra := range rep.ratiosOrCells() {
		if ra.Limit != 1 && len(rep.Ratios) > 0 {
			continue // copy rows repeat for every limit
		}
		stock, ok1 := rep.byKey[key{ra.Proto, ra.Family, ra.Limit, ra.Payload, modeCopy, runsc.Stock}]
		zcCopy, ok2 := rep.byKey[key{ra.Proto, ra.Family, ra.Limit, ra.Payload, modeCopy, runsc.Zerocopy}]
		if !ok1 || !ok2 || stock.MBps == 0 || stock.CPUPerSend == 0 {
			continue
		}
		name := fmt.Sprintf("%s v%d %dB runsc-zc copy / runsc copy", ra.Proto, ra.Family, ra.Payload)
		out = append(out, verdict(name+" CPU per send", zcCopy.CPUPerSend/stock.CPUPerSend, 1.03, false))
		out = append(out, verdict(name+" MB/s", zcCopy.MBps/stock.MBps, 0.97, true))
	}
	return out
}

// verdict describes a measured figure against its goal: at least the goal
// if atLeast, else at most.
func verdict(name string, got, goal float64, atLeast bool) string {
	mark, op := "met", ">="
	if !atLeast {
		op = "<="
	}
	if (atLeast && got < goal) || (!atLeast && got > goal) {
		mark = "SHORT"
	}
	return fmt.Sprintf("%-58s %6.2f (goal %s %.2f) %s", name, got, op, goal, mark)
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
