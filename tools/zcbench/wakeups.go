package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// kickMetric counts the times the sentry woke a systrap stub thread to run
// a guest thread (pkg/sentry/platform/systrap, subprocess.kickSysmsgThread):
// a switch into the guest that found no stub thread awake. gVisor builds it
// only with -tags systrap_profiling.
const kickMetric = "/systrap/numTimesStubKicked"

// wakeupFlags are the runsc flags that log kickMetric to file, read back by
// readWakeups. Snapshots every 100 ms cost the sandbox little (the collector
// sleeps between them); gVisor takes a last one when the sandbox stops.
func wakeupFlags(file string) []string {
	return []string{
		"--profiling-metrics=" + kickMetric,
		"--profiling-metrics-log=" + file,
		"--profiling-metrics-rate-us=100000",
	}
}

// readWakeups returns the last value of kickMetric in the profiling-metrics
// log file, and removes the file for the next run. The log is gVisor's
// CSV: "META" lines naming the columns, a header, one line of values per
// snapshot, and a "STATS" line.
func readWakeups(file string) (uint64, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	if err := os.Remove(file); err != nil {
		return 0, err
	}
	var last []string
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Split(line, "\t")
		if _, err := strconv.ParseUint(f[0], 10, 64); err == nil && len(f) == 2 {
			last = f
		}
	}
	if last == nil || !strings.Contains(string(b), "META\t"+kickMetric+"\t") {
		return 0, fmt.Errorf("%s: no %s snapshot in:\n%s", file, kickMetric, b)
	}
	return strconv.ParseUint(last[1], 10, 64)
}
