package zerocopy

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"net/netip"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

// imageSender returns a sender whose queue holds completions, flagged and
// not, between ICMP and local errors, with next near the wrap and errors
// dropped: every kind of state an image carries.
func imageSender(t testing.TB, st *Stats) *Sender {
	t.Helper()
	q := NewErrorQueue(QueueConfig{Limit: 8, Stats: st})
	s := NewSender(q, true)
	s.mu.Lock()
	s.next = ^uint32(0) - 2
	s.mu.Unlock()
	send(t, s, true)
	send(t, s, true)
	q.Push(icmpErr(7))
	send(t, s, true)
	q.Complete(Completion{Lo: 9, Hi: 9})
	v6 := icmpErr(8)
	v6.Err.Origin = unix.SO_EE_ORIGIN_ICMP6
	v6.Offender = netip.MustParseAddr("fe80::1%eth0")
	v6.Dst = netip.MustParseAddrPort("[::1]:8")
	q.Push(v6)
	q.Push(Entry{Err: unix.SockExtendedErr{Errno: uint32(unix.EMSGSIZE), Origin: unix.SO_EE_ORIGIN_LOCAL, Info: 1500}})
	send(t, s, true)
	for q.Len() < 8 {
		q.Push(icmpErr(9))
	}
	if q.Push(icmpErr(10)) {
		t.Fatal("Push past the limit succeeded")
	}
	return s
}

// restored returns a new sender on a new queue holding im.
func restored(im *Image, cfg QueueConfig) *Sender {
	s := NewSender(NewErrorQueue(cfg), true)
	s.Restore(im)
	return s
}

func TestImageRoundTrip(t *testing.T) {
	s := imageSender(t, nil)
	im, err := s.Image()
	if err != nil {
		t.Fatal(err)
	}
	b, err := im.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got Image
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, im) {
		t.Fatalf("decoded image differs:\n got  %+v\n want %+v", got, im)
	}

	var st Stats
	r := restored(&got, QueueConfig{Limit: 8, Stats: &st})
	if r.nextID() != s.nextID() {
		t.Errorf("restored NextID = %d, want %d", r.nextID(), s.nextID())
	}
	if d := r.queue.Dropped(); d != 1 {
		t.Errorf("restored Dropped = %d, want 1", d)
	}
	if h := st.DepthHighWater.Load(); h != 8 {
		t.Errorf("DepthHighWater after restore = %d, want the restored depth 8", h)
	}
	if c := st.Completions.Load(); c != 0 {
		t.Errorf("Completions after restore = %d: restored completions were counted before the checkpoint", c)
	}
	if got, want := drain(r.queue), drain(s.queue); !reflect.DeepEqual(got, want) {
		t.Errorf("restored queue drains to\n %v\nwant\n %v", got, want)
	}
	// The counter continues where it stopped.
	next := s.nextID()
	send(t, r, true)
	if got, want := drain(r.queue), []any{c(next, next)}; !reflect.DeepEqual(got, want) {
		t.Errorf("first send after restore completes %v, want %v", got, want)
	}
}

// TestImageCompletionsCoalesceAfterRestore checks that a restored tail
// range keeps growing, as it would have without the checkpoint.
func TestImageCompletionsCoalesceAfterRestore(t *testing.T) {
	s := NewSender(NewErrorQueue(QueueConfig{}), false)
	for range 300 {
		send(t, s, true)
	}
	im, err := s.Image()
	if err != nil {
		t.Fatal(err)
	}
	r := restored(&im, QueueConfig{})
	send(t, r, true)
	if got, want := drain(r.queue), []any{c(0, 300)}; !reflect.DeepEqual(got, want) {
		t.Errorf("queue = %v, want %v", got, want)
	}
}

func TestImageRefusesSendInProgress(t *testing.T) {
	s := NewSender(NewErrorQueue(QueueConfig{}), true)
	tk, err := s.Reserve()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Image(); !errors.Is(err, ErrSendInProgress) {
		t.Errorf("Image with a send in line: %v, want ErrSendInProgress", err)
	}
	s.Done(tk, true)
	if _, err := s.Image(); err != nil {
		t.Errorf("Image after the send: %v", err)
	}
}

// withCRC returns body followed by its checksum: an image whose checksum
// holds, to reach the checks behind it.
func withCRC(body []byte) []byte {
	return binary.LittleEndian.AppendUint32(append([]byte(nil), body...), crc32.Checksum(body, castagnoli))
}

// header returns the fixed part of an image with count entries.
func header(count uint32) []byte {
	b := append([]byte(imageMagic), imageVersion)
	b = binary.LittleEndian.AppendUint32(b, 5)
	b = binary.LittleEndian.AppendUint64(b, 0)
	return binary.LittleEndian.AppendUint32(b, count)
}

func TestImageRejects(t *testing.T) {
	good, err := func() ([]byte, error) {
		im, err := imageSender(t, nil).Image()
		if err != nil {
			return nil, err
		}
		return im.MarshalBinary()
	}()
	if err != nil {
		t.Fatal(err)
	}
	cat := func(bs ...[]byte) []byte {
		var out []byte
		for _, b := range bs {
			out = append(out, b...)
		}
		return out
	}
	errEntry := func(origin byte, off, dst, payload []byte) []byte {
		b := []byte{tagError, 0, 0, 0, 0, origin, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
		b = binary.LittleEndian.AppendUint16(b, uint16(len(off)))
		b = append(b, off...)
		b = binary.LittleEndian.AppendUint16(b, uint16(len(dst)))
		b = append(b, dst...)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
		return append(b, payload...)
	}
	badVersion := append([]byte(nil), good...)
	badVersion[len(imageMagic)] = 2
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"short", good[:imageHeaderLen]},
		{"magic", withCRC(cat([]byte("zcEX"), header(0)[4:]))},
		{"version", withCRC(badVersion[:len(badVersion)-4])},
		{"checksum", cat(good[:len(good)-1], []byte{good[len(good)-1] ^ 1})},
		{"count beyond the bytes", withCRC(header(1))},
		{"huge count", withCRC(cat(header(^uint32(0)), make([]byte, 64)))},
		{"unknown tag", withCRC(cat(header(1), []byte{9, 0, 0, 0, 0, 0, 0, 0, 0, 0}))},
		{"copied flag 2", withCRC(cat(header(1), []byte{tagCompletion, 0, 0, 0, 0, 0, 0, 0, 0, 2}))},
		{"truncated completion", withCRC(cat(header(2), errEntry(unix.SO_EE_ORIGIN_ICMP, nil, []byte{0, 0}, nil), []byte{tagCompletion, 0, 0, 0}))},
		{"bytes after the last entry", withCRC(cat(header(1), []byte{tagCompletion, 0, 0, 0, 0, 0, 0, 0, 0, 1, 7}))},
		{"error holding a completion", withCRC(cat(header(1), errEntry(OriginZerocopy, nil, []byte{0, 0}, nil)))},
		{"offender of 5 bytes", withCRC(cat(header(1), errEntry(unix.SO_EE_ORIGIN_ICMP, []byte{1, 2, 3, 4, 5}, []byte{0, 0}, nil)))},
		{"destination without port", withCRC(cat(header(1), errEntry(unix.SO_EE_ORIGIN_ICMP, nil, []byte{127, 0, 0, 1}, nil)))},
		{"payload beyond the bytes", withCRC(cat(header(1), errEntry(unix.SO_EE_ORIGIN_ICMP, nil, []byte{0, 0}, nil)[:23], []byte{0xff, 0, 0, 0, 1}))},
		{"offender length beyond the bytes", withCRC(cat(header(1), []byte{tagError, 0, 0, 0, 0, unix.SO_EE_ORIGIN_ICMP, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			im := Image{next: 42}
			err := im.UnmarshalBinary(tc.b)
			if !errors.Is(err, ErrBadImage) {
				t.Fatalf("UnmarshalBinary = %v, want ErrBadImage", err)
			}
			if im.next != 42 {
				t.Errorf("a failed UnmarshalBinary changed the image")
			}
			t.Log(err)
		})
	}
}

// TestImageEveryCorruptionFails flips each bit and cuts the image at each
// length: every one is refused.
func TestImageEveryCorruptionFails(t *testing.T) {
	im, err := imageSender(t, nil).Image()
	if err != nil {
		t.Fatal(err)
	}
	good, err := im.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var dec Image
	for i := range good {
		for bit := range 8 {
			b := append([]byte(nil), good...)
			b[i] ^= 1 << bit
			if err := dec.UnmarshalBinary(b); !errors.Is(err, ErrBadImage) {
				t.Fatalf("bit %d of byte %d flipped: %v", bit, i, err)
			}
		}
		if err := dec.UnmarshalBinary(good[:i]); !errors.Is(err, ErrBadImage) {
			t.Fatalf("cut at %d: %v", i, err)
		}
	}
}

// FuzzImage checks that the decoder of checkpoint images never panics and
// that what it accepts encodes back to the same bytes. The checksum is
// appended to the fuzzer's bytes, so that it reaches the entries.
func FuzzImage(f *testing.F) {
	im, err := imageSender(f, nil).Image()
	if err != nil {
		f.Fatal(err)
	}
	good, err := im.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good[:len(good)-imageCRCLen])
	f.Add(header(0))
	f.Add(append(header(1), tagCompletion, 1, 0, 0, 0, 2, 0, 0, 0, 1))
	f.Fuzz(func(t *testing.T, body []byte) {
		var dec Image
		if err := dec.UnmarshalBinary(body); err != nil && !errors.Is(err, ErrBadImage) {
			t.Fatalf("error %v does not wrap ErrBadImage", err)
		}
		b := withCRC(body)
		if err := dec.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, ErrBadImage) {
				t.Fatalf("error %v does not wrap ErrBadImage", err)
			}
			return
		}
		again, err := dec.MarshalBinary()
		if err != nil {
			t.Fatalf("MarshalBinary of a decoded image: %v", err)
		}
		if string(again) != string(b) {
			t.Fatalf("decoded image encodes to\n %x\nnot\n %x", again, b)
		}
		s := restored(&dec, QueueConfig{})
		for {
			if _, ok := s.queue.Pop(); !ok {
				break
			}
		}
	})
}
