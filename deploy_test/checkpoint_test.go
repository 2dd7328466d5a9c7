package deploy_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDockerCheckpoint checkpoints a container of runsc-zc with Docker's
// checkpoint commands (an experimental daemon: runsc-zc install
// --experimental) and starts it again from its checkpoint:
//
//	docker checkpoint create CONTAINER CHECKPOINT
//	docker start --checkpoint CHECKPOINT CONTAINER
//
// dockerd has containerd's runc shim run `runsc-zc checkpoint` and
// `runsc-zc restore`. The guest is sentry_test's `ckpt zc`, with TCP and UDP
// completions and ICMP errors queued at the checkpoint; restored, and sent
// SIGUSR1, it must print what it prints under runsc-zc's own commands
// (sentry_test/testdata/ckpt-zc.out) and exit 0.
func TestDockerCheckpoint(t *testing.T) {
	e := getEnv(t, "dockerd", "docker")
	want, err := os.ReadFile(filepath.Join("..", "sentry_test", "testdata", "ckpt-zc.out"))
	if err != nil {
		t.Fatal(err)
	}
	docker, image := e.docker(t, true, e.ckpt)
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	try := func(args ...string) (string, error) {
		out, err := exec.CommandContext(ctx, "docker", append(docker, args...)...).CombinedOutput()
		if err != nil {
			err = fmt.Errorf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out), err
	}
	run := func(args ...string) string {
		t.Helper()
		out, err := try(args...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	name := containerID(t)
	run("run", "-d", "--name", name, "--runtime", "runsc-zc", "--network", "none", image, "/ckpt", "zc")
	t.Cleanup(func() { exec.Command("docker", append(docker, "rm", "-f", name)...).Run() })
	waitReady(t, docker, name)
	run("checkpoint", "create", name, "cp")
	// Docker 20.10 tars the checkpoint directory into containerd's content
	// store at start, where the same tarball, which checkpoint create
	// unpacked, stays until containerd's garbage collector removes it:
	// until then start fails with "already exists" (moby/moby#42900,
	// Docker's and runc's alike). Each try is a round trip to dockerd.
	for tries := 1; ; tries++ {
		_, err := try("start", "--checkpoint", "cp", name)
		if err == nil {
			t.Logf("docker start --checkpoint: %d tries", tries)
			break
		}
		if !strings.Contains(err.Error(), "already exists") || ctx.Err() != nil {
			t.Fatal(err)
		}
	}
	run("kill", "--signal", "USR1", name)
	if code := strings.TrimSpace(run("wait", name)); code != "0" {
		t.Errorf("the restored guest exited with %s", code)
	}
	got := run("logs", name)
	if got != string(want) {
		t.Errorf("the guest printed\n%s\nwant\n%s", got, want)
	}
}

// waitReady follows the container's log until the guest prints "ready".
func waitReady(t *testing.T, docker []string, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	logs := exec.CommandContext(ctx, "docker", append(docker, "logs", "--follow", name)...)
	out, err := logs.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := logs.Start(); err != nil {
		t.Fatal(err)
	}
	defer logs.Wait()
	defer cancel()
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if sc.Text() == "ready" {
			return
		}
	}
	t.Fatalf("the guest's log ended without ready (%v)", ctx.Err())
}
