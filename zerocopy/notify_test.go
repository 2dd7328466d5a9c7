package zerocopy

import (
	"bytes"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

// queueOf returns a queue holding the given completions and errors.
func queueOf(st *Stats, xs ...any) *ErrorQueue {
	q := NewErrorQueue(QueueConfig{Stats: st})
	fill(q, xs...)
	return q
}

// fill queues the given completions and errors on q.
func fill(q *ErrorQueue, xs ...any) {
	for _, x := range xs {
		switch x := x.(type) {
		case Completion:
			q.Complete(x)
		case Entry:
			q.Push(x)
		}
	}
}

func TestNotifyValidatesFirst(t *testing.T) {
	for _, tc := range []struct {
		name string
		on   bool
		msgs [][]byte
	}{
		{"SO_ZEROCOPY off", false, [][]byte{zcInfo(1, 1)}},
		{"second message invalid", true, [][]byte{zcInfo(1, 1), zcInfo(2, 1)}},
		{"size over the maximum", true, [][]byte{zcInfo(ZCNotificationMax+1, ZCNotificationMax+1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := queueOf(nil, c(0, 0))
			tx := NewNotify(q, tc.on)
			var err error
			for _, m := range tc.msgs {
				if err = tx.Add(m); err != nil {
					break
				}
			}
			if err != unix.EINVAL {
				t.Fatalf("Add = %v, want EINVAL", err)
			}
			if q.Len() != 1 {
				t.Errorf("a refused notification changed the queue")
			}
		})
	}
	if err := (&Notify{}).Add(zcInfo(0, 0)); err != unix.EINVAL {
		t.Errorf("Add without an error queue = %v, want EINVAL", err)
	}
}

func TestNotifyTakeFillsInOrder(t *testing.T) {
	var st Stats
	q := queueOf(&st, c(0, 0), icmpErr(1), c(2, 2), c(4, 4), c(6, 6))
	a, b := zcInfo(2, 2), zcInfo(1, 1)
	tx := NewNotify(q, true)
	for _, m := range [][]byte{a, b} {
		if err := tx.Add(m); err != nil {
			t.Fatal(err)
		}
	}
	tx.take()
	if !bytes.Equal(a, zcInfo(2, 2)) {
		t.Error("Take changed a message")
	}
	tx.fill()
	if got, want := tx.Taken(), []Completion{c(0, 0), c(2, 2), c(4, 4)}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Taken = %v, want %v", got, want)
	}
	ga, _ := DecodeZCInfo(a, nil)
	gb, _ := DecodeZCInfo(b, nil)
	if !reflect.DeepEqual(ga, []Completion{c(0, 0), c(2, 2)}) || !reflect.DeepEqual(gb, []Completion{c(4, 4)}) {
		t.Errorf("messages hold %v and %v", ga, gb)
	}
	tx.commit()
	if st.CopyBacks.Load() != 1 || st.Notified.Load() != 3 {
		t.Errorf("stats: %d copy-backs, %d notified", st.CopyBacks.Load(), st.Notified.Load())
	}
	if got := drain(q); !reflect.DeepEqual(got, []any{uint16(1), c(6, 6)}) {
		t.Errorf("left = %v", got)
	}
}

func TestNotifyAbortRequeues(t *testing.T) {
	q := queueOf(nil, c(0, 0), icmpErr(1), c(2, 2))
	tx := NewNotify(q, true)
	m := zcInfo(ZCNotificationMax, ZCNotificationMax)
	if err := tx.Add(m); err != nil {
		t.Fatal(err)
	}
	tx.take()
	q.Complete(c(3, 3)) // a send completes meanwhile
	tx.abort()
	want := []any{c(0, 0), c(2, 2), uint16(1), c(3, 3)}
	if got := drain(q); !reflect.DeepEqual(got, want) {
		t.Errorf("after Abort = %v, want %v", got, want)
	}
}

// TestNotifyManyMessages: more messages, and more room, than the fixed
// storage holds.
func TestNotifyManyMessages(t *testing.T) {
	var xs []any
	for i := uint32(0); i < 40; i++ {
		xs = append(xs, c(2*i, 2*i)) // gapped: no coalescing
	}
	q := queueOf(nil, xs...)
	tx := NewNotify(q, true)
	msgs := [][]byte{zcInfo(16, 16), zcInfo(0, 0), zcInfo(16, 16), zcInfo(3, 3)}
	for _, m := range msgs {
		if err := tx.Add(m); err != nil {
			t.Fatal(err)
		}
	}
	if tx.Messages() != 4 {
		t.Fatalf("Messages = %d", tx.Messages())
	}
	tx.take()
	tx.fill()
	if len(tx.Taken()) != 35 || q.Len() != 5 {
		t.Fatalf("took %d, left %d", len(tx.Taken()), q.Len())
	}
	var got []Completion
	for _, m := range msgs {
		got, _ = DecodeZCInfo(m, got)
	}
	if !reflect.DeepEqual(got, tx.Taken()) {
		t.Errorf("messages hold %v\nwant %v", got, tx.Taken())
	}
}

func BenchmarkNotify(b *testing.B) {
	q := NewErrorQueue(QueueConfig{})
	m := zcInfo(ZCNotificationMax, ZCNotificationMax)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		q.Complete(c(uint32(i), uint32(i)))
		m[0] = ZCNotificationMax // Take rewrote size
		tx := NewNotify(q, true)
		if err := tx.Add(m); err != nil {
			b.Fatal(err)
		}
		tx.take()
		tx.fill()
		tx.commit()
	}
}

// TestNotifySend: the transaction as a send drives it: the completions go
// to the caller only if the send sent something and finish succeeded;
// otherwise they are back at the front of the queue.
func TestNotifySend(t *testing.T) {
	errFinish := unix.EFAULT
	for _, tc := range []struct {
		name      string
		n         int
		sendErr   error
		finishErr error
		wantN     int
		wantErr   error
		delivered bool
	}{
		{"sent", 10, nil, nil, 10, nil, true},
		{"partial stream send", 4, unix.EPIPE, nil, 4, unix.EPIPE, true},
		{"failed send", 0, unix.EPIPE, nil, 0, unix.EPIPE, false},
		{"copy-back fault", 10, nil, errFinish, 0, errFinish, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var st Stats
			q := queueOf(&st, c(0, 0), icmpErr(1), c(2, 2))
			tx := NewNotify(q, true)
			m := zcInfo(ZCNotificationMax, ZCNotificationMax)
			if err := tx.Add(m); err != nil {
				t.Fatal(err)
			}
			var seen []Completion
			n, err := tx.Send(func() (int, error) {
				if q.Len() != 1 {
					t.Errorf("%d entries left during the send, want the ICMP error", q.Len())
				}
				return tc.n, tc.sendErr
			}, func(int) error {
				seen = append(seen, tx.Taken()...)
				return tc.finishErr
			})
			if n != tc.wantN || err != tc.wantErr {
				t.Errorf("Send = %d, %v; want %d, %v", n, err, tc.wantN, tc.wantErr)
			}
			left := drain(q)
			got, _ := DecodeZCInfo(m, nil)
			if tc.delivered {
				if want := []Completion{c(0, 0), c(2, 2)}; !reflect.DeepEqual(got, want) || !reflect.DeepEqual(seen, want) {
					t.Errorf("delivered %v, finish saw %v", got, seen)
				}
				if !reflect.DeepEqual(left, []any{uint16(1)}) || st.CopyBacks.Load() != 1 {
					t.Errorf("left %v, %d copy-backs", left, st.CopyBacks.Load())
				}
				return
			}
			if want := []any{c(0, 0), c(2, 2), uint16(1)}; !reflect.DeepEqual(left, want) {
				t.Errorf("left %v, want %v", left, want)
			}
			if st.CopyBacks.Load() != 0 {
				t.Errorf("a failed send counted a copy-back")
			}
		})
	}
}
