package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// A cpuMeter measures the CPU time of everything a command runs: zcbench
// moves itself into a cgroup (v2) of its own, so that every process a run
// starts is born in it, and reads the cgroup's usage around each run.
//
// The rusage of the process tree is not enough: a sandbox's sentry is the
// init of its own PID namespace, and when runsc kills it at the end of the
// run the kernel makes it ignore SIGCHLD (zap_pid_ns_processes), so that
// the systrap stub processes that die after it are reaped without their CPU
// time reaching any parent's RUSAGE_CHILDREN. Which stubs die first is a
// race: in some runs a third to a half of the sandbox's CPU went missing.
// The cgroup counts CPU time as it is used, whoever reaps the process.
//
// zcbench is a child subreaper and reaps every descendant after each run,
// so that no process of one run is left when the next starts; it must run
// one command at a time.
type cpuMeter struct {
	// dir is the cgroup's directory; home is the cgroup.procs of the
	// cgroup zcbench came from.
	dir, home string
}

// newCPUMeter makes zcbench's cgroup and moves zcbench into it.
func newCPUMeter() (*cpuMeter, error) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("PR_SET_CHILD_SUBREAPER: %w", err)
	}
	mnt, cur, err := cgroup2()
	if err != nil {
		return nil, err
	}
	m := &cpuMeter{
		dir:  filepath.Join(mnt, fmt.Sprintf("zcbench-%d", os.Getpid())),
		home: filepath.Join(mnt, cur, "cgroup.procs"),
	}
	if err := os.Mkdir(m.dir, 0o755); err != nil {
		return nil, fmt.Errorf("CPU accounting needs a cgroup: %w", err)
	}
	if err := joinCgroup(filepath.Join(m.dir, "cgroup.procs")); err != nil {
		os.Remove(m.dir)
		return nil, err
	}
	return m, nil
}

// close moves zcbench back to its cgroup and removes the meter's.
func (m *cpuMeter) close() error {
	if err := joinCgroup(m.home); err != nil {
		return err
	}
	return os.Remove(m.dir)
}

// cgroup2 returns where the cgroup v2 hierarchy is mounted (on a hybrid
// system, beside the v1 controllers) and the cgroup of this process in it.
func cgroup2() (mnt, cur string, err error) {
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", "", err
	}
	for line := range strings.SplitSeq(string(mi), "\n") {
		// "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS... - FSTYPE SOURCE SUPER"
		pre, post, ok := strings.Cut(line, " - ")
		if f := strings.Fields(pre); ok && len(f) >= 5 && strings.HasPrefix(post, "cgroup2 ") {
			mnt = f[4]
			break
		}
	}
	if mnt == "" {
		return "", "", fmt.Errorf("no cgroup2 mount: CPU accounting needs one")
	}
	cg, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", "", err
	}
	for line := range strings.SplitSeq(string(cg), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return mnt, p, nil
		}
	}
	return "", "", fmt.Errorf("/proc/self/cgroup has no cgroup v2 entry")
}

// joinCgroup moves this process, all its threads, into the cgroup whose
// cgroup.procs is procs.
func joinCgroup(procs string) error {
	return os.WriteFile(procs, []byte(strconv.Itoa(os.Getpid())), 0)
}

// measure runs run, which starts and waits for one command, reaps the
// descendants it left, and returns the CPU time the cgroup used meanwhile
// and, for comparison, the rusage of the reaped tree.
func (m *cpuMeter) measure(run func() error) (cgroup, tree time.Duration, err error) {
	before, err := m.usage()
	if err != nil {
		return 0, 0, err
	}
	treeBefore := childrenCPU()
	runErr := run()
	for {
		var ws unix.WaitStatus
		if pid, werr := unix.Wait4(-1, &ws, 0, nil); werr != nil || pid <= 0 {
			break
		}
	}
	if left, err := m.others(); err != nil || len(left) > 0 {
		return 0, 0, errors.Join(runErr, fmt.Errorf("processes %v outlived their run (%v)", left, err))
	}
	after, err := m.usage()
	if err != nil {
		return 0, 0, errors.Join(runErr, err)
	}
	return after - before, childrenCPU() - treeBefore, runErr
}

// usage reads the cgroup's CPU time (cpu.stat usage_usec).
func (m *cpuMeter) usage() (time.Duration, error) {
	b, err := os.ReadFile(filepath.Join(m.dir, "cpu.stat"))
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "usage_usec "); ok {
			us, err := strconv.ParseInt(v, 10, 64)
			return time.Duration(us) * time.Microsecond, err
		}
	}
	return 0, fmt.Errorf("%s/cpu.stat has no usage_usec", m.dir)
}

// others lists the processes in the cgroup besides zcbench.
func (m *cpuMeter) others() ([]string, error) {
	b, err := os.ReadFile(filepath.Join(m.dir, "cgroup.procs"))
	if err != nil {
		return nil, err
	}
	var out []string
	self := strconv.Itoa(os.Getpid())
	for _, p := range strings.Fields(string(b)) {
		if p != self {
			out = append(out, p)
		}
	}
	return out, nil
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

// startOn calls start, which starts a command, with the calling thread's CPU
// affinity set to cpus (nil: unchanged), which the command inherits.
func startOn(cpus []int, start func() error) error {
	if len(cpus) == 0 {
		return start()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old, set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return err
	}
	for _, c := range cpus {
		set.Set(c)
	}
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return fmt.Errorf("sched_setaffinity %v: %w", cpus, err)
	}
	defer unix.SchedSetaffinity(0, &old)
	return start()
}
