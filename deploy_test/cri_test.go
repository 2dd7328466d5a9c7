package deploy_test

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zcstack/zcstack/internal/runsc"
	"github.com/zcstack/zcstack/internal/testenv"
)

// crictlVersion is the version of crictl, Kubernetes' command-line client
// of the CRI (the API the kubelet calls), that TestContainerdCRI builds.
const crictlVersion = "v1.37.0"

// cniBin holds Debian's CNI plugins (containernetworking-plugins).
const cniBin = "/usr/lib/cni"

// TestContainerdCRI runs the guest the way Kubernetes runs a pod whose
// RuntimeClass has the handler runsc-zc: crictl makes the kubelet's calls
// (a pod sandbox with the runtime handler runsc-zc, then a container in it)
// to containerd's CRI plugin, configured with the runtime of README.md;
// containerd runs the pod through runsc-zc's shim, with runsc's default
// sandbox network. The pod gets its network from CNI (a bridge and the
// loopback plugin), inside a network namespace of containerd's own, so the
// host's network is left alone. containerd and the shim are those of
// TestContainerdShim, and run in a user namespace for the same reason;
// restrict_oom_score_adj keeps the pause container's oom_score_adj (CRI
// asks for -998) at or above containerd's own, which needs no capability.
// Images are built from the guest and a pause program and imported: there
// is no registry here.
func TestContainerdCRI(t *testing.T) {
	e := getEnv(t)
	if _, err := os.Stat(filepath.Join(cniBin, "bridge")); err != nil {
		testenv.Unavailable(t, "no CNI plugins (.ci/run installs containernetworking-plugins): %v", err)
	}
	ctd, ctr, err := buildContainerd(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	shim, err := runsc.BuildShim(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	crictl, err := buildCrictl(e.dir)
	if err != nil {
		t.Fatal(err)
	}

	dir := tempDir(t)
	shimConfig := filepath.Join(dir, "runsc-zc.toml")
	toml := fmt.Sprintf("binary_name = %q\nroot = %q\n", e.runsc, filepath.Join(dir, "runsc"))
	if err := os.WriteFile(shimConfig, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	// A documentation prefix, inside containerd's network namespace only.
	netDir := filepath.Join(dir, "net.d")
	cni := fmt.Sprintf(`{"cniVersion": "1.0.0", "name": "zcstack", "plugins": [
  {"type": "bridge", "bridge": "zc0", "ipMasq": false,
   "ipam": {"type": "host-local", "dataDir": %q, "ranges": [[{"subnet": "198.51.100.0/24"}]]}},
  {"type": "loopback"}]}`, filepath.Join(dir, "ipam"))
	if err := os.Mkdir(netDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(netDir, "10-zcstack.conflist"), []byte(cni), 0o644); err != nil {
		t.Fatal(err)
	}
	const pause, guest = "docker.io/zcstack/pause:test", "docker.io/zcstack/zcguest:test"
	sock := startContainerd(t, shimContainerd(t, ctd, shim, true), dir, 3, fmt.Sprintf(`
[plugins.'io.containerd.cri.v1.images'.pinned_images]
  sandbox = %q

[plugins.'io.containerd.cri.v1.runtime']
  restrict_oom_score_adj = true

[plugins.'io.containerd.cri.v1.runtime'.cni]
  bin_dirs = [%q]
  conf_dir = %q

[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runsc-zc]
  runtime_type = 'io.containerd.runsc-zc.v1'
  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runsc-zc.options]
    TypeUrl = 'io.containerd.runsc.v1.options'
    ConfigPath = %q`, pause, cniBin, netDir, shimConfig))

	for name, prog := range map[string]string{pause: e.pause, guest: e.guest} {
		archive := filepath.Join(dir, filepath.Base(prog)+".tar")
		writeImage(t, archive, name, prog)
		imp := exec.Command(ctr, "--address", sock, "--namespace", "k8s.io", "images", "import", archive)
		if out, err := imp.CombinedOutput(); err != nil {
			t.Fatalf("ctr images import %s: %v\n%s", name, err, out)
		}
	}

	cri := func(args ...string) (string, error) {
		args = append([]string{"--runtime-endpoint", "unix://" + sock, "--image-endpoint", "unix://" + sock,
			"--timeout", runTimeout.String()}, args...)
		out, err := exec.Command(crictl, args...).Output()
		if err != nil {
			err = fmt.Errorf("crictl %s: %v", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(out)), err
	}
	mustCRI := func(args ...string) string {
		t.Helper()
		out, err := cri(args...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	pod := filepath.Join(dir, "pod.json")
	writeJSON(t, pod, map[string]any{
		"metadata":      map[string]any{"name": "zcguest", "namespace": "default", "uid": containerID(t)},
		"log_directory": filepath.Join(dir, "logs"),
		"linux":         map[string]any{},
	})
	container := filepath.Join(dir, "container.json")
	writeJSON(t, container, map[string]any{
		"metadata": map[string]any{"name": "zcguest"},
		"image":    map[string]any{"image": guest},
		"log_path": "zcguest.log",
		"linux":    map[string]any{},
	})
	t.Cleanup(func() {
		if _, err := cri("rmp", "--force", "--all"); err != nil {
			t.Error(err)
		}
	})
	id := mustCRI("run", "--no-pull", "--runtime", "runsc-zc", container, pod)
	state := func(field string) string {
		return mustCRI("inspect", "--output", "go-template", "--template", "{{.status."+field+"}}", id)
	}
	for deadline := time.Now().Add(runTimeout); state("state") != "CONTAINER_EXITED"; {
		if time.Now().After(deadline) {
			t.Fatalf("container %s still running after %v", id, runTimeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
	out := mustCRI("logs", id)
	t.Logf("crictl logs %s:\n%s", id, out)
	if code := state("exitCode"); code != "0" {
		t.Fatalf("the guest exited with %s", code)
	}
	if !strings.Contains(out+"\n", verdict+"\n") {
		t.Fatalf("no %q in the guest's log", verdict)
	}
}

// writeImage writes an image archive in docker save's format, for ctr
// images import: the image name, whose only layer holds the program at
// prog, which is its entrypoint.
func writeImage(t *testing.T, archive, name, prog string) {
	t.Helper()
	l := layer(t, prog)
	config, err := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"config":       map[string]any{"Entrypoint": []string{"/" + filepath.Base(prog)}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{fmt.Sprintf("sha256:%x", sha256.Sum256(l))}},
	})
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := json.Marshal([]map[string]any{{"Config": "config.json", "RepoTags": []string{name}, "Layers": []string{"layer.tar"}}})
	if err != nil {
		t.Fatal(err)
	}
	b := tarball(t, file{"manifest.json", manifest}, file{"config.json", config}, file{"layer.tar", l})
	if err := os.WriteFile(archive, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeJSON writes v to path as JSON.
func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

var (
	crictlOnce sync.Once
	crictlErr  error
)

// buildCrictl builds crictl at crictlVersion into dir, once, and returns
// its path.
func buildCrictl(dir string) (string, error) {
	crictlOnce.Do(func() {
		cmd := exec.Command("go", "install", "sigs.k8s.io/cri-tools/cmd/crictl@"+crictlVersion)
		cmd.Env = append(os.Environ(), "GOBIN="+dir, "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			crictlErr = fmt.Errorf("go install crictl: %v\n%s", err, out)
		}
	})
	return filepath.Join(dir, "crictl"), crictlErr
}
