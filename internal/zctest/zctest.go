// Package zctest holds the helpers that the tests of several packages
// share.
package zctest

import (
	"golang.org/x/sys/unix"

	"github.com/zcstack/zcstack/zerocopy"
)

// Contents pops every entry of q and describes it: a completion as itself
// (zerocopy.Completion), any other error by its errno (unix.Errno).
func Contents(q *zerocopy.ErrorQueue) []any {
	var out []any
	for {
		e, ok := q.Pop()
		if !ok {
			return out
		}
		if c, ok := e.Completion(); ok {
			out = append(out, c)
		} else {
			out = append(out, unix.Errno(e.Err.Errno))
		}
	}
}
