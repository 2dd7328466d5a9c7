package deploy_test

import (
	"path/filepath"
	"testing"
)

// TestPodman runs the guest under Podman with runsc-zc as its OCI runtime:
//
//	podman --runtime runsc-zc --runtime-flag=network=none run --network=none --rootfs DIR /zcguest
//
// Podman's --network=none namespace has its loopback down, so runsc's
// default sandbox network would give the guest no 127.0.0.1; runsc's own
// --network=none gives the sandbox a netstack loopback.
func TestPodman(t *testing.T) {
	e := getEnv(t, "podman")
	state := tempDir(t)
	runGuest(t, "podman",
		// Podman's and runsc's state in temporary directories; no
		// systemd here.
		"--root", filepath.Join(state, "root"), "--runroot", filepath.Join(state, "run"),
		"--cgroup-manager=cgroupfs", "--events-backend=file",
		"--runtime", e.runsc, "--runtime-flag=network=none", "--runtime-flag=root="+filepath.Join(state, "runsc"),
		"run", "--rm", "--name", containerID(t), "--network=none", "--rootfs", e.rootfs(t), "/zcguest")
}
