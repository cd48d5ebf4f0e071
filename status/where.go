package status

import "strings"

// Where says in public words from which locations of a cluster something
// fails and where it is fine: "unreachable from eu-west and us-east, fine
// from ap-southeast". Location names are public (cluster.nodes[].location);
// an empty list is left out, and no lists at all say nothing ("").
func Where(unreachable, degraded, fine []string) string {
	var parts []string
	for _, p := range []struct {
		words string
		locs  []string
	}{{"unreachable from ", unreachable}, {"degraded from ", degraded}, {"fine from ", fine}} {
		if len(p.locs) > 0 {
			parts = append(parts, p.words+ListAnd(p.locs))
		}
	}
	return strings.Join(parts, ", ")
}

// ListAnd joins names as a sentence does: "a", "a and b", "a, b and c".
func ListAnd(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
