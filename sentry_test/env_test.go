// Package sentry_test is the conformance suite of runsc-zc, the gVisor way:
// small C guest programs (testdata/*.c) that print what they observe are
// built with the machine's gcc, run natively, under stock runsc built from
// the pinned gVisor module and under runsc-zc, and their outputs compared.
// runsc-zc must print what the host kernel prints for everything the host
// supports, and what the SCM_ZC_NOTIFICATION series specifies where the
// host rejects the control message with EINVAL. Stock runsc's output is
// logged with its differences from the host.
//
// Each guest runs in both of gVisor's network modes (runsc.Networks):
// gVisor's netstack (--network=none) and the host's (--network=host, where
// the guest's sockets are host sockets and share the host's loopback and
// port space: the guests bind port 0). Stock runsc runs under
// --network=none only: it has no zerocopy in either mode, and leaving it
// out of the second keeps the suite's time in CI's budget.
//
// The tests need root (runsc) and gcc with a static libc; without root they
// skip, except under CI (CI set in the environment), where they fail. With
// -short they skip.
package sentry_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zcstack/zcstack/internal/runsc"
	"github.com/zcstack/zcstack/internal/testenv"
)

// guests are the programs of testdata, by name.
var guests = []string{"sockopt", "errqueue", "pollerr", "fdops", "notif", "twoproc", "bench", "badptr", "blocked", "recverr", "ckpt", "inplace", "badsend"}

// env is what the tests share: the guest binaries and the two runtimes,
// built once.
type env struct {
	dir  string
	bins runsc.Binaries
}

var (
	envOnce sync.Once
	envVal  *env
	envErr  error
	envSkip string
)

// mainDir is removed when the tests end.
var mainDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if mainDir != "" {
		os.RemoveAll(mainDir)
	}
	os.Exit(code)
}

// getEnv builds the guests and the runtimes on first use. It skips the test
// when sandboxes cannot run here (not root).
func getEnv(t testing.TB) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: no sandboxes")
	}
	envOnce.Do(func() {
		if err := runsc.CanSandbox(); err != nil {
			envSkip = fmt.Sprintf("cannot run runsc: %v", err)
			return
		}
		dir, err := os.MkdirTemp("", "sentry_test")
		if err != nil {
			envErr = err
			return
		}
		mainDir = dir
		if err := buildGuests(dir); err != nil {
			envErr = err
			return
		}
		bins, err := runsc.Build(dir, runsc.Stock, runsc.Zerocopy)
		if err != nil {
			envErr = err
			return
		}
		e := &env{dir: dir, bins: bins}
		// A sandbox that cannot start at all is a reason to skip, not a
		// conformance failure.
		if out, err := bins.Output(runsc.Stock, "/bin/true"); err != nil {
			envSkip = fmt.Sprintf("runsc cannot run a sandbox here: %v %s", err, out)
			return
		}
		envVal = e
	})
	if envSkip != "" {
		testenv.Unavailable(t, "%s", envSkip)
	}
	if envErr != nil {
		t.Fatal(envErr)
	}
	return envVal
}

// buildGuests compiles testdata/*.c statically into dir.
func buildGuests(dir string) error {
	for _, g := range guests {
		cmd := exec.Command("gcc", "-static", "-O2", "-Wall", "-Werror", "-pthread",
			"-o", filepath.Join(dir, g), filepath.Join("testdata", g+".c"))
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("gcc %s: %v\n%s", g, err, out)
		}
	}
	return nil
}

// defaultTimeout bounds every run of a guest: a guest that hangs in a
// runtime fails its test instead of hanging the suite.
const defaultTimeout = 5 * time.Minute

// killDelay is how long a run that timed out has to end after SIGTERM
// (which runsc forwards to the guest) before it is killed: a sandbox whose
// guest cannot exit dies with runsc (its parent-death signal).
const killDelay = 10 * time.Second

// run runs guest with args in runtime r on network n, stopped after
// timeout, and returns what it printed on its standard output and error.
func (e *env) run(r runsc.Runtime, n runsc.Network, timeout time.Duration, guest string, args ...string) (stdout, stderr string, err error) {
	c, err := e.bins.CommandOn(r, n, append([]string{filepath.Join(e.dir, guest)}, args...)...)
	if err != nil {
		return "", "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Path, c.Args[1:]...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = killDelay
	// Output goes through pipes, which runsc needs (a file as stdout
	// fails in its chroot).
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s --network=%s: timed out after %v (%v)", r, n, timeout, err)
	} else if err != nil {
		err = fmt.Errorf("%s --network=%s: %v", r, n, err)
	}
	return out.String(), errOut.String(), err
}

// outputs runs guest in the environments of network n at once (the host,
// runsc-zc, and stock runsc with gVisor's netstack), each stopped after
// defaultTimeout.
func (e *env) outputs(t *testing.T, n runsc.Network, guest string, args ...string) map[runsc.Runtime]string {
	t.Helper()
	return e.outputsWithin(t, n, defaultTimeout, guest, args...)
}

// outputsWithin is outputs with each run stopped after timeout. A host run
// that fails ends the test; a runsc-zc run that fails or times out fails it,
// and what it printed until then is returned for the comparison with the
// host.
func (e *env) outputsWithin(t *testing.T, n runsc.Network, timeout time.Duration, guest string, args ...string) map[runsc.Runtime]string {
	t.Helper()
	rts := []runsc.Runtime{runsc.Host, runsc.Zerocopy}
	if n == runsc.NetNone {
		rts = append(rts, runsc.Stock)
	}
	outs := make([]string, len(rts))
	stderrs := make([]string, len(rts))
	var wg sync.WaitGroup
	errs := make([]error, len(rts))
	for i, r := range rts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], stderrs[i], errs[i] = e.run(r, n, timeout, guest, args...)
		}()
	}
	wg.Wait()
	for i, r := range rts {
		switch {
		case errs[i] == nil:
		case r == runsc.Stock:
			// Stock runsc fails MSG_ZEROCOPY sends with EINVAL,
			// which guests may not survive.
			t.Logf("stock runsc: %v: %s", errs[i], strings.TrimSpace(stderrs[i]))
		case r == runsc.Host:
			t.Fatalf("%s %v: %v: %s\n%s", guest, args, errs[i], strings.TrimSpace(stderrs[i]), outs[i])
		default:
			t.Errorf("%s %v: %v", guest, args, errs[i])
		}
	}
	for i, r := range rts {
		if r != runsc.Stock && stderrs[i] != "" {
			t.Logf("%s stderr:\n%s", r, stderrs[i])
		}
	}
	m := map[runsc.Runtime]string{}
	for i, r := range rts {
		m[r] = outs[i]
	}
	if n == runsc.NetNone {
		logStock(t, m[runsc.Host], m[runsc.Stock])
	}
	return m
}

// logStock logs where stock runsc differs from the host: what runsc-zc
// changes.
func logStock(t *testing.T, host, stock string) {
	t.Helper()
	d := lineDiff(host, stock)
	if d == "" {
		return
	}
	// Each differing line takes three lines of d.
	lines := strings.SplitAfter(d, "\n")
	const show = 10 * 3
	if len(lines) > show {
		d = strings.Join(lines[:show], "") + fmt.Sprintf("... and %d more lines\n", (len(lines)-show)/3)
	}
	t.Logf("stock runsc differs from the host (expected: no SO_ZEROCOPY, MSG_ZEROCOPY or error queue):\n%s", d)
}

// lineDiff returns the lines where got and want differ, or "".
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %q\n  got  %q\n", i+1, wl, gl)
		}
	}
	return b.String()
}

// kinds are the socket kinds the guests take as their first argument.
var kinds = []string{"tcp4", "tcp6", "udp4", "udp6"}
