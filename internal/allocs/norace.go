//go:build !race

package allocs

// Race reports a -race build; see race.go.
const Race = false
