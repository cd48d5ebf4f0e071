package web

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/config"
	"github.com/outpost-status/outpost/status/store"
)

// Rendering runs off the engine's goroutine: Offer returns at once, the
// latest offered snapshot wins, a visible change is rendered at once, and
// snapshots that only move freshness are rendered at most every
// MinRenderInterval.
func TestRendererCoalesces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, snap := testServer(t) // in the bubble: its channels must be
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go s.Run(ctx)
		base := s.Renders()
		fresh := func(d time.Duration) *status.Snapshot {
			c := *snap
			c.GeneratedAt = snap.GeneratedAt.Add(d)
			c.LastResultAt = c.GeneratedAt
			return &c
		}
		s.Offer(fresh(0))
		synctest.Wait()
		if s.Renders() != base+1 {
			t.Fatalf("the first offer rendered %d times", s.Renders()-base)
		}
		var last *status.Snapshot
		for i := range 10 {
			last = fresh(time.Duration(i+1) * time.Millisecond)
			s.Offer(last)
		}
		synctest.Wait()
		if s.Renders() != base+1 {
			t.Fatalf("freshness-only snapshots rendered at once (%d renders)", s.Renders()-base)
		}
		time.Sleep(MinRenderInterval)
		synctest.Wait()
		if s.Renders() != base+2 || s.current.Load().snap != last {
			t.Fatalf("after MinRenderInterval: %d renders, latest served: %v", s.Renders()-base, s.current.Load().snap == last)
		}
		visible := fresh(2 * time.Second)
		visible.DelayedSince = visible.GeneratedAt // a change anyone sees
		s.Offer(visible)
		synctest.Wait()
		if s.Renders() != base+3 || s.current.Load().snap != visible {
			t.Fatalf("a visible change was not rendered at once (%d renders)", s.Renders()-base)
		}
	})
}

// Every render that puts a new site in place signals Rendered, coalesced,
// and Served is the snapshot it was rendered from: the static export
// follows the server this way.
func TestRenderedSignalsWhatIsServed(t *testing.T) {
	s, snap := testServer(t)
	select { // testServer's own render
	case <-s.Rendered():
	default:
		t.Fatal("no signal after the first render")
	}
	later := *snap
	later.GeneratedAt = snap.GeneratedAt.Add(time.Second)
	for _, x := range []*status.Snapshot{snap, &later} {
		if err := s.Update(x); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-s.Rendered():
	default:
		t.Fatal("no signal after two more renders")
	}
	select {
	case <-s.Rendered():
		t.Fatal("two renders signalled twice: signals must coalesce")
	default:
	}
	if s.Served() != &later {
		t.Fatal("Served is not the snapshot rendered last")
	}
}

// The admin API answers once the page shows its change: the snapshot of
// the command's step is served when the answer comes, even when nothing
// else has offered it yet (the node's relay may lag behind the answer).
func TestAdminAnswersOnceItsStepIsServed(t *testing.T) {
	snap, st := fixture(t)
	next := *snap
	next.DelayedSince = snap.GeneratedAt // a change anyone sees
	id := snap.Incidents[0].ID
	s, err := New(Options{Site: config.Site{Title: "Acme Status", TimeZone: "UTC", Location: time.UTC}, SiteID: "acme", Store: st,
		Logger: slog.New(slog.DiscardHandler),
		Admin: &Admin{Tokens: []AdminToken{{Name: "ops", Hash: store.HashToken(writeToken)}},
			Do: func(context.Context, ...status.Command) ([]status.Reply, error) {
				return []status.Reply{{IncidentID: id}}, nil
			},
			Snapshot: func() *status.Snapshot { return &next }}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(snap); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	deadline := time.Now().Add(5 * time.Second)
	for running := false; !running; {
		s.rmu.Lock()
		running = s.running
		s.rmu.Unlock()
		if time.Now().After(deadline) {
			t.Fatal("the renderer did not start")
		}
		runtime.Gosched()
	}
	req := httptest.NewRequest(http.MethodPost, "/api/v1/incidents/"+id+"/updates", strings.NewReader(`{"message":"Still on it."}`))
	req.Header.Set("Authorization", "Bearer "+writeToken)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		t.Fatalf("update: %d %s", rec.Code, rec.Body)
	}
	if s.Served() != &next {
		t.Fatal("the answer came before its step's snapshot was served")
	}
}

// Offering the snapshot offered last again is nothing new to render:
// otherwise an admin's answer, offered after the node's relay offered
// the same snapshot, would wait out MinRenderInterval for it.
func TestOfferingTheSameSnapshotAgainIsNoNewOffer(t *testing.T) {
	s, snap := testServer(t)
	next := *snap
	s.Offer(&next)
	s.Offer(&next)
	s.rmu.Lock()
	n := s.offeredN
	s.rmu.Unlock()
	if n != 1 {
		t.Fatalf("two offers of one snapshot counted %d", n)
	}
}
