package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/outpost-status/outpost/status/capability"
)

func testKey(fill byte, at time.Time) capability.Key {
	return capability.First(bytes.Repeat([]byte{fill}, 32), at)
}

// The site key is written once: a second create of the same id is
// refused whole, and the first key stays.
func TestSiteKeyIsCreatedOnce(t *testing.T) {
	s, _ := openTemp(t)
	if keys, err := s.SiteKeys(); err != nil || len(keys) != 0 {
		t.Fatalf("a new file has keys %v (%v)", keys, err)
	}
	first, _ := SiteKeySettings(testKey(1, t0))
	if _, err := s.Apply(Entry{At: t0, Settings: first}); err != nil {
		t.Fatal(err)
	}
	second, _ := SiteKeySettings(testKey(2, t0.Add(time.Hour)))
	before := dump(t, s)
	if _, err := s.Apply(Entry{At: t0.Add(time.Hour), Settings: second}); !errors.Is(err, ErrSettingExists) {
		t.Fatalf("second create: %v, want ErrSettingExists", err)
	}
	if after := dump(t, s); len(after) != len(before) || after["settings/sitekey/k1"] != before["settings/sitekey/k1"] {
		t.Fatal("a refused create changed the file")
	}
	keys, err := s.SiteKeys()
	if err != nil || len(keys) != 1 || keys[0].Secret[0] != 1 || !keys[0].Created.Equal(t0) {
		t.Fatalf("keys = %+v (%v)", keys, err)
	}
}

// Rotation adds the next key and marks the current one rotated out, in one
// entry; both are read back.
func TestSiteKeyRotationIsStored(t *testing.T) {
	s, _ := openTemp(t)
	first, _ := SiteKeySettings(testKey(1, t0))
	if _, err := s.Apply(Entry{At: t0, Settings: first}); err != nil {
		t.Fatal(err)
	}
	keys, _ := s.SiteKeys()
	fresh, retired, err := capability.Rotate(keys, bytes.Repeat([]byte{2}, 32), t0.Add(time.Hour), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	settings, err := SiteKeySettings(fresh, retired...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(Entry{At: t0.Add(time.Hour), Settings: settings}); err != nil {
		t.Fatal(err)
	}
	keys, _ = s.SiteKeys()
	cur, ok := keys.Current()
	if len(keys) != 2 || !ok || cur.ID != "k2" {
		t.Fatalf("keys = %+v", keys)
	}
	tok, _ := capability.Sign(testKey(1, t0), "sub_a", capability.Unsubscribe, time.Time{})
	if _, err := capability.Verify(keys, tok, capability.Unsubscribe, t0.Add(2*time.Hour)); !errors.Is(err, capability.ErrBadSignature) {
		t.Fatalf("k1 verifies after its grace: %v", err)
	}
	// The same rotation applied again (two operators at once) is refused.
	if _, err := s.Apply(Entry{At: t0.Add(time.Hour), Settings: settings}); !errors.Is(err, ErrSettingExists) {
		t.Fatalf("repeated rotation: %v", err)
	}
}

// A backup carries the site key: links signed before the backup verify
// against the restored file.
func TestBackupCarriesSiteKey(t *testing.T) {
	s, _ := openTemp(t)
	first, _ := SiteKeySettings(testKey(5, t0))
	if _, err := s.Apply(Entry{At: t0, Settings: first}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "backup.db")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Backup(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	r, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	keys, err := r.SiteKeys()
	if err != nil || len(keys) != 1 || !bytes.Equal(keys[0].Secret, testKey(5, t0).Secret) {
		t.Fatalf("restored keys = %+v (%v)", keys, err)
	}
}

// A key already rotated out keeps its grace through a routine rotation,
// but a rotation with grace 0 (a leaked key) cuts every key that still
// verifies, not only the one signing: after it, no link signed before
// it verifies, as docs/operations.md promises.
func TestLeakedKeyRotationCutsEveryLiveKey(t *testing.T) {
	s, _ := openTemp(t)
	first, _ := SiteKeySettings(testKey(1, t0))
	if _, err := s.Apply(Entry{At: t0, Settings: first}); err != nil {
		t.Fatal(err)
	}
	rotate := func(at time.Time, fill byte, grace time.Duration) {
		t.Helper()
		keys, err := s.SiteKeys()
		if err != nil {
			t.Fatal(err)
		}
		fresh, retired, err := capability.Rotate(keys, bytes.Repeat([]byte{fill}, 32), at, grace)
		if err != nil {
			t.Fatal(err)
		}
		settings, err := SiteKeySettings(fresh, retired...)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Apply(Entry{At: at, Settings: settings}); err != nil {
			t.Fatal(err)
		}
	}
	k1Link, _ := capability.Sign(testKey(1, t0), "sub_a", capability.Unsubscribe, time.Time{})
	rotate(t0.Add(time.Hour), 2, capability.Grace) // routine: k1 verifies 30 days more
	leak := t0.Add(2 * time.Hour)
	keys, _ := s.SiteKeys()
	if _, err := capability.Verify(keys, k1Link, capability.Unsubscribe, leak); err != nil {
		t.Fatalf("k1 in its grace: %v", err)
	}
	rotate(leak, 3, 0) // k1 leaked
	keys, _ = s.SiteKeys()
	if _, err := capability.Verify(keys, k1Link, capability.Unsubscribe, leak); !errors.Is(err, capability.ErrBadSignature) {
		t.Fatalf("k1 still verifies after a grace-0 rotation: %v", err)
	}
	// A later routine rotation never lengthens a grace already cut.
	rotate(leak.Add(time.Minute), 4, capability.Grace)
	keys, _ = s.SiteKeys()
	for _, k := range keys {
		if (k.ID == "k1" || k.ID == "k2") && !k.Until.Equal(leak) {
			t.Errorf("%s until %v, want %v", k.ID, k.Until, leak)
		}
	}
}
