package statuspage

import (
	"strings"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status"
)

// A feed entry is a function of the site and the snapshot: its id is its
// page's URL, its text is escaped, updates keep their order and
// affected components are named.
func TestFeedEntries(t *testing.T) {
	at := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone database")
	}
	inc := &status.Incident{ID: "inc-1", Name: "Checkout down", Status: status.Resolved, Components: []string{"shop", "gone"},
		CreatedAt: at, UpdatedAt: at.Add(time.Hour), Updates: []status.Update{
			{ID: "u1", Status: status.Investigating, Body: "We see <errors>", DisplayAt: at},
			{ID: "u2", Status: status.Resolved, Body: "Fixed & watching", DisplayAt: at.Add(time.Hour)},
		}}
	snap := &status.Snapshot{Components: []status.ComponentView{{ID: "shop", Name: "Shop"}}, Recent: []*status.Incident{inc}}
	es := FeedEntries(Site{URL: "https://status.example.com", Location: berlin}, snap)
	if len(es) != 1 {
		t.Fatalf("%d entries, want 1", len(es))
	}
	e := es[0]
	if e.ID != "https://status.example.com/incidents/inc-1" || e.Link != e.ID || e.Affected != "Shop" {
		t.Errorf("entry %+v", e)
	}
	if len(e.Updates) != 2 || e.Updates[0].ID != "u1" || e.Updates[1].Status != "Resolved" {
		t.Errorf("updates %+v, want oldest first", e.Updates)
	}
	if !strings.Contains(e.HTML, "We see &lt;errors&gt;") || strings.Contains(e.HTML, "<errors>") || !strings.Contains(e.HTML, "16:00 CET") {
		t.Errorf("html %q: escaped, newest first, in the site's zone", e.HTML)
	}
	if strings.Index(e.HTML, "Fixed") > strings.Index(e.HTML, "We see") {
		t.Errorf("html %q: the newest update comes first", e.HTML)
	}
	if got := FeedUpdated(snap, es); !got.Equal(at.Add(time.Hour)) {
		t.Errorf("feed updated %s", got)
	}
}
