package sentry

import (
	"regexp"
	"strings"
	"sync"
	"testing"

	"gvisor.dev/gvisor/pkg/metric"
	"gvisor.dev/gvisor/pkg/prometheus"
)

// initializeMetrics runs metric.Initialize, which may run once per process,
// whatever the test count.
var initializeMetrics = sync.OnceValue(metric.Initialize)

// TestMetrics exports sandboxStats as runsc does (metric.Initialize at boot,
// then a snapshot written in Prometheus's text format) and checks what an
// operator scrapes.
func TestMetrics(t *testing.T) {
	for _, m := range zerocopyMetrics {
		// The name rule of gVisor's NewUint64Metric (metric.verifyName),
		// which custom metrics skip.
		if !regexp.MustCompile(`^(?:/[_\w]+)+$`).MatchString(m.name) {
			t.Errorf("invalid metric name %q", m.name)
		}
	}
	values := map[string]uint64{
		"/zcstack/zerocopy/sends":            7,
		"/zcstack/zerocopy/completions":      7,
		"/zcstack/zerocopy/coalesced":        4,
		"/zcstack/zerocopy/copy_backs":       2,
		"/zcstack/zerocopy/copy_back_ranges": 3,
		"/zcstack/zerocopy/host_sends":       9,
		"/zcstack/zerocopy/host_completions": 9,
		"/zcstack/zerocopy/host_copied":      8,
	}
	for _, m := range zerocopyMetrics {
		m.value.Store(values[m.name])
	}
	t.Cleanup(func() {
		for _, m := range zerocopyMetrics {
			m.value.Store(0)
		}
	})

	if err := initializeMetrics(); err != nil {
		t.Fatalf("metric.Initialize: %v", err)
	}
	reg, err := metric.GetMetricRegistration()
	if err != nil {
		t.Fatalf("GetMetricRegistration: %v", err)
	}
	registered := make(map[string]bool)
	for _, m := range reg.GetMetrics() {
		registered[m.GetName()] = true
	}
	for _, m := range zerocopyMetrics {
		if !registered[m.name] {
			t.Errorf("%s is not registered", m.name)
		}
	}

	snapshot, err := metric.GetSnapshot(metric.SnapshotOptions{})
	if err != nil {
		t.Fatalf("GetSnapshot: %v", err)
	}
	var b strings.Builder
	if _, err := prometheus.Write(&b, prometheus.ExportOptions{}, map[*prometheus.Snapshot]prometheus.SnapshotExportOptions{
		snapshot: {ExporterPrefix: "runsc_"},
	}); err != nil {
		t.Fatalf("prometheus.Write: %v", err)
	}
	var got []string
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(line, "runsc_zcstack_") {
			// Drop the timestamp.
			got = append(got, strings.Join(strings.Fields(line)[:2], " "))
		}
	}
	want := []string{
		// Zero counters (enobufs) are left out; gauges are not.
		"runsc_zcstack_zerocopy_coalesced 4",
		"runsc_zcstack_zerocopy_completions 7",
		"runsc_zcstack_zerocopy_copy_back_ranges 3",
		"runsc_zcstack_zerocopy_copy_backs 2",
		"runsc_zcstack_zerocopy_errqueue_depth_high_water 0",
		"runsc_zcstack_zerocopy_host_completions 9",
		"runsc_zcstack_zerocopy_host_copied 8",
		"runsc_zcstack_zerocopy_host_sends 9",
		"runsc_zcstack_zerocopy_sends 7",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("exported:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
