// Package deploy_test runs runsc-zc the way gVisor is deployed: as the OCI
// runtime of Podman and Docker, and under containerd, both through
// containerd's runc shim (Debian's containerd) and through gVisor's own shim,
// by ctr and as a Kubernetes pod (CRI calls with the runtime handler
// runsc-zc). Each test runs testdata/zcguest.c, a static MSG_ZEROCOPY +
// SCM_ZC_NOTIFICATION program that checks its completions, in a container
// whose root holds only the guest, and requires its verdict "zcguest: PASS".
//
// The tests install nothing on the machine: the engines are Debian's
// packages, which .ci/run installs; containerd 2 and crictl, which Debian 12
// lacks, are built from the Go module proxy into a temporary directory. The
// daemons (dockerd, containerd) are started by the tests with their state in
// temporary directories, and stopped at their end. The tests need root and
// gcc with a static libc. Where something is missing they skip, except
// under CI (CI set in the environment), where they fail.
package deploy_test

import (
	"archive/tar"
	"bufio"
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

	"golang.org/x/sys/unix"

	"github.com/zcstack/zcstack/internal/runsc"
	"github.com/zcstack/zcstack/internal/testenv"
)

// verdict is the line the guest prints when every check passed.
const verdict = "zcguest: PASS"

// runTimeout bounds one container run, start to exit.
const runTimeout = 2 * time.Minute

// env is what the tests share, built once: the guest, a pause program and
// runsc-zc.
type env struct {
	dir   string // holds what was built
	guest string // the static guest
	pause string // a static program that waits for a signal
	runsc string // runsc-zc
}

var (
	envOnce sync.Once
	envVal  *env
	envErr  error
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

// getEnv builds the guest and runsc-zc on first use, and checks that the
// commands the test needs are installed.
func getEnv(t *testing.T, commands ...string) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: no engines")
	}
	if err := runsc.CanSandbox(); err != nil {
		testenv.Unavailable(t, "cannot run runsc: %v", err)
	}
	for _, c := range commands {
		if _, err := exec.LookPath(c); err != nil {
			testenv.Unavailable(t, "%s is not installed (.ci/run installs it from Debian's packages)", c)
		}
	}
	envOnce.Do(func() {
		dir, err := os.MkdirTemp("", "deploy_test")
		if err != nil {
			envErr = err
			return
		}
		mainDir = dir
		e := &env{dir: dir, guest: filepath.Join(dir, "zcguest"), pause: filepath.Join(dir, "pause")}
		for _, prog := range []string{e.guest, e.pause} {
			name := filepath.Base(prog)
			gcc := exec.Command("gcc", "-static", "-O2", "-Wall", "-Werror", "-pthread",
				"-I", filepath.Join("..", "sentry_test", "testdata"),
				"-o", prog, filepath.Join("testdata", name+".c"))
			if out, err := gcc.CombinedOutput(); err != nil {
				envErr = fmt.Errorf("gcc %s: %v\n%s", name, err, out)
				return
			}
		}
		bins, err := runsc.Build(dir, runsc.Zerocopy)
		if err != nil {
			envErr = err
			return
		}
		e.runsc = bins[runsc.Zerocopy]
		envVal = e
	})
	if envErr != nil {
		t.Fatal(envErr)
	}
	return envVal
}

// rootfs returns a new directory that holds only the guest, as /zcguest.
func (e *env) rootfs(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(e.guest)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "zcguest"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// layer returns a tar stream of a root filesystem that holds only the
// programs at paths, in its root directory.
func layer(t *testing.T, paths ...string) []byte {
	t.Helper()
	var files []file
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, file{filepath.Base(p), b})
	}
	return tarball(t, files...)
}

// file is a file of a tar stream.
type file struct {
	name string
	data []byte
}

// tarball returns a tar stream of files, executable.
func tarball(t *testing.T, files ...file) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := tar.NewWriter(&buf)
	for _, f := range files {
		if err := w.WriteHeader(&tar.Header{Name: f.name, Mode: 0o755, Size: int64(len(f.data))}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tempDir returns a new temporary directory for a daemon's or a runtime's
// state. When the test ends, the mounts left below it are removed before
// it is: runsc pins an empty network namespace in its root directory with a
// bind mount, for the sandboxes that come later.
func tempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Cleanup(func() {
		b, err := os.ReadFile("/proc/self/mountinfo")
		if err != nil {
			t.Error(err)
			return
		}
		var mounts []string
		for _, line := range strings.Split(string(b), "\n") {
			// The fifth field is the mount point.
			if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
				mounts = append(mounts, f[4])
			}
		}
		// Later mounts first: they may sit on earlier ones.
		for i := len(mounts) - 1; i >= 0; i-- {
			if err := unix.Unmount(mounts[i], unix.MNT_DETACH); err != nil {
				t.Errorf("unmount %s: %v", mounts[i], err)
			}
		}
	})
	return dir
}

// containerID returns a container name unique to this run of the test.
func containerID(t *testing.T) string {
	return fmt.Sprintf("zcstack-%s-%d", strings.ToLower(t.Name()), time.Now().UnixNano())
}

// runGuest runs a command that runs the guest in a container and checks
// the guest's verdict and the command's exit status.
func runGuest(t *testing.T, name string, args ...string) {
	t.Helper()
	if err := guestRun(t, name, args...); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// guestRun runs a command that runs the guest in a container, checks the
// guest's verdict and returns the command's error.
func guestRun(t *testing.T, name string, args ...string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("%s %s:\n%s", name, strings.Join(args, " "), out.String())
	if !strings.Contains(out.String(), verdict+"\n") {
		t.Fatalf("no %q in the output of %s (%v)", verdict, name, err)
	}
	return err
}

// daemon is a server process a test started: dockerd or containerd.
type daemon struct {
	cmd  *exec.Cmd
	log  string
	done chan error
}

// startDaemon starts cmd, its output to a log file in a temporary
// directory, waits until it listens on the Unix socket sock, and stops it
// when the test ends. The log's tail is shown if the test failed.
func startDaemon(t *testing.T, cmd *exec.Cmd, sock string) *daemon {
	t.Helper()
	d := &daemon{cmd: cmd, log: filepath.Join(t.TempDir(), filepath.Base(cmd.Path)+".log"), done: make(chan error, 1)}
	f, err := os.Create(d.log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	go func() { d.done <- cmd.Wait() }()
	t.Cleanup(func() { d.stop(t) })
	for deadline := time.Now().Add(time.Minute); ; {
		if _, err := os.Stat(sock); err == nil {
			return d
		}
		select {
		case err := <-d.done:
			d.done <- err
			t.Fatalf("%s exited: %v", cmd.Path, err)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not listen on %s", cmd.Path, sock)
		}
	}
}

// stop ends the daemon with SIGTERM, or SIGKILL if it takes longer than 30
// seconds, and logs the tail of its log if the test failed.
func (d *daemon) stop(t *testing.T) {
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		d.cmd.Process.Kill()
		<-d.done
	}
	if t.Failed() {
		t.Logf("%s log, last lines:\n%s", d.cmd.Path, tail(d.log, 40))
	}
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	s := bufio.NewScanner(f)
	s.Buffer(nil, 1<<20)
	for s.Scan() {
		lines = append(lines, s.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
