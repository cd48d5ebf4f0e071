package store

import (
	"encoding/binary"
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
}

// Apply persists one engine step in one transaction: raw results and their
// roll-ups, changed check and component state, changed incidents, status
// time, and an outbox row per event. Nothing is sent from here.
func (s *Store) Apply(ch *status.Changes, st *status.State, route Router, now time.Time) error {
	err := s.update(func(tx *bolt.Tx) error {
		if err := putResults(tx, ch); err != nil {
			return fmt.Errorf("results: %w", err)
		}
		if err := putState(tx, ch, st); err != nil {
			return fmt.Errorf("state: %w", err)
		}
		for _, inc := range ch.Incidents {
			if err := putIncident(tx, inc); err != nil {
				return fmt.Errorf("incident %s: %w", inc.ID, err)
			}
		}
		for _, seg := range ch.Segments {
			if err := addSegment(tx, seg); err != nil {
				return fmt.Errorf("roll-up %s: %w", seg.Component, err)
			}
		}
		for _, a := range ch.Audit {
			if err := putAudit(tx, a); err != nil {
				return fmt.Errorf("audit: %w", err)
			}
		}
		for _, ev := range ch.Events {
			var dests []Dest
			if route != nil {
				dests = route(ev)
			}
			if _, err := enqueue(tx, ev, dests, now); err != nil {
				return fmt.Errorf("outbox %s: %w", ev.ID, err)
			}
		}
		return tx.Bucket(bucketMeta).Put(keyLastCommit, be64(uint64(now.UnixNano())))
	})
	if err != nil {
		return fmt.Errorf("apply step: %w", err)
	}
	s.lastCommit.Store(now.UnixNano())
	if len(ch.Incidents) > 0 {
		s.incidents.Add(1)
	}
	return nil
}

func putResults(tx *bolt.Tx, ch *status.Changes) error {
	root := tx.Bucket(bucketResults)
	for _, r := range ch.Results {
		b, err := root.CreateBucketIfNotExists([]byte(r.Check))
		if err != nil {
			return err
		}
		k := timeKey(r.At)
		for b.Get(k) != nil { // two results in the same nanosecond: keep both
			k = be64(binary.BigEndian.Uint64(k) + 1)
		}
		if err := b.Put(k, encodeResult(r.Result)); err != nil {
			return err
		}
		if err := addCheckResult(tx, r.Check, r.At, r.Result); err != nil {
			return err
		}
		if len(r.Result.Screenshot) > 0 {
			if err := putScreenshot(tx, r.Check, k, r.Result.Screenshot); err != nil {
				return err
			}
		}
	}
	return nil
}

func putState(tx *bolt.Tx, ch *status.Changes, st *status.State) error {
	checks, comps := tx.Bucket(bucketChecks), tx.Bucket(bucketComponents)
	for _, name := range ch.Checks {
		if cs := st.Checks[name]; cs != nil {
			if err := putJSON(checks, []byte(name), cs); err != nil {
				return err
			}
		}
	}
	for _, id := range ch.Components {
		if cs := st.Components[id]; cs != nil {
			if err := putJSON(comps, []byte(id), cs); err != nil {
				return err
			}
		}
	}
	return putJSON(tx.Bucket(bucketMeta), keyEngine, engineMeta{Seq: st.Seq, Maint: st.Maint, DelayedSince: st.DelayedSince, WatchingSince: st.WatchingSince, Windows: st.Windows, Connectivity: st.ConnectivitySince, Seen: st.Seen})
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
