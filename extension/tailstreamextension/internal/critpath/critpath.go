// Package critpath computes the critical path of a trace with the algorithm of Jaeger UI
// (packages/jaeger-ui/src/components/TracePage/CriticalPath): starting at a root, follow the
// last-finishing child (LFC); when a span has no LFC left, its remaining time is on the path
// and the walk returns to the parent, which picks the child that finished before the returning
// child started.
//
// Before the walk, children that overflow their parent are clipped to it and children entirely
// outside it are dropped (with their subtrees), as Jaeger UI's sanitizeOverFlowingChildren does.
//
// Jaeger UI treats non-blocking edges (here: a CONSUMER span whose parent is a PRODUCER span,
// or a span marked NonBlocking) as not part of the parent's path. Jaeger UI then drops the
// detached subtree; for job traces that subtree is the job itself, which would leave the whole
// job processing off the path. Here a detached subtree is walked as a root of its own instead,
// so the parent never waits for it, but the job's own chain still shows. Spans whose parent is
// missing from the trace are roots too, and every root gets its own walk (as Jaeger UI does for
// several roots), in order of start time.
package critpath // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/critpath"

import (
	"slices"
)

// Kind mirrors the OTLP span kinds the algorithm cares about.
type Kind int8

const (
	KindUnspecified Kind = iota
	KindInternal
	KindServer
	KindClient
	KindProducer
	KindConsumer
)

// Span is the minimum the algorithm needs. Times are in any consistent unit (ns here).
type Span struct {
	ID     string
	Parent string // empty for a root
	Start  int64
	End    int64
	Kind   Kind
	// NonBlocking marks an edge to the parent that the parent does not wait for
	// (FOLLOWS_FROM in Jaeger terms), whatever the kinds.
	NonBlocking bool
}

// Section is a stretch of time during which Span was on the critical path.
type Section struct {
	SpanID string
	Start  int64
	End    int64
}

type node struct {
	id       string
	parent   int // index into nodes, -1 for a root
	start    int64
	end      int64
	kind     Kind
	children []int
}

// Compute returns the critical path sections, root by root, each root's sections in the
// order the walk finds them (latest first, as Jaeger UI returns them).
func Compute(spans []Span) []Section {
	if len(spans) == 0 {
		return nil
	}
	idx := make(map[string]int, len(spans))
	nodes := make([]node, 0, len(spans))
	for _, s := range spans {
		if _, dup := idx[s.ID]; dup || s.ID == "" {
			continue
		}
		end := s.End
		if end < s.Start {
			end = s.Start
		}
		idx[s.ID] = len(nodes)
		nodes = append(nodes, node{id: s.ID, parent: -1, start: s.Start, end: end, kind: s.Kind})
	}
	var roots []int
	linked := make([]bool, len(nodes))
	for _, s := range spans {
		i, ok := idx[s.ID]
		if !ok || linked[i] {
			continue
		}
		linked[i] = true
		p, hasParent := idx[s.Parent]
		if s.Parent == "" || !hasParent || p == i || s.NonBlocking ||
			(nodes[i].kind == KindConsumer && nodes[p].kind == KindProducer) {
			roots = append(roots, i)
			continue
		}
		nodes[i].parent = p
		nodes[p].children = append(nodes[p].children, i)
	}
	// A parent cycle (corrupt data) leaves spans reachable from no root: they are ignored.
	slices.SortStableFunc(roots, func(a, b int) int { return cmpInt64(nodes[a].start, nodes[b].start) })

	var out []Section
	for _, r := range roots {
		sanitize(nodes, r)
		out = walk(nodes, r, out)
	}
	return out
}

// sanitize clips or drops children top-down so that grandchildren are checked against their
// parent's clipped range, as in Jaeger UI.
func sanitize(nodes []node, root int) {
	stack := []int{root}
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		pn := &nodes[p]
		kept := pn.children[:0]
		for _, c := range pn.children {
			cn := &nodes[c]
			// Same comparisons as Jaeger UI: a child starting at or after the parent's end, or
			// ending at or before its start, is outside it.
			if (cn.start >= pn.start && cn.start >= pn.end) || (cn.start < pn.start && cn.end <= pn.start) {
				continue
			}
			if cn.start < pn.start {
				cn.start = pn.start
			}
			if cn.end > pn.end {
				cn.end = pn.end
			}
			kept = append(kept, c)
			stack = append(stack, c)
		}
		pn.children = kept
	}
}

// walk is computeCriticalPath from Jaeger UI, written as a loop: the recursion only ever
// continues into one span, so a loop keeps 10,000-span chains off the goroutine stack.
func walk(nodes []node, root int, out []Section) []Section {
	cur := root
	var returning int64
	hasReturning := false
	for {
		n := &nodes[cur]
		lfc := lastFinishingChild(nodes, n, returning, hasReturning)
		end := n.end
		if hasReturning {
			end = returning
		}
		if lfc >= 0 {
			if s := nodes[lfc].end; s != end {
				out = append(out, Section{SpanID: n.id, Start: s, End: end})
			}
			cur, hasReturning = lfc, false
			continue
		}
		if n.start != end {
			out = append(out, Section{SpanID: n.id, Start: n.start, End: end})
		}
		if cur == root || n.parent < 0 {
			return out
		}
		returning, hasReturning = n.start, true
		cur = n.parent
	}
}

func lastFinishingChild(nodes []node, n *node, returning int64, hasReturning bool) int {
	best := -1
	var bestEnd int64
	for _, c := range n.children {
		e := nodes[c].end
		if hasReturning && e >= returning {
			continue
		}
		if best < 0 || e > bestEnd {
			best, bestEnd = c, e
		}
	}
	return best
}

// SpanIDs lists the span ids of sections once each, in the order of first appearance.
func SpanIDs(sections []Section) []string {
	out := make([]string, 0, len(sections))
	seen := make(map[string]struct{}, len(sections))
	for _, s := range sections {
		if _, ok := seen[s.SpanID]; ok {
			continue
		}
		seen[s.SpanID] = struct{}{}
		out = append(out, s.SpanID)
	}
	return out
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
