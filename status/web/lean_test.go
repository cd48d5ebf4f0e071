package web

import (
	"bytes"
	"maps"
	"runtime"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/outpost-status/outpost/status"
)

// An uptime badge shows a window and a figure, never the component: the
// components that read the same share one prepared response (at 5,000
// components, 20,000 copies of a few SVGs were a third of the live heap),
// and each route still serves the bytes of its own figure.
func TestUptimeBadgesShareTheirBytes(t *testing.T) {
	s, _ := testServer(t)
	snap := sizedSnapshot(10, 100) // 1,000 components, every one at 99.95 %
	low := snap.Components[7].ID
	u := snap.Uptime[low]
	u.Windows = map[string]float64{"24h": 0.5, "7d": 0.9995, "30d": 0.9995, "90d": 0.9995}
	snap.Uptime[low] = u
	if err := s.Update(snap); err != nil {
		t.Fatal(err)
	}
	cur := s.current.Load()
	distinct := map[*Prepared]bool{}
	for _, c := range snap.Components {
		for _, w := range uptimeWindows() {
			p := cur.route("/badge/" + c.ID + "/uptime.svg?window=" + w)
			if p == nil {
				t.Fatalf("no uptime badge for %s, window %s", c.ID, w)
			}
			v, ok := snap.Uptime[c.ID].Windows[w]
			if !ok {
				v = -1
			}
			if want := uptimeBadge(w, v); !bytes.Equal(p.Body, want) {
				t.Fatalf("%s %s: badge %q, want %q", c.ID, w, p.Body, want)
			}
			distinct[p] = true
		}
	}
	// 4 windows without data, and the one component's figure in each window.
	if len(distinct) != 8 {
		t.Errorf("%d prepared uptime badges for 1,000 components showing 8 distinct badges", len(distinct))
	}
}

// The page is rendered into a buffer the size of the last page: grown by
// doubling, a 7 MB page at 5,000 components allocated 18 MB a render and
// was kept in an 8 MiB array.
func TestPageRenderAllocatesAboutItsSize(t *testing.T) {
	s, _ := testServer(t)
	snap := sizedSnapshot(100, 10) // 1,000 components, a page of about 1.4 MB
	if _, err := s.r.index(snap); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	page, err := s.r.index(snap)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if spare := cap(page) - len(page); spare > len(page)/8 {
		t.Errorf("page of %d bytes kept in an array of %d", len(page), cap(page))
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; !raceOn && alloc > uint64(len(page))*3/2 {
		t.Errorf("re-rendering a page of %d bytes allocated %d bytes (%.1f×)", len(page), alloc, float64(alloc)/float64(len(page)))
	}
}

// A render that only moves freshness reuses the read surfaces as they
// are: at 1,000 components it copies their 5,000 routes into a map made
// at its size and marks the cache once, not route by route.
func TestFreshnessOnlyRenderAllocatesLittle(t *testing.T) {
	s, _ := testServer(t)
	snap := sizedSnapshot(100, 10)
	if err := s.Update(snap); err != nil {
		t.Fatal(err)
	}
	next := *snap
	next.GeneratedAt = snap.GeneratedAt.Add(time.Second)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := s.Update(&next); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if s.current.Load().route("/badge/c-7-3/uptime.svg?window=7d") == nil {
		t.Fatal("a reusing render lost a badge")
	}
	// The page and /api/v1/status are rendered again (about 300 KB at
	// 1,000 components); the map of 5,000 routes is about 400 KB.
	if alloc := after.TotalAlloc - before.TotalAlloc; !raceOn && alloc > 1180<<10 {
		t.Errorf("a freshness-only render of 1,000 components allocated %d KiB", alloc>>10)
	}
}

// within reports whether every byte of part lies in whole's array.
func within(part, whole []byte) bool {
	if len(part) == 0 || len(whole) == 0 {
		return len(part) == 0
	}
	p, w := uintptr(unsafe.Pointer(unsafe.SliceData(part))), uintptr(unsafe.Pointer(unsafe.SliceData(whole)))
	return p >= w && p+uintptr(len(part)) <= w+uintptr(len(whole))
}

// The component objects /api/v1/status keeps between renders are the
// served body's own bytes, not a second copy of it (4.5 MB at 5,000
// components, kept beside the body).
func TestAPIFragmentsAreTheServedBytes(t *testing.T) {
	s, _ := testServer(t)
	snap := sizedSnapshot(10, 100)
	for range 2 { // the second render reuses every fragment
		if err := s.Update(snap); err != nil {
			t.Fatal(err)
		}
		served := s.current.Load().route("/api/v1/status").Body
		s.apiFrags.mu.Lock()
		n, apart := len(snap.Components), 0
		for _, c := range snap.Components {
			if f, ok := s.apiFrags.m[c.ID]; !ok || !within(f.raw, served) {
				apart++
			}
		}
		s.apiFrags.mu.Unlock()
		if apart > 0 {
			t.Fatalf("%d of %d component objects kept apart from the served body", apart, n)
		}
	}
}

// The component blocks kept to render the next page are the served
// page's own bytes, not a second copy of the page.
func TestBlocksAreTheServedPage(t *testing.T) {
	s, _ := testServer(t)
	snap := sizedSnapshot(10, 100)
	next := *snap
	next.Components = slices.Clone(snap.Components)
	next.Components[3].Status = status.MajorOutage // a visible change: the page again, one block new
	next.Groups = slices.Clone(snap.Groups)
	next.Groups[0].Components = slices.Clone(snap.Groups[0].Components)
	next.Groups[0].Components[3].Status = status.MajorOutage
	for _, sn := range []*status.Snapshot{snap, &next} {
		if err := s.Update(sn); err != nil {
			t.Fatal(err)
		}
		page := s.current.Load().route("/").Body
		s.r.mu.Lock()
		n, apart := len(s.r.blocks), 0
		for _, b := range s.r.blocks {
			if !within(unsafe.Slice(unsafe.StringData(string(b.html)), len(b.html)), page) {
				apart++
			}
		}
		s.r.mu.Unlock()
		if n != len(snap.Components) || apart > 0 {
			t.Fatalf("%d of %d blocks kept apart from the served page", apart, n)
		}
	}
}

// A render that only moves freshness serves the read surfaces it reused
// as they are: it copies none of their routes (25,500 at 5,000
// components) into a map of its own and walks no cache to keep them. What
// it allocates is about /api/v1/status, rendered at every render.
func TestFreshnessOnlyRenderCopiesNoRoutes(t *testing.T) {
	s, _ := testServer(t)
	snap := sizedSnapshot(100, 10)
	if err := s.Update(snap); err != nil {
		t.Fatal(err)
	}
	next := *snap
	next.GeneratedAt = snap.GeneratedAt.Add(time.Second)
	if err := s.Update(&next); err != nil { // the api fragments settle
		t.Fatal(err)
	}
	again := next
	again.GeneratedAt = next.GeneratedAt.Add(time.Second)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := s.Update(&again); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	api := s.current.Load().route("/api/v1/status")
	if s.current.Load().route("/badge/c-7-3/uptime.svg?window=7d") == nil {
		t.Fatal("a reusing render lost a badge")
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d KiB; /api/v1/status is %d KiB (%d gzipped)", alloc>>10, len(api.Body)>>10, len(api.Gzip)>>10)
	// /api/v1/status is built in a growing buffer (up to twice its size)
	// and kept at its size: about three times its body.
	if limit := uint64(3*len(api.Body)) + 64<<10; !raceOn && alloc > limit {
		t.Errorf("a freshness-only render of %d components allocated %d KiB, more than %d KiB", len(snap.Components), alloc>>10, limit>>10)
	}
}

// Every gzip a site keeps is in an array of its own size: compressed into
// a buffer of a third of the body, a 7 MB page's 90 KB gzip kept a 2.3 MB
// array (a site's bodies compress 20 to 80 times, so most of that array
// was never written).
func TestGzipKeptAtItsSize(t *testing.T) {
	s, _ := testServer(t)
	snap := sizedSnapshot(100, 10) // 1,000 components
	if err := s.Update(snap); err != nil {
		t.Fatal(err)
	}
	kept, used, n := 0, 0, 0
	for path, p := range s.current.Load().all() {
		if p.Gzip == nil {
			continue
		}
		n++
		kept, used = kept+cap(p.Gzip), used+len(p.Gzip)
		if spare := cap(p.Gzip) - len(p.Gzip); spare > len(p.Gzip)/8+64 {
			t.Errorf("%s: gzip of %d bytes kept in an array of %d", path, len(p.Gzip), cap(p.Gzip))
		}
	}
	t.Logf("%d gzipped responses: %d bytes kept for %d bytes of gzip", n, kept, used)
}

// A component's badges are found by its id, not kept as five routes in
// the site's map: at 5,000 components that was 25,000 keys built at every
// full render and a map of 25,500 routes per site (two sites alive while
// a render replaces one). Every badge route still answers, with the bytes
// of what it shows.
func TestBadgesKeepNoRoutePerComponent(t *testing.T) {
	s, _ := testServer(t)
	snap := sizedSnapshot(10, 100) // 1,000 components in 10 groups
	if err := s.Update(snap); err != nil {
		t.Fatal(err)
	}
	cur := s.current.Load()
	if n, most := len(cur.surfaces), len(readPaths)+8+len(snap.Groups); n > most {
		t.Errorf("%d routes kept by key for %d components in %d groups (at most %d)", n, len(snap.Components), len(snap.Groups), most)
	}
	all := maps.Collect(cur.all())
	for _, c := range snap.Components {
		p := cur.route("/badge/" + c.ID + ".svg")
		if p == nil || !bytes.Equal(p.Body, statusBadge(c)) || all["/badge/"+c.ID+".svg"] != p {
			t.Fatalf("%s: status badge %v", c.ID, p)
		}
		for _, w := range uptimeWindows() {
			key := "/badge/" + c.ID + "/uptime.svg?window=" + w
			if p := cur.route(key); p == nil || all[key] != p {
				t.Fatalf("%s: no uptime badge for window %s", c.ID, w)
			}
		}
	}
	for _, key := range []string{"/badge/" + snap.Groups[0].ID + ".svg", "/api/v2/summary.json", "/feed.rss"} {
		if cur.route(key) == nil || all[key] == nil {
			t.Errorf("no route %s", key)
		}
	}
	for _, key := range []string{"/badge/nope.svg", "/badge/nope/uptime.svg?window=7d", "/badge/" + snap.Components[0].ID + "/uptime.svg?window=1y", "/badge/" + snap.Groups[0].ID + "/uptime.svg?window=7d"} {
		if p := cur.route(key); p != nil {
			t.Errorf("route %s answers", key)
		}
	}
}

// A component block is rendered into the renderer's scratch buffer and
// kept at its size, its sparkline appended number by number and its
// row's days compared without texts: each block of about 1.4 KB
// allocated 12.4 KB (62 MB when 5,000 components change, as in the
// warm-up when each check's first result arrives).
func TestBlockRenderAllocatesAboutItsSize(t *testing.T) {
	s, _ := testServer(t)
	snap := sizedSnapshot(100, 10) // 1,000 components
	if _, err := s.r.index(snap); err != nil {
		t.Fatal(err)
	}
	next := *snap
	next.Groups = slices.Clone(snap.Groups)
	for g := range next.Groups {
		next.Groups[g].Components = slices.Clone(next.Groups[g].Components)
		for i := range next.Groups[g].Components {
			next.Groups[g].Components[i].Status = status.DegradedPerformance
		}
	}
	s.r.mu.Lock()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	kept := 0
	for _, g := range next.Groups {
		for _, c := range g.Components {
			html, err := s.r.block(c, next.Uptime[c.ID], nil)
			if err != nil {
				t.Fatal(err)
			}
			kept += len(html)
		}
	}
	runtime.ReadMemStats(&after)
	s.r.mu.Unlock()
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("1,000 blocks of %d bytes in all: %d bytes allocated", kept, alloc)
	// Besides the block kept: its row, bars and sparkline (copied into
	// it) and the template's own work, about 5 KB a block.
	if limit := uint64(kept) + 1000*5200; !raceOn && alloc > limit {
		t.Errorf("rendering 1,000 blocks of %d bytes in all allocated %d bytes, more than %d", kept, alloc, limit)
	}
}
