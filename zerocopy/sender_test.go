package zerocopy

import (
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

// send runs one MSG_ZEROCOPY send through s as a socket does: a place in
// line, then Done with whether it sent data.
func send(t testing.TB, s *Sender, sent bool) {
	t.Helper()
	tk, err := s.Reserve()
	if err != nil {
		t.Fatalf("Reserve: %v", err)
	}
	s.Done(tk, sent)
}

func TestSenderIDs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start uint32
		sends []bool // sent data or not
		want  []any
		next  uint32
	}{
		{"one per send", 0, []bool{true, true}, []any{c(0, 1)}, 2},
		{"a send that sends nothing takes none", 0, []bool{false, true, false, true}, []any{c(0, 1)}, 2},
		{"wraps after 2^32-1", ^uint32(0) - 1, []bool{true, true, true}, []any{c(^uint32(0)-1, 0)}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := NewErrorQueue(QueueConfig{})
			s := NewSender(q, false)
			s.mu.Lock()
			s.next = tc.start
			s.mu.Unlock()
			for _, sent := range tc.sends {
				send(t, s, sent)
			}
			if got := drain(q); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("completions = %v, want %v", got, tc.want)
			}
			if s.nextID() != tc.next {
				t.Errorf("NextID = %d, want %d", s.nextID(), tc.next)
			}
		})
	}
}

// TestSenderLine runs overlapping sends, as threads blocked in a send
// make them: ids follow the order of the places, stay dense when a send
// takes none, and completions are queued in id order.
func TestSenderLine(t *testing.T) {
	type step struct {
		done int  // index of the reservation to finish
		sent bool // its outcome
		want []any
	}
	for _, tc := range []struct {
		name     string
		reserves int
		steps    []step
	}{
		{"later send returns first", 2, []step{
			{1, true, nil}, // waits for place 0
			{0, true, []any{c(0, 1)}},
		}},
		{"earlier send fails: later one takes its id", 3, []step{
			{2, true, nil},
			{1, true, nil},
			{0, false, []any{c(0, 1)}},
		}},
		{"in order", 2, []step{
			{0, true, []any{c(0, 0)}},
			{1, true, []any{c(1, 1)}},
		}},
		{"middle one fails", 3, []step{
			{0, true, []any{c(0, 0)}},
			{2, true, nil},
			{1, false, []any{c(1, 1)}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := NewErrorQueue(QueueConfig{})
			s := NewSender(q, false)
			tks := reserve(t, s, tc.reserves)
			for i, st := range tc.steps {
				s.Done(tks[st.done], st.sent)
				if got := drain(q); !reflect.DeepEqual(got, st.want) {
					t.Fatalf("step %d: queue = %v, want %v", i, got, st.want)
				}
			}
		})
	}
}

// TestSenderHoldsErrors: on a datagram socket, an error pushed while a send
// is in progress comes after that send's completion, and after the
// completions of every send that was in line with it.
func TestSenderHoldsErrors(t *testing.T) {
	for _, hold := range []bool{false, true} {
		q := NewErrorQueue(QueueConfig{})
		s := NewSender(q, hold)
		pushOne(s, icmpErr(1)) // nothing in line: queued at once
		a, _ := s.Reserve()
		b, _ := s.Reserve()
		pushOne(s, icmpErr(2)) // caused by a or b
		s.Done(b, true)
		s.Done(a, true)
		c2, _ := s.Reserve()
		pushOne(s, icmpErr(3))
		s.Done(c2, false) // took no id: the error follows the others
		want := []any{uint16(1), c(0, 1), uint16(2), uint16(3)}
		if !hold {
			want = []any{uint16(1), uint16(2), c(0, 1), uint16(3)}
		}
		if got := drain(q); !reflect.DeepEqual(got, want) {
			t.Errorf("hold %v: queue = %v, want %v", hold, got, want)
		}
	}
}

func TestSenderFullQueue(t *testing.T) {
	q := NewErrorQueue(QueueConfig{Limit: 1})
	s := NewSender(q, false)
	q.Push(icmpErr(1))
	if _, err := s.Reserve(); err != unix.ENOBUFS {
		t.Fatalf("Reserve on a full queue = %v, want ENOBUFS", err)
	}
	if s.nextID() != 0 {
		t.Errorf("a refused send took an id")
	}
	q.Pop()
	send(t, s, true)
	// The tail is now a completion the next send extends: admitted even
	// though the queue is at its limit.
	send(t, s, true)
	if got := drain(q); !reflect.DeepEqual(got, []any{c(0, 1)}) {
		t.Errorf("completions = %v", got)
	}
}

// pushOne pushes e alone through s.
func pushOne(s *Sender, e Entry) {
	done := false
	s.Push(func() (Entry, bool) {
		if done {
			return Entry{}, false
		}
		done = true
		return e, true
	})
}

// reserve takes n places in line.
func reserve(t testing.TB, s *Sender, n int) []Ticket {
	t.Helper()
	var tks []Ticket
	for range n {
		tk, err := s.Reserve()
		if err != nil {
			t.Fatal(err)
		}
		tks = append(tks, tk)
	}
	return tks
}

// TestSenderHeld: sends whose buffers the layer below keeps (Hold) get
// their ids when they return, in line order, and their completions when
// they are released, in release order, copied as the release says.
func TestSenderHeld(t *testing.T) {
	type step struct {
		op   string // "done" or "release"
		i    int    // the reservation
		arg  bool   // sent for done, copied for release
		want []any
	}
	zc := func(lo, hi uint32) Completion { return Completion{Lo: lo, Hi: hi} }
	for _, tc := range []struct {
		name     string
		reserves int
		held     []int
		steps    []step
	}{
		{"released after return", 1, []int{0}, []step{
			{"done", 0, true, nil},
			{"release", 0, false, []any{zc(0, 0)}},
		}},
		{"copied as released", 2, []int{0, 1}, []step{
			{"done", 0, true, nil},
			{"done", 1, true, nil},
			{"release", 0, true, []any{c(0, 0)}},
			{"release", 1, false, []any{zc(1, 1)}},
		}},
		{"released in another order than ids", 2, []int{0, 1}, []step{
			{"done", 0, true, nil},
			{"done", 1, true, nil},
			{"release", 1, false, []any{zc(1, 1)}},
			{"release", 0, false, []any{zc(0, 0)}},
		}},
		{"released while an earlier send runs: queued once the id is known", 2, []int{1}, []step{
			{"done", 1, true, nil},
			{"release", 1, false, nil},
			{"done", 0, true, []any{c(0, 0), zc(1, 1)}},
		}},
		{"an unheld send after a held one completes at once", 2, []int{0}, []step{
			{"done", 0, true, nil},
			{"done", 1, true, []any{c(1, 1)}},
			{"release", 0, true, []any{c(0, 0)}},
		}},
		{"a held send that sent nothing takes no id", 2, []int{0, 1}, []step{
			{"done", 0, false, nil},
			{"release", 0, false, nil},
			{"done", 1, true, nil},
			{"release", 1, false, []any{zc(0, 0)}},
		}},
		{"a release of a send that left without an id does nothing", 1, []int{0}, []step{
			{"done", 0, false, nil},
			{"release", 0, true, nil},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := NewErrorQueue(QueueConfig{})
			s := NewSender(q, false)
			tks := reserve(t, s, tc.reserves)
			for _, i := range tc.held {
				s.Hold(tks[i])
			}
			for i, st := range tc.steps {
				if st.op == "done" {
					s.Done(tks[st.i], st.arg)
				} else {
					s.Release(tks[st.i], st.arg)
				}
				if got := drain(q); !reflect.DeepEqual(got, st.want) {
					t.Fatalf("step %d (%s %d): queue = %v, want %v", i, st.op, st.i, got, st.want)
				}
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			if len(s.unreleased) != 0 || len(s.line) != 0 {
				t.Errorf("left behind: unreleased %v, line %v", s.unreleased, s.line)
			}
		})
	}
}
