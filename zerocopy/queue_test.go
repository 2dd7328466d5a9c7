package zerocopy

import (
	"net/netip"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// icmpErr is a non-zerocopy entry, as an ICMP port unreachable makes one.
func icmpErr(port uint16) Entry {
	return Entry{
		Err:      unix.SockExtendedErr{Errno: uint32(unix.ECONNREFUSED), Origin: unix.SO_EE_ORIGIN_ICMP, Type: 3, Code: 3},
		Offender: netip.MustParseAddr("127.0.0.1"),
		Dst:      netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port),
		Payload:  []byte("x"),
	}
}

// drain pops every entry and describes it: completions as themselves,
// other errors by their Dst port.
func drain(q *ErrorQueue) []any {
	var out []any
	for {
		e, ok := q.Pop()
		if !ok {
			return out
		}
		if c, ok := e.Completion(); ok {
			out = append(out, c)
		} else {
			out = append(out, e.Dst.Port())
		}
	}
}

func c(lo, hi uint32) Completion { return Completion{Lo: lo, Hi: hi, Copied: true} }

func TestCompleteCoalescing(t *testing.T) {
	const max32 = ^uint32(0)
	for _, tc := range []struct {
		name string
		in   []Completion
		want []any
	}{
		{"single", []Completion{c(0, 0)}, []any{c(0, 0)}},
		{"contiguous", []Completion{c(0, 0), c(1, 1), c(2, 4), c(5, 5)}, []any{c(0, 5)}},
		{"gap", []Completion{c(0, 0), c(2, 2), c(3, 3)}, []any{c(0, 0), c(2, 3)}},
		{"out of order", []Completion{c(1, 1), c(0, 0), c(2, 2)}, []any{c(1, 1), c(0, 0), c(2, 2)}},
		{"copied flag change", []Completion{c(0, 0), {Lo: 1, Hi: 1}, {Lo: 2, Hi: 2}, c(3, 3)},
			[]any{c(0, 0), Completion{Lo: 1, Hi: 2}, c(3, 3)}},
		{"wrap", []Completion{c(max32-1, max32-1), c(max32, max32), c(0, 0), c(1, 1)}, []any{c(max32-1, 1)}},
		{"range reaching 2^32 ids stays split", []Completion{c(0, max32-1), c(max32, max32)},
			[]any{c(0, max32-1), c(max32, max32)}},
		{"range just under 2^32 ids merges", []Completion{c(1, max32-1), c(max32, max32)}, []any{c(1, max32)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := NewErrorQueue(QueueConfig{})
			for _, x := range tc.in {
				q.Complete(x)
			}
			if got := drain(q); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("queue = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestErrorsInterleaveInOrder(t *testing.T) {
	q := NewErrorQueue(QueueConfig{})
	q.Complete(c(0, 0))
	q.Complete(c(1, 1))
	q.Push(icmpErr(1000))
	q.Complete(c(2, 2)) // must not merge across the error
	q.Complete(c(3, 3))
	q.Push(icmpErr(1001))
	want := []any{c(0, 1), uint16(1000), c(2, 3), uint16(1001)}
	if got := drain(q); !reflect.DeepEqual(got, want) {
		t.Errorf("queue = %v, want %v", got, want)
	}
}

func TestTakeSkipsOtherErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		room      int
		wantTaken []Completion
		wantLeft  []any
	}{
		{"none", 0, nil, []any{uint16(1), c(0, 0), uint16(2), c(2, 2), c(4, 4), uint16(3)}},
		{"one", 1, []Completion{c(0, 0)}, []any{uint16(1), uint16(2), c(2, 2), c(4, 4), uint16(3)}},
		{"two", 2, []Completion{c(0, 0), c(2, 2)}, []any{uint16(1), uint16(2), c(4, 4), uint16(3)}},
		{"all", 16, []Completion{c(0, 0), c(2, 2), c(4, 4)}, []any{uint16(1), uint16(2), uint16(3)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := NewErrorQueue(QueueConfig{})
			q.Push(icmpErr(1))
			q.Complete(c(0, 0))
			q.Push(icmpErr(2))
			q.Complete(c(2, 2))
			q.Complete(c(4, 4))
			q.Push(icmpErr(3))
			dst := make([]Completion, tc.room)
			n := q.Take(dst)
			if !reflect.DeepEqual(dst[:n], tc.wantTaken) && !(n == 0 && tc.wantTaken == nil) {
				t.Errorf("Take = %v, want %v", dst[:n], tc.wantTaken)
			}
			if got := drain(q); !reflect.DeepEqual(got, tc.wantLeft) {
				t.Errorf("left = %v, want %v", got, tc.wantLeft)
			}
		})
	}
}

func TestRequeueRestoresOrder(t *testing.T) {
	q := NewErrorQueue(QueueConfig{})
	q.Complete(c(0, 0))
	q.Push(icmpErr(1))
	q.Complete(c(2, 2))
	q.Complete(c(4, 4))
	dst := make([]Completion, 2)
	n := q.Take(dst)
	q.Complete(c(5, 5)) // coalesces with 4 while the others are out
	q.Requeue(dst[:n])
	want := []any{c(0, 0), c(2, 2), uint16(1), c(4, 5)}
	if got := drain(q); !reflect.DeepEqual(got, want) {
		t.Errorf("after requeue = %v, want %v", got, want)
	}
}

func TestRingWrapsAndGrows(t *testing.T) {
	q := NewErrorQueue(QueueConfig{})
	// Gapped ids never coalesce. Popping the head after every third
	// completion moves head around the ring while it grows.
	var want []Completion
	for i := uint32(0); i < 100; i++ {
		q.Complete(c(2*i, 2*i))
		want = append(want, c(2*i, 2*i))
		if i%3 == 0 {
			e, _ := q.Pop()
			if got, _ := e.Completion(); got != want[0] {
				t.Fatalf("Pop = %v, want %v", got, want[0])
			}
			want = want[1:]
		}
	}
	// Take some from the middle of a wrapped ring and put them back, then
	// requeue one more at the front.
	taken := make([]Completion, ZCNotificationMax)
	n := q.Take(taken)
	q.Requeue(taken[:n])
	q.Requeue([]Completion{c(1000, 1000)})
	want = append([]Completion{c(1000, 1000)}, want...)
	var got []Completion
	for _, x := range drain(q) {
		got = append(got, x.(Completion))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("queue = %v\nwant %v", got, want)
	}
}

func TestAdmitAndPushBound(t *testing.T) {
	q := NewErrorQueue(QueueConfig{Limit: 2})
	q.Complete(c(0, 0))
	q.Complete(c(2, 2))
	if err := q.admit(c(3, 3)); err != nil {
		t.Errorf("admit of a completion that coalesces with the tail: %v", err)
	}
	if err := q.admit(c(5, 5)); err != unix.ENOBUFS {
		t.Errorf("admit on a full queue = %v, want ENOBUFS", err)
	}
	if q.Push(icmpErr(1)) {
		t.Error("Push on a full queue succeeded")
	}
	if q.Dropped() != 1 {
		t.Errorf("Dropped = %d, want 1", q.Dropped())
	}
	// Complete never drops, even past the limit.
	q.Complete(c(7, 7))
	if q.Len() != 3 {
		t.Errorf("Len = %d, want 3", q.Len())
	}
	q.Pop()
	q.Pop()
	if err := q.admit(c(9, 9)); err != nil {
		t.Errorf("admit after draining: %v", err)
	}
}

func TestErrorReport(t *testing.T) {
	var calls atomic.Int32
	q := NewErrorQueue(QueueConfig{Limit: 1, ErrorReport: func() { calls.Add(1) }})
	q.Complete(c(0, 0))       // new entry
	q.Complete(c(1, 1))       // extended: Linux calls sk_error_report too
	q.Push(icmpErr(1))        // refused: no wake-up
	q.Requeue([]Completion{}) // nothing: no wake-up
	if got := calls.Load(); got != 2 {
		t.Errorf("notify called %d times, want 2", got)
	}
	if !q.Ready() {
		t.Error("Ready() = false with an entry queued")
	}
	q.Pop()
	if q.Ready() {
		t.Error("Ready() = true on an empty queue")
	}
}

// TestConcurrentDeliveryExactlyOnce completes ids from several goroutines
// while others drain by Pop and by Take with requeues: every id is seen
// exactly once.
func TestConcurrentDeliveryExactlyOnce(t *testing.T) {
	const (
		senders   = 4
		perSender = 2000
		total     = senders * perSender
	)
	q := NewErrorQueue(QueueConfig{})
	s := NewSender(q, false)
	seen := make([]atomic.Int32, total)
	var delivered atomic.Int64
	record := func(c Completion) {
		for id := uint64(c.Lo); id <= uint64(c.Hi); id++ {
			seen[id].Add(1)
			delivered.Add(1)
		}
	}
	var wg sync.WaitGroup
	for i := 0; i < senders; i++ {
		wg.Go(func() {
			for j := 0; j < perSender; j++ {
				tk, err := s.Reserve()
				if err != nil {
					t.Error(err)
					return
				}
				s.Done(tk, true)
			}
		})
	}
	// The drainers stop when every id is delivered, or after a deadline so
	// that a lost completion fails the test instead of hanging it.
	deadline := time.Now().Add(30 * time.Second)
	running := func() bool { return delivered.Load() < total && time.Now().Before(deadline) }
	var drainers sync.WaitGroup
	drainers.Go(func() { // recvmsg(MSG_ERRQUEUE)
		for running() {
			if e, ok := q.Pop(); ok {
				if cc, ok := e.Completion(); ok {
					record(cc)
				}
			}
		}
	})
	drainers.Go(func() { // SCM_ZC_NOTIFICATION, with failed sends that requeue
		dst := make([]Completion, ZCNotificationMax)
		for i := 0; running(); i++ {
			n := q.Take(dst)
			if i%5 == 0 {
				q.Requeue(dst[:n])
				continue
			}
			for _, cc := range dst[:n] {
				record(cc)
			}
		}
	})
	wg.Wait()
	drainers.Wait()
	for id := range seen {
		if n := seen[id].Load(); n != 1 {
			t.Fatalf("id %d delivered %d times", id, n)
		}
	}
	if s.nextID() != total {
		t.Errorf("NextID = %d, want %d", s.nextID(), total)
	}
}

// BenchmarkCompleteCoalesced is the common case: each send's completion
// extends the tail.
func BenchmarkCompleteCoalesced(b *testing.B) {
	q := NewErrorQueue(QueueConfig{})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		q.Complete(c(uint32(i), uint32(i)))
	}
}

// BenchmarkTakeAfterCompletion is one sendmsg with SCM_ZC_NOTIFICATION after
// one send: take one completion.
func BenchmarkTakeAfterCompletion(b *testing.B) {
	q := NewErrorQueue(QueueConfig{})
	dst := make([]Completion, ZCNotificationMax)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		q.Complete(c(uint32(i), uint32(i)))
		if q.Take(dst) != 1 {
			b.Fatal("nothing taken")
		}
	}
}

// BenchmarkPopAfterCompletion is the same with recvmsg(MSG_ERRQUEUE).
func BenchmarkPopAfterCompletion(b *testing.B) {
	q := NewErrorQueue(QueueConfig{})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		q.Complete(c(uint32(i), uint32(i)))
		if _, ok := q.Pop(); !ok {
			b.Fatal("nothing popped")
		}
	}
}

// TestPopSetsSockErr follows Linux's sock_dequeue_err_skb: after a Pop the
// socket error is the errno of the new head if that is an ICMP error, else
// 0 if the popped entry was an ICMP error, else unchanged; and waiters are
// woken again while entries remain.
func TestPopSetsSockErr(t *testing.T) {
	local := Entry{Err: unix.SockExtendedErr{Errno: uint32(unix.EMSGSIZE), Origin: unix.SO_EE_ORIGIN_LOCAL}}
	unreach := icmpErr(2)
	unreach.Err.Errno = uint32(unix.EHOSTUNREACH)
	const unchanged = -1
	for _, tc := range []struct {
		name   string
		queue  []any // Completion or Entry
		errno  int   // the socket error after one Pop
		wakeup bool
	}{
		{"completion alone", []any{c(0, 0)}, unchanged, false},
		{"completion before ICMP", []any{c(0, 0), icmpErr(1)}, int(unix.ECONNREFUSED), true},
		{"ICMP alone", []any{icmpErr(1)}, 0, false},
		{"ICMP before ICMP", []any{icmpErr(1), unreach}, int(unix.EHOSTUNREACH), true},
		{"ICMP before completion", []any{icmpErr(1), c(0, 0)}, 0, true},
		{"local error before ICMP", []any{local, icmpErr(1)}, int(unix.ECONNREFUSED), true},
		{"local error alone", []any{local}, unchanged, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sockErr, wakes := unchanged, 0
			q := NewErrorQueue(QueueConfig{
				ErrorReport: func() { wakes++ },
				SetSockErr:  func(errno uint32) { sockErr = int(errno) },
			})
			for _, x := range tc.queue {
				switch x := x.(type) {
				case Completion:
					q.Complete(x)
				case Entry:
					q.Push(x)
				}
			}
			wakes = 0
			if _, ok := q.Pop(); !ok {
				t.Fatal("nothing popped")
			}
			if sockErr != tc.errno {
				t.Errorf("socket error = %d, want %d", sockErr, tc.errno)
			}
			if (wakes > 0) != tc.wakeup {
				t.Errorf("woken %d times, want a wake-up: %v", wakes, tc.wakeup)
			}
		})
	}
}

func TestStats(t *testing.T) {
	var st Stats
	q := NewErrorQueue(QueueConfig{Limit: 2, Stats: &st})
	s := NewSender(q, false)
	send(t, s, true)
	send(t, s, true) // coalesces
	q.Push(icmpErr(1))
	if _, err := s.Reserve(); err != unix.ENOBUFS {
		t.Fatalf("Reserve = %v, want ENOBUFS", err)
	}
	for _, x := range []struct {
		name      string
		got, want uint64
	}{
		{"Sends", st.Sends.Load(), 2},
		{"Completions", st.Completions.Load(), 2},
		{"Coalesced", st.Coalesced.Load(), 1},
		{"NoBufs", st.NoBufs.Load(), 1},
		{"DepthHighWater", st.DepthHighWater.Load(), 2},
	} {
		if x.got != x.want {
			t.Errorf("%s = %d, want %d", x.name, x.got, x.want)
		}
	}
}

// TestRefillBeforeReads: Pop and Take move the errors of the layer below
// into the queue before they read, so that a read sees them in order after
// what is queued; Take asks for all of them.
func TestRefillBeforeReads(t *testing.T) {
	for _, tc := range []struct {
		name string
		read func(q *ErrorQueue) any
		want any
	}{
		{"Pop", func(q *ErrorQueue) any { e, _ := q.Pop(); return e.Dst.Port() }, uint16(7)},
		{"Take", func(q *ErrorQueue) any {
			dst := make([]Completion, 2)
			return dst[:q.Take(dst)]
		}, []Completion{c(0, 0), c(5, 5)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			below := []any{icmpErr(7), c(5, 5)}
			var q *ErrorQueue
			q = NewErrorQueue(QueueConfig{Refill: func(all bool) {
				if all != (tc.name == "Take") {
					t.Errorf("Refill(all %v)", all)
				}
				fill(q, below...)
				below = nil
			}})
			if tc.name == "Take" {
				q.Complete(c(0, 0))
			}
			if got := tc.read(q); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("read %v, want %v", got, tc.want)
			}
		})
	}
}

// TestPurgeErrors: turning IP_RECVERR off removes ICMP and local errors, held
// ones included, and keeps the completions in order, uncoalesced
// (skb_errqueue_purge).
func TestPurgeErrors(t *testing.T) {
	local := Entry{Err: unix.SockExtendedErr{Errno: uint32(unix.EMSGSIZE), Origin: unix.SO_EE_ORIGIN_LOCAL}}
	q := NewErrorQueue(QueueConfig{})
	s := NewSender(q, true)
	send(t, s, true)
	pushOne(s, icmpErr(1))
	send(t, s, true) // does not merge across the error
	pushOne(s, local)
	tk, _ := s.Reserve()
	pushOne(s, icmpErr(2)) // held behind the send in line
	s.PurgeErrors()
	s.Done(tk, true)
	want := []any{c(0, 0), c(1, 2)}
	if got := drain(q); !reflect.DeepEqual(got, want) {
		t.Errorf("after purge = %v, want %v", got, want)
	}
}

// TestErrorReportOutsideLocks: the wake-up hook runs with no lock of the
// queue or the Sender held, so that it may call back into them (a waiter
// that polls the socket, or sends again).
func TestErrorReportOutsideLocks(t *testing.T) {
	var q *ErrorQueue
	var s *Sender
	wakes := 0
	q = NewErrorQueue(QueueConfig{ErrorReport: func() {
		wakes++
		q.Len()
		s.nextID()
	}})
	s = NewSender(q, true)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tk, _ := s.Reserve()
		pushOne(s, icmpErr(1)) // held: no wake-up yet
		s.Done(tk, true)       // the completion and the held error: one wake-up
		pushOne(s, icmpErr(2))
		send(t, s, true)
		q.Pop()
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("a wake-up deadlocked")
	}
	if wakes != 4 {
		t.Errorf("%d wake-ups, want 4", wakes)
	}
}
