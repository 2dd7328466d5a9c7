package statecheck

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// sampleNames is what sample's StateFields returns.
var sampleNames []string

type sample struct {
	A  int
	Mu sync.Mutex  `state:"nosave"`
	On atomic.Bool `state:".(bool)"`
	B  string
}

func (*sample) StateTypeName() string { return "sample" }
func (*sample) StateFields() []string { return sampleNames }

// bare saves an atomic value without a custom form.
type bare struct {
	On atomic.Bool
}

func (*bare) StateTypeName() string { return "bare" }
func (*bare) StateFields() []string { return []string{"On"} }

func TestFields(t *testing.T) {
	for _, tc := range []struct {
		name  string
		names []string
		want  string // substring of the error, "" for none
	}{
		{"all saved", []string{"A", "On", "B"}, ""},
		{"field missing", []string{"A", "On"}, "field B is neither saved"},
		{"out of order", []string{"On", "A", "B"}, "field A is neither saved"},
		{"unknown name", []string{"A", "On", "B", "C"}, "lists C"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sampleNames = tc.names
			check(t, Fields(&sample{}), tc.want)
		})
	}
	t.Run("atomic saved as it is", func(t *testing.T) {
		check(t, Fields(&bare{}), "field On (atomic.Bool) is saved as it is")
	})
}

func check(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("Fields: %v", err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Errorf("Fields = %v, want an error with %q", err, want)
	}
}
