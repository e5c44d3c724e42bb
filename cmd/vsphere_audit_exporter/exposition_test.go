package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The metrics path negotiates OpenMetrics, as node_exporter's does, and
// keeps the classic text format for a scraper that does not ask for it.
func TestExpositionOpenMetrics(t *testing.T) {
	e := startExporter(t)
	for _, c := range []struct {
		accept, wantType, wantEnd string
	}{
		{"application/openmetrics-text; version=1.0.0", "application/openmetrics-text; version=1.0.0; charset=utf-8", "\n# EOF\n"},
		{"", "text/plain; version=0.0.4; charset=utf-8", "\n"},
	} {
		req, _ := http.NewRequest(http.MethodGet, e.url, nil)
		if c.accept != "" {
			req.Header.Set("Accept", c.accept)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := resp.Header.Get("Content-Type"); !strings.HasPrefix(got, c.wantType) {
			t.Errorf("Accept %q: Content-Type %q, want %q", c.accept, got, c.wantType)
		}
		if !strings.HasSuffix(string(body), c.wantEnd) {
			t.Errorf("Accept %q: the exposition ends with %q, want %q", c.accept, body[max(0, len(body)-20):], c.wantEnd)
		}
		if !strings.Contains(string(body), "\nvsphere_audit_exporter_build_info{") {
			t.Errorf("Accept %q: no vsphere_audit_exporter_build_info", c.accept)
		}
		if hasEOF := strings.Contains(string(body), "# EOF"); hasEOF != (c.accept != "") {
			t.Errorf("Accept %q: # EOF present: %v", c.accept, hasEOF)
		}
	}
}

// The exporter's own metrics (go_*, process_*, promhttp_*) are there by
// default and counted per scrape by promhttp.InstrumentMetricHandler;
// --web.disable-exporter-metrics leaves every one of them out, and nothing
// else.
func TestExporterMetrics(t *testing.T) {
	for _, c := range []struct {
		name    string
		flags   []string
		present bool
	}{
		{"default", nil, true},
		{"disabled", []string{"--web.disable-exporter-metrics"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := startExporter(t, c.flags...)
			scrape(t, e.url)
			got := scrape(t, e.url) // the second: the first is counted
			want := map[string]float64{}
			if c.present {
				want = map[string]float64{
					// This scrape is in flight while it is gathered.
					"promhttp_metric_handler_requests_in_flight{}":            1,
					`promhttp_metric_handler_requests_total{code="200"}`:      1,
					`promhttp_metric_handler_requests_total{code="500"}`:      0,
					`promhttp_metric_handler_requests_total{code="503"}`:      0,
					`promhttp_metric_handler_errors_total{cause="encoding"}`:  0,
					`promhttp_metric_handler_errors_total{cause="gathering"}`: 0,
				}
			}
			var exporterOwn []string
			for k := range got {
				if strings.HasPrefix(k, "go_") || strings.HasPrefix(k, "process_") || strings.HasPrefix(k, "promhttp_") {
					exporterOwn = append(exporterOwn, k)
				}
			}
			for k, v := range want {
				if g, ok := got[k]; !ok || g != v {
					t.Errorf("%s = %v (present: %v), want %v", k, g, ok, v)
				}
			}
			if _, ok := got["go_goroutines{}"]; ok != c.present {
				t.Errorf("go_goroutines present: %v, want %v", ok, c.present)
			}
			if _, ok := got["process_start_time_seconds{}"]; ok != c.present {
				t.Errorf("process_start_time_seconds present: %v, want %v", ok, c.present)
			}
			if !c.present && len(exporterOwn) > 0 {
				t.Errorf("--web.disable-exporter-metrics still serves %v", exporterOwn)
			}
			if n := len(filterPrefix(got, "vsphere_audit_exporter_build_info")); n != 1 {
				t.Errorf("%d vsphere_audit_exporter_build_info series, want 1", n)
			}
		})
	}
}

func filterPrefix(m map[string]float64, prefix string) []string {
	var out []string
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return out
}

// blockingGatherer blocks its first Gather until release is closed.
type blockingGatherer struct {
	once             sync.Once
	entered, release chan struct{}
}

func (g *blockingGatherer) Gather() ([]*dto.MetricFamily, error) {
	g.once.Do(func() {
		close(g.entered)
		<-g.release
	})
	return prometheus.NewRegistry().Gather()
}

// --web.max-requests: with one scrape in flight and a limit of 1, the next
// is answered 503 at once, and counted with code 503.
func TestMaxRequests(t *testing.T) {
	g := &blockingGatherer{entered: make(chan struct{}), release: make(chan struct{})}
	h := metricsHandler(g, expositionOptions{maxRequests: 1}, slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(h)
	defer srv.Close()

	first := make(chan int, 1)
	go func() {
		resp, err := http.Get(srv.URL)
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	<-g.entered // the first scrape is being gathered

	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || string(body) != "Limit of concurrent requests reached (1), try again later.\n" {
		t.Errorf("second scrape with one in flight: %d %q, want 503 and the limit named", resp.StatusCode, body)
	}
	close(g.release)
	if code := <-first; code != http.StatusOK {
		t.Errorf("first scrape: %d, want 200", code)
	}

	got := scrape(t, srv.URL)
	for k, v := range map[string]float64{
		`promhttp_metric_handler_requests_total{code="200"}`: 1,
		`promhttp_metric_handler_requests_total{code="503"}`: 1,
		"promhttp_metric_handler_requests_in_flight{}":       1,
	} {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present: %v), want %v", k, g, ok, v)
		}
	}
}

// A negative --web.max-requests is refused before anything starts.
func TestMaxRequestsFlag(t *testing.T) {
	if rc := run(context.Background(), []string{"serve", "--web.max-requests=-1", "--web.listen-address=127.0.0.1:0"}, nil, io.Discard, nil); rc != 2 {
		t.Errorf("--web.max-requests=-1: exit %d, want 2", rc)
	}
	o := expositionOptions{maxRequests: -1}
	if err := o.validate(); err == nil || err.Error() != "--web.max-requests must be 0 (no limit) or positive, got -1" {
		t.Errorf("validate: %v", err)
	}
}
