// Command containerd-shim-runsc-zc-v1 is gVisor's containerd shim
// (containerd-shim-runsc-v1, gvisor.dev/gvisor/shim of the pinned gVisor
// module), unchanged, under the name containerd derives from the runtime type
// "io.containerd.runsc-zc.v1", so that it can sit beside stock gVisor's shim
// on a node. It runs the runsc binary that its TOML config file names, with
// the runsc flags of that file's runsc_config table:
//
//	binary_name = "/usr/local/bin/runsc-zc"
//
// containerd passes the config file's path in the runtime's options
// (ConfigPath), as for gVisor's runsc. Kubernetes reaches it through a
// containerd runtime handler and a RuntimeClass; README.md has both.
package main

import "gvisor.dev/gvisor/shim/v1/cli"

func main() {
	cli.Main()
}
