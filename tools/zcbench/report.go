package main

import (
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/zcstack/zcstack/internal/runsc"
)

// row is one cell of the table: the medians of its repetitions.
type row struct {
	// Network is the sandbox's network mode ("none": gVisor's netstack,
	// "host": the host's stack), "" on the host.
	Network         string  `json:"network"`
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
	// PollsBusyPerSend counts the sender's polls that returned without
	// POLLOUT, per send: the selftest's loop polls again at once.
	PollsBusyPerSend float64 `json:"polls_busy_per_send"`
	// CPUPerSend is the CPU time of everything the run started, less an
	// empty run's in the same place, over the sends, in µs; CPUBusy the
	// same CPU time over the seconds of sending: how many CPUs it kept
	// busy. CPUValid says whether CPUPerSend is a cost; CPUNote why not.
	CPUPerSend float64 `json:"cpu_us_per_send"`
	CPUBusy    float64 `json:"cpu_busy"`
	CPUValid   bool    `json:"cpu_valid"`
	CPUNote    string  `json:"cpu_note,omitempty"`
	// TreeMissed is the share of the CPU time that the rusage of the
	// process tree missed (see cpuMeter).
	TreeMissed float64 `json:"tree_missed"`
	// GuestCPUPerSend is what the sender and the receiver report
	// themselves, in µs per send (see result.GuestCPU).
	GuestCPUPerSend float64 `json:"guest_cpu_us_per_send"`
	// WakeupsPerSend is systrap's stub wake-ups per send (-wakeups).
	WakeupsPerSend float64  `json:"wakeups_per_send,omitempty"`
	Error          string   `json:"error"`
	Reps           []result `json:"reps"`
}

// name names r in notes: copy rows stand for every limit.
func (r row) name() string {
	k := key{runsc.Network(r.Network), r.Proto, r.Family, r.Limit, r.Payload, r.Mode, runsc.Runtime(r.Env)}
	if r.Mode == modeCopy {
		return fmt.Sprintf("%s v%d %s payload %d on %s", r.Proto, r.Family, r.Mode, r.Payload, k.place())
	}
	return k.describe()
}

// ratio compares New ZCopy under runsc-zc with ZCopy and with copy mode for
// one cell. Each figure is the median over the repetitions of the ratio of
// runs that ran next to each other; a figure is null (nil) where no pair of
// runs gave it (a failed run, or CPU figures that are not costs).
type ratio struct {
	Network      string  `json:"network"`
	Proto        string  `json:"proto"`
	Family       int     `json:"family"`
	Limit        int     `json:"limit"`
	Payload      int     `json:"payload"`
	NewOverZcopy *figure `json:"new_over_zcopy"`
	// NewOverCopy is New's throughput over copy mode's at the same
	// payload: what notifications cost on top of a plain send.
	NewOverCopy *figure `json:"new_over_copy"`
	// CPUSaving is 1 - New's CPU per send / ZCopy's: the series' "cpu
	// savings".
	CPUSaving *figure `json:"cpu_saving"`
	// NewCPUOverCopyCPU is New's CPU per send over copy mode's.
	NewCPUOverCopyCPU *figure `json:"new_cpu_over_copy_cpu"`
	// WakeupsNewOverCopy is New's stub wake-ups per send over copy
	// mode's (-wakeups).
	WakeupsNewOverCopy *figure `json:"wakeups_new_over_copy,omitempty"`
}

// figure is the median of paired ratios, with their range.
type figure struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

type report struct {
	Machine map[string]string `json:"machine"`
	// StartupCPU is the median CPU time of an empty run in each place, in
	// seconds, subtracted from every run's.
	StartupCPU map[string]float64 `json:"startup_cpu_s"`
	Rows       []row              `json:"rows"`
	Ratios     []ratio            `json:"ratios"`

	// networks are the sandboxes' network modes, in the order of the
	// tables ("": no sandbox ran, one table of the host).
	networks []runsc.Network
	byKey    map[key]row
}

// index indexes the rows, by cell and by network mode.
func (rep *report) index() {
	rep.byKey = map[key]row{}
	rep.networks = nil
	for _, r := range rep.Rows {
		n := runsc.Network(r.Network)
		rep.byKey[key{n, r.Proto, r.Family, r.Limit, r.Payload, r.Mode, runsc.Runtime(r.Env)}] = r
		if n != "" && !slices.Contains(rep.networks, n) {
			rep.networks = append(rep.networks, n)
		}
	}
	if rep.networks == nil {
		rep.networks = []runsc.Network{""}
	}
}

// line is one line of the table: a cell without its mode and environment.
type line struct {
	net     runsc.Network
	proto   string
	family  int
	limit   int
	payload int
}

// cell returns the key of line l for mode on env.
func (l line) cell(mode string, env runsc.Runtime) key {
	return key{netOf(env, l.net), l.proto, l.family, l.limit, l.payload, mode, env}
}

func (l line) String() string {
	return fmt.Sprintf("%s v%d %dB limit %d", l.proto, l.family, l.payload, l.limit)
}

// startupCPU is the median CPU time of the empty runs in p.
func (b *bench) startupCPU(p place) time.Duration {
	var xs []float64
	for _, d := range b.startup[p] {
		xs = append(xs, float64(d))
	}
	m, _, _ := median(xs)
	return time.Duration(m)
}

// cpuPerSend returns the CPU time of run r in p per send, in µs, less an
// empty run's; false if r sent nothing or cost no more than an empty run.
func (b *bench) cpuPerSend(p place, r result) (float64, bool) {
	cpu := r.CPU - b.startupCPU(p)
	if r.Sends == 0 || cpu <= 0 {
		return 0, false
	}
	return cpu.Seconds() / float64(r.Sends) * 1e6, true
}

// pairedMedian returns the median of f(a[i], b[i]) over the repetitions
// in which both runs of the pair succeeded and f gave a figure, or nil.
func pairedMedian(a, b []result, f func(a, b result) (float64, bool)) *figure {
	var xs []float64
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i].Error != "" || b[i].Error != "" || a[i].Sends == 0 || b[i].Sends == 0 {
			continue
		}
		if x, ok := f(a[i], b[i]); ok {
			xs = append(xs, x)
		}
	}
	if len(xs) == 0 {
		return nil
	}
	m, lo, hi := median(xs)
	return &figure{m, lo, hi}
}

// cpuNote says why the CPU figures of p are not a cost, or "".
func (b *bench) cpuNote(p place) string {
	if p.env != runsc.Host && b.cpuCapacity(p) > 1 {
		return "systrap spins on idle CPUs (sandbox not confined to one CPU): CPU time includes the spinning"
	}
	return ""
}

// cpuCapacity is how many CPUs the runs of p can keep busy.
func (b *bench) cpuCapacity(p place) float64 {
	if p.env != runsc.Host && len(b.cfg.sandboxCPUs) > 0 {
		return float64(len(b.cfg.sandboxCPUs))
	}
	return float64(runtime.NumCPU())
}

// makeRow summarizes the runs of cell k. A CPU figure is a result only if
// it can be one: confined so that no CPU is spun away, no more than its
// CPUs can give, and fitting the throughput of every repetition (how many
// CPUs the run kept busy varies by less than a quarter): CPU time that
// comes and goes at equal throughput is noise or a measurement that
// escaped, not a cost.
func (b *bench) makeRow(k key) row {
	rs := b.runs[k]
	r := row{Network: string(k.net), Proto: k.proto, Family: k.family, Limit: k.limit, Payload: k.payload,
		Mode: k.mode, Env: string(k.env), Reps: rs}
	if len(rs) > 0 {
		r.Error = rs[0].Error
	}
	var tx, rx, sc, busy, cpu, util, missed, guest, wake []float64
	valid := true
	for _, x := range rs {
		if x.Sends == 0 {
			continue
		}
		n := float64(x.Sends)
		tx = append(tx, x.TxMBps)
		rx = append(rx, x.RxMBps)
		sc = append(sc, x.SyscallsPerSend)
		busy = append(busy, float64(x.PollsBusy)/n)
		guest = append(guest, x.GuestCPU.Seconds()/n*1e6)
		wake = append(wake, float64(x.Wakeups)/n)
		if x.CPU > 0 {
			missed = append(missed, (x.CPU-x.TreeCPU).Seconds()/x.CPU.Seconds())
		}
		c, ok := b.cpuPerSend(k.place(), x)
		valid = valid && ok && x.Seconds > 0
		if ok && x.Seconds > 0 {
			cpu = append(cpu, c)
			util = append(util, c*n/1e6/x.Seconds)
		}
	}
	r.MBps, r.Min, r.Max = median(tx)
	r.RxMBps, _, _ = median(rx)
	r.SyscallsPerSend, _, _ = median(sc)
	r.PollsBusyPerSend, _, _ = median(busy)
	r.GuestCPUPerSend, _, _ = median(guest)
	r.TreeMissed, _, _ = median(missed)
	if b.cfg.wakeups && k.env != runsc.Host {
		r.WakeupsPerSend, _, _ = median(wake)
	}
	r.CPUPerSend, _, _ = median(cpu)
	var lo, hi float64
	r.CPUBusy, lo, hi = median(util)
	r.CPUNote = b.cpuNote(k.place())
	switch {
	case len(tx) == 0:
	case !valid:
		r.CPUNote = "a run cost no more CPU than an empty run"
	case r.CPUNote != "":
	case hi > 1.1*b.cpuCapacity(k.place()):
		r.CPUNote = fmt.Sprintf("%.2f CPUs busy, more than the %.0f it ran on", hi, b.cpuCapacity(k.place()))
	case hi-lo > 0.25*r.CPUBusy:
		r.CPUNote = fmt.Sprintf("CPUs busy %.2f to %.2f between repetitions: CPU does not fit throughput", lo, hi)
	}
	r.CPUValid = len(tx) > 0 && r.CPUNote == ""
	return r
}

func (b *bench) report() *report {
	rep := &report{Machine: machine(b.cfg), StartupCPU: map[string]float64{}}
	for _, p := range b.places() {
		rep.StartupCPU[p.String()] = b.startupCPU(p).Seconds()
	}
	for _, k := range b.cells() {
		r := b.makeRow(k)
		// Copy mode ran once; it stands for every limit.
		limits := []int{k.limit}
		if k.mode == modeCopy {
			limits = b.cfg.limits
		}
		for _, l := range limits {
			r.Limit = l
			rep.Rows = append(rep.Rows, r)
		}
	}
	rep.index()
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
		mbps := func(a, b result) (float64, bool) { return a.TxMBps / b.TxMBps, b.TxMBps > 0 }
		ra := ratio{Network: string(k.net), Proto: k.proto, Family: k.family, Limit: k.limit, Payload: k.payload,
			NewOverZcopy: pairedMedian(news, olds, mbps),
			NewOverCopy:  pairedMedian(news, copies, mbps),
		}
		if rep.byKey[k].CPUValid && rep.byKey[zk].CPUValid && rep.byKey[ck].CPUValid {
			p := k.place()
			ra.CPUSaving = pairedMedian(news, olds, func(n, z result) (float64, bool) {
				cn, ok1 := b.cpuPerSend(p, n)
				cz, ok2 := b.cpuPerSend(p, z)
				return 1 - cn/cz, ok1 && ok2
			})
			ra.NewCPUOverCopyCPU = pairedMedian(news, copies, func(n, c result) (float64, bool) {
				cn, ok1 := b.cpuPerSend(p, n)
				cc, ok2 := b.cpuPerSend(p, c)
				return cn / cc, ok1 && ok2
			})
		}
		if b.cfg.wakeups {
			ra.WakeupsNewOverCopy = pairedMedian(news, copies, func(n, c result) (float64, bool) {
				wn, wc := float64(n.Wakeups)/float64(n.Sends), float64(c.Wakeups)/float64(c.Sends)
				return wn / wc, wc > 0
			})
		}
		rep.Ratios = append(rep.Ratios, ra)
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
		"cpu_time": "cgroup v2 CPU time of everything a run starts (runsc, sentry, gofer, systrap stubs, the guest), less an empty run's",
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
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m["loadavg_at_end"] = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	host := "host sender and receiver unpinned"
	if cfg.txCPU >= 0 {
		host = fmt.Sprintf("host sender on CPU %d, receiver on CPU %d", cfg.txCPU, cfg.rxCPU)
	}
	m["pinning"] = fmt.Sprintf("%s; sandboxes on CPU set %s", host, cpuList(cfg.sandboxCPUs))
	if cfg.wakeups {
		m["runtimes"] = "built with -tags systrap_profiling"
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

// networkTitle heads the table of sandbox network mode n.
func networkTitle(n runsc.Network) string {
	switch n {
	case "":
		return "host"
	case runsc.NetNone:
		return "sandboxes on gVisor's netstack (--network=none)"
	case runsc.NetHost:
		return "sandboxes on the host's network stack (--network=host)"
	}
	return "--network=" + string(n)
}

// printTable prints, for each network mode, MB/s medians with CPU per send
// and syscalls per send, and the ratios; then the targets.
func (rep *report) printTable(w io.Writer) {
	fmt.Fprintf(w, "zcbench: medians of %s runs of %s; each cell: sender MB/s, CPU µs per send, [syscalls per send]\n",
		rep.Machine["reps"], rep.Machine["duration"])
	fmt.Fprintf(w, "machine: %s, %s CPUs, %s, %s; load average at the end %s\n", rep.Machine["cpu"], rep.Machine["cpus"],
		rep.Machine["kernel"], rep.Machine["go"], rep.Machine["loadavg_at_end"])
	fmt.Fprintf(w, "CPU: %s; %s\n", rep.Machine["cpu_time"], rep.Machine["pinning"])
	fmt.Fprintf(w, "(CPU in parentheses): not a cost, see the notes; ZCopy: MSG_ZEROCOPY + recvmsg(MSG_ERRQUEUE); New: MSG_ZEROCOPY + SCM_ZC_NOTIFICATION; copy ignores the limit\n")
	notes := map[string]bool{}
	for _, n := range rep.networks {
		fmt.Fprintf(w, "\n%s\n%-4s %-2s %-5s %-7s", networkTitle(n), "", "", "limit", "payload")
		for _, c := range columns {
			fmt.Fprintf(w, " %21s", c.title)
		}
		fmt.Fprintf(w, " %9s %8s %8s %8s\n", "New/ZCopy", "New/copy", "cpu save", "CPU N/c")
		for _, l := range rep.lines(n) {
			fmt.Fprintf(w, "%-4s v%-1d %5d %7d", l.proto, l.family, l.limit, l.payload)
			for _, c := range columns {
				r, ok := rep.byKey[l.cell(c.mode, c.env)]
				switch {
				case !ok:
					fmt.Fprintf(w, " %21s", "-")
				case r.Error != "":
					fmt.Fprintf(w, " %21s", r.Error)
				default:
					cpu := fmt.Sprintf("%.1fµs", r.CPUPerSend)
					if !r.CPUValid {
						cpu = "(" + cpu + ")"
						notes[r.name()+": "+r.CPUNote] = true
					}
					fmt.Fprintf(w, " %21s", fmt.Sprintf("%.0f %s [%.2f]", r.MBps, cpu, r.SyscallsPerSend))
				}
			}
			if ra, ok := rep.ratio(l); ok {
				fmt.Fprintf(w, " %9s %8s %8s %8s", ra.NewOverZcopy.percent(), ra.NewOverCopy.percent(),
					ra.CPUSaving.percent(), ra.NewCPUOverCopyCPU.format("%.2f"))
			}
			fmt.Fprintln(w)
		}
	}
	if rep.Machine["runtimes"] != "" {
		rep.printWakeups(w)
	}
	if len(notes) > 0 {
		fmt.Fprintln(w, "\nCPU figures that are not costs:")
		for _, n := range slices.Sorted(maps.Keys(notes)) {
			fmt.Fprintln(w, "  "+n)
		}
	}
	if ts := rep.targets(); len(ts) > 0 {
		fmt.Fprintln(w, "\ntargets (medians of paired runs; CPU targets only where CPU is a cost):")
		for _, t := range ts {
			fmt.Fprintln(w, "  "+t)
		}
	}
}

// printWakeups prints systrap's stub wake-ups per send of the sandboxes.
func (rep *report) printWakeups(w io.Writer) {
	fmt.Fprintf(w, "\nsystrap stub wake-ups per send (%s), [sender's polls without POLLOUT per send]\n", kickMetric)
	for _, n := range rep.networks {
		fmt.Fprintf(w, "%s\n", networkTitle(n))
		for _, l := range rep.lines(n) {
			fmt.Fprintf(w, "  %-22s", l)
			for _, c := range columns[2:] {
				r, ok := rep.byKey[l.cell(c.mode, c.env)]
				if ok && r.Error == "" {
					fmt.Fprintf(w, " %s %.2f [%.3f]", c.title, r.WakeupsPerSend, r.PollsBusyPerSend)
				}
			}
			if ra, ok := rep.ratio(l); ok {
				fmt.Fprintf(w, "  New/copy %s", ra.WakeupsNewOverCopy.format("%.2f"))
			}
			fmt.Fprintln(w)
		}
	}
}

// percent formats f as a percentage, "-" if there is no figure.
func (f *figure) percent() string {
	if f == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*f.Median)
}

// format formats f's median, "-" if there is no figure.
func (f *figure) format(verb string) string {
	if f == nil {
		return "-"
	}
	return fmt.Sprintf(verb, f.Median)
}

// ratio returns the ratios of line l.
func (rep *report) ratio(l line) (ratio, bool) {
	for _, ra := range rep.Ratios {
		if ra.line() == l {
			return ra, true
		}
	}
	return ratio{}, false
}

func (ra ratio) line() line {
	return line{runsc.Network(ra.Network), ra.Proto, ra.Family, ra.Limit, ra.Payload}
}

// lines lists the table's lines of network mode n: every (proto, family,
// limit, payload) that has a row on n ("": the host's rows).
func (rep *report) lines(n runsc.Network) []line {
	var out []line
	for _, r := range rep.Rows {
		l := line{n, r.Proto, r.Family, r.Limit, r.Payload}
		if runsc.Network(r.Network) == n && !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

// targets checks the table against the goals zcstack set itself (issue 17:
// the series' kernel ratios and CPU savings, notifications that cost no
// more than a plain send, runsc-zc as cheap as runsc when unused) and
// describes each with its measured value.
func (rep *report) targets() []string {
	var out []string
	for _, ra := range rep.Ratios {
		name := fmt.Sprintf("--network=%s %s", ra.Network, ra.line())
		if e := rep.byKey[ra.line().cell(modeCmsg, runsc.Zerocopy)].Error; e != "" {
			out = append(out, fmt.Sprintf("%-80s n/a: New refused with %s", name, e))
			continue
		}
		goal := 1.05
		if ra.Limit == 1 {
			goal = 1.17
			if ra.Payload == 4096 {
				goal = 1.5
			}
		}
		out = append(out, verdict(name+" New/ZCopy MB/s", ra.NewOverZcopy, goal, true))
		if ra.Limit != 1 {
			continue
		}
		out = append(out, verdict(name+" New/copy MB/s", ra.NewOverCopy, 0.97, true))
		saving := 0.17 // the series' TCP figure
		if ra.Proto == "udp" {
			saving = 0.23
		}
		if ra.CPUSaving != nil {
			out = append(out, verdict(name+" cpu saving", ra.CPUSaving, saving, true))
		}
		if ra.WakeupsNewOverCopy != nil {
			out = append(out, verdict(name+" New/copy wake-ups per send", ra.WakeupsNewOverCopy, 1, false))
		}
	}
	for _, n := range rep.networks {
		for _, l := range rep.lines(n) {
			if l.limit != 1 && len(rep.Ratios) > 0 {
				continue // copy rows repeat for every limit
			}
			stock, ok1 := rep.byKey[l.cell(modeCopy, runsc.Stock)]
			zc, ok2 := rep.byKey[l.cell(modeCopy, runsc.Zerocopy)]
			if !ok1 || !ok2 || stock.MBps == 0 {
				continue
			}
			name := fmt.Sprintf("--network=%s %s v%d %dB runsc-zc copy / runsc copy", n, l.proto, l.family, l.payload)
			if stock.CPUValid && zc.CPUValid {
				d := zc.CPUPerSend/stock.CPUPerSend - 1
				out = append(out, verdict(name+" CPU per send, |difference|", &figure{Median: max(d, -d)}, 0.10, false))
			}
			out = append(out, verdict(name+" MB/s", &figure{Median: zc.MBps / stock.MBps}, 0.97, true))
		}
	}
	return out
}

// verdict describes a measured figure against its goal: at least the goal
// if atLeast, else at most. A missing figure falls short.
func verdict(name string, got *figure, goal float64, atLeast bool) string {
	op := ">="
	if !atLeast {
		op = "<="
	}
	if got == nil {
		return fmt.Sprintf("%-80s %6s (goal %s %.2f) SHORT", name, "-", op, goal)
	}
	mark := "met"
	if (atLeast && got.Median < goal) || (!atLeast && got.Median > goal) {
		mark = "SHORT"
	}
	return fmt.Sprintf("%-80s %6.3f (goal %s %.2f) %s", name, got.Median, op, goal, mark)
}
