// Command runsc-zc is gVisor's runsc with the zcstack sentry extension:
// MSG_ZEROCOPY, the socket error queue and SCM_ZC_NOTIFICATION for the
// sandboxed programs. Build it static: CGO_ENABLED=0 go build.
package main

import (
	"gvisor.dev/gvisor/runsc/cli/maincli"
	"gvisor.dev/gvisor/runsc/version"

	// The extension patches gVisor's syscall tables in its init.
	_ "github.com/zcstack/zcstack/sentry"
)

// version.Version is set dynamically, but needs to be linked in the binary
// (as in gVisor's runsc/main.go).
var _ = version.Version()

func main() {
	maincli.Main()
}
