// Package testenv holds what zcstack's tests share about the machine they
// run on.
package testenv

import (
	"fmt"
	"os"
	"testing"
)

// Unavailable skips t, which this machine cannot run (the message says
// why: no root, no gcc, no engine), or fails it when the environment
// variable CI is set: CI runs on a machine set up to run every test, where
// a skip would hide a broken one.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatalf("CI is set but %s", msg)
	}
	t.Skip(msg)
}
