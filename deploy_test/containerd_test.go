package deploy_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/zcstack/zcstack/internal/runsc"
)

// TestContainerdRuncShim runs the guest with Debian's containerd (1.6) and
// its ctr through containerd's own runc shim, which runs any runc-compatible
// binary, the way Docker runs runsc:
//
//	ctr run --runtime io.containerd.runc.v2 --runc-binary WRAPPER --rootfs DIR ID /zcguest
//
// The runc shim's options name a binary but no arguments, so WRAPPER is a
// script that adds runsc's --network=none (ctr gives the container a network
// namespace with its loopback down), the script dockerd itself writes for a
// runtime's runtimeArgs.
func TestContainerdRuncShim(t *testing.T) {
	e := getEnv(t, "containerd", "ctr")
	dir := tempDir(t)
	wrapper := filepath.Join(dir, "runsc-zc-network-none")
	script := fmt.Sprintf("#!/bin/sh\nexec %s --network=none \"$@\"\n", e.runsc)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	sock := startContainerd(t, exec.Command("containerd"), dir, 2,
		`disabled_plugins = ["io.containerd.grpc.v1.cri"]`)
	runGuest(t, "ctr", "--address", sock, "run", "--rm",
		"--runtime", "io.containerd.runc.v2", "--runc-binary", wrapper,
		"--runc-root", filepath.Join(dir, "runsc"),
		"--rootfs", e.rootfs(t), containerID(t), "/zcguest")
}

// TestContainerdShim runs the guest through gVisor's own containerd shim,
// the path Kubernetes takes, with the shim's TOML naming runsc-zc and its
// flags:
//
//	ctr run --runtime io.containerd.runsc-zc.v1 --runtime-config-path runsc-zc.toml \
//		--annotation io.kubernetes.cri.container-type=sandbox --rootfs DIR ID /zcguest
//
// The shim is built on containerd v2's shim library, whose start command
// answers containerd with JSON bootstrap parameters; Debian's containerd
// 1.6 reads that answer as a socket address ("dial unix {...}: invalid
// argument"): parsing it came with containerd 1.7. So the test builds
// containerd and ctr from the containerd module the shim links (see
// buildContainerd).
//
// The annotation marks the container as its sandbox's first, as CRI does
// for a pod: without it gVisor's shim gives `runsc create` a pipe for its
// output, which the sandbox inherits and never closes, and the create never
// returns.
//
// gVisor's shim manager (pkg/shim/v1/manager.go) sets the oom_score_adj of
// the shim it starts to -999, whatever containerd's own score; lowering a
// score needs CAP_SYS_RESOURCE, and containerd's SetOOMScore ignores the
// EACCES only for a non-root user or in a user namespace. Where root lacks
// the capability, as on this project's machines, containerd (and so the
// shim and runsc) runs in a user namespace whose ID map is the identity on
// every ID but the last (the full map is how containerd recognizes the
// host's namespace), and in a mount namespace of its own, so that the shim
// may unmount.
func TestContainerdShim(t *testing.T) {
	e := getEnv(t)
	ctd, ctr, err := buildContainerd(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	shim, err := runsc.BuildShim(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	dir := tempDir(t)
	config := filepath.Join(dir, "runsc-zc.toml")
	toml := fmt.Sprintf("binary_name = %q\nroot = %q\n\n[runsc_config]\n  network = \"none\"\n",
		e.runsc, filepath.Join(dir, "runsc"))
	if err := os.WriteFile(config, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}

	sock := startContainerd(t, shimContainerd(t, ctd, shim, false), dir, 3,
		`disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.cri.v1.images", "io.containerd.cri.v1.runtime"]`)
	err = guestRun(t, ctr, "--address", sock, "run", "--rm",
		"--runtime", "io.containerd.runsc-zc.v1", "--runtime-config-path", config,
		"--annotation", "io.kubernetes.cri.container-type=sandbox",
		"--rootfs", e.rootfs(t), containerID(t), "/zcguest")
	// gVisor's shim starts `runsc wait` only once `runsc start` returned.
	// When the container, the root of its sandbox, is done before that
	// connects, the sandbox is gone and runsc has no status to give ("sandbox
	// no longer running and its exit status is unavailable",
	// runsc/sandbox.(*Sandbox).Wait): the shim reports 128. The verdict
	// that the guest printed stands.
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 128 {
		t.Logf("gVisor's shim lost the guest's exit status: %v", err)
	} else if err != nil {
		t.Fatalf("ctr: %v", err)
	}
}

// shimContainerd returns the command that starts the containerd at path
// for runsc-zc's shim at shim: containerd finds the shim on its PATH by the
// runtime's name. It runs in a network namespace of its own if net is set.
// Where root lacks CAP_SYS_RESOURCE, it runs in a user namespace and a
// mount namespace of its own, as TestContainerdShim says why.
func shimContainerd(t *testing.T, path, shim string, net bool) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(path)
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(shim)+":"+os.Getenv("PATH"))
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	if net {
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWNET
	}
	if ok, err := hasCapability(unix.CAP_SYS_RESOURCE); err != nil {
		t.Fatal(err)
	} else if !ok {
		t.Log("no CAP_SYS_RESOURCE: containerd runs in a user namespace")
		ids := []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1<<32 - 2}}
		cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS
		cmd.SysProcAttr.UidMappings = ids
		cmd.SysProcAttr.GidMappings = ids
		cmd.SysProcAttr.GidMappingsEnableSetgroups = true
	}
	return cmd
}

// startContainerd starts cmd, a containerd, with a config file of the given
// version whose root, state and socket are in dir, its other settings in
// the TOML of more, and returns the socket.
func startContainerd(t *testing.T, cmd *exec.Cmd, dir string, version int, more string) string {
	t.Helper()
	sock := filepath.Join(dir, "containerd.sock")
	config := filepath.Join(dir, "containerd.toml")
	toml := fmt.Sprintf("version = %d\nroot = %q\nstate = %q\n%s\n\n[grpc]\n  address = %q\n",
		version, filepath.Join(dir, "root"), filepath.Join(dir, "state"), more, sock)
	if err := os.WriteFile(config, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd.Args = append(cmd.Args, "--config", config)
	startDaemon(t, cmd, sock)
	return sock
}

// hasCapability reports whether this process has capability c in its
// effective set.
func hasCapability(c int) (bool, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return false, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return caps&(1<<c) != 0, err
		}
	}
	return false, fmt.Errorf("no CapEff in /proc/self/status")
}

var (
	containerdOnce sync.Once
	containerdErr  error
)

// buildContainerd builds containerd and ctr into dir from the version of
// the containerd v2 module that this module requires, the one gVisor's shim
// links. They are built inside that module, from the module cache: `go
// install ...@version` refuses a module whose go.mod has exclude directives,
// as containerd's has. Built once; it returns their paths.
func buildContainerd(dir string) (containerd, ctr string, err error) {
	containerd, ctr = filepath.Join(dir, "containerd"), filepath.Join(dir, "ctr")
	containerdOnce.Do(func() {
		root, err := runsc.ModuleRoot()
		if err != nil {
			containerdErr = err
			return
		}
		dl := exec.Command("go", "mod", "download", "-json", "github.com/containerd/containerd/v2")
		dl.Dir = root
		out, err := dl.Output()
		if err != nil {
			containerdErr = fmt.Errorf("go mod download containerd: %v", err)
			return
		}
		var mod struct{ Dir string }
		if err := json.Unmarshal(out, &mod); err != nil {
			containerdErr = err
			return
		}
		build := exec.Command("go", "build", "-mod=mod", "-o", dir+"/", "./cmd/containerd", "./cmd/ctr")
		build.Dir = mod.Dir
		build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-buildvcs=false")
		var stderr bytes.Buffer
		build.Stderr = &stderr
		if err := build.Run(); err != nil {
			containerdErr = fmt.Errorf("go build containerd in %s: %v\n%s", mod.Dir, err, stderr.String())
		}
	})
	return containerd, ctr, containerdErr
}
