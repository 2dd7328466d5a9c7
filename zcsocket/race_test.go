//go:build race

package zcsocket_test

// raceEnabled reports a -race build, in which sync.Pool drops what it is
// given at random and allocation counts mean nothing.
const raceEnabled = true
