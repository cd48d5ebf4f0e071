package store

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/outpost-status/outpost/status"
)

// Router names the destinations (channels, subscriptions) an event must be
// delivered to; the outbox row gets one delivery per destination.
type Router func(status.Event) []Dest

// engineMeta is the part of status.State that is not per check, component
// or incident.
type engineMeta struct {
	Seq           uint64                    `json:"seq"`
	Maint         map[string]string         `json:"maint"`
	DelayedSince  time.Time                 `json:"delayed_since,omitzero"`
	WatchingSince time.Time                 `json:"watching_since,omitzero"`
	Windows       map[string]*status.Window `json:"windows,omitempty"`
	Connectivity  time.Time                 `json:"connectivity_since,omitzero"`
	Seen          map[string]time.Time      `json:"seen,omitempty"`
	Faulty        map[string]time.Time      `json:"faulty,omitempty"`
}

// Step is one engine step as the file records it: raw results, the state
// of the checks and components that changed, the engine's own state,
// changed incidents, status time to roll up, audit entries for the step's
// commands, and an announcement per event with its destinations.
type Step struct {
	Results    []Input               `json:"results,omitempty"` // kept raw, in the local file
	Checks     []NamedCheckState     `json:"checks,omitempty"`
	Components []NamedComponentState `json:"components,omitempty"`
	Engine     engineMeta            `json:"engine"`
	Incidents  []*status.Incident    `json:"incidents,omitempty"`
	Segments   []status.Segment      `json:"segments,omitempty"`
	Audit      []status.AuditEntry   `json:"audit,omitempty"`
	Announce   []Announcement        `json:"announce,omitempty"`
}

// NamedCheckState is a check's state with its name.
type NamedCheckState struct {
	Name  string             `json:"name"`
	State *status.CheckState `json:"state"`
}

// NamedComponentState is a component's state with its id.
type NamedComponentState struct {
	ID    string                 `json:"id"`
	State *status.ComponentState `json:"state"`
}

// Announcement is an event and the destinations it goes to.
type Announcement struct {
	Event status.Event `json:"event"`
	Dests []Dest       `json:"dests,omitempty"`
}

// NewStep describes an engine step for the log: what changed in st, and
// each event routed to its destinations. It shares st's values, so the
// entry must be applied before the engine steps again.
func NewStep(ch *status.Changes, st *status.State, route Router) *Step {
	s := &Step{Incidents: ch.Incidents, Segments: ch.Segments, Audit: ch.Audit,
		Engine: engineMeta{Seq: st.Seq, Maint: st.Maint, DelayedSince: st.DelayedSince, WatchingSince: st.WatchingSince,
			Windows: st.Windows, Connectivity: st.ConnectivitySince, Seen: st.Seen, Faulty: st.Faulty}}
	s.Results = make([]Input, len(ch.Results))
	for i, r := range ch.Results {
		s.Results[i] = inputOf(r)
	}
	for _, name := range ch.Checks {
		if cs := st.Checks[name]; cs != nil {
			s.Checks = append(s.Checks, NamedCheckState{name, cs})
		}
	}
	for _, id := range ch.Components {
		if cs := st.Components[id]; cs != nil {
			s.Components = append(s.Components, NamedComponentState{id, cs})
		}
	}
	for _, ev := range ch.Events {
		a := Announcement{Event: ev}
		if route != nil {
			a.Dests = route(ev)
		}
		s.Announce = append(s.Announce, a)
	}
	return s
}

// applyStep writes one engine step's replicated part. Nothing is sent
// from here; the raw results go to the local file after the commit
// (applyLocal).
func applyStep(tx *bolt.Tx, st *Step, now time.Time, open, compact bool) error {
	if err := rollUpResults(tx, st.Results, open); err != nil {
		return fmt.Errorf("results: %w", err)
	}
	if err := putState(tx, st, compact); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	for _, inc := range st.Incidents {
		if err := putIncident(tx, inc); err != nil {
			return fmt.Errorf("incident %s: %w", inc.ID, err)
		}
	}
	for _, seg := range st.Segments {
		if err := addSegment(tx, seg); err != nil {
			return fmt.Errorf("roll-up %s: %w", seg.Component, err)
		}
	}
	if err := putAudits(tx, st.Audit); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	for _, a := range st.Announce {
		if _, err := enqueue(tx, a.Event, a.Dests, now); err != nil {
			return fmt.Errorf("outbox %s: %w", a.Event.ID, err)
		}
	}
	return tx.Bucket(bucketMeta).Put(keyLastCommit, be64(uint64(now.UnixNano())))
}

// applyAnnounce adds announcements made outside a step.
func applyAnnounce(tx *bolt.Tx, list []Announcement, now time.Time, res *Result) error {
	for _, a := range list {
		seq, err := enqueue(tx, a.Event, a.Dests, now)
		if err != nil {
			return fmt.Errorf("outbox %s: %w", a.Event.ID, err)
		}
		res.Seqs = append(res.Seqs, seq)
	}
	return nil
}

// rollUpResults adds a step's results to the checks' roll-ups: a
// function of the results, so replicated like them. With open, through
// the checks' open records (openrollup.go); else into the series directly,
// as entries of codec 2 always did.
func rollUpResults(tx *bolt.Tx, results []Input, open bool) error {
	if open && len(results) > 0 {
		if err := markOpenSchema(tx); err != nil {
			return err
		}
	}
	for _, r := range results {
		add := addCheckResult
		if open {
			add = addOpenResult
		}
		if err := add(tx, r.Check, r.At, r.result()); err != nil {
			return err
		}
	}
	return nil
}

// putState writes the step's changed states; with compact the checks'
// in the compact form (statecodec.go), else as JSON.
func putState(tx *bolt.Tx, st *Step, compact bool) error {
	checks, comps := tx.Bucket(bucketChecks), tx.Bucket(bucketComponents)
	for _, c := range st.Checks {
		if err := putCheckState(checks, c, compact); err != nil {
			return fmt.Errorf("check %s: %w", c.Name, err)
		}
	}
	for _, c := range st.Components {
		if err := putJSON(comps, []byte(c.ID), c.State); err != nil {
			return err
		}
	}
	return putJSON(tx.Bucket(bucketMeta), keyEngine, st.Engine)
}

func putCheckState(b *bolt.Bucket, c NamedCheckState, compact bool) error {
	if !compact {
		return putJSON(b, []byte(c.Name), c.State)
	}
	data, err := encodeCheckState(c.State)
	if err != nil {
		return err
	}
	return b.Put([]byte(c.Name), data)
}

func putIncident(tx *bolt.Tx, inc *status.Incident) error {
	b, starts := tx.Bucket(bucketIncidents), tx.Bucket(bucketIncidentStart)
	if old := b.Get(be64(inc.Seq)); old != nil { // a start can move (a re-timed window)
		var was struct {
			StartedAt time.Time `json:"started_at"`
		}
		if err := json.Unmarshal(old, &was); err != nil {
			return err
		}
		if !was.StartedAt.Equal(inc.StartedAt) {
			if err := starts.Delete(startKey(was.StartedAt, inc.Seq)); err != nil {
				return err
			}
		}
	}
	if err := putJSON(b, be64(inc.Seq), inc); err != nil {
		return err
	}
	if err := starts.Put(startKey(inc.StartedAt, inc.Seq), nil); err != nil {
		return err
	}
	return tx.Bucket(bucketIncidentID).Put([]byte(inc.ID), be64(inc.Seq))
}

func startKey(t time.Time, seq uint64) []byte { return append(timeKey(t), be64(seq)...) }

// indexIncidentStarts builds the start index of a file written before it.
func indexIncidentStarts(tx *bolt.Tx) error {
	starts := tx.Bucket(bucketIncidentStart)
	return tx.Bucket(bucketIncidents).ForEach(func(k, v []byte) error {
		var inc struct {
			Seq       uint64    `json:"seq"`
			StartedAt time.Time `json:"started_at"`
		}
		if err := json.Unmarshal(v, &inc); err != nil {
			return fmt.Errorf("incident %x: %w", k, err)
		}
		return starts.Put(startKey(inc.StartedAt, inc.Seq), nil)
	})
}

func putJSON(b *bolt.Bucket, k []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(k, data)
}
