// Package statecheck checks hand-written gVisor state methods against the
// struct they save, as gVisor's stateify tool would generate them: every
// field is saved, in order, unless it is tagged `state:"nosave"`.
package statecheck

import (
	"fmt"
	"reflect"
	"strings"

	"gvisor.dev/gvisor/pkg/state"
)

// Fields returns an error naming each field of the struct that v points to
// that StateFields does not list and that is not tagged `state:"nosave"`,
// each listed name that is not such a field or is out of the struct's
// order, and each lock or atomic value saved without a custom `.(T)` form
// (pkg/state cannot save them as they are).
func Fields(v state.Type) error {
	typ := reflect.TypeOf(v).Elem()
	listed := v.StateFields()
	var errs []string
	i := 0
	for f := range typ.Fields() {
		tag := f.Tag.Get("state")
		if tag == "nosave" {
			continue
		}
		if i >= len(listed) || listed[i] != f.Name {
			errs = append(errs, fmt.Sprintf("field %s is neither saved (StateFields) nor tagged state:\"nosave\"", f.Name))
			continue
		}
		i++
		if p := f.Type.PkgPath(); (p == "sync" || p == "sync/atomic") && !strings.HasPrefix(tag, ".(") {
			errs = append(errs, fmt.Sprintf("field %s (%s) is saved as it is: tag it state:\"nosave\" or state:\".(T)\"", f.Name, f.Type))
		}
	}
	for _, name := range listed[i:] {
		errs = append(errs, fmt.Sprintf("StateFields lists %s, which is not the next saved field", name))
	}
	if errs != nil {
		return fmt.Errorf("%s: %s", v.StateTypeName(), strings.Join(errs, "; "))
	}
	return nil
}
