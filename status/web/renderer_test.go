package web

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/outpost-status/outpost/status"
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
