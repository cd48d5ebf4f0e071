package web

import (
	"context"
	"reflect"
	"slices"
	"time"

	"github.com/outpost-status/outpost/status"
)

// MinRenderInterval is how often a snapshot that changes nothing but
// freshness ("last checked") is rendered at most: the engine publishes many
// a second, and rendering each would take the cores the probes need. A
// site whose render takes long (thousands of components) waits longer:
// renderShare bounds the share of a core freshness alone may use.
const (
	MinRenderInterval = 2 * time.Second
	renderShare       = 10
)

// Offer hands the server a newer snapshot without waiting for it to be
// rendered: the engine's goroutine publishes and moves on; Run renders.
// Offering the snapshot offered last again changes nothing (the node's
// relay and the admin API may both offer a step's snapshot).
func (s *Server) Offer(snap *status.Snapshot) {
	s.rmu.Lock()
	if s.offered.Load() == snap {
		s.rmu.Unlock()
		return
	}
	s.offeredN++
	s.offered.Store(snap)
	s.rmu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run renders offered snapshots until ctx ends: the latest wins (those
// offered meanwhile are skipped), a change anyone can see is rendered at
// once, and one that only moves freshness at most every MinRenderInterval.
func (s *Server) Run(ctx context.Context) {
	s.rmu.Lock()
	s.running = true
	s.rmu.Unlock()
	defer func() { s.rmu.Lock(); s.running = false; s.rendered.Broadcast(); s.rmu.Unlock() }()
	var last *status.Snapshot
	var lastAt time.Time
	var took time.Duration
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
		for last != nil && !visibleChange(last, s.offered.Load()) {
			wait := max(MinRenderInterval, renderShare*took) - time.Since(lastAt)
			if wait <= 0 {
				break
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-s.wake: // maybe a visible change: look again
			case <-t.C:
			}
			t.Stop()
		}
		s.rmu.Lock()
		snap, n := s.offered.Load(), s.offeredN
		s.rmu.Unlock()
		began := time.Now()
		if err := s.Update(snap); err != nil {
			s.o.Logger.Error("render failed; serving the previous page", "error", err)
		}
		took = time.Since(began)
		s.rmu.Lock()
		s.renderedN = n
		s.rendered.Broadcast()
		s.rmu.Unlock()
		last, lastAt = snap, time.Now()
	}
}

// visibleChange reports whether b shows something a shows differently,
// beyond freshness: a status, an incident, a delay, a stale or no-data
// component, or refreshed history.
func visibleChange(a, b *status.Snapshot) bool {
	if !a.LastChange().Equal(b.LastChange()) || !a.DelayedSince.Equal(b.DelayedSince) ||
		!a.ConnectivitySince.Equal(b.ConnectivitySince) || !a.IsolatedSince.Equal(b.IsolatedSince) || a.NoData != b.NoData || a.Description != b.Description ||
		len(a.Incidents) != len(b.Incidents) || len(a.Maintenance) != len(b.Maintenance) || len(a.Scheduled) != len(b.Scheduled) ||
		len(a.Upcoming) != len(b.Upcoming) || len(a.Recent) != len(b.Recent) || len(a.Components) != len(b.Components) ||
		reflect.ValueOf(a.Uptime).UnsafePointer() != reflect.ValueOf(b.Uptime).UnsafePointer() {
		return true
	}
	if a.GeneratedAt.YearDay() != b.GeneratedAt.YearDay() { // the bars move on
		return true
	}
	for i := range a.Components {
		x, y := a.Components[i], b.Components[i]
		if x.ID != y.ID || x.Status != y.Status || x.Stale != y.Stale || x.NoData != y.NoData || x.Name != y.Name ||
			x.Description != y.Description || x.Group != y.Group || x.AffectedBy != y.AffectedBy {
			return true
		}
	}
	for i := range a.Upcoming { // a reload may re-time a configured window
		x, y := a.Upcoming[i], b.Upcoming[i]
		if x.ID != y.ID || x.Name != y.Name || x.Message != y.Message || !x.Start.Equal(y.Start) || !x.End.Equal(y.End) ||
			!slices.Equal(x.Components, y.Components) {
			return true
		}
	}
	return false
}

// awaitRender waits (a bounded time) until what was offered so far is
// served: a person who changed something through the admin API sees it on
// the page at once. Without Run (tests that call Update), it returns at
// once.
func (s *Server) awaitRender(ctx context.Context) {
	s.rmu.Lock()
	want := s.offeredN
	if s.renderedN >= want || !s.running {
		s.rmu.Unlock()
		return
	}
	s.rmu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { s.rmu.Lock(); s.rendered.Broadcast(); s.rmu.Unlock() })
	defer stop()
	s.rmu.Lock()
	defer s.rmu.Unlock()
	for s.renderedN < want && ctx.Err() == nil {
		s.rendered.Wait()
	}
}
