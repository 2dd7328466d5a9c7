package zerocopy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// zcInfo builds cmsg data: a size field followed by n zero elements.
func zcInfo(size uint32, n int) []byte {
	b := binary.LittleEndian.AppendUint32(nil, size)
	return append(b, make([]byte, n*ZCInfoElemSize)...)
}

func TestParseZCInfo(t *testing.T) {
	for _, tc := range []struct {
		name    string
		data    []byte
		want    int
		wantErr error
	}{
		{"empty", nil, 0, unix.EINVAL},
		{"shorter than zc_info", []byte{0, 0, 0}, 0, unix.EINVAL},
		{"size 0", zcInfo(0, 0), 0, nil},
		{"size 1", zcInfo(1, 1), 1, nil},
		{"size max", zcInfo(ZCNotificationMax, ZCNotificationMax), ZCNotificationMax, nil},
		{"size over max", zcInfo(ZCNotificationMax+1, ZCNotificationMax+1), 0, unix.EINVAL},
		{"size huge", zcInfo(1<<31, 1), 0, unix.EINVAL},
		{"room for fewer than size", zcInfo(2, 1), 0, unix.EINVAL},
		{"room for more than size", zcInfo(1, 2), 0, unix.EINVAL},
		{"trailing byte", append(zcInfo(1, 1), 0), 0, unix.EINVAL},
		{"elements without padding", append(zcInfo(1, 0), make([]byte, 9)...), 0, unix.EINVAL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseZCInfo(tc.data)
			if !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Fatalf("ParseZCInfo err = %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("ParseZCInfo = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestPutZCInfoKeepsPaddingAndTail(t *testing.T) {
	data := zcInfo(3, 3)
	for i := ZCInfoHeaderSize; i < len(data); i++ {
		data[i] = 0xAA
	}
	putZCInfo(data, []Completion{{Lo: 1, Hi: 2, Copied: true}, {Lo: 7, Hi: 7}})
	want := []byte{
		2, 0, 0, 0, // size
		1, 0, 0, 0, 2, 0, 0, 0, 0, 0xAA, 0xAA, 0xAA, // copied: zerocopy 0
		7, 0, 0, 0, 7, 0, 0, 0, 1, 0xAA, 0xAA, 0xAA, // zerocopy 1
		0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, // untouched
	}
	if !bytes.Equal(data, want) {
		t.Fatalf("PutZCInfo wrote\n%x\nwant\n%x", data, want)
	}
	got, err := DecodeZCInfo(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != (Completion{1, 2, true}) || got[1] != (Completion{7, 7, false}) {
		t.Errorf("DecodeZCInfo = %+v", got)
	}
}

func TestDecodeZCInfoRejectsOversize(t *testing.T) {
	if _, err := DecodeZCInfo(zcInfo(2, 1), nil); err != unix.EINVAL {
		t.Errorf("size past the buffer: err = %v, want EINVAL", err)
	}
	if _, err := DecodeZCInfo([]byte{1}, nil); err != unix.EINVAL {
		t.Errorf("short buffer: err = %v, want EINVAL", err)
	}
}

func TestAppendZCInfoParses(t *testing.T) {
	for n := 0; n <= ZCNotificationMax; n++ {
		b := AppendZCInfo(nil, n)
		if len(b) != zcInfoLen(n) {
			t.Fatalf("AppendZCInfo(%d) has %d bytes, want %d", n, len(b), zcInfoLen(n))
		}
		if got, err := ParseZCInfo(b); err != nil || got != n {
			t.Fatalf("ParseZCInfo(AppendZCInfo(%d)) = %d, %v", n, got, err)
		}
	}
}

func TestExtendedErrRoundTrip(t *testing.T) {
	for _, c := range []Completion{{0, 0, false}, {5, 9, true}, {^uint32(0), 3, true}} {
		ee := c.ExtendedErr()
		if ee.Origin != unix.SO_EE_ORIGIN_ZEROCOPY || ee.Errno != 0 || ee.Info != c.Lo || ee.Data != c.Hi {
			t.Errorf("%+v.ExtendedErr() = %+v", c, ee)
		}
		if got, ok := completionOf(ee); !ok || got != c {
			t.Errorf("completionOf(%+v) = %+v, %v; want %+v", ee, got, ok, c)
		}
	}
	if _, ok := completionOf(unix.SockExtendedErr{Errno: uint32(unix.ECONNREFUSED), Origin: unix.SO_EE_ORIGIN_ICMP}); ok {
		t.Error("an ICMP error reads as a completion")
	}
	if _, ok := completionOf(unix.SockExtendedErr{Errno: uint32(unix.EIO), Origin: OriginZerocopy}); ok {
		t.Error("a zerocopy-origin entry with an errno reads as a completion")
	}
}

// FuzzParseZCInfo checks that the decoder of guest-supplied zc_info never
// panics, accepts exactly the lengths the series accepts, and that what it
// accepts can be filled and read back.
func FuzzParseZCInfo(f *testing.F) {
	f.Add(zcInfo(0, 0))
	f.Add(zcInfo(1, 1))
	f.Add(zcInfo(16, 16))
	f.Add(zcInfo(17, 17))
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		size, err := ParseZCInfo(data)
		if err != nil {
			if err != unix.EINVAL {
				t.Fatalf("err = %v, want EINVAL", err)
			}
			return
		}
		if size > ZCNotificationMax || len(data) != zcInfoLen(size) {
			t.Fatalf("accepted size %d with %d bytes", size, len(data))
		}
		cs := make([]Completion, size)
		for i := range cs {
			cs[i] = Completion{Lo: uint32(i), Hi: uint32(2 * i), Copied: i%2 == 0}
		}
		putZCInfo(data, cs)
		got, err := DecodeZCInfo(data, nil)
		if err != nil || len(got) != size {
			t.Fatalf("DecodeZCInfo = %v, %v", got, err)
		}
		for i := range got {
			if got[i] != cs[i] {
				t.Fatalf("element %d = %+v, want %+v", i, got[i], cs[i])
			}
		}
	})
}

// FuzzDecodeZCInfo checks the reader of a returned zc_info on any bytes.
func FuzzDecodeZCInfo(f *testing.F) {
	f.Add(zcInfo(2, 2))
	f.Add(zcInfo(3, 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := DecodeZCInfo(data, nil)
		if err != nil {
			return
		}
		if zcInfoLen(len(got)) > len(data) {
			t.Fatalf("decoded %d elements from %d bytes", len(got), len(data))
		}
	})
}
