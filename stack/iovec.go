package stack

import "io"

// iovec is a copy of a caller's buffer list, as the kernel's iov_iter, and
// the position in it. Holding a copy keeps the caller's list off the heap
// when the iovec is.
type iovec struct {
	// list is the copy of the buffer list, bufs what is left of it.
	list [][]byte
	bufs [][]byte
	// off is the offset in bufs[0].
	off int
	// left is the number of bytes left.
	left int
}

// reset makes v the buffers bufs.
func (v *iovec) reset(bufs [][]byte) {
	clear(v.list)
	v.list = append(v.list[:0], bufs...)
	v.bufs, v.off, v.left = v.list, 0, 0
	for _, b := range bufs {
		v.left += len(b)
	}
}

// release drops the references to the caller's buffers.
func (v *iovec) release() {
	clear(v.list)
	v.bufs = nil
}

// iovecReader reads the concatenation of a list of buffers
// (tcpip.Payloader) without modifying the list.
type iovecReader struct {
	iovec
}

// Len implements tcpip.Payloader.
func (r *iovecReader) Len() int { return r.left }

// Read implements io.Reader.
func (r *iovecReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && len(r.bufs) > 0 {
		c := copy(p[n:], r.bufs[0][r.off:])
		n += c
		r.off += c
		if r.off == len(r.bufs[0]) {
			r.bufs, r.off = r.bufs[1:], 0
		}
	}
	r.left -= n
	return n, nil
}

// iovecWriter writes into a list of buffers (an io.Writer for
// tcpip.Endpoint.Read). It fills what fits and returns io.ErrShortWrite for
// the rest.
type iovecWriter struct {
	iovec
}

// Write implements io.Writer.
func (w *iovecWriter) Write(p []byte) (int, error) {
	n := 0
	bufs, off := w.bufs, w.off
	for n < len(p) && len(bufs) > 0 {
		c := copy(bufs[0][off:], p[n:])
		n += c
		off += c
		if off == len(bufs[0]) {
			bufs, off = bufs[1:], 0
		}
	}
	w.bufs, w.off = bufs, off
	w.left -= n
	if n < len(p) {
		return n, io.ErrShortWrite
	}
	return n, nil
}
