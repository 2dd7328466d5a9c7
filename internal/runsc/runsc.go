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
		if err := goBuild(root, out, pkg); err != nil {
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
func goBuild(root, out, pkg string) error {
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, msg)
	}
	return nil
}

// Command returns the command that runs argv in runtime r: argv itself on
// the host, or `runsc --network=none do argv` in a sandbox, whose netstack
// then serves loopback. It needs root.
func (b Binaries) Command(r Runtime, argv ...string) (*exec.Cmd, error) {
	if r == Host {
		return exec.Command(argv[0], argv[1:]...), nil
	}
	bin, ok := b[r]
	if !ok {
		return nil, fmt.Errorf("runtime %q was not built", r)
	}
	return exec.Command(bin, append([]string{"--network=none", "do"}, argv...)...), nil
}

// Output runs argv in runtime r and returns its standard output. Output goes
// through a pipe, which runsc needs (a file as stdout fails in its chroot).
func (b Binaries) Output(r Runtime, argv ...string) (stdout []byte, err error) {
	cmd, err := b.Command(r, argv...)
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err = cmd.Output()
	if err != nil {
		return stdout, fmt.Errorf("%s: %v: %s", r, err, strings.TrimSpace(stderr.String()))
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
