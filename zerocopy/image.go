package zerocopy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Image is the notification state of one socket, its Sender and the
// Sender's ErrorQueue, as a checkpoint carries it: the next id, every queued
// completion and error in order, and the count of errors dropped. It knows
// nothing of any checkpoint format: MarshalBinary and UnmarshalBinary give
// it a versioned, checksummed byte form that a sandbox's state saver stores
// as an opaque value.
//
// The queue's configuration (limit, hooks, Stats) and the holdErrors choice
// are not part of it: the owner gives them again when it builds the new
// Sender and queue that Restore fills.
type Image struct {
	next    uint32
	dropped uint64
	items   []item
}

// ErrBadImage is wrapped by every error of Image.UnmarshalBinary.
var ErrBadImage = errors.New("zerocopy: bad error-queue image")

// ErrSendInProgress is returned by Sender.Image while a send is in line:
// its id and completion would not be in the image. A sandbox saves with
// every task stopped outside its system calls, so it never sees it.
var ErrSendInProgress = errors.New("zerocopy: a MSG_ZEROCOPY send is in progress")

// Image returns the state of s and of its queue, or ErrSendInProgress if a
// send is in line (a held error is always behind one).
func (s *Sender) Image() (Image, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.line) != 0 || len(s.held) != 0 {
		return Image{}, ErrSendInProgress
	}
	q := s.queue
	q.mu.Lock()
	defer q.mu.Unlock()
	// Queued entries are never changed in place: the image may share them.
	im := Image{next: s.next, dropped: q.dropped, items: make([]item, q.n)}
	for i := range im.items {
		im.items[i] = *q.atLocked(i)
	}
	return im, nil
}

// Restore sets s and its queue, which must be new and unused, to the state
// im holds. The queue's configuration stays its own; a queue longer than
// its limit keeps every entry, as a full queue keeps the completions it
// gets.
func (s *Sender) Restore(im *Image) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next = im.next
	q := s.queue
	q.mu.Lock()
	defer q.mu.Unlock()
	q.dropped = im.dropped
	for _, it := range im.items {
		q.pushBackLocked(it)
	}
}

// The byte form, little endian:
//
//	magic   "zcEQ"
//	version u8 (imageVersion)
//	next    u32
//	dropped u64
//	count   u32, then count items:
//	  tagCompletion u8, lo u32, hi u32, copied u8 (0 or 1)
//	  tagError u8, errno u32, origin, type, code, pad u8, info u32, data u32,
//	    offender u16 length + netip.Addr binary,
//	    dst u16 length + netip.AddrPort binary,
//	    payload u32 length + bytes
//	crc     u32, CRC-32C of everything before it
const (
	imageMagic   = "zcEQ"
	imageVersion = 1

	tagCompletion = 1
	tagError      = 2

	imageHeaderLen     = len(imageMagic) + 1 + 4 + 8 + 4
	imageCRCLen        = 4
	completionImageLen = 1 + 4 + 4 + 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// MarshalBinary implements encoding.BinaryMarshaler.
func (im *Image) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, imageHeaderLen+len(im.items)*completionImageLen+imageCRCLen)
	b = append(b, imageMagic...)
	b = append(b, imageVersion)
	b = binary.LittleEndian.AppendUint32(b, im.next)
	b = binary.LittleEndian.AppendUint64(b, im.dropped)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(im.items)))
	for i := range im.items {
		var err error
		if b, err = im.items[i].appendImage(b); err != nil {
			return nil, err
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

// appendImage appends the byte form of it.
func (it *item) appendImage(b []byte) ([]byte, error) {
	if it.err == nil {
		b = append(b, tagCompletion)
		b = binary.LittleEndian.AppendUint32(b, it.c.Lo)
		b = binary.LittleEndian.AppendUint32(b, it.c.Hi)
		if it.c.Copied {
			return append(b, 1), nil
		}
		return append(b, 0), nil
	}
	e := it.err
	b = append(b, tagError)
	b = binary.LittleEndian.AppendUint32(b, e.Err.Errno)
	b = append(b, e.Err.Origin, e.Err.Type, e.Err.Code, e.Err.Pad)
	b = binary.LittleEndian.AppendUint32(b, e.Err.Info)
	b = binary.LittleEndian.AppendUint32(b, e.Err.Data)
	off, _ := e.Offender.MarshalBinary()
	dst, _ := e.Dst.MarshalBinary()
	if len(off) > 0xffff || len(dst) > 0xffff || uint64(len(e.Payload)) > 0xffffffff {
		return nil, fmt.Errorf("zerocopy: error-queue entry too large for an image")
	}
	b = binary.LittleEndian.AppendUint16(b, uint16(len(off)))
	b = append(b, off...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(dst)))
	b = append(b, dst...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(e.Payload)))
	return append(b, e.Payload...), nil
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler. It checks the
// magic, version, length and checksum before it reads an entry, and every
// entry as it reads it; an error wraps ErrBadImage and leaves im unchanged.
// It copies what it keeps of b.
func (im *Image) UnmarshalBinary(b []byte) error {
	if len(b) < imageHeaderLen+imageCRCLen {
		return badImage("%d bytes, shorter than the smallest image (%d)", len(b), imageHeaderLen+imageCRCLen)
	}
	if string(b[:len(imageMagic)]) != imageMagic {
		return badImage("magic %q, want %q", b[:len(imageMagic)], imageMagic)
	}
	if v := b[len(imageMagic)]; v != imageVersion {
		return badImage("version %d, this build reads version %d", v, imageVersion)
	}
	body := b[:len(b)-imageCRCLen]
	if got, want := crc32.Checksum(body, castagnoli), binary.LittleEndian.Uint32(b[len(body):]); got != want {
		return badImage("checksum %#08x, image says %#08x", got, want)
	}
	r := imageReader{b: body[len(imageMagic)+1:]}
	var out Image
	out.next = r.u32()
	out.dropped = r.u64()
	n := r.u32()
	// Every entry takes at least completionImageLen bytes: a count the
	// rest cannot hold is refused before anything is allocated.
	if uint64(n) > uint64(len(r.b))/completionImageLen {
		return badImage("%d entries in %d bytes", n, len(r.b))
	}
	out.items = make([]item, 0, n)
	for i := range n {
		it, err := r.item()
		if err != nil {
			return badImage("entry %d: %v", i, err)
		}
		out.items = append(out.items, it)
	}
	if len(r.b) != 0 {
		return badImage("%d bytes after the last entry", len(r.b))
	}
	*im = out
	return nil
}

func badImage(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadImage, fmt.Sprintf(format, args...))
}

// imageReader reads the fixed-size fields of an image whose length its
// caller has checked, and the entries, checking their lengths.
type imageReader struct {
	b []byte
}

func (r *imageReader) u32() uint32 {
	v := binary.LittleEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *imageReader) u64() uint64 {
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

// bytes returns the next n bytes, or false if fewer are left.
func (r *imageReader) bytes(n int) ([]byte, bool) {
	if n > len(r.b) {
		return nil, false
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v, true
}

// item reads one entry.
func (r *imageReader) item() (item, error) {
	if len(r.b) == 0 {
		return item{}, errors.New("missing")
	}
	tag := r.b[0]
	switch tag {
	case tagCompletion:
		f, ok := r.bytes(completionImageLen)
		if !ok {
			return item{}, errors.New("truncated completion")
		}
		c := Completion{Lo: binary.LittleEndian.Uint32(f[1:]), Hi: binary.LittleEndian.Uint32(f[5:])}
		switch f[9] {
		case 0:
		case 1:
			c.Copied = true
		default:
			return item{}, fmt.Errorf("completion copied flag %d", f[9])
		}
		return item{c: c}, nil
	case tagError:
		return r.errorItem()
	default:
		return item{}, fmt.Errorf("tag %d", tag)
	}
}

// errorItem reads an entry that is not a completion.
func (r *imageReader) errorItem() (item, error) {
	f, ok := r.bytes(1 + 16)
	if !ok {
		return item{}, errors.New("truncated error")
	}
	var e Entry
	e.Err.Errno = binary.LittleEndian.Uint32(f[1:])
	e.Err.Origin, e.Err.Type, e.Err.Code, e.Err.Pad = f[5], f[6], f[7], f[8]
	e.Err.Info = binary.LittleEndian.Uint32(f[9:])
	e.Err.Data = binary.LittleEndian.Uint32(f[13:])
	if _, ok := completionOf(e.Err); ok {
		return item{}, errors.New("error entry holds a zerocopy completion")
	}
	off, ok := r.field(2)
	if !ok {
		return item{}, errors.New("truncated offender")
	}
	if err := e.Offender.UnmarshalBinary(off); err != nil {
		return item{}, fmt.Errorf("offender: %v", err)
	}
	dst, ok := r.field(2)
	if !ok {
		return item{}, errors.New("truncated destination")
	}
	if err := e.Dst.UnmarshalBinary(dst); err != nil {
		return item{}, fmt.Errorf("destination: %v", err)
	}
	p, ok := r.field(4)
	if !ok {
		return item{}, errors.New("truncated payload")
	}
	if len(p) > 0 {
		e.Payload = append([]byte(nil), p...)
	}
	return item{err: &e}, nil
}

// field reads a length of size bytes (2 or 4) and that many bytes.
func (r *imageReader) field(size int) ([]byte, bool) {
	l, ok := r.bytes(size)
	if !ok {
		return nil, false
	}
	n := uint64(binary.LittleEndian.Uint16(l))
	if size == 4 {
		n = uint64(binary.LittleEndian.Uint32(l))
	}
	if n > uint64(len(r.b)) {
		return nil, false
	}
	return r.bytes(int(n))
}
