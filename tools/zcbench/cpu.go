package main

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// A cpuMeter measures the CPU time (user and system) of the whole process
// tree of each command it runs: the command, every descendant it waits for,
// and those it leaves behind. For a sandbox that is `runsc do`, the
// sandbox's sentry and gofer, and the systrap stubs that run the guest. It
// makes zcbench a child subreaper, so that descendants orphaned on the way
// are reparented to it and reaped, and reads its RUSAGE_CHILDREN around
// each run: zcbench must run one command at a time.
type cpuMeter struct{}

func newCPUMeter() (*cpuMeter, error) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("PR_SET_CHILD_SUBREAPER: %w", err)
	}
	return &cpuMeter{}, nil
}

// measure runs run, which starts and waits for one command, reaps the
// descendants it left, and returns the CPU time they all used.
func (*cpuMeter) measure(run func() error) (time.Duration, error) {
	before := childrenCPU()
	err := run()
	for {
		var ws unix.WaitStatus
		if pid, werr := unix.Wait4(-1, &ws, 0, nil); werr != nil || pid <= 0 {
			break
		}
	}
	return childrenCPU() - before, err
}

// childrenCPU is the CPU time of this process's children that have been
// waited for.
func childrenCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_CHILDREN, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
