// Package runsc builds the two gVisor runtimes that zcstack compares, stock
// runsc from the pinned gVisor module and runsc-zc (tools/runsc-zc), and runs
// programs in them. zcbench and the sentry_test conformance suite share it;
// deploy_test also builds runsc-zc's containerd shim with it.
//
// Both are built static (CGO_ENABLED=0): runsc pivots into an empty root and
// re-executes itself, where a dynamically linked binary finds no ELF
// interpreter.
package runsc

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Runtime names an environment a guest program runs in.
type Runtime string

// The environments.
const (
	Host     Runtime = "host"     // natively, on the host kernel
	Stock    Runtime = "runsc"    // stock runsc from the pinned gVisor module
	Zerocopy Runtime = "runsc-zc" // runsc with zcstack's sentry extension
)

// packages are the import paths the runtimes are built from.
var packages = map[Runtime]string{
	Stock:    "gvisor.dev/gvisor/runsc",
	Zerocopy: "github.com/zcstack/zcstack/tools/runsc-zc",
}

// Binaries holds the paths of the built runtimes.
type Binaries map[Runtime]string

// ModuleRoot returns the root of the zcstack module that holds the working
// directory, where go build must run.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the zcstack module")
	}
	return filepath.Dir(mod), nil
}

// Build builds the given runtimes into dir with the go command, which reuses
// its build cache: a rebuild with nothing changed only links.
func Build(dir string, runtimes ...Runtime) (Binaries, error) {
	return BuildTags(dir, nil, runtimes...)
}

// BuildTags is Build with Go build tags, such as gVisor's systrap_profiling
// (systrap's own counters, which --profiling-metrics exports).
func BuildTags(dir string, tags []string, runtimes ...Runtime) (Binaries, error) {
	root, err := ModuleRoot()
	if err != nil {
		return nil, err
	}
	bins := Binaries{}
	for _, r := range runtimes {
		pkg, ok := packages[r]
		if !ok {
			return nil, fmt.Errorf("no runtime %q to build", r)
		}
		out := filepath.Join(dir, string(r))
		if err := goBuild(root, out, pkg, tags...); err != nil {
			return nil, err
		}
		bins[r] = out
	}
	return bins, nil
}

// ShimName is the file name of runsc-zc's containerd shim, gVisor's shim
// built by tools/containerd-shim-runsc-zc-v1. containerd looks for it on its
// PATH when a container's runtime is "io.containerd.runsc-zc.v1".
const ShimName = "containerd-shim-runsc-zc-v1"

// BuildShim builds runsc-zc's containerd shim into dir and returns its path.
func BuildShim(dir string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, ShimName)
	if err := goBuild(root, out, "github.com/zcstack/zcstack/tools/"+ShimName); err != nil {
		return "", err
	}
	return out, nil
}

// goBuild builds pkg statically into out, in the module rooted at root.
func goBuild(root, out, pkg string, tags ...string) error {
	cmd := exec.Command("go", "build", "-tags", strings.Join(tags, ","), "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, msg)
	}
	return nil
}

// Network is the network mode of a sandbox (runsc --network).
type Network string

// The network modes the guests run under.
const (
	// NetNone is gVisor's netstack with a loopback of its own
	// (--network=none).
	NetNone Network = "none"
	// NetHost is gVisor's hostinet (--network=host): the guest's sockets
	// are host sockets in the caller's network namespace, so that guests
	// share the host's loopback and port space and must bind port 0.
	NetHost Network = "host"
)

// Networks are the network modes, netstack first.
var Networks = []Network{NetNone, NetHost}

// Command returns the command that runs argv in runtime r with gVisor's
// netstack: CommandOn(r, NetNone, argv...).
func (b Binaries) Command(r Runtime, argv ...string) (*exec.Cmd, error) {
	return b.CommandOn(r, NetNone, argv...)
}

// CommandOn returns the command that runs argv in runtime r: argv itself on
// the host (whatever n), or `runsc --network=n do argv` in a sandbox. With
// NetHost it adds --rootless, which makes `runsc do` leave the sandbox in
// the caller's network namespace, as Docker's --network host does: without
// it, `do` moves a non-rootless sandbox into a network namespace of its own
// behind a veth pair and iptables NAT. The sandbox still runs in a user
// namespace of its own, as root mapped to the caller. It needs root.
func (b Binaries) CommandOn(r Runtime, n Network, argv ...string) (*exec.Cmd, error) {
	if r == Host {
		return exec.Command(argv[0], argv[1:]...), nil
	}
	bin, ok := b[r]
	if !ok {
		return nil, fmt.Errorf("runtime %q was not built", r)
	}
	flags := []string{"--network=" + string(n)}
	switch n {
	case NetNone:
	case NetHost:
		flags = append(flags, "--rootless")
	default:
		return nil, fmt.Errorf("unknown network mode %q", n)
	}
	return exec.Command(bin, append(append(flags, "do"), argv...)...), nil
}

// Output runs argv in runtime r with gVisor's netstack and returns its
// standard output: OutputOn(r, NetNone, argv...).
func (b Binaries) Output(r Runtime, argv ...string) (stdout []byte, err error) {
	return b.OutputOn(r, NetNone, argv...)
}

// OutputOn runs argv in runtime r on network n and returns its standard
// output. Output goes through a pipe, which runsc needs (a file as stdout
// fails in its chroot).
func (b Binaries) OutputOn(r Runtime, n Network, argv ...string) (stdout []byte, err error) {
	cmd, err := b.CommandOn(r, n, argv...)
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err = cmd.Output()
	if err != nil {
		return stdout, fmt.Errorf("%s --network=%s: %v: %s", r, n, err, strings.TrimSpace(stderr.String()))
	}
	return stdout, nil
}

// CanSandbox reports why sandboxes cannot run here, or nil if they can: runsc
// needs root.
func CanSandbox() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("runsc needs root (euid %d)", os.Geteuid())
	}
	return nil
}
