package logstore // import "github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/logstore"

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
)

// GatewayField is the field each gateway's exporter stamps on the lines it stores
// (VL-Extra-Fields in examples/scale-out/gateway.yaml), so a gateway can follow the lines the
// others stored without getting its own back.
const GatewayField = "jobtrace.gateway"

// TailQuery selects the lines a live tail follows.
type TailQuery struct {
	// ExcludeGateway leaves out the lines this gateway stored itself (it has them live).
	ExcludeGateway string
	// Delay is how far behind now the store is read, so lines that reach it a little late
	// (batching, the exporter's queue) are not skipped. VictoriaLogs' own default is 5s.
	Delay time.Duration
	// Connected, when set, is called once the store accepted the tail, before any line is
	// handed on: the tail then covers lines stamped from TailReplay before now-Delay onwards.
	Connected func(at time.Time)
}

// TailReplay is how far before its first read a new VictoriaLogs tail starts (its
// start_offset default): a reconnect within it misses nothing.
const TailReplay = 5 * time.Second

// Tailer follows lines as the store receives them.
type Tailer interface {
	// Tail calls fn with each batch of new lines until ctx ends or the connection breaks.
	Tail(ctx context.Context, q TailQuery, fn func(plog.Logs)) error
}

var _ Tailer = (*VictoriaLogs)(nil)

// Tail follows VictoriaLogs' live tail (/select/logsql/tail). It returns when ctx ends (nil)
// or the stream breaks (the error); the caller reconnects.
func (v *VictoriaLogs) Tail(ctx context.Context, q TailQuery, fn func(plog.Logs)) error {
	query := "*"
	if q.ExcludeGateway != "" {
		query = "-" + quote(GatewayField) + ":=" + quote(q.ExcludeGateway)
	}
	form := url.Values{"query": {query}, "refresh_interval": {"500ms"}}
	if q.Delay > 0 {
		form.Set("offset", q.Delay.String())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.opts.Endpoint+"/select/logsql/tail", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	// Compressed, VictoriaLogs sends the response headers only with the first lines, so a
	// tail with nothing new would not look connected (and its gap would wait for a line).
	req.Header.Set("Accept-Encoding", "identity")
	for k, val := range v.opts.Headers {
		req.Header.Set(k, val)
	}
	resp, err := v.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("tail: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	// The store answered: whatever opened the breaker (queries during the outage that broke
	// this tail) is over, and the gap's backfill must not be refused for it.
	v.br.Success()
	if q.Connected != nil {
		q.Connected(time.Now())
	}
	lines := make(chan []byte, 256)
	readErr := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), maxLine)
		for sc.Scan() {
			lines <- append([]byte(nil), sc.Bytes()...)
		}
		readErr <- sc.Err()
		close(lines)
	}()
	// Lines come in bursts, one per refresh: hand them on in one batch per burst.
	flush := time.NewTicker(100 * time.Millisecond)
	defer flush.Stop()
	batch := plog.NewLogs()
	emit := func() {
		if batch.LogRecordCount() > 0 {
			fn(batch)
			batch = plog.NewLogs()
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-flush.C:
			emit()
		case b, ok := <-lines:
			if !ok {
				emit()
				if ctx.Err() != nil {
					return nil
				}
				if err := <-readErr; err != nil {
					return err
				}
				return io.ErrUnexpectedEOF
			}
			var row map[string]string
			if len(b) == 0 || json.Unmarshal(b, &row) != nil {
				continue
			}
			AppendRecord(batch, row)
		}
	}
}
