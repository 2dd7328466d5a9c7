package sentry

import (
	"testing"

	"gvisor.dev/gvisor/pkg/state"

	"github.com/zcstack/zcstack/internal/statecheck"
)

// TestSocketStateFields keeps the hand-written state methods of both
// wrappers in step with their fields.
func TestSocketStateFields(t *testing.T) {
	for _, v := range []state.Type{&zcSocket{}, &hostSocket{}} {
		if err := statecheck.Fields(v); err != nil {
			t.Error(err)
		}
	}
}
