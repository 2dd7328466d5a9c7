package zerocopy

import (
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSenderIDs(t *testing.T) {
	ok := func(n int) func() (int, error) { return func() (int, error) { return n, nil } }
	fail := func() (int, error) { return 0, unix.EMSGSIZE }
	partial := func() (int, error) { return 3, unix.EPIPE }
	type call struct {
		length int
		send   func() (int, error)
	}
	for _, tc := range []struct {
		name  string
		start uint32
		calls []call
		want  []any
		next  uint32
	}{
		{"one per send", 0, []call{{1, ok(1)}, {2, ok(2)}}, []any{c(0, 1)}, 2},
		{"zero length takes none", 0, []call{{0, ok(0)}, {1, ok(1)}}, []any{c(0, 0)}, 1},
		{"empty datagram (length counts the header) takes one", 0, []call{{8, ok(0)}}, []any{c(0, 0)}, 1},
		{"failure takes none", 0, []call{{1, ok(1)}, {70000, fail}, {1, ok(1)}}, []any{c(0, 1)}, 2},
		{"partial stream send takes one", 0, []call{{10, partial}}, []any{c(0, 0)}, 1},
		{"wraps after 2^32-1", ^uint32(0) - 1, []call{{1, ok(1)}, {1, ok(1)}, {1, ok(1)}},
			[]any{c(^uint32(0)-1, 0)}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := NewErrorQueue(0, nil)
			s := NewSender(q)
			s.mu.Lock()
			s.next = tc.start
			s.mu.Unlock()
			for _, cl := range tc.calls {
				s.Send(cl.length, cl.send)
			}
			if got := drain(q); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("completions = %v, want %v", got, tc.want)
			}
			if s.NextID() != tc.next {
				t.Errorf("NextID = %d, want %d", s.NextID(), tc.next)
			}
		})
	}
}

func TestSenderFullQueue(t *testing.T) {
	q := NewErrorQueue(1, nil)
	s := NewSender(q)
	q.Push(icmpErr(1))
	called := false
	n, err := s.Send(1, func() (int, error) { called = true; return 1, nil })
	if err != unix.ENOBUFS || n != 0 || called {
		t.Fatalf("Send on a full queue = %d, %v (send called: %v); want 0, ENOBUFS, not called", n, err, called)
	}
	if s.NextID() != 0 {
		t.Errorf("a refused send took an id")
	}
	q.Pop()
	if _, err := s.Send(1, func() (int, error) { return 1, nil }); err != nil {
		t.Fatalf("Send after drain: %v", err)
	}
	// The tail is now a completion the next send extends: admitted even
	// though the queue is at its limit.
	if _, err := s.Send(1, func() (int, error) { return 1, nil }); err != nil {
		t.Fatalf("coalescing Send at the limit: %v", err)
	}
	if got := drain(q); !reflect.DeepEqual(got, []any{c(0, 1)}) {
		t.Errorf("completions = %v", got)
	}
}
