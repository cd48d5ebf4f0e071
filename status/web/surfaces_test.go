package web

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"
)

// field kinds for the schema pins below.
const (
	str = iota
	strOrNull
	num
	boolean
	array
	arrayOrNull
	object
)

type schema map[string]int

var (
	pageSchema      = schema{"id": str, "name": str, "url": str, "time_zone": str, "updated_at": str}
	statusSchema    = schema{"indicator": str, "description": str}
	componentSchema = schema{"id": str, "name": str, "status": str, "created_at": str, "updated_at": str, "position": num,
		"description": strOrNull, "showcase": boolean, "start_date": strOrNull, "group_id": strOrNull, "page_id": str,
		"group": boolean, "only_show_if_degraded": boolean}
	incidentSchema = schema{"id": str, "name": str, "status": str, "impact": str, "created_at": str, "updated_at": str,
		"monitoring_at": strOrNull, "resolved_at": strOrNull, "started_at": str, "shortlink": str, "page_id": str,
		"incident_updates": array, "components": array}
	updateSchema = schema{"id": str, "status": str, "body": str, "incident_id": str, "created_at": str, "updated_at": str,
		"display_at": str, "affected_components": arrayOrNull}
	maintenanceSchema = func() schema {
		m := schema{"scheduled_for": str, "scheduled_until": str}
		for k, v := range incidentSchema {
			m[k] = v
		}
		m["started_at"] = strOrNull // until it starts, as Statuspage's
		return m
	}()
	componentStatuses   = []string{"operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"}
	incidentStatuses    = []string{"investigating", "identified", "monitoring", "resolved", "postmortem"}
	maintenanceStatuses = []string{"scheduled", "in_progress", "verifying", "completed"}
	impacts             = []string{"none", "minor", "major", "critical", "maintenance"}
)

// check asserts obj has every field of sc with the right JSON type; extra
// fields are tolerated.
func (sc schema) check(t *testing.T, where string, obj any) map[string]any {
	t.Helper()
	m, ok := obj.(map[string]any)
	if !ok {
		t.Fatalf("%s: not an object: %v", where, obj)
	}
	for k, kind := range sc {
		v, present := m[k]
		if !present {
			t.Errorf("%s: missing %q", where, k)
			continue
		}
		ok := false
		switch kind {
		case str:
			_, ok = v.(string)
		case strOrNull:
			_, isStr := v.(string)
			ok = isStr || v == nil
		case num:
			_, ok = v.(float64)
		case boolean:
			_, ok = v.(bool)
		case array:
			_, ok = v.([]any)
		case arrayOrNull:
			_, isArray := v.([]any)
			ok = isArray || v == nil
		case object:
			_, ok = v.(map[string]any)
		}
		if !ok {
			t.Errorf("%s: %q has the wrong type: %#v", where, k, v)
		}
		if kind == str && strings.HasSuffix(k, "_at") || k == "scheduled_for" || k == "scheduled_until" {
			if s, _ := v.(string); s != "" {
				if _, err := time.Parse(time.RFC3339, s); err != nil {
					t.Errorf("%s: %q is not RFC 3339: %q", where, k, s)
				}
			}
		}
	}
	return m
}

func enum(t *testing.T, where, v string, allowed []string) {
	t.Helper()
	if !slices.Contains(allowed, v) {
		t.Errorf("%s: %q is not one of %v", where, v, allowed)
	}
}

func getJSON(t *testing.T, h http.Handler, path string) map[string]any {
	t.Helper()
	r := get(t, h, path)
	if r.StatusCode != 200 || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%s: %d %s", path, r.StatusCode, r.Header.Get("Content-Type"))
	}
	var v map[string]any
	if err := json.NewDecoder(r.Body).Decode(&v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	pageSchema.check(t, path+" page", v["page"])
	return v
}

func TestStatuspageV2(t *testing.T) {
	s, snap := testServer(t)
	h := s.Handler()
	checkIncidents := func(path string, list any, maint bool) int {
		items, _ := list.([]any)
		for i, x := range items {
			sc := incidentSchema
			statuses := incidentStatuses
			if maint {
				sc, statuses = maintenanceSchema, maintenanceStatuses
			}
			inc := sc.check(t, path, x)
			enum(t, path+" status", inc["status"].(string), statuses)
			enum(t, path+" impact", inc["impact"].(string), impacts)
			for _, u := range inc["incident_updates"].([]any) {
				up := updateSchema.check(t, path+" update", u)
				enum(t, path+" update status", up["status"].(string), append(incidentStatuses, maintenanceStatuses...))
				if up["incident_id"] != inc["id"] {
					t.Errorf("%s: update of %v names incident %v", path, inc["id"], up["incident_id"])
				}
			}
			for _, c := range inc["components"].([]any) {
				componentSchema.check(t, path+" incident component", c)
			}
			_ = i
		}
		return len(items)
	}

	sum := getJSON(t, h, "/api/v2/summary.json")
	st := statusSchema.check(t, "summary status", sum["status"])
	enum(t, "indicator", st["indicator"].(string), impacts[:4])
	if st["indicator"] != "critical" || st["description"] != "Major Service Outage" {
		t.Errorf("summary status %v", st)
	}
	comps := sum["components"].([]any)
	var group map[string]any
	for _, c := range comps {
		m := componentSchema.check(t, "summary component", c)
		enum(t, "component status", m["status"].(string), componentStatuses)
		if m["group"] == true {
			group = m
		}
	}
	if len(comps) != 4 || group == nil || group["id"] != "platform" || !slices.Equal(toStrings(group["components"]), []string{"api", "web"}) {
		t.Fatalf("components with group: %d, group %v", len(comps), group)
	}
	if n := checkIncidents("summary incidents", sum["incidents"], false); n != 1 {
		t.Errorf("summary lists %d unresolved incidents, want 1", n)
	}
	if n := checkIncidents("summary maintenances", sum["scheduled_maintenances"], true); n != 1 {
		t.Errorf("summary lists %d upcoming/active maintenances, want 1", n)
	}

	if v := getJSON(t, h, "/api/v2/status.json"); v["status"].(map[string]any)["indicator"] != "critical" {
		t.Error("status.json indicator")
	}
	if v := getJSON(t, h, "/api/v2/components.json"); len(v["components"].([]any)) != 4 {
		t.Error("components.json")
	}
	all := getJSON(t, h, "/api/v2/incidents.json")
	if n := checkIncidents("incidents.json", all["incidents"], false); n != len(snap.Recent) {
		t.Errorf("incidents.json lists %d, want %d", n, len(snap.Recent))
	}
	first := all["incidents"].([]any)[0].(map[string]any)
	if first["shortlink"] != "https://status.acme.test/incidents/"+first["id"].(string) {
		t.Errorf("shortlink %v", first["shortlink"])
	}
	if n := checkIncidents("unresolved", getJSON(t, h, "/api/v2/incidents/unresolved.json")["incidents"], false); n != 1 {
		t.Errorf("unresolved: %d", n)
	}
	up := getJSON(t, h, "/api/v2/scheduled-maintenances/upcoming.json")["scheduled_maintenances"]
	if n := checkIncidents("upcoming", up, true); n != 1 {
		t.Fatalf("upcoming: %d", n)
	}
	m := up.([]any)[0].(map[string]any)
	if m["status"] != "scheduled" || m["impact"] != "maintenance" || m["scheduled_for"] != "2026-03-12T14:02:00.000Z" || m["started_at"] != nil {
		t.Errorf("upcoming maintenance %v", m)
	}
	if n := checkIncidents("active", getJSON(t, h, "/api/v2/scheduled-maintenances/active.json")["scheduled_maintenances"], true); n != 0 {
		t.Errorf("active: %d", n)
	}
	checkIncidents("all maintenances", getJSON(t, h, "/api/v2/scheduled-maintenances.json")["scheduled_maintenances"], true)

	// Ids and bodies are stable across renders of the same state.
	before := get(t, h, "/api/v2/summary.json").Header.Get("ETag")
	snap.GeneratedAt = snap.GeneratedAt.Add(30 * time.Second)
	if err := s.Update(snap); err != nil {
		t.Fatal(err)
	}
	if after := get(t, h, "/api/v2/summary.json").Header.Get("ETag"); after != before {
		t.Error("summary.json changed with nothing but the clock")
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

func TestFeeds(t *testing.T) {
	s, snap := testServer(t)
	h := s.Handler()
	parser := gofeed.NewParser()
	for _, tc := range []struct{ path, ctype, format string }{
		{"/feed.rss", "application/rss+xml; charset=utf-8", "rss"},
		{"/history.rss", "application/rss+xml; charset=utf-8", "rss"},
		{"/feed.atom", "application/atom+xml; charset=utf-8", "atom"},
		{"/history.atom", "application/atom+xml; charset=utf-8", "atom"},
		{"/feed.json", "application/feed+json", "json"},
	} {
		r := get(t, h, tc.path)
		if r.Header.Get("Content-Type") != tc.ctype {
			t.Errorf("%s: content type %q", tc.path, r.Header.Get("Content-Type"))
		}
		f, err := parser.Parse(r.Body)
		if err != nil {
			t.Fatalf("%s does not parse: %v", tc.path, err)
		}
		// Decided (issue #16): RSS has one item per update (guid
		// INCIDENT#UPDATE, its own date); Atom and JSON Feed one entry per
		// incident. Upcoming configured maintenance is in every feed.
		entries, updates := len(snap.Recent)+len(snap.Upcoming), len(snap.Upcoming)
		for _, inc := range snap.Recent {
			updates += len(inc.Updates)
		}
		want := entries
		if tc.format == "rss" {
			want = updates
		}
		if f.FeedType != tc.format || len(f.Items) != want || f.Language != "en" {
			t.Fatalf("%s: %s with %d items in %q, want %s with %d in en", tc.path, f.FeedType, len(f.Items), f.Language, tc.format, want)
		}
		for _, it := range f.Items {
			guid := it.Link
			if tc.format == "rss" {
				guid = it.Link + "#"
			}
			if !strings.HasPrefix(it.Link, "https://status.acme.test/incidents/") || !strings.HasPrefix(it.GUID, guid) || (tc.format != "rss" && it.GUID != it.Link) {
				t.Errorf("%s: item link %q id %q", tc.path, it.Link, it.GUID)
			}
			if c := it.Content + it.Description; !strings.Contains(c, "We are investigating") && !strings.Contains(c, "resolved") &&
				!strings.Contains(c, "Writes pause") { // the upcoming window's message
				t.Errorf("%s: item %q has no timeline", tc.path, it.Title)
			}
			if it.PublishedParsed == nil {
				t.Errorf("%s: item %q has no date", tc.path, it.Title)
			}
		}
		if tc.format == "atom" {
			var self, alt bool
			for _, l := range f.Links {
				self = self || l == "https://status.acme.test"+tc.path
				alt = alt || l == "https://status.acme.test/"
			}
			if !self || !alt {
				t.Errorf("atom links %v lack self (%s) or alternate", f.Links, tc.path)
			}
		}
		if tc.format == "rss" {
			raw := body(t, get(t, h, tc.path))
			if !strings.Contains(raw, `<atom:link href="https://status.acme.test`+tc.path+`" rel="self"`) {
				t.Errorf("%s: rel=self does not point at itself", tc.path)
			}
		}
	}
	// Entries keep their ids and dates across renders.
	a := body(t, get(t, h, "/feed.atom"))
	snap.GeneratedAt = snap.GeneratedAt.Add(time.Minute)
	_ = s.Update(snap)
	if b := body(t, get(t, h, "/feed.atom")); a != b {
		t.Error("the Atom feed changed with nothing but the clock")
	}
	page := body(t, get(t, h, "/"))
	for _, l := range []string{`type="application/atom+xml"`, `type="application/rss+xml"`, `type="application/feed+json"`} {
		if !strings.Contains(page, `<link rel="alternate" `+l) {
			t.Errorf("page lacks discovery link %s", l)
		}
	}
}

func TestMaintenanceCalendar(t *testing.T) {
	s, _ := testServer(t)
	r := get(t, s.Handler(), "/maintenance.ics")
	b := body(t, r)
	if r.Header.Get("Content-Type") != "text/calendar; charset=utf-8" {
		t.Errorf("content type %q", r.Header.Get("Content-Type"))
	}
	if !strings.HasPrefix(b, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n") || !strings.HasSuffix(b, "END:VCALENDAR\r\n") {
		t.Fatalf("not a calendar:\n%s", b)
	}
	for _, l := range strings.Split(strings.TrimSuffix(b, "\r\n"), "\r\n") {
		if len(l) > 75 {
			t.Errorf("line longer than 75 octets: %q", l)
		}
	}
	unfolded := strings.ReplaceAll(b, "\r\n ", "")
	for _, want := range []string{"BEGIN:VEVENT", "SUMMARY:Database upgrade", "DTSTART:20260312T140200Z", "DTEND:20260312T160200Z",
		`DESCRIPTION:Writes pause\; reads continue.\nScheduled for Mar 12\, 14:02 – 16:02 UTC\nAffected: Database`, "UID:mnt-db-upgrade-"} {
		if !strings.Contains(unfolded, want) {
			t.Errorf("calendar lacks %q:\n%s", want, unfolded)
		}
	}
}

func TestBadges(t *testing.T) {
	s, _ := testServer(t)
	h := s.Handler()
	tests := []struct {
		path     string
		code     int
		contains string
	}{
		{"/badge/api.svg", 200, "Major outage"},
		{"/badge/web.svg", 200, "Degraded performance"},
		{"/badge/db/uptime.svg?window=7d", 200, "99.91%"},
		{"/badge/db/uptime.svg?window=24h", 200, "100%"},
		{"/badge/db/uptime.svg", 200, "uptime 30d"},
		{"/badge/platform.svg", 200, "Platform"},
		{"/badge/platform.svg", 200, "Major outage"}, // the worst of API and Website
		{"/badge/api.svg", 200, `textLength="`},
		{"/badge/nope.svg", 404, "unknown component"},
		{"/badge/nope/uptime.svg?window=7d", 404, "unknown component"},
		{"/badge/db/uptime.svg?window=1y", 400, "window must be"},
	}
	for _, tc := range tests {
		r := get(t, h, tc.path)
		b := body(t, r)
		if r.StatusCode != tc.code || !strings.Contains(b, tc.contains) || r.Header.Get("Content-Type") != "image/svg+xml" {
			t.Errorf("%s: %d %q: %s", tc.path, r.StatusCode, r.Header.Get("Content-Type"), b)
		}
		if tc.code == 200 && r.Header.Get("Cache-Control") != CacheBadge {
			t.Errorf("%s: cache %q", tc.path, r.Header.Get("Cache-Control"))
		}
	}
}
