package sharedcomponent

import (
	"sync"
	"testing"
)

func TestAcquireSharesAndReleases(t *testing.T) {
	var m Map[string, *int]
	created := 0
	create := func() *int { created++; v := created; return &v }

	a, relA := m.Acquire("x", create)
	b, relB := m.Acquire("x", create)
	if a != b {
		t.Fatalf("same key returned different values")
	}
	c, relC := m.Acquire("y", create)
	if c == a {
		t.Fatalf("different keys share a value")
	}
	if created != 2 {
		t.Fatalf("created %d values, want 2", created)
	}
	if relA() {
		t.Fatalf("first release of two reported last")
	}
	if relA() {
		t.Fatalf("a repeated release counted again")
	}
	if !relB() {
		t.Fatalf("last release not reported")
	}
	if !relC() {
		t.Fatalf("last release of y not reported")
	}
	if m.Len() != 0 {
		t.Fatalf("map still holds %d keys", m.Len())
	}
	d, relD := m.Acquire("x", create)
	if d == a || created != 3 {
		t.Fatalf("a released key was not recreated")
	}
	relD()
}

func TestAcquireConcurrent(t *testing.T) {
	var m Map[int, *struct{}]
	var wg sync.WaitGroup
	vals := make([]*struct{}, 50)
	rels := make([]func() bool, 50)
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vals[i], rels[i] = m.Acquire(1, func() *struct{} { return &struct{}{} })
		}()
	}
	wg.Wait()
	for i := range vals {
		if vals[i] != vals[0] {
			t.Fatalf("concurrent acquires created more than one value")
		}
	}
	last := 0
	for _, r := range rels {
		if r() {
			last++
		}
	}
	if last != 1 {
		t.Fatalf("%d releases reported last, want 1", last)
	}
}
