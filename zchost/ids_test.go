package zchost

import (
	"reflect"
	"testing"

	"github.com/zcstack/zcstack/zerocopy"
)

func TestHostIDs(t *testing.T) {
	const max32 = ^uint32(0)
	txs := []*Tx{{}, {}, {}, {}}
	for _, tc := range []struct {
		name  string
		start uint32
		takes []int // index into txs, in host id order
		comps []zerocopy.Completion
		want  []int // the owners done, in order
		left  int   // ids in the window after
		base  uint32
	}{
		{"one range", 0, []int{0, 1, 0}, []zerocopy.Completion{{Lo: 0, Hi: 2}}, []int{0, 1, 0}, 0, 3},
		{"a range inside the window", 0, []int{0, 1, 2}, []zerocopy.Completion{{Lo: 1, Hi: 1}}, []int{1}, 3, 0},
		{"the window slides past completed ids", 0, []int{0, 1, 2},
			[]zerocopy.Completion{{Lo: 1, Hi: 1}, {Lo: 0, Hi: 0}}, []int{1, 0}, 1, 2},
		{"ids before and after the window are not ours", 5, []int{0, 1},
			[]zerocopy.Completion{{Lo: 0, Hi: 4}, {Lo: 7, Hi: 9}, {Lo: 3, Hi: 5}, {Lo: 6, Hi: 100}}, []int{0, 1}, 0, 7},
		{"a completed id is not completed twice", 0, []int{0, 1},
			[]zerocopy.Completion{{Lo: 0, Hi: 0}, {Lo: 0, Hi: 1}}, []int{0, 1}, 0, 2},
		{"ids wrap after 2^32-1", max32 - 1, []int{0, 1, 2, 3},
			[]zerocopy.Completion{{Lo: max32 - 1, Hi: 1}}, []int{0, 1, 2, 3}, 0, 2},
		{"a range that starts before the window wraps into it", max32, []int{0, 1},
			[]zerocopy.Completion{{Lo: max32 - 5, Hi: max32}}, []int{0}, 1, 0},
		{"a range of 2^32 ids", 10, []int{0, 1},
			[]zerocopy.Completion{{Lo: 11, Hi: 10}}, []int{0, 1}, 0, 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := hostIDs{next: tc.start}
			for _, i := range tc.takes {
				h.take(txs[i])
			}
			var done []*Tx
			for _, c := range tc.comps {
				done = h.complete(c, done)
			}
			var got []int
			for _, tx := range done {
				for i := range txs {
					if txs[i] == tx {
						got = append(got, i)
					}
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("done %v, want %v", got, tc.want)
			}
			if h.len() != tc.left || (tc.left > 0 && h.base != tc.base) || h.next != tc.start+uint32(len(tc.takes)) {
				t.Errorf("window: %d ids from %d, next %d; want %d from %d", h.len(), h.base, h.next, tc.left, tc.base)
			}
			if tc.left == 0 {
				// An empty window starts at the next id.
				h.take(txs[0])
				if h.base != h.next-1 {
					t.Errorf("after take on an empty window: base %d next %d", h.base, h.next)
				}
			}
		})
	}
}
