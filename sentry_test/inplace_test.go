package sentry_test

import (
	"strings"
	"testing"

	"github.com/zcstack/zcstack/internal/runsc"
)

// TestInPlace: whether a MSG_ZEROCOPY TCP send is sent from the guest's
// memory (testdata/inplace.c). The send is queued behind data the peer has
// no room for, then the guest rewrites its buffer, or unmaps it and writes
// new memory. Linux sends from the pinned pages: the peer reads the
// rewritten bytes, or after the unmap the bytes the pages held. Under
// --network=host runsc-zc hands the host the sentry's mappings of the
// guest's pages with MSG_ZEROCOPY, pinned until the host completes the
// send, and the peer reads what it reads on the host. gVisor's netstack
// copies at send time, so under --network=none the peer reads the bytes as
// they were sent. The completion says copied everywhere: loopback copies.
func TestInPlace(t *testing.T) {
	e := getEnv(t)
	var args []string
	for _, k := range []string{"tcp4", "tcp6"} {
		for _, mode := range []string{"rewrite", "unmap"} {
			args = append(args, k+"/"+mode)
		}
	}
	eachNetwork(t, args, func(t *testing.T, n runsc.Network, arg string) {
		k, mode, _ := strings.Cut(arg, "/")
		outs := e.outputs(t, n, "inplace", k, mode)
		if mode == "rewrite" && !strings.Contains(outs[runsc.Host], "peer read: 'A' 0, 'B' 16384,") {
			t.Errorf("the host did not send from the sender's memory:\n%s", outs[runsc.Host])
		}
		if n == runsc.NetHost {
			sameAsHost(t, outs)
			return
		}
		// Netstack copied the 'A's when the send ran.
		want := strings.Replace(outs[runsc.Host], "peer read: 'A' 0, 'B' 16384,", "peer read: 'A' 16384, 'B' 0,", 1)
		if d := lineDiff(want, outs[runsc.Zerocopy]); d != "" {
			t.Errorf("runsc-zc --network=none differs from a stack that copies at send:\n%s", d)
		}
	})
}
