package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// reloadRule says how a top-level section takes a new value on reload.
type reloadRule struct {
	// restart: a reload that changes the section is refused ("restart
	// needed"), because the section is wired once at start.
	restart bool
	// same compares the section in two configs (nil: deeply equal).
	same func(a, b *Config) bool
}

// reloadRules holds one rule per top-level key, beside the sections they
// govern: a new section without a rule fails TestEveryKeyHasAReloadRule,
// so it cannot be "reloaded" silently to no effect.
func reloadRules() map[string]reloadRule {
	restart := reloadRule{restart: true}
	reload := reloadRule{}
	return map[string]reloadRule{
		"site": {restart: true, same: func(a, b *Config) bool {
			return a.Site.Title == b.Site.Title && a.Site.URL == b.Site.URL && a.Site.TimeZone == b.Site.TimeZone &&
				a.Site.Description == b.Site.Description && a.Site.ID == b.Site.ID
		}},
		"listen":    restart,
		"operators": restart,
		// The file is opened once; how long raw results are kept reloads.
		"storage":      {restart: true, same: func(a, b *Config) bool { return a.Storage.Path == b.Storage.Path }},
		"components":   reload,
		"checks":       reload,
		"canaries":     reload,
		"connectivity": reload,
		"incidents":    reload,
		"voting":       reload, // the model: a cluster reloads it together
		"maintenance":  reload,
		"scheduler":    reload,
		// The new checks get a new browser; the old one closes with its scheduler.
		"browser":         reload,
		"metrics":         restart,
		"tls":             restart,
		"export":          restart,
		"channels":        restart,
		"publish":         restart,
		"admin":           restart,
		"deadman":         restart,
		"peers":           restart,
		"peering":         restart,
		"webhooks":        restart,
		"email":           restart, // the sender and the subscribe form are built once at start
		"trusted_proxies": restart,
		// The node connection and raft are wired once at start; the
		// members (cluster.nodes) reload: the leader brings raft's
		// configuration to them. This node's own entry is its listener.
		"cluster": {restart: true, same: sameClusterButMembers},
	}
}

// RestartNeeded returns an error naming the sections that differ between
// the config in force and next but are wired at start; nil when next can
// be applied by a reload.
func RestartNeeded(cur, next *Config) error {
	var changed []string
	for key, rule := range reloadRules() {
		if !rule.restart {
			continue
		}
		same := rule.same
		if same == nil {
			same = func(a, b *Config) bool { return reflect.DeepEqual(section(a, key), section(b, key)) }
		}
		if !same(cur, next) {
			changed = append(changed, key)
		}
	}
	if len(changed) == 0 {
		return nil
	}
	slices.Sort(changed)
	return fmt.Errorf("%s changed: restart Outpost to apply it", strings.Join(changed, ", "))
}

// section is the value of the top-level field with the YAML key key.
func section(c *Config, key string) any {
	v := reflect.ValueOf(c).Elem()
	for i := range v.NumField() {
		if tag, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ","); tag == key {
			return v.Field(i).Interface()
		}
	}
	return nil
}

// sameClusterButMembers compares two cluster sections but for the other
// members in cluster.nodes, which a reload may add, remove or move.
func sameClusterButMembers(a, b *Config) bool {
	if (a.Cluster == nil) != (b.Cluster == nil) {
		return false
	}
	if a.Cluster == nil {
		return true
	}
	x, y := *a.Cluster, *b.Cluster
	if x.Self() != y.Self() {
		return false
	}
	x.Nodes, y.Nodes = nil, nil
	return reflect.DeepEqual(x, y)
}
