package sentry_test

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/zcstack/zcstack/internal/runsc"
)

// BenchmarkSocketSyscall measures, inside the guest, the mean cost of one
// iteration of a socket operation on a UDP pair (testdata/bench.c): on
// sockets that never use zerocopy (getsockopt SO_RCVBUF; sendmsg plus the
// recv that drains it; a recvmsg that finds nothing) natively, under stock
// runsc and under runsc-zc, where the extension's overhead is the ratio of
// the last two; and the zerocopy forms under runsc-zc (sendmsg with
// SCM_ZC_NOTIFICATION, sendmsg with MSG_ZEROCOPY and recvmsg(MSG_ERRQUEUE),
// an error-queue recvmsg that finds nothing), to set beside their plain
// counterparts. One benchmark iteration is one guest iteration; the guest's
// own measurement is reported as guest-ns/op, sandbox start-up excluded.
func BenchmarkSocketSyscall(b *testing.B) {
	e := getEnv(b)
	all := []runsc.Runtime{runsc.Host, runsc.Stock, runsc.Zerocopy}
	for _, bench := range []struct {
		op  string
		rts []runsc.Runtime
	}{
		{"getsockopt", all},
		{"sendmsg", all},
		{"recv-eagain", all},
		{"sendmsg-errq", []runsc.Runtime{runsc.Host, runsc.Zerocopy}},
		{"errq-eagain", []runsc.Runtime{runsc.Host, runsc.Zerocopy}},
		{"sendmsg-zc", []runsc.Runtime{runsc.Zerocopy}},
	} {
		op := bench.op
		for _, n := range runsc.Networks {
			for _, r := range bench.rts {
				if r == runsc.Host && n != runsc.NetNone {
					continue // the same host run
				}
				b.Run(op+"/"+string(n)+"/"+string(r), func(b *testing.B) {
					out, err := e.bins.OutputOn(r, n, filepath.Join(e.dir, "bench"), op, strconv.Itoa(max(b.N, 1000)))
					if err != nil {
						b.Fatalf("%v\n%s", err, out)
					}
					ns, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
					if err != nil {
						b.Fatalf("guest output %q: %v", out, err)
					}
					b.ReportMetric(ns, "guest-ns/op")
				})
			}
		}
	}
}
