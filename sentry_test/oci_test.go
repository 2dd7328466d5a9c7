package sentry_test

import (
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/zcstack/zcstack/internal/runsc"
)

// TestOCIBundle runs runsc-zc as an OCI runtime: `runsc-zc spec` writes the
// config of a bundle whose read-only rootfs holds only a static guest, and
// `runsc-zc --network=none run --bundle DIR ID` runs it. The guest prints
// what it prints on the host.
func TestOCIBundle(t *testing.T) {
	e := getEnv(t)
	root, err := os.MkdirTemp("", "runsc-root")
	if err != nil {
		t.Fatal(err)
	}
	oci, err := e.bins.OCI(runsc.Zerocopy, root, "--network=none")
	if err != nil {
		t.Fatal(err)
	}
	defer oci.Remove()
	bundle := t.TempDir()
	if err := oci.Bundle(bundle, filepath.Join(e.dir, "errqueue"), "udp4"); err != nil {
		t.Fatal(err)
	}
	got, err := oci.Command("run", "--bundle", bundle, containerID()).Output()
	if err != nil {
		t.Fatalf("runsc-zc run: %v\n%s", err, got)
	}
	want, err := e.bins.Output(runsc.Host, filepath.Join(e.dir, "errqueue"), "udp4")
	if err != nil {
		t.Fatal(err)
	}
	if d := lineDiff(string(want), string(got)); d != "" {
		t.Errorf("runsc-zc run differs from the host:\n%s", d)
	}
}

var containerSeq atomic.Int64

// containerID returns a container id no other test of this process or of
// another worktree uses.
func containerID() string {
	return "zcstack-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(containerSeq.Add(1), 10)
}
