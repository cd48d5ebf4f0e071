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
// it can have issued before they are used again.
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
	Floor    uint64    // every sequence continues above it
}

// restore runs inside Open's transaction when the file is a restored
// backup. Floor is the opening time in unix milliseconds: it exceeds any
// sequence the lost file can have reached (one id per millisecond, since
// 1970), and a later restore of the same backup gets a higher one. It is
// drawn here, outside any engine step, and written into the state the
// steps read, so every id after it is derived from durable state.
func restore(tx *bolt.Tx, now time.Time) (*Restored, error) {
	meta := tx.Bucket(bucketMeta)
	raw := meta.Get(keyBackupAt)
	if raw == nil {
		return nil, nil
	}
	r := &Restored{BackupAt: keyTime(raw), Floor: uint64(now.UnixMilli())}
	var m engineMeta
	if v := meta.Get(keyEngine); v != nil {
		if err := json.Unmarshal(v, &m); err != nil {
			return nil, fmt.Errorf("engine meta: %w", err)
		}
	}
	m.Seq = max(m.Seq, r.Floor)
	if err := putJSON(meta, keyEngine, m); err != nil {
		return nil, err
	}
	for _, name := range [][]byte{bucketOutbox, bucketAudit, bucketWHDelivery} {
		b := tx.Bucket(name)
		if b.Sequence() < r.Floor {
			if err := b.SetSequence(r.Floor); err != nil {
				return nil, err
			}
		}
	}
	return r, meta.Delete(keyBackupAt)
}
