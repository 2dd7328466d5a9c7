package main

import (
	"encoding/xml"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/zcstack/zcstack/internal/runsc"
)

func TestParseResult(t *testing.T) {
	out := []byte("role=tx proto=udp family=6 mode=cmsg limit=1 payload=4096 seconds=1.000 sends=10 " +
		"bytes=40960 mb_per_s=0.0 expected=10 completions=10 notifications=10 copied=10 syscalls=25 " +
		"syscalls_per_send=2.500 ok=1 error=\nrole=rx proto=udp family=6 bytes=40960 reads=10 mb_per_s=0.5\n")
	r, err := parseResult(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.Sends != 10 || r.SyscallsPerSend != 2.5 || !r.OK || r.Error != "" || r.RxMBps != 0.5 {
		t.Errorf("parseResult = %+v", r)
	}
	r, err = parseResult([]byte("role=tx sends=0 ok=0 error=EINVAL\nrole=rx bytes=0 mb_per_s=0.0\n"))
	if err != nil || r.OK || r.Error != "EINVAL" {
		t.Errorf("failed run: %+v, %v", r, err)
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
	b := &bench{cfg: config{
		protos: []string{"tcp", "udp"}, families: []int{4, 6}, limits: []int{1, 32}, payloads: []int{0},
		envs: map[runsc.Runtime]bool{runsc.Host: true, runsc.Stock: true, runsc.Zerocopy: true},
	}}
	cells := b.cells()
	// Per proto/family: host copy + 2 ZCopy, runsc copy + 2 ZCopy,
	// runsc-zc copy + 2 ZCopy + 2 New.
	if want := 4 * (3 + 3 + 5); len(cells) != want {
		t.Fatalf("%d cells, want %d", len(cells), want)
	}
	for _, k := range cells {
		if want := maxPayload(k.proto, k.family); k.payload != want {
			t.Errorf("%+v: payload %d, want %d", k, k.payload, want)
		}
	}
	if maxPayload("udp", 4) != 65507 || maxPayload("tcp", 6) != 65475 {
		t.Error("maxPayload differs from the selftest's")
	}
}

// TestGuestOnHost builds zcgen and runs it natively in every mode the host
// supports: all data arrives and every completion is accounted for; the
// host rejects SCM_ZC_NOTIFICATION with EINVAL.
func TestGuestOnHost(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no gcc")
	}
	bin, err := buildGuest(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	meter, err := newCPUMeter()
	if err != nil {
		t.Fatal(err)
	}
	b := &bench{cfg: config{duration: time.Second}, bins: runsc.Binaries{}, guest: bin, meter: meter}
	for _, k := range []key{
		{"tcp", 4, 1, 4096, modeErrqueue, runsc.Host},
		{"udp", 6, 32, 65487, modeErrqueue, runsc.Host},
		{"tcp", 6, 1, 4096, modeCopy, runsc.Host},
	} {
		r, err := b.runOne(k)
		if err != nil {
			t.Fatalf("%+v: %v", k, err)
		}
		// A second of sending and receiving costs CPU time.
		if !r.OK || r.Sends == 0 || r.TxMBps <= 0 || r.CPU < 100*time.Millisecond {
			t.Errorf("%+v: %+v", k, r)
		}
	}
	r, err := b.runOne(key{"udp", 4, 1, 4096, modeCmsg, runsc.Host})
	if err != nil || !strings.Contains(r.Error, "EINVAL") {
		t.Errorf("SCM_ZC_NOTIFICATION on the host: %+v, %v; want EINVAL", r, err)
	}
}

func TestTargets(t *testing.T) {
	rep := &report{byKey: map[key]row{}}
	rep.Ratios = []ratio{
		{Proto: "udp", Family: 4, Limit: 1, Payload: 4096, NewOverZcopy: 1.6, CPUSaving: 0.2, NewCPUOverCopyCPU: 1.01},
		{Proto: "udp", Family: 4, Limit: 32, Payload: 4096, NewOverZcopy: 0.9},
	}
	rep.byKey[key{"udp", 4, 1, 4096, modeCopy, runsc.Stock}] = row{MBps: 100, CPUPerSend: 100}
	rep.byKey[key{"udp", 4, 1, 4096, modeCopy, runsc.Zerocopy}] = row{MBps: 96, CPUPerSend: 102}
	got := rep.targets()
	want := []string{
		"udp v4 4096B limit 1 New/ZCopy MB/s", "met",
		"udp v4 4096B limit 1 cpu saving", "SHORT",
		"udp v4 4096B limit 1 New/copy CPU per send", "met",
		"udp v4 4096B limit 32 New/ZCopy MB/s", "SHORT",
		"udp v4 4096B runsc-zc copy / runsc copy CPU per send", "met",
		"udp v4 4096B runsc-zc copy / runsc copy MB/s", "SHORT",
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

// TestCPUPerSend: start-up cost subtracted (median of the empty runs),
// divided by sends, in µs; ratios paired by repetition.
func TestCPUPerSend(t *testing.T) {
	b := &bench{startup: map[runsc.Runtime][]time.Duration{
		runsc.Zerocopy: {400 * time.Millisecond, 500 * time.Millisecond, 900 * time.Millisecond},
	}}
	r := result{CPU: 1500 * time.Millisecond, Sends: 10000}
	if got := b.cpuPerSend(runsc.Zerocopy, r); got != 100 {
		t.Errorf("cpuPerSend = %v µs, want 100", got)
	}
	if got := b.cpuPerSend(runsc.Zerocopy, result{}); got != 0 {
		t.Errorf("cpuPerSend without sends = %v", got)
	}
	a := []result{{Sends: 1, CPU: 2}, {Sends: 1, CPU: 4}, {Sends: 1, CPU: 9, Error: "EINVAL"}}
	c := []result{{Sends: 1, CPU: 1}, {Sends: 1, CPU: 1}, {Sends: 1, CPU: 1}}
	got := pairedMedian(a, c, func(a, b result) float64 { return float64(a.CPU) / float64(b.CPU) })
	if got != 3 {
		t.Errorf("pairedMedian = %v, want 3 (the failed pair left out)", got)
	}
}

func TestSVG(t *testing.T) {
	rep := &report{Machine: map[string]string{"reps": "1", "duration": "1s"}, byKey: map[key]row{}}
	for _, r := range []row{
		{Proto: "udp", Family: 4, Limit: 1, Payload: 4096, Mode: modeCopy, Env: "host", MBps: 2000},
		{Proto: "udp", Family: 4, Limit: 1, Payload: 4096, Mode: modeErrqueue, Env: "runsc", Error: "EINVAL"},
		{Proto: "udp", Family: 4, Limit: 1, Payload: 4096, Mode: modeCmsg, Env: "runsc-zc", MBps: 100},
	} {
		rep.Rows = append(rep.Rows, r)
		rep.byKey[key{r.Proto, r.Family, r.Limit, r.Payload, r.Mode, runsc.Runtime(r.Env)}] = r
	}
	out := rep.svg()
	if err := xml.Unmarshal(out, new(struct{})); err != nil {
		t.Fatalf("not XML: %v\n%s", err, out)
	}
	// One bar per measured cell; none for the failed one.
	if n := strings.Count(string(out), "MB/s</title></rect>"); n != 2 {
		t.Errorf("%d bars, want 2:\n%s", n, out)
	}
}
