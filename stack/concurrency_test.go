package stack

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/zcstack/zcstack/zerocopy"
)

// TestConcurrentCompletions runs many goroutines sending with MSG_ZEROCOPY
// while others drain completions by MSG_ERRQUEUE and others by
// SCM_ZC_NOTIFICATION (zero-length sends and SendZerocopy): every id from 0
// to N-1 must be seen exactly once.
func TestConcurrentCompletions(t *testing.T) {
	for _, typ := range []int{unix.SOCK_STREAM, unix.SOCK_DGRAM} {
		name := map[int]string{unix.SOCK_STREAM: "tcp", unix.SOCK_DGRAM: "udp"}[typ]
		t.Run(name, func(t *testing.T) { testConcurrentCompletions(t, typ) })
	}
}

func testConcurrentCompletions(t *testing.T, typ int) {
	const (
		senders      = 4
		perSender    = 300
		errqDrainers = 2
		scmDrainers  = 2
		n            = senders * perSender
	)
	s := newStack(t)
	var tx, rx *Socket
	if typ == unix.SOCK_STREAM {
		tx, rx, _ = tcpPair(t, s, unix.AF_INET)
	} else {
		tx, rx = udpPair(t, s, unix.AF_INET6)
	}
	setInt(t, tx, unix.SOL_SOCKET, unix.SO_ZEROCOPY, 1)

	var (
		mu    sync.Mutex
		seen  = make([]int, n)
		extra []zerocopy.Completion
	)
	record := func(c zerocopy.Completion) {
		mu.Lock()
		defer mu.Unlock()
		for id := c.Lo; ; id++ {
			if id >= n {
				extra = append(extra, c)
			} else {
				seen[id]++
			}
			if id == c.Hi {
				break
			}
		}
	}
	var count atomic.Int64
	done := make(chan struct{})
	var doneOnce sync.Once
	stop := func() { doneOnce.Do(func() { close(done) }) }
	recordAll := func(cs []zerocopy.Completion) {
		for _, c := range cs {
			record(c)
			if count.Add(int64(c.Len())) >= n {
				stop()
			}
		}
	}

	// The receiver keeps TCP flowing; UDP datagrams may be dropped.
	rxDone := make(chan struct{})
	go func() {
		defer close(rxDone)
		b := make([]byte, 1<<16)
		for {
			_, _, _, _, err := rx.RecvMsg([][]byte{b}, nil, 0)
			if err != nil {
				return
			}
		}
	}()

	var sendWG, drainWG sync.WaitGroup
	for i := range senders {
		sendWG.Go(func() {
			var notify [3]zerocopy.Completion
			for j := range perSender {
				payload := []byte{byte(i), byte(j)}
				if j%5 == 0 {
					// SendZerocopy fetches as it sends.
					_, k, err := tx.SendZerocopy(payload, notify[:])
					if err != nil {
						t.Errorf("SendZerocopy: %v", err)
						return
					}
					recordAll(notify[:k])
					continue
				}
				if _, _, err := tx.SendMsg([][]byte{payload}, nil, netip.AddrPort{}, unix.MSG_ZEROCOPY); err != nil {
					t.Errorf("SendMsg: %v", err)
					return
				}
			}
		})
	}
	for range errqDrainers {
		drainWG.Go(func() {
			e, ch := waiter.NewChannelEntry(waiter.EventErr)
			tx.EventRegister(&e)
			defer tx.EventUnregister(&e)
			for {
				en, err := tx.RecvErr()
				if err == nil {
					c, ok := en.Completion()
					if !ok {
						t.Errorf("unexpected entry %+v", en)
						return
					}
					recordAll([]zerocopy.Completion{c})
					continue
				}
				if err != unix.EAGAIN {
					t.Errorf("RecvErr: %v", err)
					return
				}
				select {
				case <-ch:
				case <-done:
					return
				}
			}
		})
	}
	for i := range scmDrainers {
		drainWG.Go(func() {
			room := 1 + i*(zerocopy.ZCNotificationMax-1)
			oob := zcOOB(room)
			for {
				select {
				case <-done:
					return
				default:
				}
				// A zero-length send without MSG_ZEROCOPY takes no id,
				// on UDP too (where it sends an empty datagram).
				_, oobn, err := tx.SendMsg(nil, oob, netip.AddrPort{}, 0)
				if err != nil {
					t.Errorf("SendMsg fetch: %v", err)
					return
				}
				cs, err := zerocopy.DecodeZCInfo(oob[unix.CmsgLen(0):oobn], nil)
				if err != nil {
					t.Errorf("DecodeZCInfo: %v", err)
					return
				}
				recordAll(cs)
				// Reset size for the next call.
				copy(oob, zcOOB(room))
			}
		})
	}
	sendWG.Wait()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Errorf("%d of %d ids completed", count.Load(), n)
		stop()
	}
	drainWG.Wait()
	tx.Close()
	rx.Close()
	<-rxDone

	for id, k := range seen {
		if k != 1 {
			t.Errorf("id %d seen %d times", id, k)
		}
	}
	if len(extra) != 0 {
		t.Errorf("ids beyond %d: %v", n-1, extra)
	}
}
