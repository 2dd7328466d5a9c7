package zcsocket

import (
	"context"

	"gvisor.dev/gvisor/pkg/state"

	"github.com/zcstack/zcstack/zerocopy"
)

// State is saved by gVisor's pkg/state, as gVisor's stateify tool would
// generate it from the struct's state tags (the tool is not part of the
// gVisor Go module; TestStateFields keeps these methods in step with the
// fields). The zerocopy package knows nothing of gVisor: its Sender and
// ErrorQueue are saved as one opaque zerocopy.Image, in its checksummed
// byte form, and rebuilt by Restore with the hooks the image cannot hold.

// StateTypeName implements state.Type.
func (s *State) StateTypeName() string {
	return "zcstack/zcsocket.State"
}

// StateFields implements state.Type.
func (s *State) StateFields() []string {
	return []string{
		"ep",
		"family",
		"stype",
		"zerocopy",
		"sender",
	}
}

// StateSave implements state.SaverLoader.
//
// +checklocksignore
func (s *State) StateSave(stateSinkObject state.Sink) {
	zerocopyValue := s.saveZerocopy()
	stateSinkObject.SaveValue(3, zerocopyValue)
	senderValue := s.saveSender()
	stateSinkObject.SaveValue(4, senderValue)
	stateSinkObject.Save(0, &s.ep)
	stateSinkObject.Save(1, &s.family)
	stateSinkObject.Save(2, &s.stype)
}

// StateLoad implements state.SaverLoader.
//
// +checklocksignore
func (s *State) StateLoad(ctx context.Context, stateSourceObject state.Source) {
	stateSourceObject.Load(0, &s.ep)
	stateSourceObject.Load(1, &s.family)
	stateSourceObject.Load(2, &s.stype)
	stateSourceObject.LoadValue(3, new(bool), func(y any) { s.loadZerocopy(ctx, y.(bool)) })
	stateSourceObject.LoadValue(4, new(string), func(y any) { s.loadSender(ctx, y.(string)) })
}

func init() {
	state.Register((*State)(nil))
}

func (s *State) saveZerocopy() bool {
	return s.zerocopy.Load()
}

func (s *State) loadZerocopy(_ context.Context, on bool) {
	s.zerocopy.Store(on)
}

// saveSender returns the image of sender and queue. The sandbox saves with
// every task stopped outside its system calls, so no send is in line: if
// one were, the save would fail rather than lose its id.
func (s *State) saveSender() string {
	im, err := s.sender.Image()
	if err != nil {
		state.Failf("zcstack: saving a socket's error queue: %v", err)
	}
	b, err := im.MarshalBinary()
	if err != nil {
		state.Failf("zcstack: saving a socket's error queue: %v", err)
	}
	return string(b)
}

// loadSender checks the image and keeps it for Restore. A corrupted image
// fails the restore with the decoder's error.
func (s *State) loadSender(_ context.Context, b string) {
	var im zerocopy.Image
	if err := im.UnmarshalBinary([]byte(b)); err != nil {
		state.Failf("zcstack: restoring a socket's error queue: %v", err)
	}
	s.loaded = &im
}

// Restore rebuilds the error queue and the id counter of a State loaded
// from a checkpoint, with the limit, hooks and Stats of cfg, which the image
// does not hold; the family and type stay those of the image. Its owner
// calls it once, when the State is loaded and before any other use.
func (s *State) Restore(cfg Config) {
	s.init(cfg)
	s.sender.Restore(s.loaded)
	s.loaded = nil
}
