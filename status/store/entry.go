package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/outpost-status/outpost/status"
)

// The one way in. Every durable change (an engine step, an announcement,
// a delivery's progress, a subscription, a setting, pruning) enters as an
// Entry through Log.Apply and is committed, with its audit entries, in
// one transaction: all of it or none.
//
// An Entry is plain data: it round-trips through JSON, and applying it
// reads no clock, draws no random number and never depends on the order
// of a map. Its time is At; ids, secrets, tokens and jitter come in the
// entry. So the same entries applied in the same order to the same file
// leave the same file, which is what a replicated log (hashicorp/raft in
// a cluster) needs of its FSM. Today's Log is the Store itself.

// Log commits entries. *Store is the local, single-node Log.
type Log interface {
	Apply(Entry) (Result, error)
}

// ErrLogUnavailable: a replicated log took no entry now (no leader: an
// election, or this node is cut off from the others). It says nothing of
// this node's disk or process: the writer retries, and its liveness is
// not in question.
var ErrLogUnavailable = errors.New("the replicated log takes no entries now")

// ErrOutcomeUnknown (an ErrLogUnavailable): the entry may have been made
// or not (a leader took it and was lost before it answered). Sending it
// again is safe only under the same key (Inputs.Writer and Seq), which
// apply skips once it holds it.
var ErrOutcomeUnknown = fmt.Errorf("the entry may or may not have been made: %w", ErrLogUnavailable)

// Entry is one durable change. Its parts are applied in the order of the
// fields below, in one transaction.
type Entry struct {
	At time.Time `json:"at"`
	// Index is the entry's position in a replicated log (raft's index),
	// 0 for the local log. An entry whose Index is not above the last one
	// applied is skipped: a log replayed over a file that already holds
	// it (a restart, a snapshot restore) applies each entry exactly once.
	// The file records the index in the entry's own transaction.
	Index uint64 `json:"index,omitempty"`
	// Term is the replicated log's term of the entry (raft's: that of the
	// leader that appended it), set by the applier as Index is; 0 for the
	// local log. A claim made under another term (a leader that no longer
	// leads) is refused (Mark.Term).
	Term uint64 `json:"-"`
	// Codec is the codec version the entry was encoded with (DecodeEntry
	// sets it from the first byte): what it rolls up through
	// (OpenRollupCodec) and the form of the checks' states it writes
	// (CompactStateCodec) depend on it, so every applier of a log, old
	// binary or new, writes the same bytes. 0, an entry applied as built
	// (the single node's log), is this Outpost's CodecVersion.
	Codec int `json:"-"`
	// Inputs are what happened (results, commands): the engine inside
	// apply (status/machine) makes them a Step. The log carries these.
	Inputs *Inputs `json:"inputs,omitempty"`
	// Step is the engine's step over Inputs: results, state, incidents,
	// roll-ups and the step's announcements. The applier fills it in; it is
	// never encoded, so no writer's output travels in the log.
	Step *Step `json:"-"`
	// Model sets the fingerprint of the model in force (status.Fingerprint
	// of the leader's): inputs stamped with another are refused.
	Model string `json:"model,omitempty"`
	// Announce adds announcements made outside a step (a peer going down,
	// a delivery that failed for good).
	Announce []Announcement `json:"announce,omitempty"`
	// Decide releases or cancels a held or delayed announcement.
	Decide *Decision `json:"decide,omitempty"`
	// Marks record channel deliveries' progress: a send begins, succeeds,
	// is retried or fails.
	Marks []Mark `json:"marks,omitempty"`
	// KeepDests cancels open deliveries to every destination not listed
	// (channels removed from the config, webhooks turned off).
	KeepDests *[]string `json:"keep_dests,omitempty"`
	// Settings stores small replicated values (the site keys, a heartbeat
	// token's hash); a node's own (a Bluesky session) are local settings.
	Settings []Setting `json:"settings,omitempty"`
	// Fanout turns announcements waiting on the webhooks destination into
	// one delivery per subscription.
	Fanout []FannedRow `json:"fanout,omitempty"`
	// Subscribe creates a pending subscription with its challenge.
	Subscribe *NewSubscription `json:"subscribe,omitempty"`
	// Confirm confirms a pending email subscriber by its token's hash.
	Confirm *Confirmation `json:"confirm,omitempty"`
	// Preferences changes what an email subscriber hears.
	Preferences *Preferences `json:"preferences,omitempty"`
	// Subscription changes one subscription (state, secret, deletion).
	Subscription *SubscriptionChange `json:"subscription,omitempty"`
	// Ping queues a test delivery to an existing subscription.
	Ping *WebhookDelivery `json:"ping,omitempty"`
	// Outcomes record webhook attempts (group-committed).
	Outcomes *WebhookOutcomes `json:"outcomes,omitempty"`
	// Prune deletes roll-ups past their retention, and from the local
	// file raw results and screenshots past theirs.
	Prune *Prune `json:"prune,omitempty"`
	// PruneWebhooks deletes old webhook deliveries and expired
	// subscriptions.
	PruneWebhooks *PruneWebhooks `json:"prune_webhooks,omitempty"`
	// Audit records who changed what, with the change.
	Audit []status.AuditEntry `json:"audit,omitempty"`
}

// Result is what applying an entry produced; each part fills its fields.
type Result struct {
	Seqs         []uint64       // outbox rows created by Announce, in order
	Row          OutboxRow      // Decide: the row as decided
	Changed      int            // Decide: destinations changed; KeepDests: deliveries cancelled
	Delivery     Delivery       // Marks: the last mark's delivery as written
	Rows         int            // Fanout: rows expanded
	Created      int            // Fanout: deliveries created
	Deleted      int            // Prune, PruneWebhooks: keys deleted
	More         bool           // Prune: more past retention remain
	Subscription Subscription   // Subscription, Confirm, Preferences: as changed; Subscribe (email): the address's subscriber
	Outcomes     []OutcomeLabel // Outcomes: what each attempt came to
	// Unwiped: an erasure committed (the records are deleted) but the
	// wipe of the file's free pages failed (ErrNotWiped); the next commit
	// tries again. The entry itself took effect, so it is no error of
	// Apply's: a caller that answers a person says it is done, and tells
	// the operators.
	Unwiped error
	// Limited: Subscribe (email) refused a pending address its confirmation
	// mail, it had MaxConfirmations in ConfirmWindow; nothing changed.
	Limited bool
	// Skipped: the file already held this entry (Index), nothing changed.
	Skipped bool
	// Changes: what the engine's step over the entry's inputs changed
	// (set by status/machine; nil for an entry without inputs).
	Changes *status.Changes

	// subsMoved: a subscription was created, deleted, or changed state,
	// so the delivery loop's copy of them is stale.
	subsMoved bool
	// floor: the entry was the first applied after a restore and raised
	// every sequence to it (restore.go).
	floor uint64
}

// Apply commits e in one transaction. It is *Store's Log. An entry
// refused (a *Refusal: every applier refuses it alike) changes nothing;
// one from a replicated log (Index > 0) is then passed in a second
// transaction, the applied index moved to it and the refusal recorded
// (Refusals), and the refusal is still returned. Any other error means
// nothing was written, the applied index included: the applier retries
// from AppliedIndex.
func (s *Store) Apply(e Entry) (Result, error) {
	if err := s.Halted(); err != nil {
		return Result{}, err
	}
	var res Result
	err := s.update(func(tx *bolt.Tx) error {
		res = Result{}
		return applyEntry(tx, e, &res)
	})
	var r *Refusal
	if err != nil && e.Index > 0 && errors.As(err, &r) {
		// Every applier refuses it alike: the log moves past it. Only a
		// failure to write that says so stops the applier.
		if rerr := s.update(func(tx *bolt.Tx) error { return recordRefusal(tx, e, r, err.Error()) }); rerr != nil {
			return Result{}, fmt.Errorf("entry %d refused (%v), and passing it failed: %w", e.Index, err, rerr)
		}
	}
	if err != nil {
		return Result{}, err
	}
	if !res.Skipped {
		s.committed(e, res)
		s.floorRaised(res.floor)
		s.applyLocal(e, &res)
	}
	// Committed whatever the wipe comes to (Unwiped says it failed).
	res.Unwiped = s.scrubAfter(e)
	return res, nil
}

// AppliedIndex is the Index of the last replicated entry applied (0 when
// none): where a replicated log resumes.
func (s *Store) AppliedIndex() (uint64, error) {
	var n uint64
	err := s.view(func(tx *bolt.Tx) error {
		n = appliedIndex(tx)
		return nil
	})
	return n, err
}

// appliedIndex reads the applied index in tx (0 when none).
func appliedIndex(tx *bolt.Tx) uint64 {
	if v := tx.Bucket(bucketMeta).Get(keyApplied); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// committed updates what the store keeps in memory about its file.
func (s *Store) committed(e Entry, res Result) {
	if e.Step != nil {
		s.lastCommit.Store(e.At.UnixNano())
		if len(e.Step.Incidents) > 0 {
			s.incidents.Add(1)
		}
	}
	// A preference (components, maintenance) is read by the fan-out's
	// entry, not by the loops' cache of keys and states; a confirmation
	// moves the version through res.subsMoved.
	if e.Subscribe != nil || e.Subscription != nil || e.PruneWebhooks != nil || res.subsMoved {
		s.subsChanged()
	}
	if len(e.Settings) > 0 {
		select {
		case s.settings <- struct{}{}:
		default:
		}
	}
	if (e.Step != nil && len(e.Step.Announce) > 0) || len(e.Announce) > 0 || e.Decide != nil ||
		e.Subscribe != nil || e.Subscription != nil || e.Ping != nil {
		select {
		case s.work <- struct{}{}:
		default:
		}
	}
}

// Work signals that a committed entry gave the delivery loops something to
// do: announcements made or released, a subscription created, changed or
// pinged. Whatever wrote it (a step, an admin, a peer event, a replicated
// log), the one way in is the one place the wake comes from. Signals
// coalesce: one receive may stand for several entries.
func (s *Store) Work() <-chan struct{} { return s.work }

// SettingsChanged signals that a committed entry set replicated settings
// (a heartbeat token or beat, a site key), whoever applied it: a member
// takes a token issued on another, and a beat sent to another. Signals
// coalesce.
func (s *Store) SettingsChanged() <-chan struct{} { return s.settings }

// part is one field of an entry: present reports whether it is set,
// apply writes it.
type part struct {
	name    string
	present bool
	apply   func(tx *bolt.Tx) error
}

func applyEntry(tx *bolt.Tx, e Entry, res *Result) error {
	if e.Index > 0 {
		if e.Index <= appliedIndex(tx) {
			res.Skipped = true
			return nil
		}
		if err := tx.Bucket(bucketMeta).Put(keyApplied, be64(e.Index)); err != nil {
			return err
		}
	}
	if e.At.IsZero() {
		return &Refusal{Part: "entry", Err: errors.New("entry without a time")}
	}
	floor, err := raiseFloor(tx, e.At)
	if err != nil {
		return err
	}
	res.floor = floor
	if err := refuseOtherModel(tx, e.Inputs); err != nil {
		return err
	}
	if e.Inputs != nil && e.Step == nil {
		return ErrNeedsEngine
	}
	if err := putWriter(tx, e.Inputs, e.At); err != nil {
		return err
	}
	for _, p := range e.parts(res) {
		if !p.present {
			continue
		}
		// Errors keep their words: the parts wrap their own, and callers
		// show some (ErrNotWaiting, ErrTooManySubscriptions) to people.
		if err := p.apply(tx); err != nil {
			return named(p.name, err)
		}
	}
	return nil
}

// Parts names the parts e carries besides its inputs, in the order they
// apply.
func (e Entry) Parts() []string {
	var names []string
	for _, p := range e.parts(&Result{}) {
		if p.present {
			names = append(names, p.name)
		}
	}
	return names
}

// parts lists every part of an entry, in the order they apply.
func (e Entry) parts(res *Result) []part {
	now := e.At
	return []part{
		{"step", e.Step != nil, func(tx *bolt.Tx) error { return applyStep(tx, e.Step, now, e.opensRollups(), e.compactState()) }},
		{"model", e.Model != "", func(tx *bolt.Tx) error { return applyModel(tx, e.Model) }},
		{"announce", len(e.Announce) > 0, func(tx *bolt.Tx) error { return applyAnnounce(tx, e.Announce, now, res) }},
		{"decide", e.Decide != nil, func(tx *bolt.Tx) error { return applyDecision(tx, *e.Decide, now, res) }},
		{"marks", len(e.Marks) > 0, func(tx *bolt.Tx) error { return applyMarks(tx, e.Marks, e.Term, now, res) }},
		{"keep_dests", e.KeepDests != nil, func(tx *bolt.Tx) error { return applyKeepDests(tx, *e.KeepDests, now, res) }},
		{"settings", len(e.Settings) > 0, func(tx *bolt.Tx) error { return applySettings(tx, e.Settings) }},
		{"fanout", len(e.Fanout) > 0, func(tx *bolt.Tx) error { return applyFanout(tx, e.Fanout, now, res) }},
		{"subscribe", e.Subscribe != nil, func(tx *bolt.Tx) error { return applySubscribe(tx, *e.Subscribe, now, res) }},
		{"confirm", e.Confirm != nil, func(tx *bolt.Tx) error { return applyConfirm(tx, *e.Confirm, now, res) }},
		{"preferences", e.Preferences != nil, func(tx *bolt.Tx) error { return applyPreferences(tx, *e.Preferences, res) }},
		{"subscription", e.Subscription != nil, func(tx *bolt.Tx) error { return applySubscriptionChange(tx, *e.Subscription, now, res) }},
		{"ping", e.Ping != nil, func(tx *bolt.Tx) error { return applyPing(tx, *e.Ping) }},
		{"outcomes", e.Outcomes != nil, func(tx *bolt.Tx) error { return applyOutcomes(tx, *e.Outcomes, e.Term, res) }},
		{"prune", e.Prune != nil, func(tx *bolt.Tx) error { return applyPrune(tx, *e.Prune, now, res) }},
		{"prune_webhooks", e.PruneWebhooks != nil, func(tx *bolt.Tx) error { return applyPruneWebhooks(tx, *e.PruneWebhooks, e.At, res) }},
		{"audit", len(e.Audit) > 0, func(tx *bolt.Tx) error { return putAudits(tx, e.Audit) }},
	}
}

// opensRollups reports whether e's results roll up through open records.
func (e Entry) opensRollups() bool {
	return e.Codec == 0 || e.Codec >= OpenRollupCodec
}

// compactState reports whether e writes its checks' states in the
// compact form (CompactStateCodec).
func (e Entry) compactState() bool {
	return e.Codec == 0 || e.Codec >= CompactStateCodec
}

// Setting is one small stored value.
type Setting struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	// Create refuses the whole entry (ErrSettingExists) when Key holds a
	// value already: a value that must be made once (the site key) is not
	// replaced by a second start or a racing rotation.
	Create bool `json:"create,omitempty"`
}

// ErrSettingExists is returned when a Create setting's key holds a value.
var ErrSettingExists = errors.New("setting exists already")

func applySettings(tx *bolt.Tx, list []Setting) error {
	b := tx.Bucket(bucketSettings)
	for _, st := range list {
		if st.Create && b.Get([]byte(st.Key)) != nil {
			return refuse(fmt.Errorf("%s: %w", st.Key, ErrSettingExists))
		}
		if err := b.Put([]byte(st.Key), []byte(st.Value)); err != nil {
			return err
		}
	}
	return nil
}
