package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// ErrDamaged means the data file cannot be read safely: bbolt would panic
// or fault (SIGBUS, which nothing can recover) on it.
var ErrDamaged = errors.New("is damaged: restore a backup (docs/operations.md)")

// The bbolt file layout (go.etcd.io/bbolt/internal/common), read here so
// a damaged file is refused before bbolt maps it. Numbers are in the
// machine's byte order, as bbolt writes them.
const (
	boltMagic        = 0xED0CDAED
	boltVersion      = 2
	pageHeaderSize   = 16 // id u64, flags u16, count u16, overflow u32
	metaChecksumAt   = 56 // magic, version, page size, flags, root (2×u64), freelist, pgid, txid
	metaSize         = metaChecksumAt + 8
	pageFlagBranch   = 0x01
	pageFlagLeaf     = 0x02
	pageFlagFreelist = 0x10
	noFreelist       = ^uint64(0)
)

// boltMeta is what validation needs of a meta page.
type boltMeta struct {
	pageSize        uint32
	root, freelist  uint64
	highWater, txid uint64
}

// validateFile checks a data file before bbolt opens it: a missing file is
// fine (it is created), an empty one is an error (bbolt would silently
// start afresh and lose all history), and otherwise the meta page bbolt
// would use must be intact (magic, version, checksum), its pages must lie
// within the file (a truncated file faults with SIGBUS), and the freelist
// and root pages it names must be of their kind (else bbolt panics).
func validateFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	size := fi.Size()
	if size == 0 {
		return fmt.Errorf("%s %w (the file is empty: 0 bytes)", path, ErrDamaged)
	}
	m, err := newestMeta(f, size)
	if err != nil {
		return fmt.Errorf("%s %w (%v)", path, ErrDamaged, err)
	}
	if err := checkPages(f, size, m); err != nil {
		return fmt.Errorf("%s %w (%v)", path, ErrDamaged, err)
	}
	return nil
}

// newestMeta returns the valid meta page with the highest transaction id,
// as bbolt chooses: one torn meta page (a crash mid-write) is survivable.
func newestMeta(f io.ReaderAt, size int64) (boltMeta, error) {
	first, err0 := readMeta(f, 0)
	pageSize := int64(4096)
	if err0 == nil {
		pageSize = int64(first.pageSize)
	}
	var second boltMeta
	err1 := errors.New("no second meta page")
	for _, ps := range []int64{pageSize, 4096, 8192, 16384, 32768, 65536} {
		if ps+pageHeaderSize+metaSize > size {
			continue
		}
		if second, err1 = readMeta(f, ps); err1 == nil {
			break
		}
	}
	switch {
	case err0 != nil && err1 != nil:
		return boltMeta{}, fmt.Errorf("both meta pages are invalid: %v; %v", err0, err1)
	case err0 != nil:
		return second, nil
	case err1 != nil || first.txid >= second.txid:
		return first, nil
	}
	return second, nil
}

func readMeta(f io.ReaderAt, off int64) (boltMeta, error) {
	b := make([]byte, metaSize)
	if _, err := f.ReadAt(b, off+pageHeaderSize); err != nil {
		return boltMeta{}, fmt.Errorf("meta page at %d: %v", off, err)
	}
	u32 := func(i int) uint32 { return binary.NativeEndian.Uint32(b[i:]) }
	u64 := func(i int) uint64 { return binary.NativeEndian.Uint64(b[i:]) }
	if u32(0) != boltMagic {
		return boltMeta{}, fmt.Errorf("meta page at %d: not a bbolt file", off)
	}
	if u32(4) != boltVersion {
		return boltMeta{}, fmt.Errorf("meta page at %d: version %d", off, u32(4))
	}
	h := fnv.New64a()
	h.Write(b[:metaChecksumAt])
	if h.Sum64() != u64(metaChecksumAt) {
		return boltMeta{}, fmt.Errorf("meta page at %d: checksum mismatch", off)
	}
	m := boltMeta{pageSize: u32(8), root: u64(16), freelist: u64(32), highWater: u64(40), txid: u64(48)}
	if m.pageSize < 1024 || m.pageSize > 1<<20 || m.pageSize&(m.pageSize-1) != 0 {
		return boltMeta{}, fmt.Errorf("meta page at %d: page size %d", off, m.pageSize)
	}
	return m, nil
}

// checkPages checks that the file holds every page up to the high-water
// mark and that the freelist and root pages are what the meta says.
func checkPages(f io.ReaderAt, size int64, m boltMeta) error {
	ps := int64(m.pageSize)
	// The high-water mark is the number of pages (the next id to use).
	if need := int64(m.highWater) * ps; need > size {
		return fmt.Errorf("the file is %d bytes but its pages reach %d (truncated)", size, need)
	}
	page := func(id uint64, flags uint16, what string) error {
		if id < 2 || id >= m.highWater {
			return fmt.Errorf("%s page %d is outside the file's pages", what, id)
		}
		h := make([]byte, pageHeaderSize)
		if _, err := f.ReadAt(h, int64(id)*ps); err != nil {
			return fmt.Errorf("%s page %d: %v", what, id, err)
		}
		gotID, gotFlags := binary.NativeEndian.Uint64(h), binary.NativeEndian.Uint16(h[8:])
		overflow := uint64(binary.NativeEndian.Uint32(h[12:]))
		if gotID != id || gotFlags&flags == 0 {
			return fmt.Errorf("%s page %d has id %d and flags %#x", what, id, gotID, gotFlags)
		}
		if id+overflow >= m.highWater {
			return fmt.Errorf("%s page %d runs past the file's pages", what, id)
		}
		return nil
	}
	if m.freelist != noFreelist {
		if err := page(m.freelist, pageFlagFreelist, "freelist"); err != nil {
			return err
		}
	}
	return page(m.root, pageFlagBranch|pageFlagLeaf, "root")
}
