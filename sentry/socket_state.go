package sentry

import (
	"context"

	"gvisor.dev/gvisor/pkg/state"

	"github.com/zcstack/zcstack/zcsocket"
)

// zcSocket is saved by gVisor's pkg/state, as gVisor's stateify tool would
// generate it from the struct's state tags (TestSocketStateFields keeps
// these methods in step with the fields). Everything but the zerocopy state
// is gVisor's: the file descriptions, the netstack socket and endpoint and
// the wait queue are saved and restored as they are for a plain netstack
// socket, epoll and poll waiters included.

// StateTypeName implements state.Type.
func (s *zcSocket) StateTypeName() string {
	return "zcstack/sentry.zcSocket"
}

// StateFields implements state.Type.
func (s *zcSocket) StateFields() []string {
	return []string{
		"vfsfd",
		"Socket",
		"inner",
		"ep",
		"wq",
		"family",
		"skType",
		"protocol",
		"zc",
	}
}

// StateSave implements state.SaverLoader.
//
// +checklocksignore
func (s *zcSocket) StateSave(stateSinkObject state.Sink) {
	zcValue := s.saveZc()
	stateSinkObject.SaveValue(8, zcValue)
	stateSinkObject.Save(0, &s.vfsfd)
	stateSinkObject.Save(1, &s.Socket)
	stateSinkObject.Save(2, &s.inner)
	stateSinkObject.Save(3, &s.ep)
	stateSinkObject.Save(4, &s.wq)
	stateSinkObject.Save(5, &s.family)
	stateSinkObject.Save(6, &s.skType)
	stateSinkObject.Save(7, &s.protocol)
}

// StateLoad implements state.SaverLoader.
//
// +checklocksignore
func (s *zcSocket) StateLoad(ctx context.Context, stateSourceObject state.Source) {
	stateSourceObject.Load(0, &s.vfsfd)
	stateSourceObject.Load(1, &s.Socket)
	stateSourceObject.Load(2, &s.inner)
	stateSourceObject.Load(3, &s.ep)
	stateSourceObject.Load(4, &s.wq)
	stateSourceObject.Load(5, &s.family)
	stateSourceObject.Load(6, &s.skType)
	stateSourceObject.Load(7, &s.protocol)
	stateSourceObject.LoadValue(8, new(*zcsocket.State), func(y any) { s.loadZc(ctx, y.(*zcsocket.State)) })
}

func init() {
	state.Register((*zcSocket)(nil))
}

func (s *zcSocket) saveZc() *zcsocket.State {
	return s.zc.Load()
}

// loadZc installs the loaded zerocopy state, if the socket had one, with
// the hooks of this sandbox: POLLERR on the restored wait queue, and the
// sandbox's Stats, which start from zero after a restore as gVisor's own
// metrics do. A socket that had SO_ZEROCOPY sets the sandbox's zerocopy
// switch again, so that its first send after the restore takes the
// zerocopy path.
func (s *zcSocket) loadZc(_ context.Context, zc *zcsocket.State) {
	if zc == nil {
		return
	}
	zc.Restore(s.zcConfig())
	s.zc.Store(zc)
	zerocopyUsed.Store(true)
}
