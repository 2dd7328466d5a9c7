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

// result is what one zcgen pair run reports, and the CPU time of its whole
// process tree.
type result struct {
	TxMBps, RxMBps  float64
	SyscallsPerSend float64
	Sends           uint64
	OK              bool
	Error           string // the errno name that stopped the sender
	CPU             time.Duration
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
			r.OK = kv["ok"] == "1"
			r.Error = kv["error"]
		case "rx":
			sawRx = true
			r.RxMBps = num("mb_per_s")
		}
	}
	if !sawTx || !sawRx {
		return r, fmt.Errorf("zcgen printed no result:\n%s", out)
	}
	return r, nil
}
