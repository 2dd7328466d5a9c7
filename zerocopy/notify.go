package zerocopy

import "golang.org/x/sys/unix"

// Notify is the SCM_ZC_NOTIFICATION part of one send call (the series'
// case in __sock_cmsg_send): Add validates each SOL_SOCKET/
// SCM_ZC_NOTIFICATION message before anything is taken, and Send runs the
// send with the completions taken, filled in and committed, or put back.
// Start with NewNotify; it allocates nothing for up to two messages holding
// up to ZCNotificationMax completions in all.
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
// off, then ParseZCInfo's rules. Send fills data in place.
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
// that take completions without a control buffer and read them with Taken
// in Send's finish: EINVAL if SO_ZEROCOPY is off.
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

// Taken returns the completions taken, in queue order: within Send's
// finish, those that go to the caller.
func (t *Notify) Taken() []Completion {
	if t.big != nil {
		return t.big[:t.taken]
	}
	return t.buf[:t.taken]
}

// Send runs one send call with the notification, in the series' order: it
// takes the completions before the data moves, so that a send never returns
// its own completion, and calls send. If the send failed (n == 0 and an
// error), it puts the completions back at the front of the queue, where the
// series loses them. Otherwise it writes them into the messages' zc_info in
// place and calls finish, if not nil, with the bytes sent, to hand them to
// the caller; if finish fails they go back too, and its error is returned.
func (t *Notify) Send(send func() (int, error), finish func(n int) error) (int, error) {
	t.take()
	n, err := send()
	if n == 0 && err != nil {
		t.abort()
		return 0, err
	}
	t.fill()
	if finish != nil {
		if err := finish(n); err != nil {
			t.abort()
			return 0, err
		}
	}
	t.commit()
	return n, err
}

// take takes up to the messages' total size (and what Want asked for) of
// completions from the error queue, oldest first, leaving other errors in
// place.
func (t *Notify) take() {
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

// fill writes the completions taken into the messages' zc_info in turn:
// size is the number each got, possibly 0.
func (t *Notify) fill() {
	cs := t.Taken()
	for i := range t.n {
		m := t.msg(i)
		k := min(m.size, len(cs))
		putZCInfo(m.data, cs[:k])
		cs = cs[k:]
	}
}

// abort puts the completions taken back at the front of the queue, in
// order.
func (t *Notify) abort() {
	if t.taken > 0 {
		t.queue.Requeue(t.Taken())
		t.taken = 0
	}
}

// commit records that the completions reached the caller.
func (t *Notify) commit() {
	if !t.active {
		return
	}
	if s := t.queue.cfg.Stats; s != nil {
		s.CopyBacks.Add(1)
		s.Notified.Add(uint64(t.taken))
	}
}
