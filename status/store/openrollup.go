package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/outpost-status/outpost/probes"
)

// Open roll-ups. On a node that has kept its history a check's hourly
// series holds 720 keys and its daily one 400: each is several pages, so
// adding a result to both rewrote about four pages (two leaves, two
// roots) and their parents, whatever the order of the results; in a
// cluster every member applies every member's results. So the period a
// result most likely belongs to, the check's current hour and day, is
// kept in one flat bucket (open_rollups: "c:"+check → openRecord), where
// an entry's name-neighbour results share a few pages. A result in the
// open period adds to it; one in a later period first flushes the open
// roll-up into its series (added to what is there: a version-2 entry or
// an older file may have written that start) and opens the new period;
// an older one goes into its series directly. Readers (CheckRollups) add
// the open roll-up to the series. Entries of codec 2 roll up as before
// (Entry.Codec), so a member still on an older Outpost writes the same
// bytes; components' roll-ups are written once a segment ends (hourly at
// most), and stay as they were.

// bucketOpenRollups holds each check's open hour and day: "c:"+check →
// openRecord.
var bucketOpenRollups = []byte("open_rollups")

// openSchema is the first layout with open roll-ups; a file moves to it
// with the first one written (markOpenSchema).
const openSchema = 5

// openRecord is a check's open hour [0] and day [1]; a part with no runs
// is none open.
type openRecord [2]CheckRollup

const openRecordSize = 2 * (8 + checkRollupSize)

func (o *openRecord) encode() []byte {
	b := make([]byte, 0, openRecordSize)
	for i := range o {
		b = append(b, timeKey(o[i].Start)...)
		b = append(b, o[i].encode()...)
	}
	return b
}

func decodeOpenRecord(b []byte) (openRecord, error) {
	var o openRecord
	if len(b) != openRecordSize {
		return o, fmt.Errorf("corrupt open roll-up (%d bytes)", len(b))
	}
	for i := range o {
		part := b[i*(8+checkRollupSize):]
		ru, err := decodeCheckRollup(keyTime(part[:8]), part[8:8+checkRollupSize])
		if err != nil {
			return o, err
		}
		if ru.Runs > 0 {
			o[i] = ru
		}
	}
	return o, nil
}

// addOpenResult folds one result into the check's roll-ups through its
// open record.
func addOpenResult(tx *bolt.Tx, name string, at time.Time, r probes.Result) error {
	b, key := tx.Bucket(bucketOpenRollups), checkSeries(name)
	var o openRecord
	if v := b.Get(key); v != nil {
		var err error
		if o, err = decodeOpenRecord(v); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
	}
	for i, p := range checkPeriods() {
		start, cur := p.start(at), &o[i]
		switch {
		case cur.Runs > 0 && start.Equal(cur.Start):
			cur.add(r)
		case cur.Runs > 0 && start.Before(cur.Start): // late: its period is closed
			var one CheckRollup
			one.add(r)
			if err := addToSeries(tx, p.bucket, name, start, one); err != nil {
				return err
			}
		default: // none open, or a later period: the open one is done
			if cur.Runs > 0 {
				if err := addToSeries(tx, p.bucket, name, cur.Start, *cur); err != nil {
					return err
				}
			}
			*cur = CheckRollup{Start: start}
			cur.add(r)
		}
	}
	return b.Put(key, o.encode())
}

// markOpenSchema moves the file to openSchema (once): an older Outpost
// must refuse a file holding open roll-ups (a snapshot it would install),
// since it would read the series without them.
func markOpenSchema(tx *bolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if raw := meta.Get(keySchema); len(raw) == 4 && binary.BigEndian.Uint32(raw) >= openSchema {
		return nil
	}
	return meta.Put(keySchema, be32(openSchema))
}

// withOpen adds a check's open roll-up of the period (daily or hourly) to
// its series as read from [from, to), oldest first: to the same start's,
// or in its place.
func withOpen(open *bolt.Bucket, name []byte, daily bool, from, to time.Time, list []CheckRollup) ([]CheckRollup, error) {
	v := open.Get(name)
	if v == nil {
		return list, nil
	}
	o, err := decodeOpenRecord(v)
	if err != nil {
		return list, err
	}
	part := o[0]
	if daily {
		part = o[1]
	}
	if part.Runs == 0 || part.Start.Before(from) || !part.Start.Before(to) {
		return list, nil
	}
	i := sort.Search(len(list), func(i int) bool { return !list[i].Start.Before(part.Start) })
	if i < len(list) && list[i].Start.Equal(part.Start) {
		list[i].merge(part)
		return list, nil
	}
	return slices.Insert(list, i, part), nil
}

// pruneOpen forgets the open hours and days past retention (a check that
// stopped running keeps its last ones), as prune deletes their series'
// keys; a record with neither goes. At most budget records change.
func pruneOpen(tx *bolt.Tx, now time.Time, budget int) (int, bool, error) {
	b := tx.Bucket(bucketOpenRollups)
	type change struct {
		key []byte
		o   openRecord
	}
	var changes []change
	more := false
	err := b.ForEach(func(k, v []byte) error {
		o, err := decodeOpenRecord(v)
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		expired := false
		for i, p := range checkPeriods() {
			if o[i].Runs > 0 && o[i].Start.Before(now.Add(-p.retention)) {
				o[i], expired = CheckRollup{}, true
			}
		}
		if expired {
			if len(changes) == budget {
				more = true
				return nil
			}
			changes = append(changes, change{bytes.Clone(k), o})
		}
		return nil
	})
	if err != nil {
		return 0, false, err
	}
	for _, c := range changes {
		if c.o[0].Runs == 0 && c.o[1].Runs == 0 {
			err = b.Delete(c.key)
		} else {
			err = b.Put(c.key, c.o.encode())
		}
		if err != nil {
			return 0, false, err
		}
	}
	return len(changes), more, nil
}
