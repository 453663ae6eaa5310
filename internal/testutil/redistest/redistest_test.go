package redistest

import "testing"

func TestStartRestart(t *testing.T) {
	s := Start(t)
	if got := s.Cmd("SET", "k", "v"); got != "OK" {
		t.Fatalf("SET answered %q", got)
	}
	if got := s.Cmd("GET", "k"); got != "v" {
		t.Fatalf("GET answered %q", got)
	}
	s.Restart()
	if got := s.Cmd("EXISTS", "k"); got != "0" {
		t.Fatalf("restart kept data (EXISTS=%q); persistence should be off", got)
	}
}
