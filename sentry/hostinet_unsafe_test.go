package sentry

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"gvisor.dev/gvisor/pkg/sentry/socket/hostinet"
)

// TestHostinetInternals pins what the extension reaches inside gVisor's
// hostinet (hostinet_unsafe.go) to the source of the gVisor module this
// build uses: the fields fd and queue of Socket, at the offsets the
// extension reads, and newSocket's signature, which go:linkname cannot
// check. A gVisor update that changes any of them fails here.
func TestHostinetInternals(t *testing.T) {
	var s hostinet.Socket
	v := reflect.ValueOf(&s).Elem()
	*(*int)(unsafe.Add(unsafe.Pointer(&s), hostFDOffset)) = 42
	if got := v.FieldByName("fd").Int(); got != 42 || hostFD(&s) != 42 {
		t.Errorf("hostFD reads another field than fd: fd %d, hostFD %d", got, hostFD(&s))
	}
	if addr := v.FieldByName("queue").UnsafeAddr(); addr != uintptr(unsafe.Pointer(hostQueue(&s))) {
		t.Errorf("hostQueue is not the address of queue")
	}

	out, err := exec.Command("go", "list", "-f", "{{.Dir}}", "gvisor.dev/gvisor/pkg/sentry/socket/hostinet").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	theirs := funcType(t, filepath.Join(strings.TrimSpace(string(out)), "socket.go"), "newSocket")
	ours := funcType(t, "hostinet_unsafe.go", "newHostinetSocket")
	if theirs != ours {
		t.Errorf("hostinet's newSocket is\n\t%s\nthe extension links it as\n\t%s", theirs, ours)
	}
}

// funcType returns the printed type of the function name declared in file.
func funcType(t *testing.T, file, name string) string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Name == name && fd.Recv == nil {
			var b bytes.Buffer
			if err := printer.Fprint(&b, fset, fd.Type); err != nil {
				t.Fatal(err)
			}
			return b.String()
		}
	}
	t.Fatalf("%s declares no func %s", file, name)
	return ""
}
