package tracecontext_test

import (
	"encoding/json"
	"fmt"

	"github.com/jobtrace/jobtrace/internal/tracecontext"
)

func ExampleExtractor_Extract() {
	e, err := tracecontext.NewExtractor(tracecontext.DefaultConfig())
	if err != nil {
		panic(err)
	}
	// A BullMQ-style job: the producer's W3C context is a JSON string in opts.tm, and the job
	// also carries upstream-style fields, which rank lower.
	var job map[string]any
	_ = json.Unmarshal([]byte(`{
		"name": "resize",
		"trace_id": "39c479705e393343e92d4a770f474a9a", "span_id": "71bdc768280d4db9",
		"opts": {"attempts": 3, "tm": "{\"traceparent\":\"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\"}"}
	}`), &job)
	c, ok := e.Extract(job)
	fmt.Println(ok, c.Format, c.Source, c.TraceIDHex(), c.SpanIDHex(), c.Sampled())
	// Output: true w3c metadata 4bf92f3577b34da6a3ce929d0e0e4736 00f067aa0ba902b7 true
}

func ExampleExtractor_ExtractReport() {
	e, _ := tracecontext.NewExtractor(tracecontext.DefaultConfig())
	job := map[string]any{
		"headers": map[string]any{
			"traceparent": "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
			"b3":          "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1",
		},
	}
	c, ok, rej := e.ExtractReport(job)
	fmt.Println(ok, c.Format, c.Source, rej.Formats.Has(tracecontext.FormatW3C), rej.Err)
	// Output: true b3 headers true traceparent: version ff is invalid
}
