// Command zcbench reproduces the performance table of the SCM_ZC_NOTIFICATION
// series inside gVisor: throughput of MSG_ZEROCOPY with error-queue
// notifications ("ZCopy") against MSG_ZEROCOPY with the sendmsg copy-back
// ("New ZCopy"), for TCP and UDP over IPv4 and IPv6, at notification limits 1
// and 32, on the host kernel, under stock runsc and under runsc-zc, side by
// side in one run.
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
	txCPU    int
	rxCPU    int
}

func main() {
	var (
		cfg      config
		protos   = flag.String("protos", "tcp,udp", "protocols")
		families = flag.String("families", "4,6", "IP versions")
		limits   = flag.String("limits", "1,32", "notification limits")
		payloads = flag.String("payloads", "max,4096", "payload sizes in bytes; max is the largest of one IP packet")
		envs     = flag.String("envs", "host,runsc,runsc-zc", "environments")
		jsonPath = flag.String("json", "", "also write every row and ratio as one JSON object to this file")
		svg      = flag.String("svg", "", "also write an SVG chart of the table to this file")
		workdir  = flag.String("workdir", "", "where to build the binaries (default: a temporary directory)")
	)
	// A sandbox's first second runs about 20% slower than the next ones
	// (measured: UDP 4 KiB copy mode, 1 s runs 178-193 MB/s, 2 s runs
	// 235-267 MB/s), so runs last 2 s by default.
	flag.DurationVar(&cfg.duration, "duration", 2*time.Second, "length of one run (whole seconds)")
	flag.IntVar(&cfg.reps, "reps", 3, "repetitions of each run (medians are reported)")
	flag.IntVar(&cfg.txCPU, "tx-cpu", 1, "CPU the host sender is pinned to (-1: none)")
	flag.IntVar(&cfg.rxCPU, "rx-cpu", 0, "CPU the host receiver is pinned to (-1: none)")
	flag.Parse()

	var err error
	cfg.protos = strings.Split(*protos, ",")
	if cfg.families, err = ints(*families, nil); err == nil {
		if cfg.limits, err = ints(*limits, nil); err == nil {
			cfg.payloads, err = ints(*payloads, map[string]int{"max": 0})
		}
	}
	if err != nil || cfg.reps < 1 || cfg.duration < time.Second {
		fmt.Fprintln(os.Stderr, "zcbench: bad flags (durations are whole seconds, at least 1s):", err)
		os.Exit(2)
	}
	cfg.envs = map[runsc.Runtime]bool{}
	for _, e := range strings.Split(*envs, ",") {
		cfg.envs[runsc.Runtime(e)] = true
	}
	if err := run(cfg, *workdir, *jsonPath, *svg); err != nil {
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
	progress("building zcgen and %v", sandboxes)
	guest, err := buildGuest(workdir)
	if err != nil {
		return err
	}
	bins, err := runsc.Build(workdir, sandboxes...)
	if err != nil {
		return err
	}
	meter, err := newCPUMeter()
	if err != nil {
		return err
	}
	b := &bench{cfg: cfg, bins: bins, guest: guest, meter: meter}
	rep, err := b.measure()
	if err != nil {
		return err
	}
	progress("done")
	if svgPath != "" {
		if err := os.WriteFile(svgPath, rep.svg(), 0o644); err != nil {
			return err
		}
	}
	if jsonPath != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(jsonPath, append(b, '\n'), 0o644); err != nil {
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
