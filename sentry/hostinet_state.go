package sentry

import (
	"context"

	"gvisor.dev/gvisor/pkg/state"
)

// hostSocket is saved by gVisor's pkg/state as gVisor's stateify tool would
// generate it from the struct's state tags (TestSocketStateFields keeps
// these methods in step with the fields). Everything but the zerocopy state
// is gVisor's: hostinet saves its socket without the host descriptor, and
// restores a listening socket with a new host socket and every other one
// with none, whose calls fail as a reset connection's do. Of the zerocopy
// state only SO_ZEROCOPY is saved: the sends and completions in flight
// belong to a host socket that does not come back, and the memory they
// pinned is unpinned when the sandbox is saved for good (Release). A
// restored listener's accepted sockets get SO_ZEROCOPY from it (Accept).

// StateTypeName implements state.Type.
func (s *hostSocket) StateTypeName() string {
	return "zcstack/sentry.hostSocket"
}

// StateFields implements state.Type.
func (s *hostSocket) StateFields() []string {
	return []string{
		"vfsfd",
		"Socket",
		"inner",
		"host",
		"family",
		"skType",
		"protocol",
		"zc",
		"sockErr",
	}
}

// StateSave implements state.SaverLoader.
//
// +checklocksignore
func (s *hostSocket) StateSave(stateSinkObject state.Sink) {
	zcValue := s.saveZc()
	stateSinkObject.SaveValue(7, zcValue)
	sockErrValue := s.sockErr.Load()
	stateSinkObject.SaveValue(8, sockErrValue)
	stateSinkObject.Save(0, &s.vfsfd)
	stateSinkObject.Save(1, &s.Socket)
	stateSinkObject.Save(2, &s.inner)
	stateSinkObject.Save(3, &s.host)
	stateSinkObject.Save(4, &s.family)
	stateSinkObject.Save(5, &s.skType)
	stateSinkObject.Save(6, &s.protocol)
}

// StateLoad implements state.SaverLoader.
//
// +checklocksignore
func (s *hostSocket) StateLoad(ctx context.Context, stateSourceObject state.Source) {
	stateSourceObject.Load(0, &s.vfsfd)
	stateSourceObject.Load(1, &s.Socket)
	stateSourceObject.Load(2, &s.inner)
	stateSourceObject.Load(3, &s.host)
	stateSourceObject.Load(4, &s.family)
	stateSourceObject.Load(5, &s.skType)
	stateSourceObject.Load(6, &s.protocol)
	stateSourceObject.LoadValue(7, new(bool), func(y any) { s.loadZc(ctx, y.(bool)) })
	stateSourceObject.LoadValue(8, new(uint32), func(y any) { s.sockErr.Store(y.(uint32)) })
}

func init() {
	state.Register((*hostSocket)(nil))
}

// saveZc returns SO_ZEROCOPY.
func (s *hostSocket) saveZc() bool {
	zc := s.zc.Load()
	return zc != nil && zc.ZerocopyEnabled()
}

// loadZc gives a socket that had SO_ZEROCOPY a zerocopy state with it on,
// and sets the sandbox's zerocopy switch, so that its sends after the
// restore take the zerocopy path. Its host socket waits for hostinet's
// restore, so the state refers to it through hostFD.
func (s *hostSocket) loadZc(_ context.Context, on bool) {
	if !on {
		return
	}
	zerocopyUsed.Store(true)
	s.newZCState(true)
}
