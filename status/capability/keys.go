package capability

import (
	"crypto/rand"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Key is one per-site secret key. The current key signs; a key rotated
// out keeps verifying until Until, so links in messages already sent keep
// working for a while.
type Key struct {
	ID      string    `json:"id"`
	Secret  []byte    `json:"secret"`
	Created time.Time `json:"created"`
	Until   time.Time `json:"until,omitzero"` // zero: not rotated out
}

// Keys is a site's keys, in any order.
type Keys []Key

// Grace is how long a rotated-out key keeps verifying by default: long
// enough for a mail sent just before a rotation to be read and acted on.
const Grace = 30 * 24 * time.Hour

// Current is the key that signs: the newest one not rotated out.
func (ks Keys) Current() (Key, bool) {
	var cur Key
	found := false
	for _, k := range ks {
		if k.Until.IsZero() && (!found || k.Created.After(cur.Created) || (k.Created.Equal(cur.Created) && keyNum(k.ID) > keyNum(cur.ID))) {
			cur, found = k, true
		}
	}
	return cur, found
}

func (ks Keys) find(id string) (Key, bool) {
	i := slices.IndexFunc(ks, func(k Key) bool { return k.ID == id })
	if i < 0 {
		return Key{}, false
	}
	return ks[i], true
}

// NewSecret draws a key's secret. It is called by the node, outside the
// store: applying an entry draws no random number.
func NewSecret() ([]byte, error) {
	b := make([]byte, minSecret)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("drawing a site key: %w", err)
	}
	return b, nil
}

// First is a site's first key, "k1".
func First(secret []byte, now time.Time) Key { return Key{ID: "k1", Secret: secret, Created: now} }

// Rotate makes the key that replaces ks's current one, and returns as
// retired every key that still verifies at now with its end cut to the
// earlier of its own end and now+grace: the current key first, then keys
// rotated out before. Cutting them all is what makes grace 0 (a key that
// leaked) stop every link signed before now, including links of a key a
// routine rotation left verifying for weeks; a later rotation never
// lengthens a grace. Ids count up ("k1", "k2", …) so two rotations racing
// each other make the same new id and the store refuses the second.
func Rotate(ks Keys, secret []byte, now time.Time, grace time.Duration) (fresh Key, retired []Key, err error) {
	if len(secret) < minSecret {
		return Key{}, nil, fmt.Errorf("capability: a secret needs %d bytes", minSecret)
	}
	if grace < 0 {
		return Key{}, nil, fmt.Errorf("capability: grace %s is negative", grace)
	}
	n := 0
	for _, k := range ks {
		n = max(n, keyNum(k.ID))
	}
	end := now.Add(grace)
	cur, ok := ks.Current()
	if ok {
		cur.Until = end
		retired = append(retired, cur)
	}
	for _, k := range ks {
		// Keys that end before the new grace does (past ones verify
		// nothing) are left as they are.
		if (!ok || k.ID != cur.ID) && (k.Until.IsZero() || k.Until.After(end)) {
			k.Until = end
			retired = append(retired, k)
		}
	}
	return Key{ID: "k" + strconv.Itoa(n+1), Secret: secret, Created: now}, retired, nil
}

func keyNum(id string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(id, "k"))
	if err != nil {
		return 0
	}
	return n
}
