package queuejobreceiver

import (
	"fmt"
	"testing"
)

func TestEventAttrsPerQueueAndBounded(t *testing.T) {
	ea := eventAttrs{}
	a := ea.get("high_priority", evDeadLettered)
	if a == nil || ea.get("high_priority", evDeadLettered) != a {
		t.Fatal("the options of one queue and event must be built once and reused")
	}
	if ea.get("low_priority", evDeadLettered) == a || ea.get("high_priority", evSucceeded) == a {
		t.Fatal("another queue or event must get its own attributes")
	}
	for i := range 2 * maxQueueAttrs {
		ea.get(fmt.Sprintf("q%d", i), evStarted)
	}
	if len(ea) != maxQueueAttrs+1 {
		t.Fatalf("%d queue entries, want %d and one for other", len(ea), maxQueueAttrs)
	}
	if _, ok := ea["other"]; !ok {
		t.Fatal("queues past the bound should count as other")
	}
}
