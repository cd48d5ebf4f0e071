package store

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// keyBackupAt marks a file written by 'outpost backup'. A data file that
// carries it has been restored from a backup: what the original issued
// after the backup (incident and event ids, outbox sequences behind the
// channels' idempotency keys) is unknown, so sequences jump past anything
// it can have issued before they are used again. The mark stays until the
// first entry applied to the file raises them (raiseFloor).
var keyBackupAt = []byte("backup_at")

// MarkBackup marks the bbolt file at path as a backup taken at at.
func MarkBackup(path string, at time.Time) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("mark backup %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyBackupAt, be64(uint64(at.UnixNano())))
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("mark backup %s: %w", path, err)
	}
	return nil
}

// Restored describes the restore found when the file was opened.
type Restored struct {
	BackupAt time.Time // when the backup was taken
	// Floor is what every sequence continues above: 0 until the first
	// entry applied after the restore has drawn it from its time.
	Floor uint64
}

// restoredAt reads the restore mark at Open. Open writes nothing for it
// and reads no clock: the floor is the business of the first entry.
func restoredAt(tx *bolt.Tx) *Restored {
	if raw := tx.Bucket(bucketMeta).Get(keyBackupAt); len(raw) == 8 {
		return &Restored{BackupAt: keyTime(raw)}
	}
	return nil
}

// raiseFloor runs first in every applied entry. On a file that still
// carries the backup mark it continues every sequence above the entry's
// time in unix milliseconds, and removes the mark. The time exceeds any
// sequence the lost file can have reached (one id per millisecond since
// 1970) because the entry was stamped after the file was lost, and a later
// restore of the same backup gets a later one. It is the entry's time, not
// a clock read here, so every applier of the same entries (a raft FSM on
// every node of a cluster, restored from the same snapshot) draws the same
// floor and hands out the same ids. It returns the floor, 0 when the file
// owed none.
func raiseFloor(tx *bolt.Tx, at time.Time) (uint64, error) {
	meta := tx.Bucket(bucketMeta)
	if meta.Get(keyBackupAt) == nil {
		return 0, nil
	}
	floor := uint64(max(at.UnixMilli(), 0))
	var m engineMeta
	if v := meta.Get(keyEngine); v != nil {
		if err := json.Unmarshal(v, &m); err != nil {
			return 0, fmt.Errorf("restore floor: engine meta: %w", err)
		}
	}
	m.Seq = max(m.Seq, floor)
	if err := putJSON(meta, keyEngine, m); err != nil {
		return 0, fmt.Errorf("restore floor: %w", err)
	}
	for _, name := range [][]byte{bucketOutbox, bucketAudit, bucketWHDelivery} {
		b := tx.Bucket(name)
		if b.Sequence() < floor {
			if err := b.SetSequence(floor); err != nil {
				return 0, fmt.Errorf("restore floor: %s: %w", name, err)
			}
		}
	}
	if err := meta.Delete(keyBackupAt); err != nil {
		return 0, fmt.Errorf("restore floor: %w", err)
	}
	return floor, nil
}

// floorRaised notes the floor an applied entry drew.
func (s *Store) floorRaised(floor uint64) {
	if r := s.restored.Load(); r != nil && floor > 0 {
		s.restored.Store(&Restored{BackupAt: r.BackupAt, Floor: floor})
	}
}
