package sentry_test

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/zcstack/zcstack/internal/runsc"
)

// BenchmarkSocketSyscall measures, inside the guest, the mean cost of one
// socket syscall on a UDP socket that never uses zerocopy (getsockopt
// SO_RCVBUF; sendmsg plus the recv that drains it) natively, under stock
// runsc and under runsc-zc: the extension's overhead is the ratio of the
// last two. One benchmark iteration is one guest call; the guest's own
// measurement is reported as guest-ns/op, sandbox start-up excluded.
func BenchmarkSocketSyscall(b *testing.B) {
	e := getEnv(b)
	for _, op := range []string{"getsockopt", "sendmsg"} {
		for _, r := range []runsc.Runtime{runsc.Host, runsc.Stock, runsc.Zerocopy} {
			b.Run(op+"/"+string(r), func(b *testing.B) {
				out, err := e.bins.Output(r, filepath.Join(e.dir, "bench"), op, strconv.Itoa(max(b.N, 1000)))
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
