package zerocopy

import "golang.org/x/sys/unix"

// Notify is the SCM_ZC_NOTIFICATION part of one send call (the series'
// case in __sock_cmsg_send), which callers drive from their own layout of
// the control buffer:
//
//  1. Add each SOL_SOCKET/SCM_ZC_NOTIFICATION message, which validates it,
//     before anything is taken, so that an invalid message loses nothing;
//  2. Take, before the data is sent, so that a send never returns its own
//     completion: completions leave the error queue;
//  3. after the send, Abort if it failed, which puts the completions back
//     at the front of the queue (the series loses them); else Fill, which
//     writes them into the messages' zc_info in place, copy the messages
//     back to the caller, and Commit, or Abort if the copy-back failed.
//
// The zero Notify is not usable: start with NewNotify. It allocates nothing
// for up to two messages holding up to ZCNotificationMax completions in
// all.
type Notify struct {
	queue      *ErrorQueue
	zerocopyOn bool

	fixed [2]notifyMsg
	extra []notifyMsg
	n     int
	// want is how many completions to take: the sum of the messages'
	// sizes and of what Want asked for.
	want int
	// active reports that Add or Want succeeded.
	active bool

	buf   [ZCNotificationMax]Completion
	big   []Completion
	taken int
}

// notifyMsg is a validated message: its zc_info and zc_info.size.
type notifyMsg struct {
	data []byte
	size int
}

// NewNotify starts the notification of a send on a socket whose error queue
// is q and whose SO_ZEROCOPY is zerocopyOn. q may be nil while the socket
// has no queue; then no message can be added.
func NewNotify(q *ErrorQueue, zerocopyOn bool) Notify {
	return Notify{queue: q, zerocopyOn: zerocopyOn}
}

// Add validates the data of one SOL_SOCKET/SCM_ZC_NOTIFICATION message
// (cmsg_len minus the header) as the series does: EINVAL if SO_ZEROCOPY is
// off, then ParseZCInfo's rules. data is filled in place by Take.
func (t *Notify) Add(data []byte) error {
	if !t.zerocopyOn || t.queue == nil {
		return unix.EINVAL
	}
	size, err := ParseZCInfo(data)
	if err != nil {
		return err
	}
	m := notifyMsg{data: data, size: size}
	if t.n < len(t.fixed) {
		t.fixed[t.n] = m
	} else {
		t.extra = append(t.extra, m)
	}
	t.n++
	t.want += size
	t.active = true
	return nil
}

// Want makes room for n completions that go to no message, for callers
// that take completions without a control buffer and read them with
// Taken: EINVAL if SO_ZEROCOPY is off.
func (t *Notify) Want(n int) error {
	if !t.zerocopyOn || t.queue == nil {
		return unix.EINVAL
	}
	t.want += n
	t.active = true
	return nil
}

// Messages returns the number of messages added.
func (t *Notify) Messages() int { return t.n }

// msg returns the i-th message added.
func (t *Notify) msg(i int) *notifyMsg {
	if i < len(t.fixed) {
		return &t.fixed[i]
	}
	return &t.extra[i-len(t.fixed)]
}

// Taken returns the completions Take took, in queue order.
func (t *Notify) Taken() []Completion {
	if t.big != nil {
		return t.big[:t.taken]
	}
	return t.buf[:t.taken]
}

// Take takes up to the messages' total size (and what Want asked for) of
// completions from the error queue, oldest first, leaving other errors in
// place.
func (t *Notify) Take() {
	if t.want == 0 {
		return
	}
	dst := t.buf[:]
	if t.want > len(dst) {
		t.big = make([]Completion, t.want)
		dst = t.big
	}
	t.taken = t.queue.Take(dst[:t.want])
}

// Fill writes the completions taken into the messages' zc_info in turn:
// size is the number each got, possibly 0.
func (t *Notify) Fill() {
	cs := t.Taken()
	for i := range t.n {
		m := t.msg(i)
		k := min(m.size, len(cs))
		PutZCInfo(m.data, cs[:k])
		cs = cs[k:]
	}
}

// Abort puts the completions taken back at the front of the queue, in
// order: the send or the copy-back failed.
func (t *Notify) Abort() {
	if t.taken > 0 {
		t.queue.Requeue(t.Taken())
		t.taken = 0
	}
}

// Commit records that the completions reached the caller.
func (t *Notify) Commit() {
	if !t.active {
		return
	}
	if s := t.queue.cfg.Stats; s != nil {
		s.CopyBacks.Add(1)
		s.Notified.Add(uint64(t.taken))
	}
}
