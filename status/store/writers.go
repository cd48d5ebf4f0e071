package store

import (
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketWriters keeps each writer's last applied Seq (Inputs.Writer):
// writer → be64(seq) + be64(unix nanos of the entry). A writer is one
// process's life, so the list grows by one a start; Prune forgets those
// not heard from for WriterRetention.
var bucketWriters = []byte("writers")

// WriterRetention is how long a writer's last Seq is kept after its last
// entry: far longer than any retry of an entry whose outcome was unknown.
const WriterRetention = 7 * 24 * time.Hour

// Position is where the file stands for an entry of inputs from writer:
// the replicated log's applied index, the model in force, and the
// writer's last applied Seq (what the applier checks before the engine
// sees the entry), read in one transaction.
type Position struct {
	Applied   uint64
	Model     string
	WriterSeq uint64
}

// Position reads the file's Position for writer.
func (s *Store) Position(writer string) (Position, error) {
	var p Position
	err := s.view(func(tx *bolt.Tx) error {
		p = Position{Applied: appliedIndex(tx), Model: string(tx.Bucket(bucketMeta).Get(keyModel))}
		if writer != "" {
			p.WriterSeq = writerSeq(tx, writer)
		}
		return nil
	})
	return p, err
}

func writerSeq(tx *bolt.Tx, writer string) uint64 {
	if v := tx.Bucket(bucketWriters).Get([]byte(writer)); len(v) == 16 {
		return binary.BigEndian.Uint64(v[:8])
	}
	return 0
}

// putWriter records in's key; an entry at or below its writer's last Seq
// is one the file holds already (the applier skips it before the engine
// sees it), and reaching here with one is a writer's mistake.
func putWriter(tx *bolt.Tx, in *Inputs, at time.Time) error {
	if in == nil || in.Writer == "" {
		return nil
	}
	if last := writerSeq(tx, in.Writer); in.Seq <= last {
		return fmt.Errorf("writer %s: seq %d, %d applied already", in.Writer, in.Seq, last)
	}
	return tx.Bucket(bucketWriters).Put([]byte(in.Writer), append(be64(in.Seq), be64(uint64(at.UnixNano()))...))
}

// pruneWriters forgets writers whose last entry is older than cutoff.
func pruneWriters(tx *bolt.Tx, cutoff time.Time, budget int) (int, error) {
	b := tx.Bucket(bucketWriters)
	var old [][]byte
	err := b.ForEach(func(k, v []byte) error {
		if len(old) < budget && len(v) == 16 && int64(binary.BigEndian.Uint64(v[8:])) < cutoff.UnixNano() {
			old = append(old, append([]byte(nil), k...))
		}
		return nil
	})
	for _, k := range old {
		if err == nil {
			err = b.Delete(k)
		}
	}
	return len(old), err
}
