package sentry_test

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zcstack/zcstack/internal/runsc"
)

// The checkpoint tests run testdata/ckpt.c as an OCI container (`run
// -detach`), wait for its "ready", checkpoint it (`checkpoint
// --image-path`), restore the image into a new container (`restore
// -detach`), send the restored one SIGUSR1 and compare what it prints with
// what the guest must print. The guest waits for the signal; the test waits
// for the guest's lines: nothing waits on time but the timeout that fails
// a hung run.

// want returns what `ckpt mode` must print, before the checkpoint and
// restored: testdata/ckpt-MODE.out. In the zerocopy modes it is only what
// runsc-zc prints; in the plain ones, stock runsc too.
func want(t *testing.T, mode string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "ckpt-"+mode+".out"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// blockedIDs finds the number of ids in the output of `ckpt blocked`, N
// in testdata/ckpt-blocked.out: the number of sends that returned a count
// depends on where the checkpoint caught them.
var blockedIDs = regexp.MustCompile(`count: (\d+) ids:`)

// ckptTimeout bounds each step of a checkpoint test: a guest that does not
// print the line the test waits for within it fails the test.
const ckptTimeout = 2 * time.Minute

// output is what a container prints: its standard output line by line as
// it comes, and its standard error (which is also where runsc run and
// restore print their own errors) once the container has closed it.
type output struct {
	lines  chan string
	stderr chan string
}

// pipes returns the standard output and error to give a container and the
// output read from them. The caller closes both files once Start or
// Restore has returned: the sandbox holds its own copies, and the output
// ends when it closes them.
func pipes(t *testing.T) (stdout, stderr *os.File, o *output) {
	t.Helper()
	or, ow, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	er, ew, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	o = &output{lines: make(chan string, 64), stderr: make(chan string, 1)}
	go func() {
		defer or.Close()
		defer close(o.lines)
		sc := bufio.NewScanner(or)
		for sc.Scan() {
			o.lines <- sc.Text()
		}
	}()
	go func() {
		defer er.Close()
		b, _ := io.ReadAll(er)
		o.stderr <- string(b)
	}()
	return ow, ew, o
}

// line returns the next line of standard output, or fails the test with
// the container's standard error if the output ends or takes too long.
func (o *output) line(t *testing.T) string {
	t.Helper()
	select {
	case l, ok := <-o.lines:
		if ok {
			return l
		}
		t.Fatalf("the container's output ended; its stderr:\n%s", o.errors())
	case <-time.After(ckptTimeout):
		t.Fatalf("no output from the container within %v", ckptTimeout)
	}
	return ""
}

// rest returns the rest of standard output, once the container closed it,
// and the standard error.
func (o *output) rest(t *testing.T) (stdout, stderr string) {
	t.Helper()
	var b strings.Builder
	timeout := time.After(ckptTimeout)
	for {
		select {
		case l, ok := <-o.lines:
			if !ok {
				return b.String(), o.errors()
			}
			b.WriteString(l + "\n")
		case <-timeout:
			t.Fatalf("the container did not end within %v; its output so far:\n%s", ckptTimeout, b.String())
		}
	}
}

// errors returns the standard error, once the container closed it.
func (o *output) errors() string {
	select {
	case s := <-o.stderr:
		o.stderr <- s
		return s
	case <-time.After(ckptTimeout):
		return "(standard error still open)"
	}
}

// ckptRuntime is one runtime's OCI commands, with a state root of the test
// and --network=none, and a bundle that runs `ckpt mode`.
type ckptRuntime struct {
	runsc.OCI
	bundle string
}

func (e *env) ckptRuntime(t *testing.T, r runsc.Runtime, mode string) ckptRuntime {
	t.Helper()
	root, err := os.MkdirTemp("", "runsc-root")
	if err != nil {
		t.Fatal(err)
	}
	oci, err := e.bins.OCI(r, root, "--network=none")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := oci.Remove(); err != nil {
			t.Error(err)
		}
	})
	bundle := t.TempDir()
	if err := oci.Bundle(bundle, filepath.Join(e.dir, "ckpt"), mode); err != nil {
		t.Fatal(err)
	}
	return ckptRuntime{OCI: oci, bundle: bundle}
}

// start runs a new container and returns what it printed up to its
// "ready", included.
func (c ckptRuntime) start(t *testing.T) (id, before string, o *output) {
	t.Helper()
	id = containerID()
	stdout, stderr, o := pipes(t)
	err := c.Start(c.bundle, id, stdout, stderr)
	stdout.Close()
	stderr.Close()
	t.Cleanup(func() { c.Delete(id) })
	if err != nil {
		t.Fatalf("%v\n%s", err, o.errors())
	}
	var b strings.Builder
	for {
		l := o.line(t)
		b.WriteString(l + "\n")
		if l == "ready" {
			return id, b.String(), o
		}
	}
}

// checkpoint checkpoints container id into a new image directory, which it
// returns, with flags such as --leave-running.
func (c ckptRuntime) checkpoint(t *testing.T, id string, flags ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "image")
	start := time.Now()
	if err := c.Checkpoint(id, dir, flags...); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s checkpoint %v: %v, image %s", filepath.Base(c.Bin), flags, time.Since(start).Round(time.Millisecond), imageSize(t, dir))
	return dir
}

// imageSize describes the files of an image directory.
func imageSize(t *testing.T, dir string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, e := range ents {
		if fi, err := e.Info(); err == nil {
			parts = append(parts, e.Name()+" "+strconv.FormatInt(fi.Size(), 10))
		}
	}
	return strings.Join(parts, ", ")
}

// resume signals container id to carry on and returns what it prints until
// it exits. Its exit status is not known: only the process that started a
// sandbox (not `run -detach` or `restore -detach`) can wait for it once it
// has exited. The guest's last line, "done", says it returned from main.
func (c ckptRuntime) resume(t *testing.T, id string, o *output) string {
	t.Helper()
	if err := c.Kill(id, "USR1"); err != nil {
		t.Fatal(err)
	}
	stdout, stderr := o.rest(t)
	if stderr != "" {
		t.Logf("%s stderr:\n%s", filepath.Base(c.Bin), stderr)
	}
	return stdout
}

// restore restores the image in dir into a new container of c.
func (c ckptRuntime) restore(t *testing.T, dir string) (id string, o *output, err error) {
	t.Helper()
	id = containerID()
	stdout, stderr, o := pipes(t)
	start := time.Now()
	err = c.Restore(c.bundle, id, dir, stdout, stderr)
	stdout.Close()
	stderr.Close()
	t.Cleanup(func() { c.Delete(id) })
	if err == nil {
		t.Logf("%s restore: %v", filepath.Base(c.Bin), time.Since(start).Round(time.Millisecond))
	}
	return id, o, err
}

// restored restores the image in dir and returns what the restored guest
// prints after its signal.
func (c ckptRuntime) restored(t *testing.T, dir string) string {
	t.Helper()
	id, o, err := c.restore(t, dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, o.errors())
	}
	return c.resume(t, id, o)
}

// cycle runs `ckpt mode` in r to its checkpoint, restores it into a new
// container and returns what the guest printed, before the checkpoint and
// restored.
func (e *env) cycle(t *testing.T, r runsc.Runtime, mode string) string {
	t.Helper()
	c := e.ckptRuntime(t, r, mode)
	id, before, _ := c.start(t)
	return before + c.restored(t, c.checkpoint(t, id))
}

func wantOutput(t *testing.T, what, got, want string) {
	t.Helper()
	if d := lineDiff(want, got); d != "" {
		t.Errorf("%s differs:\n%s", what, d)
	}
}

// TestCheckpointZerocopy: a sandbox whose TCP and UDP sockets have
// SO_ZEROCOPY and hundreds of completions and ICMP errors queued, and one
// ICMP error still in netstack's own queue, is checkpointed and restored by
// runsc-zc; the restored guest finds SO_ZEROCOPY set, POLLERR for poll and
// epoll, every queued entry in order, its ids continuing (the first send
// after the restore takes the zerocopy path and gets back the 300
// completions of before), and its data intact. The sandbox's zerocopy
// metrics start again from zero in the restored sandbox, as gVisor's own
// do, but for the depth high-water mark, which has the restored queues'.
func TestCheckpointZerocopy(t *testing.T) {
	e := getEnv(t)
	c := e.ckptRuntime(t, runsc.Zerocopy, "zc")
	id, before, _ := c.start(t)
	// 300 TCP and 200 UDP sends; 40 ranges and 40 errors in UDP's queue.
	wantMetrics(t, c.metrics(t, id), map[string]string{"sends": "500", "completions": "500", "errqueue_depth_high_water": "80"})
	id2, o, err := c.restore(t, c.checkpoint(t, id))
	if err != nil {
		t.Fatalf("%v\n%s", err, o.errors())
	}
	wantMetrics(t, c.metrics(t, id2), map[string]string{"sends": "", "completions": "", "errqueue_depth_high_water": "80"})
	wantOutput(t, "runsc-zc zc", before+c.resume(t, id2, o), want(t, "zc"))
}

// metrics returns the zerocopy metrics of container id by name (sends,
// completions, ...); gVisor leaves out counters that are zero.
func (c ckptRuntime) metrics(t *testing.T, id string) map[string]string {
	t.Helper()
	out, err := c.Metrics(id, "^zcstack_")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		l, ok := strings.CutPrefix(l, "runsc_zcstack_zerocopy_")
		if !ok {
			continue
		}
		// name{labels} value timestamp
		name, rest, _ := strings.Cut(l, "{")
		if f := strings.Fields(rest); len(f) >= 2 {
			m[name] = f[1]
		}
	}
	return m
}

// wantMetrics checks the metrics named in want, "" for one left out.
func wantMetrics(t *testing.T, got, want map[string]string) {
	t.Helper()
	for name, v := range want {
		if got[name] != v {
			t.Errorf("metric %s = %q, want %q (all: %v)", name, got[name], v, got)
		}
	}
}

// TestCheckpointPlain: without zerocopy, stock runsc and runsc-zc
// checkpoint and restore the same sockets, and the same blocked senders,
// and the restored guests print the same.
func TestCheckpointPlain(t *testing.T) {
	e := getEnv(t)
	for _, r := range []runsc.Runtime{runsc.Stock, runsc.Zerocopy} {
		t.Run(string(r), func(t *testing.T) {
			t.Parallel()
			wantOutput(t, string(r)+" plain", e.cycle(t, r, "plain"), want(t, "plain"))
			wantOutput(t, string(r)+" blocked-plain", e.cycle(t, r, "blocked-plain"), want(t, "blocked-plain"))
		})
	}
}

// TestCheckpointBlockedSenders checkpoints a guest whose thread A is blocked
// in a MSG_ZEROCOPY send to a peer that does not read and whose thread B is
// blocked in another behind it. gVisor stops every task outside its system
// calls to save: a send that had sent some bytes returns their count, one
// that had sent none restarts after the restore (ERESTARTSYS). After the
// restore a signal ends B's send and A's finishes; every send that
// returned a count took one id, densely, and every byte arrives once.
func TestCheckpointBlockedSenders(t *testing.T) {
	e := getEnv(t)
	got := e.cycle(t, runsc.Zerocopy, "blocked")
	// A and B each took one id at least: A's send returned part-way at
	// the checkpoint and finished after it.
	if m := blockedIDs.FindStringSubmatch(got); m != nil {
		if n, _ := strconv.Atoi(m[1]); n < 2 {
			t.Errorf("%d ids for the sends of two threads", n)
		}
		got = strings.Replace(got, m[0], "count: N ids:", 1)
	}
	wantOutput(t, "runsc-zc blocked", got, want(t, "blocked"))
}

// TestCheckpointLeaveRunning: `checkpoint --leave-running` saves the
// sandbox and lets it go on; the original and a restored copy both finish
// as the guest must.
func TestCheckpointLeaveRunning(t *testing.T) {
	e := getEnv(t)
	c := e.ckptRuntime(t, runsc.Zerocopy, "zc")
	id, before, o := c.start(t)
	dir := c.checkpoint(t, id, "--leave-running")
	wantOutput(t, "the original after --leave-running", before+c.resume(t, id, o), want(t, "zc"))
	wantOutput(t, "the restored copy", before+c.restored(t, dir), want(t, "zc"))
}

// TestCheckpointAcrossRuntimes restores an image of one runtime with the
// other. Stock runsc's image restores under runsc-zc: its sockets are
// gVisor's own and stay so. runsc-zc's image names types stock runsc does
// not have, and stock runsc's restore fails naming the first one.
func TestCheckpointAcrossRuntimes(t *testing.T) {
	e := getEnv(t)
	t.Run("stock image, runsc-zc restore", func(t *testing.T) {
		stock := e.ckptRuntime(t, runsc.Stock, "plain")
		id, before, _ := stock.start(t)
		dir := stock.checkpoint(t, id)
		zc := stock
		zc.Bin = e.bins[runsc.Zerocopy]
		wantOutput(t, "runsc-zc restoring stock runsc's image", before+zc.restored(t, dir), want(t, "plain"))
	})
	t.Run("runsc-zc image, stock restore", func(t *testing.T) {
		zc := e.ckptRuntime(t, runsc.Zerocopy, "plain")
		id, _, _ := zc.start(t)
		dir := zc.checkpoint(t, id)
		stock := zc
		stock.Bin = e.bins[runsc.Stock]
		_, o, err := stock.restore(t, dir)
		if err == nil {
			t.Fatal("stock runsc restored runsc-zc's image")
		}
		stderr := o.errors()
		t.Logf("stock runsc restoring runsc-zc's image: %v\n%s", err, stderr)
		if !strings.Contains(stderr, `type name "zcstack/sentry.zcSocket" is not available`) {
			t.Errorf("the error does not name runsc-zc's socket type:\n%s", stderr)
		}
	})
}

// TestCheckpointCorruptImage flips a byte of the error-queue image of a
// socket in an uncompressed checkpoint: the restore fails with the
// decoder's error.
func TestCheckpointCorruptImage(t *testing.T) {
	e := getEnv(t)
	c := e.ckptRuntime(t, runsc.Zerocopy, "zc")
	id, _, _ := c.start(t)
	dir := c.checkpoint(t, id, "--compression=none")
	path := filepath.Join(dir, "checkpoint.img")
	img, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(img, []byte("zcEQ\x01"))
	if i < 0 {
		t.Fatal("no error-queue image in the uncompressed checkpoint")
	}
	// The next id: a byte the checksum covers.
	img[i+5] ^= 0x10
	if err := os.WriteFile(path, img, 0o644); err != nil {
		t.Fatal(err)
	}
	_, o, err := c.restore(t, dir)
	if err == nil {
		t.Fatal("runsc-zc restored a corrupted image")
	}
	stderr := o.errors()
	t.Logf("runsc-zc restoring a corrupted image: %v\n%s", err, stderr)
	const want = "zcstack: restoring a socket's error queue: zerocopy: bad error-queue image: checksum"
	if !strings.Contains(stderr, want) {
		t.Errorf("the restore's error does not say %q:\n%s", want, stderr)
	}
}
