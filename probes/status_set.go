package probes

import (
	"fmt"
	"strconv"
	"strings"
)

// statusSet is a set of accepted HTTP status codes: single codes, classes
// ("2xx") and ranges ("200-299"). The zero set accepts 2xx.
type statusSet struct {
	ranges [][2]int
	text   string
}

func parseStatusSet(items []string) (statusSet, error) {
	if len(items) == 0 {
		return statusSet{ranges: [][2]int{{200, 299}}, text: "2xx"}, nil
	}
	s := statusSet{text: strings.Join(items, ",")}
	for _, it := range items {
		it = strings.TrimSpace(strings.ToLower(it))
		switch {
		case len(it) == 3 && strings.HasSuffix(it, "xx") && it[0] >= '1' && it[0] <= '5':
			base := int(it[0]-'0') * 100
			s.ranges = append(s.ranges, [2]int{base, base + 99})
		case strings.Contains(it, "-"):
			lo, hi, _ := strings.Cut(it, "-")
			a, err1 := code(lo)
			b, err2 := code(hi)
			if err1 != nil || err2 != nil || a > b {
				return statusSet{}, fmt.Errorf("invalid status range %q", it)
			}
			s.ranges = append(s.ranges, [2]int{a, b})
		default:
			c, err := code(it)
			if err != nil {
				return statusSet{}, fmt.Errorf("invalid status %q (use 200, 2xx or 200-299)", it)
			}
			s.ranges = append(s.ranges, [2]int{c, c})
		}
	}
	return s, nil
}

func code(s string) (int, error) {
	c, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || c < 100 || c > 599 {
		return 0, fmt.Errorf("not a status code: %q", s)
	}
	return c, nil
}

func (s statusSet) match(c int) bool {
	for _, r := range s.ranges {
		if c >= r[0] && c <= r[1] {
			return true
		}
	}
	return false
}

func (s statusSet) String() string { return s.text }
