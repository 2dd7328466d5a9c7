package sentry

import (
	"sync/atomic"

	"gvisor.dev/gvisor/pkg/metric"

	"github.com/zcstack/zcstack/zerocopy"
)

// sandboxStats counts the zerocopy events of every socket of the sandbox. A
// sentry process runs one sandbox, so a package-level Stats is per sandbox.
// It is exported as the gVisor metrics of zerocopyMetrics.
var sandboxStats zerocopy.Stats

// zerocopyMetrics are the gVisor metrics that export sandboxStats, in
// Prometheus as runsc_zcstack_zerocopy_* (runsc export-metrics, runsc
// metric-server). Counters read 0 until their first event and are left out
// of exports until then, as gVisor leaves out every zero counter.
var zerocopyMetrics = []struct {
	name, description string
	cumulative        bool
	value             *atomic.Uint64
}{
	{"/zcstack/zerocopy/sends", "Number of MSG_ZEROCOPY send calls that took a notification id.", true, &sandboxStats.Sends},
	{"/zcstack/zerocopy/completions", "Number of MSG_ZEROCOPY notification ids completed.", true, &sandboxStats.Completions},
	{"/zcstack/zerocopy/coalesced", "Number of completions merged into the range at the tail of an error queue.", true, &sandboxStats.Coalesced},
	{"/zcstack/zerocopy/copy_backs", "Number of send calls that wrote SCM_ZC_NOTIFICATION completions back to the caller.", true, &sandboxStats.CopyBacks},
	{"/zcstack/zerocopy/copy_back_ranges", "Number of completion ranges written back by SCM_ZC_NOTIFICATION.", true, &sandboxStats.Notified},
	{"/zcstack/zerocopy/enobufs", "Number of MSG_ZEROCOPY sends refused with ENOBUFS because an error queue was full.", true, &sandboxStats.NoBufs},
	{"/zcstack/zerocopy/errqueue_depth_high_water", "Most entries any socket error queue has held.", false, &sandboxStats.DepthHighWater},
	{"/zcstack/zerocopy/host_sends", "Number of host MSG_ZEROCOPY sends that took a host id (--network=host).", true, &sandboxStats.HostSends},
	{"/zcstack/zerocopy/host_completions", "Number of host ids whose completions were read from the host (--network=host).", true, &sandboxStats.HostCompletions},
	{"/zcstack/zerocopy/host_copied", "Number of host ids the host completed with SO_EE_CODE_ZEROCOPY_COPIED (--network=host).", true, &sandboxStats.HostCopied},
	{"/zcstack/zerocopy/host_fallbacks", "Number of host sends made by copy because the host refused MSG_ZEROCOPY with ENOBUFS (--network=host).", true, &sandboxStats.HostFallbacks},
}

// gVisor requires metrics to be registered before metric.Initialize, which
// runsc's boot calls once the sandbox's kernel exists.
func init() {
	for _, m := range zerocopyMetrics {
		metric.MustRegisterCustomUint64Metric(m.name, metric.Uint64Metadata{
			Cumulative:  m.cumulative,
			Sync:        true,
			Description: m.description,
		}, func(...*metric.FieldValue) uint64 {
			return m.value.Load()
		})
	}
}
