package runsc

import (
	"slices"
	"testing"
)

func TestCommandOn(t *testing.T) {
	b := Binaries{Zerocopy: "/bin/runsc-zc"}
	for _, tc := range []struct {
		r    Runtime
		n    Network
		want []string
	}{
		{Host, NetHost, []string{"prog", "arg"}},
		{Zerocopy, NetNone, []string{"/bin/runsc-zc", "--network=none", "do", "prog", "arg"}},
		{Zerocopy, NetHost, []string{"/bin/runsc-zc", "--network=host", "--rootless", "do", "prog", "arg"}},
	} {
		cmd, err := b.CommandOn(tc.r, tc.n, "prog", "arg")
		if err != nil {
			t.Fatalf("%s %s: %v", tc.r, tc.n, err)
		}
		if !slices.Equal(cmd.Args, tc.want) {
			t.Errorf("%s %s: args %q, want %q", tc.r, tc.n, cmd.Args, tc.want)
		}
	}
	if _, err := b.CommandOn(Stock, NetNone, "prog"); err == nil {
		t.Error("runtime not built: no error")
	}
	if _, err := b.CommandOn(Zerocopy, "sandbox", "prog"); err == nil {
		t.Error("unknown network mode: no error")
	}
	cmd, err := b.Command(Zerocopy, "prog")
	if err != nil || !slices.Equal(cmd.Args, []string{"/bin/runsc-zc", "--network=none", "do", "prog"}) {
		t.Errorf("Command = %v, %v", cmd, err)
	}
}
