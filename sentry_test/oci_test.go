package sentry_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/zcstack/zcstack/internal/runsc"
)

// TestOCIBundle runs runsc-zc as an OCI runtime: `runsc-zc spec` writes the
// config of a bundle whose read-only rootfs holds only a static guest, and
// `runsc-zc --network=none run --bundle DIR ID` runs it. The guest prints
// what it prints on the host.
func TestOCIBundle(t *testing.T) {
	e := getEnv(t)
	bundle := t.TempDir()
	rootfs := filepath.Join(bundle, "rootfs")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		t.Fatal(err)
	}
	guest, err := os.ReadFile(filepath.Join(e.dir, "errqueue"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "errqueue"), guest, 0o755); err != nil {
		t.Fatal(err)
	}
	zc := e.bins[runsc.Zerocopy]
	spec := exec.Command(zc, "spec", "--", "/errqueue", "udp4")
	spec.Dir = bundle
	if out, err := spec.CombinedOutput(); err != nil {
		t.Fatalf("runsc-zc spec: %v\n%s", err, out)
	}
	cfgPath := filepath.Join(bundle, "config.json")
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["process"].(map[string]any)["terminal"] = false
	cfg["root"] = map[string]any{"path": "rootfs", "readonly": true}
	if b, err = json.Marshal(cfg); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, b, 0o644); err != nil {
		t.Fatal(err)
	}

	id := "zcstack-oci-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	run := exec.Command(zc, "--network=none", "run", "--bundle", bundle, id)
	got, err := run.Output()
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
