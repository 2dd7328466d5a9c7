package sentry

import (
	"testing"

	"github.com/zcstack/zcstack/internal/statecheck"
)

func TestSocketStateFields(t *testing.T) {
	if err := statecheck.Fields(&zcSocket{}); err != nil {
		t.Error(err)
	}
}
