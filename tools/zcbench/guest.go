package main

import (
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// zcgenSource is the guest traffic generator, built with the host's gcc.
//
//go:embed guest/zcgen.c
var zcgenSource []byte

// buildGuest compiles zcgen statically into dir, so that it runs unchanged
// on the host and in both sandboxes.
func buildGuest(dir string) (string, error) {
	src := filepath.Join(dir, "zcgen.c")
	if err := os.WriteFile(src, zcgenSource, 0o644); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "zcgen")
	out, err := exec.Command("gcc", "-O2", "-Wall", "-static", "-o", bin, src).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("gcc zcgen.c: %v\n%s", err, out)
	}
	return bin, nil
}

// result is what one zcgen pair run reports, and what it cost.
type result struct {
	TxMBps          float64 `json:"mb_per_s"`
	RxMBps          float64 `json:"rx_mb_per_s"`
	SyscallsPerSend float64 `json:"syscalls_per_send"`
	Sends           uint64  `json:"sends"`
	// Seconds is how long the sender sent.
	Seconds float64 `json:"seconds"`
	// PollsBusy counts the sender's polls that returned without POLLOUT.
	PollsBusy uint64 `json:"polls_busy"`
	OK        bool   `json:"ok"`
	Error     string `json:"error"` // the errno name that stopped the sender
	// CPU is the CPU time of everything the run started (zcbench's
	// cgroup); TreeCPU the rusage of the process tree, which misses what
	// is reaped without being waited for.
	CPU     time.Duration `json:"cpu_ns"`
	TreeCPU time.Duration `json:"tree_cpu_ns"`
	// GuestCPU is the CPU time the sender and the receiver report
	// (getrusage RUSAGE_SELF): on the host their own, in a sandbox the
	// sentry's accounting of its tasks (time in the guest and in the
	// sentry, sampled at each clock tick, whether or not a CPU ran it).
	GuestCPU time.Duration `json:"guest_cpu_ns"`
	// Wakeups counts systrap's stub wake-ups (with -wakeups).
	Wakeups uint64 `json:"wakeups"`
}

// parseResult reads zcgen's role=tx and role=rx lines.
func parseResult(out []byte) (result, error) {
	var r result
	var sawTx, sawRx bool
	for line := range strings.SplitSeq(string(out), "\n") {
		kv := map[string]string{}
		for field := range strings.FieldsSeq(line) {
			k, v, _ := strings.Cut(field, "=")
			kv[k] = v
		}
		num := func(k string) float64 {
			f, _ := strconv.ParseFloat(kv[k], 64)
			return f
		}
		switch kv["role"] {
		case "tx":
			sawTx = true
			r.TxMBps = num("mb_per_s")
			r.SyscallsPerSend = num("syscalls_per_send")
			r.Sends = uint64(num("sends"))
			r.Seconds = num("seconds")
			r.PollsBusy = uint64(num("polls_busy"))
			r.OK = kv["ok"] == "1"
			r.Error = kv["error"]
			r.GuestCPU += time.Duration(num("cpu_s") * float64(time.Second))
		case "rx":
			sawRx = true
			r.RxMBps = num("mb_per_s")
			r.GuestCPU += time.Duration(num("cpu_s") * float64(time.Second))
		}
	}
	if !sawTx || !sawRx {
		return r, fmt.Errorf("zcgen printed no result:\n%s", out)
	}
	return r, nil
}
