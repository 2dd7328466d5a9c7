package runsc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// OCI runs containers with a runtime's OCI subcommands (run, checkpoint,
// restore, kill, export-metrics, delete), its state under one --root.
type OCI struct {
	// Bin is the runtime binary.
	Bin string
	// Root is runsc's --root, where it keeps the state of its containers.
	Root string
	// Flags are runsc's flags, given before every subcommand (e.g.
	// --network=none, which run and restore must both have).
	Flags []string
}

// OCI returns the OCI commands of runtime r with its state under root.
func (b Binaries) OCI(r Runtime, root string, flags ...string) (OCI, error) {
	bin, ok := b[r]
	if !ok || r == Host {
		return OCI{}, fmt.Errorf("runtime %q was not built", r)
	}
	return OCI{Bin: bin, Root: root, Flags: flags}, nil
}

// Command returns the command that runs the subcommand args.
func (o OCI) Command(args ...string) *exec.Cmd {
	argv := append([]string{"--root", o.Root}, o.Flags...)
	return exec.Command(o.Bin, append(argv, args...)...)
}

// run runs the subcommand args and returns its standard output; the error
// holds what it printed.
func (o OCI) run(args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := o.Command(args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%s %s: %v\n%s%s", filepath.Base(o.Bin), strings.Join(args, " "), err, stdout.Bytes(), stderr.Bytes())
	}
	return stdout.Bytes(), nil
}

// Bundle makes an OCI bundle in dir that runs prog with args: `spec`
// writes its config, the root is read-only and holds only prog, at
// /<base name of prog>, and there is no terminal.
func (o OCI) Bundle(dir, prog string, args ...string) error {
	rootfs := filepath.Join(dir, "rootfs")
	if err := os.MkdirAll(rootfs, 0o755); err != nil {
		return err
	}
	b, err := os.ReadFile(prog)
	if err != nil {
		return err
	}
	name := filepath.Base(prog)
	if err := os.WriteFile(filepath.Join(rootfs, name), b, 0o755); err != nil {
		return err
	}
	spec := exec.Command(o.Bin, append([]string{"spec", "--", "/" + name}, args...)...)
	spec.Dir = dir
	if out, err := spec.CombinedOutput(); err != nil {
		return fmt.Errorf("%s spec: %v\n%s", filepath.Base(o.Bin), err, out)
	}
	path := filepath.Join(dir, "config.json")
	if b, err = os.ReadFile(path); err != nil {
		return err
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		return err
	}
	cfg["process"].(map[string]any)["terminal"] = false
	cfg["root"] = map[string]any{"path": "rootfs", "readonly": true}
	if b, err = json.Marshal(cfg); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// Start runs the container id of bundle detached (`run -detach`): it
// returns once the container runs, whose standard output and error are
// stdout and stderr. They must be files (a pipe's write end): the sandbox
// keeps them when run returns.
func (o OCI) Start(bundle, id string, stdout, stderr *os.File) error {
	return o.detached(stdout, stderr, "run", "-detach", "--bundle", bundle, id)
}

// Restore restores the container id of bundle from the checkpoint image in
// dir, detached (`restore -detach`), as Start runs one.
func (o OCI) Restore(bundle, id, dir string, stdout, stderr *os.File) error {
	return o.detached(stdout, stderr, "restore", "-detach", "--image-path", dir, "--bundle", bundle, id)
}

func (o OCI) detached(stdout, stderr *os.File, args ...string) error {
	cmd := o.Command(args...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %v (its output is the container's)", filepath.Base(o.Bin), strings.Join(args, " "), err)
	}
	return nil
}

// Checkpoint saves the container id to an image in dir (`checkpoint
// --image-path dir`, with flags before the id, e.g. --leave-running).
func (o OCI) Checkpoint(id, dir string, flags ...string) error {
	args := append(append([]string{"checkpoint", "--image-path", dir}, flags...), id)
	_, err := o.run(args...)
	return err
}

// Kill sends signal (a name such as USR1, or a number) to the container's
// init process.
func (o OCI) Kill(id, signal string) error {
	_, err := o.run("kill", id, signal)
	return err
}

// Metrics returns the sandbox's metrics whose names match the regular
// expression filter, in Prometheus's text form (`export-metrics`).
func (o OCI) Metrics(id, filter string) (string, error) {
	out, err := o.run("export-metrics", "--sandbox-metrics-filter="+filter, id)
	return string(out), err
}

// Delete removes the container, stopping it first if it runs.
func (o OCI) Delete(id string) error {
	_, err := o.run("delete", "--force", id)
	return err
}

// Remove removes Root, once its containers are deleted, with the bind mount
// of the empty network namespace that runsc keeps there for its gofers
// (runsc/specutils.UnmountNullNetNS; mounts may be stacked).
func (o OCI) Remove() error {
	for unix.Unmount(filepath.Join(o.Root, "null-netns"), unix.MNT_DETACH) == nil {
	}
	return os.RemoveAll(o.Root)
}
