//go:build !race

package zcsocket_test

const raceEnabled = false
