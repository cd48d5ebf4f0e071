package status

import (
	"fmt"
	"runtime"
	"testing"
	"time"
	"unsafe"
)

// A snapshot holds each component twice (in page order and in its group):
// it is built in arrays of the right size, not grown by doubling. At 5,000
// components the appends allocated about 5 MB a snapshot for 2 MB kept,
// for every publish.
func TestSnapshotAllocatesAboutWhatItKeeps(t *testing.T) {
	m := &Model{SiteTitle: "Scale", AutoIncidents: true, ReopenWindow: time.Minute}
	for i := range 2000 {
		id := fmt.Sprintf("c%d", i)
		m.Components = append(m.Components, ComponentDef{ID: id, Name: id, Group: fmt.Sprintf("G%d", i/10)})
		m.Checks = append(m.Checks, CheckDef{Name: id + "-1", Component: id, FailureThreshold: 1, SuccessThreshold: 1, Every: 30 * time.Second})
	}
	e := NewEngine(m, nil)
	e.Snapshot(t0, t0)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	s := e.Snapshot(t0, t0)
	runtime.ReadMemStats(&after)
	kept := 2 * len(s.Components) * int(unsafe.Sizeof(ComponentView{}))
	if alloc := after.TotalAlloc - before.TotalAlloc; !raceOn && alloc > uint64(kept)*5/4 {
		t.Errorf("a snapshot of %d components keeping %d bytes of views allocated %d bytes (%.1f×)", len(s.Components), kept, alloc, float64(alloc)/float64(kept))
	}
	if len(s.Groups) != 200 || len(s.Groups[7].Components) != 10 || s.Groups[7].Components[3].ID != "c73" {
		t.Errorf("groups: %d, group 7 has %d components", len(s.Groups), len(s.Groups[7].Components))
	}
}

// When the configuration lists each group's components together (the
// usual shape), a snapshot holds each component once: a group's members
// are its run of the page-order list, not a second copy (1.2 MB a
// snapshot at 5,000 components, at every publish). Interleaved groups
// still get their own members, in page order.
func TestSnapshotGroupsShareThePageOrderViews(t *testing.T) {
	for _, tc := range []struct {
		name   string
		group  func(i int) int
		shared bool
	}{
		{"groups listed together", func(i int) int { return i / 10 }, true},
		{"groups interleaved", func(i int) int { return i % 7 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &Model{SiteTitle: "Scale", AutoIncidents: true, ReopenWindow: time.Minute}
			for i := range 2000 {
				id := fmt.Sprintf("c%d", i)
				m.Components = append(m.Components, ComponentDef{ID: id, Name: id, Group: fmt.Sprintf("G%d", tc.group(i))})
				m.Checks = append(m.Checks, CheckDef{Name: id + "-1", Component: id, FailureThreshold: 1, SuccessThreshold: 1, Every: 30 * time.Second})
			}
			e := NewEngine(m, nil)
			e.Snapshot(t0, t0)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			s := e.Snapshot(t0, t0)
			runtime.ReadMemStats(&after)
			views, apart := 0, 0
			for _, g := range s.Groups {
				for i, c := range g.Components {
					views++
					if want := fmt.Sprintf("G%d", tc.group(componentIndex(t, c.ID))); c.Group != want || g.Name != want {
						t.Fatalf("%s is in group %q, listed under %q", c.ID, c.Group, g.Name)
					}
					if i > 0 && componentIndex(t, c.ID) < componentIndex(t, g.Components[i-1].ID) {
						t.Fatalf("group %s lists %s after %s", g.Name, c.ID, g.Components[i-1].ID)
					}
					if !sameView(&g.Components[i], s.Components) {
						apart++
					}
				}
			}
			if views != len(s.Components) {
				t.Fatalf("%d views in groups for %d components", views, len(s.Components))
			}
			if tc.shared && apart > 0 {
				t.Errorf("%d of %d group members kept apart from the page-order views", apart, views)
			}
			kept := len(s.Components) * int(unsafe.Sizeof(ComponentView{}))
			t.Logf("%d components (%d bytes of views): %d bytes allocated", len(s.Components), kept, after.TotalAlloc-before.TotalAlloc)
			if alloc := after.TotalAlloc - before.TotalAlloc; tc.shared && !raceOn && alloc > uint64(kept)*3/2 {
				t.Errorf("a snapshot of %d components (%d bytes of views) allocated %d bytes (%.1f×)", len(s.Components), kept, alloc, float64(alloc)/float64(kept))
			}
		})
	}
}

func componentIndex(t *testing.T, id string) int {
	var i int
	if _, err := fmt.Sscanf(id, "c%d", &i); err != nil {
		t.Fatal(err)
	}
	return i
}

// sameView reports whether v is an element of list's array.
func sameView(v *ComponentView, list []ComponentView) bool {
	if len(list) == 0 {
		return false
	}
	start, size := uintptr(unsafe.Pointer(&list[0])), unsafe.Sizeof(ComponentView{})
	p := uintptr(unsafe.Pointer(v))
	return p >= start && p < start+uintptr(len(list))*size
}

// A step allocates about the sorted copy of its results and no more: the
// results it keeps are that copy's prefix, not a slice grown by doubling
// (at 5,000 results, about 1.7 MB more a step, copied a dozen times).
func TestStepAllocatesAboutItsResults(t *testing.T) {
	const n = 5000
	m := &Model{SiteTitle: "Scale", AutoIncidents: true, ReopenWindow: time.Minute}
	rs := make([]CheckResult, n)
	for i := range n {
		id := fmt.Sprintf("c%d", i)
		m.Components = append(m.Components, ComponentDef{ID: id, Name: id})
		m.Checks = append(m.Checks, CheckDef{Name: id + "-1", Component: id, FailureThreshold: 3, SuccessThreshold: 1, Every: 30 * time.Second})
		rs[i].Check = id + "-1"
	}
	e := NewEngine(m, nil)
	now := t0
	step := func() *Changes {
		now = now.Add(time.Second)
		for i := range rs {
			rs[i].At, rs[i].Result.Outcome = now, 0
		}
		return e.Apply(Batch{Now: now, Results: rs})
	}
	step() // every check and component met once
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	ch := step()
	runtime.ReadMemStats(&after)
	copyOf := n * int(unsafe.Sizeof(CheckResult{}))
	if alloc := after.TotalAlloc - before.TotalAlloc; !raceOn && alloc > uint64(copyOf)*3/2 {
		t.Errorf("a step of %d results (a copy: %d bytes) allocated %d bytes (%.1f×)", n, copyOf, alloc, float64(alloc)/float64(copyOf))
	}
	if len(ch.Results) != n || ch.Results[n-1].Check != "c999-1" {
		t.Fatalf("the step kept %d results, want %d, the last c999-1", len(ch.Results), n)
	}
}

// A model of 5,000 checks kept each check's settings twice: in Checks
// and in its component's list of the index. Each CheckDef's flags side by
// side (128 bytes, not 144) and every list made at its length kept 1.9 MB
// down to 1.5; the index's lists point into Checks (1.0).
func TestModelIndexHoldsItsChecksOnce(t *testing.T) {
	build := func() *Model {
		m := &Model{}
		for i := range 50 {
			m.Components = append(m.Components, ComponentDef{ID: fmt.Sprintf("c%d", i)})
		}
		m.Checks = make([]CheckDef, 0, 5000)
		for i := range 5000 {
			m.Checks = append(m.Checks, CheckDef{Name: fmt.Sprintf("check-%04d", i), Component: fmt.Sprintf("c%d", i%50),
				FailureThreshold: 1, SuccessThreshold: 1, Every: 30 * time.Second})
		}
		return m
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m := build()
	m.index()
	runtime.GC()
	runtime.ReadMemStats(&after)
	held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("a model of 5,000 checks and its index hold %.2f MiB", float64(held)/(1<<20))
	if !raceOn && held > 1130<<10 {
		t.Errorf("a model of 5,000 checks and its index hold %.2f MiB (limit 1.1)", float64(held)/(1<<20))
	}
	if got := m.checksOf("c7"); len(got) != 100 || got[1].Name != "check-0057" {
		t.Errorf("checks of c7: %d, second %+v", len(got), got[1])
	}
	if cans := m.idx.canaries; len(cans) != 0 {
		t.Errorf("%d canaries in a model without any", len(cans))
	}
	runtime.KeepAlive(m)
}
