package statuspage

import (
	"fmt"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/outpost-status/outpost/status"
)

// The Statuspage view of a snapshot is built at every render of the read
// surfaces: its list and its index are made at their size, not grown by
// doubling (about 2.5 times what they keep, 5,000 components a render).
func TestViewAllocatesAboutWhatItKeeps(t *testing.T) {
	at := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	snap := &status.Snapshot{GeneratedAt: at}
	for i := range 2000 {
		snap.Components = append(snap.Components, status.ComponentView{ID: fmt.Sprintf("c%d", i), Name: "C", Status: status.Operational, Since: at, CreatedAt: at})
	}
	site := Site{ID: "p", Name: "P", URL: "https://p.test", TimeZone: "UTC", Location: time.UTC}
	New(site, snap)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	v := New(site, snap)
	runtime.ReadMemStats(&after)
	per := int(unsafe.Sizeof(Component{}))
	alloc := int(after.TotalAlloc - before.TotalAlloc)
	// The list, the index by id (key and value), and the components' time
	// stamps (two strings of 24 bytes each).
	if kept := len(v.list) * (2*per + 16 + 2*32); !raceOn && alloc > kept*3/2 {
		t.Errorf("the view of %d components allocated %d bytes for about %d kept (%.1f×)", len(v.list), alloc, kept, float64(alloc)/float64(kept))
	}
}
