//go:build race

package allocs

// Race reports a -race build, in which sync.Pool drops what it is given at
// random: allocation counts mean nothing there, and tests that require none
// skip.
const Race = true
