package main

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/zcstack/zcstack/internal/runsc"
)

// key names one cell of the matrix. net is the sandbox's network mode, ""
// on the host, whose cells stand for every network mode.
type key struct {
	net     runsc.Network
	proto   string
	family  int
	limit   int
	payload int
	mode    string
	env     runsc.Runtime
}

// place is where a run runs: an environment and, in a sandbox, its network.
type place struct {
	env runsc.Runtime
	net runsc.Network
}

func (p place) String() string {
	if p.net == "" {
		return string(p.env)
	}
	return fmt.Sprintf("%s --network=%s", p.env, p.net)
}

func (k key) place() place { return place{k.env, k.net} }

// bench runs the matrix.
type bench struct {
	cfg     config
	bins    runsc.Binaries
	guest   string
	meter   *cpuMeter
	workdir string
	// runs holds each cell's results, one per repetition.
	runs map[key][]result
	// startup holds the CPU time of an empty run in each place, one per
	// repetition: what a run costs before the guest does anything.
	startup map[place][]time.Duration
}

// netOf is the network mode a cell of env has under the sandbox network n.
func netOf(env runsc.Runtime, n runsc.Network) runsc.Network {
	if env == runsc.Host {
		return ""
	}
	return n
}

// cells lists the runs of one repetition, in the order they run. Copy mode
// ignores the notification limit, so it runs once, under the first limit;
// the host's cells run once for all network modes.
func (b *bench) cells() []key {
	var out []key
	seen := map[key]bool{}
	for _, n := range b.cfg.networks {
		payloads := b.cfg.payloads
		if n == runsc.NetHost {
			payloads = b.cfg.hostnetPayloads
		}
		for _, proto := range b.cfg.protos {
			for _, family := range b.cfg.families {
				for _, payload := range payloads {
					if payload == 0 {
						payload = maxPayload(proto, family)
					}
					for _, em := range envModes {
						if !b.cfg.envs[em.env] {
							continue
						}
						for _, mode := range em.modes {
							for i, limit := range b.cfg.limits {
								k := key{netOf(em.env, n), proto, family, limit, payload, mode, em.env}
								if (mode == modeCopy && i > 0) || seen[k] {
									continue
								}
								seen[k] = true
								out = append(out, k)
							}
						}
					}
				}
			}
		}
	}
	return out
}

// places lists where the cells run, in their order.
func (b *bench) places() []place {
	var out []place
	for _, k := range b.cells() {
		if !slices.Contains(out, k.place()) {
			out = append(out, k.place())
		}
	}
	return out
}

// measure runs every cell reps times, interleaved so that the machine's
// noise spreads over all of them alike. A cell whose runtime refuses the
// mode (an errno: MSG_ZEROCOPY under stock runsc) is not repeated.
func (b *bench) measure() (*report, error) {
	b.runs = map[key][]result{}
	b.startup = map[place][]time.Duration{}
	cells := b.cells()
	total := len(cells) * b.cfg.reps
	done := 0
	for rep := 0; rep < b.cfg.reps; rep++ {
		if err := b.measureStartup(); err != nil {
			return nil, err
		}
		for _, k := range cells {
			done++
			if prev := b.runs[k]; len(prev) > 0 && prev[0].Error != "" {
				continue
			}
			progress("[%d/%d] rep %d: %s", done, total, rep+1, k.describe())
			r, err := b.runOne(k)
			if err != nil {
				return nil, err
			}
			b.runs[k] = append(b.runs[k], r)
		}
	}
	return b.report(), nil
}

// measureStartup runs /bin/true once in each place and records its CPU
// time.
func (b *bench) measureStartup() error {
	for _, p := range b.places() {
		cmd, err := b.command(p, "", "/bin/true")
		if err != nil {
			return err
		}
		cpu, _, err := b.meter.measure(func() error {
			_, err := b.execute(p, cmd)
			return err
		})
		if err != nil {
			return fmt.Errorf("empty run on %s: %w", p, err)
		}
		b.startup[p] = append(b.startup[p], cpu)
	}
	return nil
}

// command returns the command that runs argv in p: with runsc's cgroups
// left alone, so that the sandbox stays in zcbench's cgroup, and with the
// wake-up counter logged to metricsLog if it is not "".
func (b *bench) command(p place, metricsLog string, argv ...string) (*exec.Cmd, error) {
	cmd, err := b.bins.CommandOn(p.env, p.net, argv...)
	if err != nil || p.env == runsc.Host {
		return cmd, err
	}
	flags := []string{"--ignore-cgroups"}
	if metricsLog != "" {
		flags = append(flags, wakeupFlags(metricsLog)...)
	}
	cmd.Args = slices.Insert(cmd.Args, 1, flags...)
	return cmd, nil
}

// execute runs cmd, a command of place p, to its end, a sandbox on the
// sandboxes' CPUs, and returns its standard output (through a pipe, which
// runsc needs: a file as stdout fails in its chroot). A command that fails
// is an error, whatever it printed.
func (b *bench) execute(p place, cmd *exec.Cmd) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	var cpus []int
	if p.env != runsc.Host {
		cpus = b.cfg.sandboxCPUs
	}
	if err := startOn(cpus, cmd.Start); err != nil {
		return nil, err
	}
	if err := cmd.Wait(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%s: %v: %s", p, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.Bytes(), nil
}

// runOne runs zcgen pair once for k.
func (b *bench) runOne(k key) (result, error) {
	argv := []string{b.guest, "pair",
		"-" + strconv.Itoa(k.family), "-t", k.proto,
		"-m", k.mode, "-l", strconv.Itoa(k.limit), "-s", strconv.Itoa(k.payload),
		"-d", strconv.Itoa(int(b.cfg.duration.Seconds())),
	}
	if k.env == runsc.Host {
		// Pinned as the selftest pins them. In a sandbox the guest's
		// affinity does not reach the sentry's threads.
		argv = append(argv, "-C", strconv.Itoa(b.cfg.txCPU), "-R", strconv.Itoa(b.cfg.rxCPU))
	}
	var metricsLog string
	if b.cfg.wakeups && k.env != runsc.Host {
		metricsLog = filepath.Join(b.workdir, "metrics.csv")
	}
	cmd, err := b.command(k.place(), metricsLog, argv...)
	if err != nil {
		return result{}, err
	}
	var out []byte
	cpu, tree, err := b.meter.measure(func() error {
		var err error
		out, err = b.execute(k.place(), cmd)
		return err
	})
	if err != nil {
		return result{}, fmt.Errorf("%s: %w\n%s", k.describe(), err, out)
	}
	r, err := parseResult(out)
	if err != nil {
		return r, fmt.Errorf("%s: %w", k.describe(), err)
	}
	r.CPU, r.TreeCPU = cpu, tree
	if metricsLog != "" {
		if r.Wakeups, err = readWakeups(metricsLog); err != nil {
			return r, err
		}
	}
	if !r.OK && (r.Error == "" || r.Sends > 0) {
		return r, fmt.Errorf("%s: completions missing:\n%s", k.describe(), out)
	}
	return r, nil
}

// maxPayload is the selftest's default payload: the largest that fits one IP
// packet of 65535 bytes with the IPv4 or IPv6 and the TCP or UDP header.
func maxPayload(proto string, family int) int {
	n := 65535 - 20
	if family == 6 {
		n = 65535 - 40
	}
	if proto == "tcp" {
		return n - 20
	}
	return n - 8
}

// median returns the median of xs (the mean of the middle two for an even
// count), and the minimum and maximum.
func median(xs []float64) (med, lo, hi float64) {
	if len(xs) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	med = s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return med, s[0], s[n-1]
}

// describe names a cell in messages.
func (k key) describe() string {
	return fmt.Sprintf("%s v%d %s payload %d limit %d on %s", k.proto, k.family, k.mode, k.payload, k.limit, k.place())
}
