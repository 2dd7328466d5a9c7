package zcsocket

import (
	"bytes"
	"context"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/state"

	"github.com/zcstack/zcstack/internal/statecheck"
	"github.com/zcstack/zcstack/internal/zctest"
	"github.com/zcstack/zcstack/zerocopy"
)

func TestStateFields(t *testing.T) {
	if err := statecheck.Fields(&State{}); err != nil {
		t.Error(err)
	}
}

// savedState returns a datagram socket's State with SO_ZEROCOPY on, next
// id 3, and completions around a local error in its queue, without an
// endpoint: what pkg/state saves of the endpoint is gVisor's. Give it one
// (withEndpoint) before reading its queue, whose reads look at netstack's.
func savedState(t *testing.T) *State {
	t.Helper()
	s := New(nil, Config{Family: unix.AF_INET6, Type: unix.SOCK_DGRAM})
	s.SetZerocopy(true)
	for i := range 3 {
		tk, err := s.sender.Reserve()
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			s.sender.Push(one(zerocopy.Entry{
				Err:      unix.SockExtendedErr{Errno: uint32(unix.EMSGSIZE), Origin: unix.SO_EE_ORIGIN_LOCAL, Info: 1280},
				Offender: netip.MustParseAddr("::1"),
				Dst:      netip.MustParseAddrPort("[::1]:9"),
				Payload:  []byte("datagram"),
			}))
		}
		s.sender.Done(tk, true)
	}
	return s
}

// withEndpoint gives s a UDP endpoint whose netstack error queue is empty.
func withEndpoint(t *testing.T, s *State) {
	t.Helper()
	s.ep = udpToClosedPort(t)
}

// one returns a Sender.Push source of the single error e.
func one(e zerocopy.Entry) func() (zerocopy.Entry, bool) {
	done := false
	return func() (zerocopy.Entry, bool) {
		if done {
			return zerocopy.Entry{}, false
		}
		done = true
		return e, true
	}
}

// TestStateSaveLoad saves a State with gVisor's pkg/state and loads it: the
// loaded State, once restored, has SO_ZEROCOPY, the next id and the queue,
// in order, and the hooks of the new Config.
func TestStateSaveLoad(t *testing.T) {
	s := savedState(t)
	var img bytes.Buffer
	if _, err := state.Save(context.Background(), &img, s); err != nil {
		t.Fatalf("state.Save: %v", err)
	}
	var l State
	if _, err := state.Load(context.Background(), bytes.NewReader(img.Bytes()), &l); err != nil {
		t.Fatalf("state.Load: %v", err)
	}
	var st zerocopy.Stats
	notified := 0
	l.Restore(Config{Stats: &st, ErrorReport: func() { notified++ }})
	withEndpoint(t, s)
	withEndpoint(t, &l)

	if !l.ZerocopyEnabled() || l.Family() != unix.AF_INET6 || l.stype != unix.SOCK_DGRAM {
		t.Errorf("loaded zerocopy %v family %d type %d, want true, AF_INET6, SOCK_DGRAM", l.ZerocopyEnabled(), l.Family(), l.stype)
	}
	if got, want := zctest.Contents(l.queue), zctest.Contents(s.queue); !reflect.DeepEqual(got, want) {
		t.Errorf("loaded queue = %v, want %v", got, want)
	}
	if notified == 0 {
		t.Error("the loaded queue does not call the new Config's ErrorReport")
	}
	if !l.ZerocopyEnabled() {
		t.Error("SO_ZEROCOPY lost")
	}
	// The counter goes on from 3, and the sender holds errors behind the
	// sends in line, as a datagram socket's does.
	tk, err := l.sender.Reserve()
	if err != nil {
		t.Fatal(err)
	}
	l.sender.Push(one(zerocopy.Entry{Err: unix.SockExtendedErr{Errno: uint32(unix.EMSGSIZE), Origin: unix.SO_EE_ORIGIN_LOCAL}}))
	l.sender.Done(tk, true)
	if got, want := zctest.Contents(l.queue), []any{zerocopy.Completion{Lo: 3, Hi: 3, Copied: true}, unix.EMSGSIZE}; !reflect.DeepEqual(got, want) {
		t.Errorf("after restore, queue = %v, want %v", got, want)
	}
	if st.Sends.Load() != 1 {
		t.Errorf("Stats.Sends = %d, want 1: the new Config's Stats counts", st.Sends.Load())
	}
}

// TestStateLoadCorrupted flips a byte of the queue's image inside a saved
// State: the load fails with the image's error, and does not panic.
func TestStateLoadCorrupted(t *testing.T) {
	var img bytes.Buffer
	if _, err := state.Save(context.Background(), &img, savedState(t)); err != nil {
		t.Fatal(err)
	}
	b := img.Bytes()
	i := bytes.Index(b, []byte("zcEQ"))
	if i < 0 {
		t.Fatal("no zerocopy image in the saved state")
	}
	b[i+len("zcEQ")+2] ^= 1
	var l State
	_, err := state.Load(context.Background(), bytes.NewReader(b), &l)
	if err == nil || !strings.Contains(err.Error(), "zcstack: restoring a socket's error queue: zerocopy: bad error-queue image: checksum") {
		t.Errorf("state.Load of a corrupted image: %v", err)
	}
}

// TestStateSaveInProgress: a State saved while a send is in line fails
// the save instead of losing the send's id.
func TestStateSaveInProgress(t *testing.T) {
	s := New(nil, Config{Family: unix.AF_INET, Type: unix.SOCK_STREAM})
	if _, err := s.sender.Reserve(); err != nil {
		t.Fatal(err)
	}
	var img bytes.Buffer
	_, err := state.Save(context.Background(), &img, s)
	if err == nil || !strings.Contains(err.Error(), zerocopy.ErrSendInProgress.Error()) {
		t.Errorf("state.Save with a send in line: %v", err)
	}
}
