package jobtailclient

import "testing"

var benchEntry = []byte(`{"timestamp":"2026-11-27T11:33:09.322Z","level":"warn","service":"jobqueue","job_id":"c8709afc172dafd780ffa32b01361726",` +
	`"worker_id":"vm-15336-1795778916239941793-cb36-1","queue_name":"low_priority","trace_id":"9cc4cbe273c6cb12df2454f46a1b2c3d",` +
	`"span_id":"bbbe1c06aebd38dc","message":"job retried","attributes":{"event.name":"job_retried","job.attempt":1,"job.status":"retried"},"seq":26}`)

// Every streamed line is decoded once on the client; at the design's 10k lines/s peak this
// must stay far below 100 µs.
func BenchmarkDecodeLogEntry(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := decodeMessage(benchEntry); err != nil {
			b.Fatal(err)
		}
	}
}

func TestDecodeMessageKinds(t *testing.T) {
	e, c, err := decodeMessage(benchEntry)
	if err != nil || c != nil || e == nil || e.Seq != 26 || e.JobID != "c8709afc172dafd780ffa32b01361726" || string(e.Raw) != string(benchEntry) {
		t.Fatalf("entry: %+v %+v %v", e, c, err)
	}
	e, c, err = decodeMessage([]byte(`{"type":"warning","message":"buffer 85% full","buffer_usage":0.85}`))
	if err != nil || e != nil || c.Type != "warning" || c.BufferUsage != 0.85 || c.Message != "buffer 85% full" {
		t.Fatalf("warning: %+v %v", c, err)
	}
	e, c, err = decodeMessage([]byte(`{"type":"dropped","reason":"buffer_full","count":7,"total":9}`))
	if err != nil || e != nil || c.Dropped != 7 || c.Reason != "buffer_full" {
		t.Fatalf("dropped: %+v %v", c, err)
	}
	if _, _, err = decodeMessage([]byte(`{not json`)); err == nil {
		t.Fatal("malformed message accepted")
	}
}
