package main

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/zcstack/zcstack/internal/runsc"
)

// key names one cell of the matrix.
type key struct {
	proto   string
	family  int
	limit   int
	payload int
	mode    string
	env     runsc.Runtime
}

// bench runs the matrix.
type bench struct {
	cfg   config
	bins  runsc.Binaries
	guest string
	meter *cpuMeter
	port  int
	// runs holds each cell's results, one per repetition.
	runs map[key][]result
	// startup holds the CPU time of an empty run of each environment, one
	// per repetition: what a run costs before the guest does anything.
	startup map[runsc.Runtime][]time.Duration
}

// cells lists the runs of one repetition, in the order they run. Copy mode
// ignores the notification limit, so it runs once, under the first limit.
func (b *bench) cells() []key {
	var out []key
	for _, proto := range b.cfg.protos {
		for _, family := range b.cfg.families {
			for _, payload := range b.cfg.payloads {
				if payload == 0 {
					payload = maxPayload(proto, family)
				}
				for _, em := range envModes {
					if !b.cfg.envs[em.env] {
						continue
					}
					for _, mode := range em.modes {
						for i, limit := range b.cfg.limits {
							if mode == modeCopy && i > 0 {
								break
							}
							out = append(out, key{proto, family, limit, payload, mode, em.env})
						}
					}
				}
			}
		}
	}
	return out
}

// measure runs every cell reps times, interleaved so that the machine's
// noise spreads over all of them alike. A cell whose run fails with an errno
// (MSG_ZEROCOPY under stock runsc) is not repeated.
func (b *bench) measure() (*report, error) {
	b.runs = map[key][]result{}
	b.startup = map[runsc.Runtime][]time.Duration{}
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
			progress("[%d/%d] rep %d: %s v%d %s payload %d limit %d on %s", done, total, rep+1,
				k.proto, k.family, k.mode, k.payload, k.limit, k.env)
			r, err := b.runOne(k)
			if err != nil {
				return nil, err
			}
			b.runs[k] = append(b.runs[k], r)
		}
	}
	return b.report(), nil
}

// measureStartup runs /bin/true once in each environment and records its
// CPU time.
func (b *bench) measureStartup() error {
	for _, em := range envModes {
		if !b.cfg.envs[em.env] {
			continue
		}
		cpu, err := b.meter.measure(func() error {
			_, err := b.bins.Output(em.env, "/bin/true")
			return err
		})
		if err != nil {
			return fmt.Errorf("empty run on %s: %w", em.env, err)
		}
		b.startup[em.env] = append(b.startup[em.env], cpu)
	}
	return nil
}

// runOne runs zcgen pair once for k.
func (b *bench) runOne(k key) (result, error) {
	b.port++
	argv := []string{b.guest, "pair",
		"-" + strconv.Itoa(k.family), "-t", k.proto, "-p", strconv.Itoa(20000 + b.port%20000),
		"-m", k.mode, "-l", strconv.Itoa(k.limit), "-s", strconv.Itoa(k.payload),
		"-d", strconv.Itoa(int(b.cfg.duration.Seconds())),
	}
	if k.env == runsc.Host {
		// Pinned as the selftest pins them. In a sandbox the guest's
		// affinity does not reach the sentry's threads.
		argv = append(argv, "-C", strconv.Itoa(b.cfg.txCPU), "-R", strconv.Itoa(b.cfg.rxCPU))
	}
	var out []byte
	cpu, err := b.meter.measure(func() error {
		var err error
		out, err = b.bins.Output(k.env, argv...)
		return err
	})
	r, perr := parseResult(out)
	r.CPU = cpu
	if perr != nil {
		if err != nil {
			return r, err
		}
		return r, perr
	}
	if !r.OK && r.Error == "" {
		return r, fmt.Errorf("%s v%d %s on %s: completions missing:\n%s", k.proto, k.family, k.mode, k.env, out)
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
