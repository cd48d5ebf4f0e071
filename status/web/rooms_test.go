package web

import (
	"reflect"
	"testing"
)

// The rooms that change things hold only what they need: none holds the
// Server (and through it the renderer's internals); the admin room sees
// the public site through servedSite alone.
func TestRoomsHoldNoServer(t *testing.T) {
	server := reflect.TypeOf(&Server{})
	for _, room := range []any{adminRoom{}, subscriptionsRoom{}, heartbeatRoom{}, leaveRoom{}, confirmRoom{}, manageRoom{}} {
		rt := reflect.TypeOf(room)
		for i := range rt.NumField() {
			if f := rt.Field(i); f.Type == server || f.Type == server.Elem() {
				t.Errorf("%s.%s is the Server: a room sees the site through servedSite", rt.Name(), f.Name)
			}
		}
	}
	if _, ok := any(&Server{}).(servedSite); !ok {
		t.Fatal("the Server is not a servedSite")
	}
}
