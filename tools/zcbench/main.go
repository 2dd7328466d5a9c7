// Command zcbench reproduces the performance table of the SCM_ZC_NOTIFICATION
// series inside gVisor: throughput and CPU per send of MSG_ZEROCOPY with
// error-queue notifications ("ZCopy") against MSG_ZEROCOPY with the sendmsg
// copy-back ("New ZCopy"), for TCP and UDP over IPv4 and IPv6, at
// notification limits 1 and 32, on the host kernel, under stock runsc and
// under runsc-zc, with gVisor's netstack (--network=none) and with the host's
// network stack (--network=host), side by side in one run.
//
// It builds both runtimes and the guest generator (zcgen.c) itself, so it
// must run as root from inside the zcstack module:
//
//	go run ./tools/zcbench [-duration 2s] [-reps 3] [-json out.json] [-svg chart.svg]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/zcstack/zcstack/internal/runsc"
)

// Modes of the generator, with the series' names.
const (
	modeCopy     = "copy"     // plain send
	modeErrqueue = "errqueue" // "ZCopy": MSG_ZEROCOPY + recvmsg(MSG_ERRQUEUE)
	modeCmsg     = "cmsg"     // "New ZCopy": MSG_ZEROCOPY + SCM_ZC_NOTIFICATION
)

// envModes lists what each environment runs. The host has no
// SCM_ZC_NOTIFICATION; stock runsc has no MSG_ZEROCOPY, which its errqueue
// row shows (one attempt).
var envModes = []struct {
	env   runsc.Runtime
	modes []string
}{
	{runsc.Host, []string{modeCopy, modeErrqueue}},
	{runsc.Stock, []string{modeCopy, modeErrqueue}},
	{runsc.Zerocopy, []string{modeCopy, modeErrqueue, modeCmsg}},
}

type config struct {
	duration time.Duration
	reps     int
	protos   []string
	families []int
	limits   []int
	payloads []int // 0: the largest payload of one IP packet
	envs     map[runsc.Runtime]bool
	// networks are the sandboxes' network modes; hostnetPayloads the
	// payloads measured with --network=host.
	networks        []runsc.Network
	hostnetPayloads []int
	// txCPU and rxCPU pin the host's sender and receiver (-1: not
	// pinned); sandboxCPUs is the CPU set every sandbox runs in (nil:
	// all).
	txCPU, rxCPU int
	sandboxCPUs  []int
	// wakeups runs profiling builds of the runtimes that count systrap's
	// stub wake-ups.
	wakeups bool
}

// defaultConfig is zcbench's default run.
func defaultConfig() config {
	cfg := config{
		// A sandbox's first second runs about 20% slower than the next
		// ones (measured: UDP 4 KiB copy mode, 1 s runs 178-193 MB/s,
		// 2 s runs 235-267 MB/s), so runs last 2 s.
		duration:        2 * time.Second,
		reps:            3,
		protos:          []string{"tcp", "udp"},
		families:        []int{4, 6},
		limits:          []int{1, 32},
		payloads:        []int{0, 4096},
		envs:            map[runsc.Runtime]bool{runsc.Host: true, runsc.Stock: true, runsc.Zerocopy: true},
		networks:        []runsc.Network{runsc.NetNone, runsc.NetHost},
		hostnetPayloads: []int{4096},
		txCPU:           -1,
		rxCPU:           -1,
	}
	// The selftest's pinning: the sender on the last CPU, the receiver on
	// another. A sandbox gets one CPU, the last: with one CPU systrap does
	// not spin (gVisor's rule), so its CPU time is the work it does.
	if n := runtime.NumCPU(); n > 1 {
		cfg.txCPU, cfg.rxCPU = n-1, 0
		cfg.sandboxCPUs = []int{n - 1}
	}
	return cfg
}

func main() {
	cfg := defaultConfig()
	var (
		protos      = flag.String("protos", "tcp,udp", "protocols")
		families    = flag.String("families", "4,6", "IP versions")
		limits      = flag.String("limits", "1,32", "notification limits")
		payloads    = flag.String("payloads", "max,4096", "payload sizes in bytes; max is the largest of one IP packet")
		hostnet     = flag.String("hostnet-payloads", "4096", "payload sizes of the --network=host rows")
		envs        = flag.String("envs", "host,runsc,runsc-zc", "environments")
		networks    = flag.String("networks", "none,host", "network modes of the sandboxes (runsc --network)")
		sandboxCPUs = flag.String("sandbox-cpus", cpuList(cfg.sandboxCPUs), "CPUs each sandbox runs on (all: unconfined; systrap then spins on idle CPUs, which its CPU time includes)")
		jsonPath    = flag.String("json", "", "also write every run, row and ratio as one JSON object to this file")
		svg         = flag.String("svg", "", "also write an SVG chart of the ratios and the throughput to this file")
		workdir     = flag.String("workdir", "", "where to build the binaries (default: a temporary directory)")
		from        = flag.String("report", "", "measure nothing: print the table (and -svg) of the JSON file a run wrote")
	)
	flag.DurationVar(&cfg.duration, "duration", cfg.duration, "length of one run (whole seconds)")
	flag.IntVar(&cfg.reps, "reps", cfg.reps, "repetitions of each run (medians are reported)")
	flag.IntVar(&cfg.txCPU, "tx-cpu", cfg.txCPU, "CPU the host sender is pinned to (-1: none)")
	flag.IntVar(&cfg.rxCPU, "rx-cpu", cfg.rxCPU, "CPU the host receiver is pinned to (-1: none)")
	flag.BoolVar(&cfg.wakeups, "wakeups", false, "count systrap's stub wake-ups per send (runtimes built with -tags systrap_profiling; their MB/s and CPU are not the reference figures)")
	flag.Parse()

	var err error
	cfg.protos = strings.Split(*protos, ",")
	named := map[string]int{"max": 0}
	if cfg.families, err = ints(*families, nil); err == nil {
		if cfg.limits, err = ints(*limits, nil); err == nil {
			if cfg.payloads, err = ints(*payloads, named); err == nil {
				cfg.hostnetPayloads, err = ints(*hostnet, named)
			}
		}
	}
	if cfg.sandboxCPUs = nil; err == nil && *sandboxCPUs != "all" {
		cfg.sandboxCPUs, err = ints(*sandboxCPUs, nil)
	}
	if err != nil || cfg.reps < 1 || cfg.duration < time.Second {
		fmt.Fprintln(os.Stderr, "zcbench: bad flags (durations are whole seconds, at least 1s):", err)
		os.Exit(2)
	}
	cfg.envs = map[runsc.Runtime]bool{}
	for _, e := range strings.Split(*envs, ",") {
		cfg.envs[runsc.Runtime(e)] = true
	}
	cfg.networks = nil
	for _, n := range strings.Split(*networks, ",") {
		cfg.networks = append(cfg.networks, runsc.Network(n))
	}
	if *from != "" {
		err = replay(*from, *svg)
	} else {
		err = run(cfg, *workdir, *jsonPath, *svg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "zcbench:", err)
		os.Exit(1)
	}
}

func run(cfg config, workdir, jsonPath, svgPath string) error {
	if workdir == "" {
		dir, err := os.MkdirTemp("", "zcbench")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		workdir = dir
	}
	var sandboxes []runsc.Runtime
	for _, e := range []runsc.Runtime{runsc.Stock, runsc.Zerocopy} {
		if cfg.envs[e] {
			sandboxes = append(sandboxes, e)
		}
	}
	if len(sandboxes) > 0 {
		if err := runsc.CanSandbox(); err != nil {
			return err
		}
	}
	var tags []string
	if cfg.wakeups {
		tags = []string{"systrap_profiling"}
	}
	progress("building zcgen and %v %v", sandboxes, tags)
	guest, err := buildGuest(workdir)
	if err != nil {
		return err
	}
	bins, err := runsc.BuildTags(workdir, tags, sandboxes...)
	if err != nil {
		return err
	}
	meter, err := newCPUMeter()
	if err != nil {
		return err
	}
	b := &bench{cfg: cfg, bins: bins, guest: guest, meter: meter, workdir: workdir}
	rep, err := b.measure()
	if cerr := meter.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	progress("done")
	if jsonPath != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(jsonPath, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	return rep.output(svgPath)
}

// replay prints the table of the JSON report in file, and its chart.
func replay(file, svgPath string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	rep := &report{}
	if err := json.Unmarshal(b, rep); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	rep.index()
	return rep.output(svgPath)
}

// output prints the table and writes the chart to svgPath if it is not "".
func (rep *report) output(svgPath string) error {
	if svgPath != "" {
		if err := os.WriteFile(svgPath, rep.svg(), 0o644); err != nil {
			return err
		}
	}
	rep.printTable(os.Stdout)
	return nil
}

// progress prints a status line on stderr: over the previous one on a
// terminal, one per line elsewhere (CI logs).
func progress(format string, args ...any) {
	if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		fmt.Fprintf(os.Stderr, "\r\033[K"+format, args...)
		if format == "done" {
			fmt.Fprintln(os.Stderr)
		}
		return
	}
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

// ints parses a comma-separated list of integers, with named values.
func ints(s string, names map[string]int) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if v, ok := names[f]; ok {
			out = append(out, v)
			continue
		}
		var v int
		if _, err := fmt.Sscan(f, &v); err != nil || v < 0 {
			return nil, fmt.Errorf("bad number %q", f)
		}
		out = append(out, v)
	}
	return out, nil
}

// cpuList formats a CPU set as the -sandbox-cpus flag takes it.
func cpuList(cpus []int) string {
	if len(cpus) == 0 {
		return "all"
	}
	s := make([]string, len(cpus))
	for i, c := range cpus {
		s[i] = fmt.Sprint(c)
	}
	return strings.Join(s, ",")
}
