package node

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/outpost-status/outpost/status/capability"
	"github.com/outpost-status/outpost/status/store"
)

// ensureSiteKey draws the per-site key that signs capability links when
// the data file has none, and writes it through the log. It is drawn here,
// not in the store, because applying an entry draws nothing; the setting
// is create-only, so a second start (or, in a cluster, a second node)
// never replaces it.
func ensureSiteKey(st *store.Store, changes store.Log, now time.Time, log *slog.Logger) error {
	keys, err := st.SiteKeys()
	if err != nil {
		return fmt.Errorf("cannot read the site key: %w", err)
	}
	if _, ok := keys.Current(); ok {
		return nil
	}
	secret, err := capability.NewSecret()
	if err != nil {
		return err
	}
	fresh := capability.First(secret, now)
	if len(keys) > 0 { // every key was retired by hand: the next id
		fresh, _, _ = capability.Rotate(keys, secret, now, 0)
	}
	settings, err := store.SiteKeySettings(fresh)
	if err != nil {
		return err
	}
	_, err = changes.Apply(store.Entry{At: now, Settings: settings})
	switch {
	case errors.Is(err, store.ErrSettingExists): // another node made it meanwhile
		return nil
	case err != nil:
		return fmt.Errorf("cannot store the site key: %w", err)
	}
	log.Info("made the site key that signs subscriber links", slog.String("key", fresh.ID))
	return nil
}
