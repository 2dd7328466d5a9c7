package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zcstack/zcstack/internal/runsc"
	"github.com/zcstack/zcstack/internal/testenv"
)

// meter returns a cpuMeter for the test, which needs root.
func meter(t *testing.T) *cpuMeter {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Unavailable(t, "the CPU meter needs root (cgroups)")
	}
	m, err := newCPUMeter()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.close(); err != nil {
			t.Error(err)
		}
	})
	return m
}

func TestParseResult(t *testing.T) {
	out := []byte("role=tx proto=udp family=6 mode=cmsg limit=1 payload=4096 seconds=1.500 sends=10 " +
		"bytes=40960 mb_per_s=0.0 expected=10 completions=10 notifications=10 copied=10 syscalls=25 " +
		"syscalls_per_send=2.500 polls=12 polls_busy=2 errqueue_reads=0 cpu_s=0.250 ok=1 error=\n" +
		"role=rx proto=udp family=6 bytes=40960 reads=10 mb_per_s=0.5 cpu_s=0.125\n")
	r, err := parseResult(out)
	if err != nil {
		t.Fatal(err)
	}
	want := result{RxMBps: 0.5, SyscallsPerSend: 2.5, Sends: 10, Seconds: 1.5, PollsBusy: 2, OK: true,
		GuestCPU: 375 * time.Millisecond}
	if r != want {
		t.Errorf("parseResult = %+v, want %+v", r, want)
	}
	r, err = parseResult([]byte("role=tx sends=0 ok=0 error=EINVAL\nrole=rx bytes=0 mb_per_s=0.0\n"))
	if err != nil || r.OK || r.Error != "EINVAL" {
		t.Errorf("refused run: %+v, %v", r, err)
	}
	if _, err := parseResult([]byte("zcgen: connect: refused\n")); err == nil {
		t.Error("output without result lines parsed")
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in            []float64
		med, min, max float64
	}{
		{nil, 0, 0, 0},
		{[]float64{3}, 3, 3, 3},
		{[]float64{5, 1, 3}, 3, 1, 5},
		{[]float64{4, 1, 3, 2}, 2.5, 1, 4},
	} {
		med, lo, hi := median(tc.in)
		if med != tc.med || lo != tc.min || hi != tc.max {
			t.Errorf("median(%v) = %v %v %v, want %v %v %v", tc.in, med, lo, hi, tc.med, tc.min, tc.max)
		}
	}
}

func TestCells(t *testing.T) {
	cfg := defaultConfig()
	cfg.payloads = []int{0}
	b := &bench{cfg: cfg}
	cells := b.cells()
	// Per proto/family, netstack: host copy + 2 ZCopy, runsc copy + 2
	// ZCopy, runsc-zc copy + 2 ZCopy + 2 New; host network at 4 KiB: the
	// host's again (other payload) and the sandboxes'.
	if want := 4*(3+3+5) + 4*(3+3+5); len(cells) != want {
		t.Fatalf("%d cells, want %d", len(cells), want)
	}
	places := map[place]int{}
	for _, k := range cells {
		places[k.place()]++
		want := maxPayload(k.proto, k.family)
		if k.net == runsc.NetHost || (k.env == runsc.Host && k.payload == 4096) {
			want = 4096
		}
		if k.payload != want {
			t.Errorf("%+v: payload %d, want %d", k, k.payload, want)
		}
	}
	if len(places) != 5 || places[place{runsc.Host, ""}] != 24 || places[place{runsc.Zerocopy, runsc.NetHost}] != 20 {
		t.Errorf("places %v", places)
	}
	if maxPayload("udp", 4) != 65507 || maxPayload("tcp", 6) != 65475 {
		t.Error("maxPayload differs from the selftest's")
	}
	// The host's cells are not repeated for a second network mode at the
	// same payload.
	cfg.hostnetPayloads = []int{0}
	if n := len((&bench{cfg: cfg}).cells()); n != 4*(3+3+5)+4*(3+5) {
		t.Errorf("%d cells with the same payloads in both modes", n)
	}
}

// TestGuestOnHost builds zcgen and runs it natively in every mode the host
// supports, pinned as zcbench pins it: all data arrives and every
// completion is accounted for; the host rejects SCM_ZC_NOTIFICATION with
// EINVAL, which is the cell's result.
func TestGuestOnHost(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		testenv.Unavailable(t, "no gcc")
	}
	cfg := defaultConfig()
	if runtime.NumCPU() > 1 && cfg.txCPU == cfg.rxCPU {
		t.Fatalf("sender and receiver both on CPU %d", cfg.txCPU)
	}
	cfg.duration = time.Second
	bin, err := buildGuest(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b := &bench{cfg: cfg, bins: runsc.Binaries{}, guest: bin, meter: meter(t)}
	for _, k := range []key{
		{"", "tcp", 4, 1, 4096, modeErrqueue, runsc.Host},
		{"", "udp", 6, 32, 65487, modeErrqueue, runsc.Host},
		{"", "tcp", 6, 1, 4096, modeCopy, runsc.Host},
	} {
		r, err := b.runOne(k)
		if err != nil {
			t.Fatalf("%+v: %v", k, err)
		}
		// A second of sending and receiving costs CPU time, which
		// the process tree and the cgroup both count.
		if !r.OK || r.Sends == 0 || r.TxMBps <= 0 || r.CPU < 100*time.Millisecond || r.TreeCPU < 100*time.Millisecond || r.GuestCPU <= 0 {
			t.Errorf("%+v: %+v", k, r)
		}
	}
	r, err := b.runOne(key{"", "udp", 4, 1, 4096, modeCmsg, runsc.Host})
	if err != nil || r.Error != "EINVAL" || r.Sends != 0 {
		t.Errorf("SCM_ZC_NOTIFICATION on the host: %+v, %v; want EINVAL", r, err)
	}
}

// TestRunStatus: a run whose guest fails is an error even if its output
// parses, and a run that lost completions is one too.
func TestRunStatus(t *testing.T) {
	dir := t.TempDir()
	tx := "role=tx sends=10 ok=%d error=%s\nrole=rx bytes=1 mb_per_s=1\n"
	b := &bench{cfg: defaultConfig(), meter: meter(t)}
	for _, tc := range []struct {
		name, out string
		status    int
		fails     bool
	}{
		{"ok", fmt.Sprintf(tx, 1, ""), 0, false},
		{"failed", fmt.Sprintf(tx, 1, ""), 1, true},
		{"missing", fmt.Sprintf(tx, 0, ""), 0, true},
		{"errno after sends", fmt.Sprintf(tx, 0, "EPIPE"), 0, true},
		{"refused", "role=tx sends=0 ok=0 error=EOPNOTSUPP\nrole=rx bytes=0\n", 0, false},
	} {
		b.guest = filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
		script := fmt.Sprintf("#!/bin/sh\nprintf '%%s' '%s'\nexit %d\n", tc.out, tc.status)
		if err := os.WriteFile(b.guest, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		_, err := b.runOne(key{"", "udp", 4, 1, 4096, modeErrqueue, runsc.Host})
		if (err != nil) != tc.fails {
			t.Errorf("%s: error %v, want an error: %v", tc.name, err, tc.fails)
		}
	}
}

// TestCPUMeterCountsAutoreaped runs what a sandbox's teardown does: the
// init of a PID namespace exits while a child that used CPU still runs, so
// the kernel reaps the child without adding its CPU time to anyone's
// RUSAGE_CHILDREN. The cgroup counts it.
func TestCPUMeterCountsAutoreaped(t *testing.T) {
	m := meter(t)
	// The child burns CPU, prints its CPU time (the shell's times
	// builtin), makes the namespace's init exit, and waits to be killed.
	script := `trap 'exit 0' USR1
sh -c 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; times; kill -USR1 1; exec sleep 60' &
wait`
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
	var out bytes.Buffer
	cmd.Stdout = &out
	cpu, tree, err := m.measure(cmd.Run)
	if err != nil {
		t.Fatalf("%v: %s", err, out.Bytes())
	}
	// times: "0m0.25s 0m0.01s" (the shell's user and system time),
	// then its children's.
	var um, sm int
	var us, ss float64
	if _, err := fmt.Sscanf(out.String(), "%dm%fs %dm%fs", &um, &us, &sm, &ss); err != nil {
		t.Fatalf("times printed %q: %v", out.Bytes(), err)
	}
	burned := time.Duration((float64(um*60+sm*60) + us + ss) * float64(time.Second))
	if burned < 50*time.Millisecond {
		t.Fatalf("the child burned only %v", burned)
	}
	t.Logf("cgroup %v, tree %v, the child %v", cpu, tree, burned)
	if cpu-tree < burned*9/10 {
		t.Errorf("cgroup %v, tree %v: the cgroup does not count the %v the tree missed", cpu, tree, burned)
	}
}

func TestReadWakeups(t *testing.T) {
	file := filepath.Join(t.TempDir(), "metrics.csv")
	log := "META\t/systrap/numTimesStubKicked\t{}\nSTART_TIME\t1\nTime (ns)\t/systrap/numTimesStubKicked\n" +
		"100\t41\n200\t1234\nSTATS\t{}\n"
	if err := os.WriteFile(file, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	if n, err := readWakeups(file); err != nil || n != 1234 {
		t.Errorf("readWakeups = %d, %v; want 1234", n, err)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("the log is left for the next run: %v", err)
	}
	if err := os.WriteFile(file, []byte("STATS\t{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readWakeups(file); err == nil {
		t.Error("a log without snapshots read")
	}
	if f := wakeupFlags(file); len(f) != 3 || !strings.Contains(f[0], kickMetric) {
		t.Errorf("wakeupFlags = %q", f)
	}
}

// testBench returns a bench with the runs of one line (udp v4 4096 limit 1
// on netstack) as given, and empty runs costing a second.
func testBench(cpus []int, runs map[string][]result) *bench {
	cfg := defaultConfig()
	cfg.sandboxCPUs = cpus
	cfg.networks = []runsc.Network{runsc.NetNone}
	cfg.protos, cfg.families, cfg.limits, cfg.payloads = []string{"udp"}, []int{4}, []int{1}, []int{4096}
	cfg.envs = map[runsc.Runtime]bool{runsc.Stock: true, runsc.Zerocopy: true}
	b := &bench{cfg: cfg, runs: map[key][]result{}, startup: map[place][]time.Duration{}}
	for _, p := range []place{{runsc.Stock, runsc.NetNone}, {runsc.Zerocopy, runsc.NetNone}} {
		b.startup[p] = []time.Duration{time.Second, time.Second, 3 * time.Second}
	}
	for name, rs := range runs {
		env, mode, _ := strings.Cut(name, " ")
		b.runs[key{runsc.NetNone, "udp", 4, 1, 4096, mode, runsc.Runtime(env)}] = rs
	}
	return b
}

// sent returns a run of 2 s with sends at mbps and cpu seconds of CPU time.
func sent(sends uint64, mbps, cpu float64) result {
	return result{Sends: sends, TxMBps: mbps, Seconds: 2, OK: true, CPU: time.Duration(cpu * float64(time.Second))}
}

// TestCPUPerSend: an empty run's cost subtracted (the median of the empty
// runs), divided by sends, in µs; no figure without sends or extra CPU;
// ratios paired by repetition, failed pairs left out.
func TestCPUPerSend(t *testing.T) {
	b := testBench([]int{1}, nil)
	p := place{runsc.Zerocopy, runsc.NetNone}
	if got, ok := b.cpuPerSend(p, sent(10000, 1, 2)); !ok || got != 100 {
		t.Errorf("cpuPerSend = %v, %v; want 100 µs", got, ok)
	}
	for _, r := range []result{{}, sent(10, 1, 0.5)} {
		if got, ok := b.cpuPerSend(p, r); ok {
			t.Errorf("cpuPerSend(%+v) = %v", r, got)
		}
	}
	a := []result{sent(1, 2, 0), sent(1, 4, 0), {Sends: 1, TxMBps: 9, Error: "EINVAL"}}
	c := []result{sent(1, 1, 0), sent(1, 1, 0), sent(1, 1, 0)}
	got := pairedMedian(a, c, func(a, b result) (float64, bool) { return a.TxMBps / b.TxMBps, true })
	if got == nil || *got != (figure{3, 2, 4}) {
		t.Errorf("pairedMedian = %+v, want 3 (2 to 4), the failed pair left out", got)
	}
	if got := pairedMedian(a[2:], c, func(a, b result) (float64, bool) { return 1, true }); got != nil {
		t.Errorf("pairedMedian of failed runs = %+v, want none", got)
	}
}

// TestReportFigures: CPU figures are costs only when the sandbox had one
// CPU and they fit throughput; figures without a denominator are absent,
// never Inf or NaN, in the table and in the JSON.
func TestReportFigures(t *testing.T) {
	runs := map[string][]result{
		"runsc copy":        {sent(100000, 200, 2.0), sent(100000, 200, 2.0), sent(100000, 200, 2.0)},
		"runsc-zc copy":     {sent(100000, 200, 2.0), sent(100000, 200, 2.0), sent(100000, 200, 2.0)},
		"runsc-zc errqueue": {sent(50000, 100, 2.0), sent(50000, 100, 2.0), sent(50000, 0, 2.0)},
		"runsc-zc cmsg":     {sent(80000, 160, 2.0), sent(80000, 160, 1.6), sent(80000, 160, 0.5)},
		"runsc errqueue":    {{Error: "EINVAL"}},
	}
	for _, tc := range []struct {
		name string
		cpus []int
		// Whether the CPU of runsc-zc copy and New are costs.
		copyCPU, newCPU bool
	}{
		{"one CPU", []int{1}, true, false},
		{"two CPUs", []int{0, 1}, false, false},
	} {
		rep := testBench(tc.cpus, runs).report()
		l := line{runsc.NetNone, "udp", 4, 1, 4096}
		copyRow, newRow := rep.byKey[l.cell(modeCopy, runsc.Zerocopy)], rep.byKey[l.cell(modeCmsg, runsc.Zerocopy)]
		if copyRow.CPUValid != tc.copyCPU || newRow.CPUValid != tc.newCPU {
			t.Errorf("%s: CPU a cost: copy %v (%s), New %v (%s); want %v, %v", tc.name,
				copyRow.CPUValid, copyRow.CPUNote, newRow.CPUValid, newRow.CPUNote, tc.copyCPU, tc.newCPU)
		}
		// (2 s - 1 s) / 100000 sends; one CPU of the one it had.
		if copyRow.CPUPerSend != 10 || copyRow.CPUBusy != 0.5 {
			t.Errorf("%s: copy %v µs per send, %v CPUs busy", tc.name, copyRow.CPUPerSend, copyRow.CPUBusy)
		}
		ra, ok := rep.ratio(l)
		if !ok || ra.NewOverZcopy == nil || ra.NewOverZcopy.Median != 1.6 || ra.NewOverCopy.Median != 0.8 {
			t.Fatalf("%s: ratio %+v", tc.name, ra)
		}
		if ra.CPUSaving != nil || ra.NewCPUOverCopyCPU != nil {
			t.Errorf("%s: CPU ratios %+v %+v from CPU figures that are not costs", tc.name, ra.CPUSaving, ra.NewCPUOverCopyCPU)
		}
		var table bytes.Buffer
		rep.printTable(&table)
		js, err := json.Marshal(rep)
		if err != nil {
			t.Fatalf("%s: JSON: %v", tc.name, err)
		}
		for _, s := range [][]byte{table.Bytes(), js, rep.svg()} {
			if bytes.Contains(s, []byte("Inf")) || bytes.Contains(s, []byte("NaN")) {
				t.Errorf("%s: Inf or NaN in:\n%s", tc.name, s)
			}
		}
		if !strings.Contains(table.String(), "EINVAL") || !strings.Contains(table.String(), "(") {
			t.Errorf("%s: table:\n%s", tc.name, table.Bytes())
		}
	}
	// Consistent CPU on one CPU: a saving.
	runs["runsc-zc cmsg"] = []result{sent(80000, 160, 1.8), sent(80000, 160, 1.8), sent(80000, 160, 1.8)}
	runs["runsc-zc errqueue"] = []result{sent(50000, 100, 2.0), sent(50000, 100, 2.0), sent(50000, 100, 2.0)}
	ra, _ := testBench([]int{1}, runs).report().ratio(line{runsc.NetNone, "udp", 4, 1, 4096})
	// 1 - (0.8 s / 80000) / (1 s / 50000)
	if ra.CPUSaving == nil || ra.CPUSaving.Median != 0.5 || ra.NewCPUOverCopyCPU.Median != 1 {
		t.Errorf("CPU ratios %+v %+v, want saving 0.5, New/copy 1", ra.CPUSaving, ra.NewCPUOverCopyCPU)
	}
}

func TestTargets(t *testing.T) {
	rep := &report{byKey: map[key]row{}, networks: []runsc.Network{runsc.NetNone}}
	rep.Ratios = []ratio{
		{Network: "none", Proto: "udp", Family: 4, Limit: 1, Payload: 4096, NewOverZcopy: &figure{Median: 1.6},
			NewOverCopy: &figure{Median: 0.95}, CPUSaving: &figure{Median: 0.2}},
		{Network: "none", Proto: "udp", Family: 4, Limit: 32, Payload: 4096, NewOverZcopy: &figure{Median: 0.9}},
	}
	l := line{runsc.NetNone, "udp", 4, 1, 4096}
	rep.Rows = []row{{Network: "none", Proto: "udp", Family: 4, Limit: 1, Payload: 4096}}
	rep.byKey[l.cell(modeCopy, runsc.Stock)] = row{MBps: 100, CPUPerSend: 100, CPUValid: true}
	rep.byKey[l.cell(modeCopy, runsc.Zerocopy)] = row{MBps: 96, CPUPerSend: 109, CPUValid: true}
	got := rep.targets()
	want := []string{
		"--network=none udp v4 4096B limit 1 New/ZCopy MB/s", "met",
		"--network=none udp v4 4096B limit 1 New/copy MB/s", "SHORT",
		"--network=none udp v4 4096B limit 1 cpu saving", "SHORT",
		"--network=none udp v4 4096B limit 32 New/ZCopy MB/s", "SHORT",
		"--network=none udp v4 4096B runsc-zc copy / runsc copy CPU per send", "met",
		"--network=none udp v4 4096B runsc-zc copy / runsc copy MB/s", "SHORT",
	}
	if len(got) != len(want)/2 {
		t.Fatalf("targets = %q", got)
	}
	for i, line := range got {
		if !strings.HasPrefix(line, want[2*i]) || !strings.HasSuffix(line, want[2*i+1]) {
			t.Errorf("target %d = %q, want %q ... %s", i, line, want[2*i], want[2*i+1])
		}
	}
}

func TestSVG(t *testing.T) {
	runs := map[string][]result{
		"runsc copy":        {sent(100000, 200, 2.0)},
		"runsc-zc copy":     {sent(100000, 200, 2.0)},
		"runsc-zc errqueue": {sent(50000, 100, 2.0)},
		"runsc-zc cmsg":     {sent(80000, 160, 1.8)},
		"runsc errqueue":    {{Error: "EINVAL"}},
	}
	out := testBench([]int{1}, runs).report().svg()
	if err := xml.Unmarshal(out, new(struct{})); err != nil {
		t.Fatalf("not XML: %v\n%s", err, out)
	}
	// One MB/s bar per measured cell (none for the refused one); the
	// ratios with the series' reference marks.
	for _, want := range []string{"MB/s</title></rect>", "New/ZCopy udp v4 4096B limit 1: 160.0%", "New/copy udp v4 4096B limit 1: 80.0%",
		"CPU saving udp v4 4096B limit 1: 50.0%", "series: 120.88%", "series: 23.00%"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if n := bytes.Count(out, []byte("MB/s</title></rect>")); n != 4 {
		t.Errorf("%d MB/s bars, want 4", n)
	}
}
