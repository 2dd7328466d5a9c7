// Package allocs counts the heap allocations of a piece of code, for tests
// that require it to make none.
package allocs

import (
	"runtime"
	"sync"
)

// mu serializes counts: the runtime's allocation counter is global.
var mu sync.Mutex

// windows is how many times Count measures.
const windows = 3

// Count runs f once to warm it up, then measures how many heap allocations
// runs more runs of f make in all, on a single P as testing.AllocsPerRun
// does. Unlike AllocsPerRun, which returns the average rounded down, it
// shows a single allocation in any number of runs. The runtime's own
// goroutines (the scavenger, timers) allocate now and then, and the
// runtime's counter includes them: Count measures up to three windows of
// runs runs and returns the least count, so that an allocation of f that
// recurs at least once in runs runs always shows.
func Count(runs int, f func()) uint64 {
	mu.Lock()
	defer mu.Unlock()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	f()
	least := ^uint64(0)
	for range windows {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range runs {
			f()
		}
		runtime.ReadMemStats(&after)
		least = min(least, after.Mallocs-before.Mallocs)
		if least == 0 {
			break
		}
	}
	return least
}
