package web

import (
	"bytes"
	"testing"
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
			p := cur.routes["/badge/"+c.ID+"/uptime.svg?window="+w]
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
