package sentry

import (
	"reflect"
	"slices"
	"testing"
)

// TestHostSocketStateFields keeps hostSocket's hand-written state methods
// in step with its fields, as gVisor's stateify would: every field but
// those tagged state:"nosave" is listed, in order, and the locks and atomic
// values are saved in a custom form.
func TestHostSocketStateFields(t *testing.T) {
	var want []string
	for f := range reflect.TypeFor[hostSocket]().Fields() {
		tag := f.Tag.Get("state")
		if tag == "nosave" {
			continue
		}
		want = append(want, f.Name)
		if p := f.Type.PkgPath(); (p == "sync" || p == "sync/atomic") && tag == "" {
			t.Errorf("field %s (%v) is saved as it is", f.Name, f.Type)
		}
	}
	if got := (*hostSocket)(nil).StateFields(); !slices.Equal(got, want) {
		t.Errorf("StateFields = %v, want %v", got, want)
	}
}
