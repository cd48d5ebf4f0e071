package web

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/outpost-status/outpost/status"
	"github.com/outpost-status/outpost/status/statuspage"
)

// history serves /history?page=N: three months per page, newest first.
func (s *Server) history(c echo.Context) error {
	n := 1
	v := c.QueryParam("page")
	if p := c.Param("page"); p != "" {
		v = p
	}
	if v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > 1000 {
			return echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("page must be a whole number from 1 to 1000, got %q", v))
		}
	}
	cur := s.current.Load()
	if cur == nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "starting up")
	}
	p, err := s.lazy.get("history:"+strconv.Itoa(n), func() ([]byte, error) { return s.renderHistory(cur.snap, n) })
	if err != nil {
		return err
	}
	p.ServeHTTP(c.Response(), c.Request())
	return nil
}

const monthsPerPage = 3

func (s *Server) renderHistory(snap *status.Snapshot, n int) ([]byte, error) {
	loc := s.o.Site.Location
	now := snap.GeneratedAt.In(loc)
	first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, loc)
	newest := first.AddDate(0, -(n-1)*monthsPerPage, 0)
	oldest := newest.AddDate(0, -(monthsPerPage - 1), 0)
	end := newest.AddDate(0, 1, 0)
	incs, err := s.o.Store.IncidentsStarted(oldest, end)
	if err != nil {
		return nil, err
	}
	names := statuspage.ComponentNames(snap)
	v := &historyView{}
	for m := newest; !m.Before(oldest); m = m.AddDate(0, -1, 0) {
		mv := monthView{Name: m.Format("January 2006")}
		for _, inc := range incs {
			if statuspage.ToCome(inc) { // history is what happened
				continue
			}
			st := inc.StartedAt.In(loc)
			if st.Year() == m.Year() && st.Month() == m.Month() {
				mv.Incidents = append(mv.Incidents, statuspage.NewIncidentView(inc, names, loc))
			}
		}
		v.Months = append(v.Months, mv)
	}
	// Path-style page links, so a static export can hold every page.
	if n > 1 {
		v.Newer = fmt.Sprintf("/history/%d", n-1)
	}
	older, err := s.o.Store.AnyStartedBefore(oldest)
	if err != nil {
		return nil, err
	}
	if older {
		v.Older = fmt.Sprintf("/history/%d", n+1)
	}
	return s.r.exec("history", page{Path: "/history", historyView: v, Description: "Incident history · " + s.o.Site.Title})
}
