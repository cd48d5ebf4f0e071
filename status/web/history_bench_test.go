package web

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/outpost-status/outpost/probes"
	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/store"
)

// manyIncidents serves 3,000 incidents over ten years (40 history pages)
// through the real engine and store, with snapshots published every
// second as the monitor does.
func manyIncidents(b *testing.B) *Server {
	st, err := store.Open(filepath.Join(b.TempDir(), "h.db"), store.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	m := &status.Model{AutoIncidents: true, ReopenWindow: time.Minute,
		Components: []status.ComponentDef{{ID: "api", Name: "API"}},
		Checks:     []status.CheckDef{{Name: "api-1", Component: "api", FailureThreshold: 1, SuccessThreshold: 1, Every: 30 * time.Second}}}
	e := status.NewEngine(m, nil)
	now := time.Date(2016, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range 6000 {
		o := probes.Down
		if i%2 == 1 {
			o = probes.Up
		}
		now = now.Add(15 * time.Hour)
		ch := e.Apply(status.Batch{Now: now, Results: []status.CheckResult{{Check: "api-1", At: now, Result: probes.Result{Outcome: o}}}})
		if _, err := st.Apply(store.Entry{At: now, Step: store.NewStep(ch, e.State(), nil)}); err != nil {
			b.Fatal(err)
		}
	}
	s, err := New(Options{Site: config.Site{Title: "Acme", URL: "http://acme.test", TimeZone: "UTC", Location: time.UTC},
		SiteID: "acme", Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	snap := e.Snapshot(now, now)
	if err := s.Update(snap); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // a snapshot a second, as the monitor publishes
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := s.Update(e.Snapshot(now, now)); err != nil {
					b.Error(err)
				}
			}
		}
	}()
	b.Cleanup(func() { cancel(); wg.Wait() })
	return s
}

// BenchmarkHistoryUnderLoad: four wrk clients on random /history/N pages
// while four more read /, against / alone in the same run. Old pages must
// not burn CPU: both p99s stay under 10 ms.
func BenchmarkHistoryUnderLoad(b *testing.B) {
	if _, err := exec.LookPath("wrk"); err != nil {
		b.Skip("wrk is not installed (apt-get install wrk)")
	}
	s := manyIncidents(b)
	addr := serveOn(b, s.Handler())
	script := filepath.Join(b.TempDir(), "history.lua")
	os.WriteFile(script, []byte(`math.randomseed(os.time())
request = function() return wrk.format("GET", "/history/" .. math.random(1, 40)) end
`), 0o600)
	four := []string{"-t1", "-c4"}
	alone := runWrkArgs(b, "http://"+addr+"/", four...)
	var hist wrkResult
	done := make(chan struct{})
	go func() { hist = runWrkArgs(b, "http://"+addr+"/history", append(four, "-s", script)...); close(done) }()
	page := runWrkArgs(b, "http://"+addr+"/", four...)
	<-done
	b.ReportMetric(alone.p99, "page-alone-p99-ms")
	b.ReportMetric(page.p99, "page-p99-ms")
	b.ReportMetric(hist.p99, "history-p99-ms")
	b.ReportMetric(hist.rps, "history-req/s")
	b.ReportMetric(page.rps, "page-req/s")
}
