package allocs

import "testing"

var sink []byte

func TestCount(t *testing.T) {
	runs := 0
	for _, tc := range []struct {
		name string
		f    func()
		want uint64
	}{
		{"none", func() {}, 0},
		{"every run", func() { sink = make([]byte, 64) }, 1000},
		// testing.AllocsPerRun reports 0 for this one.
		{"one in a thousand runs", func() {
			if runs++; runs%1000 == 0 {
				sink = make([]byte, 64)
			}
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Count(1000, tc.f); got != tc.want {
				t.Errorf("Count = %d, want %d", got, tc.want)
			}
		})
	}
}
