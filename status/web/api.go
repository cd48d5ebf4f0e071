package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/statuspage"
)

// apiStatus is /api/v1/status, documented in docs/api.md.
type apiStatus struct {
	Page        apiPage        `json:"page"`
	Status      apiIndicator   `json:"status"`
	GeneratedAt time.Time      `json:"generated_at"`
	LastChecked *time.Time     `json:"last_checked_at"`
	Monitoring  apiMonitoring  `json:"monitoring"`
	Components  []apiComponent `json:"components"` // left empty: spliced in from apiFragments
	Incidents   []apiIncident  `json:"incidents"`
	Maintenance []apiIncident  `json:"maintenance"`
}

type apiPage struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	URL      string `json:"url"`
	TimeZone string `json:"time_zone"`
}

type apiIndicator struct {
	Indicator   status.Impact `json:"indicator"`
	Description string        `json:"description"`
}

type apiMonitoring struct {
	Delayed      bool       `json:"delayed"`
	DelayedSince *time.Time `json:"delayed_since"`
	// ConnectivityDegradedSince: Outpost itself is cut off (canaries fail
	// too); statuses are the last known ones.
	ConnectivityDegradedSince *time.Time `json:"connectivity_degraded_since"`
	// CutOffSince: this member of a cluster is cut off from the others;
	// statuses are the last agreed ones (omitted on a single node).
	CutOffSince *time.Time `json:"cut_off_since,omitempty"`
}

type apiComponent struct {
	apiComponentBase
	// In a cluster only (omitted on a single node): the component at each
	// location, and the locations of regional trouble.
	Locations   []apiLocation `json:"locations,omitempty"`
	FailingFrom []string      `json:"failing_from,omitempty"`
}

// apiComponentBase is what every component has; comparable, so a cached
// fragment is found by value (apiComponentKey).
type apiComponentBase struct {
	ID          string                 `json:"id"`
	Name        string                 `json:"name"`
	Group       string                 `json:"group,omitempty"`
	Status      status.ComponentStatus `json:"status"`
	Since       time.Time              `json:"since"`
	LastChecked *time.Time             `json:"last_checked_at"`
	Stale       bool                   `json:"stale"`
	Uptime90d   *float64               `json:"uptime_90d"`
	// AffectedBy: a dependency in an outage (depends_on), by name.
	AffectedBy string `json:"affected_by,omitempty"`
}

// apiLocation is a component as seen from one location of a cluster.
type apiLocation struct {
	Location string                 `json:"location"`
	Status   status.ComponentStatus `json:"status"`
	// LatencyMS is the slowest of its checks' last runs there that reached
	// the target; null when none did.
	LatencyMS   *float64   `json:"latency_ms"`
	LastChecked *time.Time `json:"last_checked_at"`
	Stale       bool       `json:"stale"`
}

func apiLocations(c status.ComponentView) []apiLocation {
	if len(c.Locations) == 0 {
		return nil
	}
	out := make([]apiLocation, len(c.Locations))
	for i, l := range c.Locations {
		out[i] = apiLocation{Location: l.Location, Status: l.Status, LastChecked: timePtr(l.LastChecked), Stale: l.Stale}
		if l.NoData {
			out[i].Status = apiNoData
		}
		if l.HasLatency {
			ms := float64(l.Latency.Microseconds()) / 1000
			out[i].LatencyMS = &ms
		}
	}
	return out
}

type apiIncident struct {
	ID         string                `json:"id"`
	Name       string                `json:"name"`
	Status     status.IncidentStatus `json:"status"`
	Impact     status.Impact         `json:"impact"`
	StartedAt  time.Time             `json:"started_at"`
	UpdatedAt  time.Time             `json:"updated_at"`
	URL        string                `json:"url"`
	Components []string              `json:"components"`
	Latest     *apiUpdate            `json:"latest_update"`
}

type apiUpdate struct {
	Status    status.IncidentStatus `json:"status"`
	Body      string                `json:"body"`
	CreatedAt time.Time             `json:"created_at"`
}

// apiNoData is /api/v1's status and indicator for what has no data yet
// (Outpost's own API may say so; Statuspage's enums cannot).
const apiNoData = "no_data"

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func (s *Server) apiStatusJSON(snap *status.Snapshot) ([]byte, error) {
	body, _, err := s.apiStatusBody(snap)
	return body, err
}

// apiStatusBody renders /api/v1/status; settle, called with the body as
// served, makes the kept component objects that body's own bytes.
func (s *Server) apiStatusBody(snap *status.Snapshot) (body []byte, settle func(served []byte), err error) {
	v := apiStatus{
		Page:        apiPage{ID: s.o.SiteID, Name: s.o.Site.Title, URL: s.o.Site.URL, TimeZone: s.o.Site.TimeZone},
		Status:      apiIndicator{Indicator: snap.Indicator, Description: statuspage.Description(s.site(), snap)},
		GeneratedAt: snap.GeneratedAt, LastChecked: timePtr(snap.LastResultAt),
		Monitoring: apiMonitoring{Delayed: !snap.DelayedSince.IsZero(), DelayedSince: timePtr(snap.DelayedSince),
			ConnectivityDegradedSince: timePtr(snap.ConnectivitySince), CutOffSince: timePtr(snap.IsolatedSince)},
		Components: []apiComponent{}, Incidents: []apiIncident{}, Maintenance: []apiIncident{},
	}
	if snap.NoData && snap.Indicator == status.ImpactNone {
		v.Status.Indicator = apiNoData
	}
	frags := make([][]byte, 0, len(snap.Components))
	for _, c := range snap.Components {
		ac := apiComponent{apiComponentBase: apiComponentBase{ID: c.ID, Name: c.Name, Group: c.Group, Status: c.Status, Since: c.Since.UTC(),
			LastChecked: timePtr(c.LastChecked), Stale: c.Stale, AffectedBy: c.AffectedBy},
			Locations: apiLocations(c), FailingFrom: c.Regional}
		if c.NoData {
			ac.Status = apiNoData
		}
		if u, ok := snap.Uptime[c.ID]; ok && u.Percent >= 0 {
			p := u.Percent
			ac.Uptime90d = &p
		}
		frag, err := s.apiFrags.marshal(ac)
		if err != nil {
			return nil, nil, err
		}
		frags = append(frags, frag)
	}
	s.apiFrags.prune(len(snap.Components))
	for _, inc := range snap.Incidents {
		v.Incidents = append(v.Incidents, s.apiIncident(inc))
	}
	for _, inc := range snap.Maintenance {
		v.Maintenance = append(v.Maintenance, s.apiIncident(inc))
	}
	head, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, nil, err
	}
	body, starts, err := spliceComponents(head, frags)
	if err != nil {
		return nil, nil, err
	}
	return body, func(served []byte) { s.apiFrags.settle(snap.Components, frags, starts, served) }, nil
}

// emptyComponents is the top-level components field as MarshalIndent
// writes it empty: top-level keys alone are indented by two spaces.
const emptyComponents = "\n  \"components\": [],"

// spliceComponents puts the components' indented objects into the body
// where MarshalIndent wrote an empty list, exactly as it would have
// written them (a test compares), and says where each object starts.
func spliceComponents(body []byte, frags [][]byte) ([]byte, []int, error) {
	at := bytes.Index(body, []byte(emptyComponents))
	if at < 0 {
		return nil, nil, errors.New("render /api/v1/status: no components field to fill")
	}
	if len(frags) == 0 {
		return body, nil, nil
	}
	starts := make([]int, len(frags))
	n := len(body)
	for _, f := range frags {
		n += len(f) + 6
	}
	out := make([]byte, 0, n+8)
	out = append(out, body[:at]...)
	out = append(out, "\n  \"components\": ["...)
	for i, f := range frags {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, "\n    "...)
		starts[i] = len(out)
		out = append(out, f...)
	}
	out = append(out, "\n  ],"...)
	return append(out, body[at+len(emptyComponents):]...), starts, nil
}

// apiFragments keeps each component's /api/v1/status object as indented
// JSON between renders: at 5,000 components, marshalling and indenting them
// all every render was a third of it, though a render changes a few (those
// checked since).
type apiFragments struct {
	mu    sync.Mutex
	m     map[string]apiFragment
	built int // objects marshalled
}

type apiFragment struct {
	key apiComponentKey
	raw []byte // indented as an element of the top-level components list
}

// apiComponentKey is an apiComponent by value (its pointers followed,
// its per-location part as the JSON it makes).
type apiComponentKey struct {
	c           apiComponentBase
	lastChecked time.Time
	uptime      float64
	where       string
}

func keyOf(c apiComponent) (apiComponentKey, error) {
	k := apiComponentKey{c: c.apiComponentBase, uptime: -1}
	if len(c.Locations) > 0 || len(c.FailingFrom) > 0 {
		b, err := json.Marshal([]any{c.Locations, c.FailingFrom})
		if err != nil {
			return k, fmt.Errorf("render /api/v1/status: %w", err)
		}
		k.where = string(b)
	}
	if c.LastChecked != nil {
		k.lastChecked = *c.LastChecked
	}
	if c.Uptime90d != nil {
		k.uptime = *c.Uptime90d
	}
	k.c.LastChecked, k.c.Uptime90d = nil, nil
	return k, nil
}

func (f *apiFragments) marshal(c apiComponent) ([]byte, error) {
	k, err := keyOf(c)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if x, ok := f.m[c.ID]; ok && x.key == k {
		return x.raw, nil
	}
	raw, err := json.MarshalIndent(c, "    ", "  ")
	if err != nil {
		return nil, err
	}
	f.built++
	if f.m == nil {
		f.m = map[string]apiFragment{}
	}
	f.m[c.ID] = apiFragment{key: k, raw: raw}
	return raw, nil
}

// settle makes the kept objects of cs (marshalled as frags, starting at
// starts in a body equal to served) served's own bytes: kept apart they
// were a second copy of the body (4.5 MB at 5,000 components). An object
// replaced meanwhile (another render) is left alone.
func (f *apiFragments) settle(cs []status.ComponentView, frags [][]byte, starts []int, served []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, c := range cs {
		x, ok := f.m[c.ID]
		end := starts[i] + len(frags[i])
		if !ok || !sameBytes(x.raw, frags[i]) || end > len(served) {
			continue
		}
		x.raw = served[starts[i]:end:end] // capped: nothing appends into the body
		f.m[c.ID] = x
	}
}

// sameBytes reports whether a and b are the very same bytes in memory.
func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// prune forgets everything once the map holds many more components than
// the page (components removed by reloads); the next render refills it.
func (f *apiFragments) prune(components int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.m) > 2*components+64 {
		f.m = nil
	}
}

func (s *Server) apiIncident(inc *status.Incident) apiIncident {
	a := apiIncident{ID: inc.ID, Name: inc.Name, Status: inc.Status, Impact: inc.Impact, StartedAt: inc.StartedAt.UTC(),
		UpdatedAt: inc.UpdatedAt.UTC(), URL: s.o.Site.URL + "/incidents/" + inc.ID, Components: inc.Components}
	if a.Components == nil {
		a.Components = []string{}
	}
	if u := inc.Latest(); u.ID != "" {
		a.Latest = &apiUpdate{Status: u.Status, Body: u.Body, CreatedAt: u.CreatedAt.UTC()}
	}
	return a
}
