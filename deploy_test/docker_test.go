package deploy_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocker runs the guest under Docker with runsc-zc as a runtime of
// dockerd's daemon.json, written by runsc's install subcommand, which
// runsc-zc inherits:
//
//	runsc-zc install --runtime runsc-zc -- --network=none
//	docker run --runtime runsc-zc --network none IMAGE /zcguest
//
// The image is the guest's rootfs, imported from a tar (no registry). The
// test's dockerd keeps its state in temporary directories and leaves the
// host's network alone: no bridge, no iptables rules, no forwarding.
// Docker's none network brings the loopback up but disables IPv6 in the
// container, so runsc's default sandbox network would give the guest no
// ::1; --network=none gives the sandbox a netstack loopback with both.
func TestDocker(t *testing.T) {
	e := getEnv(t, "dockerd", "docker")
	docker, image := e.docker(t, false, e.guest)
	runGuest(t, "docker", append(docker, "run", "--rm", "--name", containerID(t),
		"--runtime", "runsc-zc", "--network", "none", image, "/zcguest")...)
}

// docker starts a dockerd whose runtime runsc-zc runsc-zc's install
// subcommand wrote, with experimental features if experimental is set, and
// imports an image whose root holds prog. It returns the arguments that
// make docker talk to it, and the image's name.
func (e *env) docker(t *testing.T, experimental bool, prog string) (docker []string, image string) {
	t.Helper()
	dir := tempDir(t)
	config := filepath.Join(dir, "daemon.json")
	args := []string{"install", "--config_file", config, "--runtime", "runsc-zc"}
	if experimental {
		args = append(args, "--experimental")
	}
	install := exec.Command(e.runsc, append(args, "--", "--network=none")...)
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("runsc-zc install: %v\n%s", err, out)
	}
	b, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("daemon.json:\n%s", b)

	sock := filepath.Join(dir, "docker.sock")
	startDaemon(t, exec.Command("dockerd", "--config-file", config,
		"--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "docker.pid"), "--host", "unix://"+sock,
		"--storage-driver", "vfs", "--bridge", "none",
		"--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false"), sock)
	docker = []string{"--host", "unix://" + sock}

	image = "zcstack/" + filepath.Base(prog) + ":" + strings.ToLower(t.Name())
	imp := exec.Command("docker", append(docker, "import", "-", image)...)
	imp.Stdin = bytes.NewReader(layer(t, prog))
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("docker import: %v\n%s", err, out)
	}
	return docker, image
}
