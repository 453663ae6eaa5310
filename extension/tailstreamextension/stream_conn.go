package tailstreamextension // import "github.com/jobtrace/jobtrace/extension/tailstreamextension"

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/zap"

	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/hub"
	"github.com/jobtrace/jobtrace/extension/tailstreamextension/internal/ring"
)

// WebSocket close codes. Normal closure ends a stream that finished (follow=false), was
// deleted, expired or idled out; a following client then creates a new one. Policy
// violation means "do not reconnect": another connection took the stream over.
const (
	closeFinished = websocket.StatusNormalClosure
	closeShutdown = websocket.StatusGoingAway
	closeReplaced = websocket.StatusPolicyViolation
	closeStalled  = websocket.StatusTryAgainLater
)

// Control messages, sent in-band between entries. Entries have no "type"; these do.
type controlDropped struct {
	Type   string `json:"type"` // dropped
	Reason string `json:"reason"`
	Count  uint64 `json:"count"`
	Total  uint64 `json:"total"`
}

// controlUncounted is a drop the server knows of but cannot count.
type controlUncounted struct {
	Type    string `json:"type"` // dropped
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

type controlWarning struct {
	Type        string  `json:"type"` // warning
	Message     string  `json:"message"`
	BufferUsage float64 `json:"buffer_usage"`
}

type controlStatus struct {
	Type        string  `json:"type"` // status
	Status      string  `json:"status"`
	Message     string  `json:"message,omitempty"`
	CurrentRate float64 `json:"current_rate"`
}

const warnUsage = 0.8

// sender writes one attachment's messages in some framing.
type sender interface {
	entries(ctx context.Context, es []*ring.Entry) error
	control(ctx context.Context, v any) error
	ping(ctx context.Context) error
	// end tells the client why the stream ended (reason from hub.End*, "" = finished).
	end(reason string)
}

// writeTimeout bounds one write: a client that accepts nothing for this long is stalled
// and its connection is closed (the stream stays and can be re-attached).
func (t *tailstream) writeTimeout() time.Duration {
	return max(10*time.Second, 2*t.cfg.Streams.PingInterval)
}

// resumeFrom reads Last-Event-ID (header or last_event_id query parameter).
func resumeFrom(r *http.Request) (*uint64, error) {
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		v = r.URL.Query().Get("last_event_id")
	}
	if v == "" {
		return nil, nil
	}
	n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return nil, errors.New("Last-Event-ID: must be a sequence number")
	}
	return &n, nil
}

// clearDeadlines lifts the server's read and write timeouts from a streaming response:
// they are meant for ordinary requests and would cut a live stream.
func clearDeadlines(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	_ = rc.SetReadDeadline(time.Time{})
}

func (t *tailstream) handleAttachWS(w http.ResponseWriter, r *http.Request, p *principal) {
	s, ok := t.lookup(w, r, p)
	if !ok {
		return
	}
	t.attachWS(w, r, p, s)
}

func (t *tailstream) handleAttachSSE(w http.ResponseWriter, r *http.Request, p *principal) {
	s, ok := t.lookup(w, r, p)
	if !ok {
		return
	}
	t.attachHTTP(w, r, p, s, sseFraming)
}

func (t *tailstream) attachWS(w http.ResponseWriter, r *http.Request, p *principal, s *hub.Stream) {
	resume, err := resumeFrom(r)
	if err != nil {
		t.dropEphemeral(s)
		writeError(w, http.StatusBadRequest, "invalid_header", err.Error(), "Last-Event-ID")
		return
	}
	var origins []string
	if t.cfg.CORS.HasValue() {
		for _, o := range t.cfg.CORS.Get().AllowedOrigins {
			origins = append(origins, strings.TrimPrefix(strings.TrimPrefix(o, "https://"), "http://"))
		}
	}
	clearDeadlines(w)
	limitUnsent(r)
	hw := &holdingWriter{ResponseWriter: w}
	c, err := websocket.Accept(hw, r, &websocket.AcceptOptions{OriginPatterns: origins})
	if err != nil {
		t.dropEphemeral(s)
		return // Accept has answered the client
	}
	defer c.CloseNow()
	t.handlers.Add(1)
	defer t.handlers.Done()
	// The protocol is one-way; reading is only needed to process pings, pongs and close.
	ctx := c.CloseRead(r.Context())
	batch, _ := strconv.ParseBool(r.URL.Query().Get("batch"))
	t.pump(ctx, p, s, resume, &wsSender{c: c, conn: hw.conn, timeout: t.writeTimeout(), batch: batch}, "websocket")
}

type framing int

const (
	sseFraming framing = iota
	ndjsonFraming
)

func (t *tailstream) attachHTTP(w http.ResponseWriter, r *http.Request, p *principal, s *hub.Stream, fr framing) {
	resume, err := resumeFrom(r)
	if err != nil {
		t.dropEphemeral(s)
		writeError(w, http.StatusBadRequest, "invalid_header", err.Error(), "Last-Event-ID")
		return
	}
	t.handlers.Add(1)
	defer t.handlers.Done()
	clearDeadlines(w)
	limitUnsent(r)
	h := w.Header()
	if fr == sseFraming {
		h.Set("Content-Type", "text/event-stream")
	} else {
		h.Set("Content-Type", "application/x-ndjson")
	}
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // let reverse proxies pass events through unbuffered
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	snd := &httpSender{w: &batchWriter{w: w}, rc: rc, fr: fr, timeout: t.writeTimeout()}
	mode := "sse"
	if fr == ndjsonFraming {
		mode = "ndjson"
	}
	t.pump(r.Context(), p, s, resume, snd, mode)
}

func (t *tailstream) dropEphemeral(s *hub.Stream) {
	if s.Ephemeral {
		t.hub.Remove(s.ID, hub.EndDeleted)
	}
}

// pump delivers a stream to one attachment until the client leaves, the stream ends, or
// (follow=false) the replay is done: the replay (or, on resume, what the client missed) from
// the ring, then the queue, skipping what that covered. No line is sent twice to a client
// that resumes from the last line it received.
func (t *tailstream) pump(ctx context.Context, p *principal, s *hub.Stream, resume *uint64, snd sender, mode string) {
	att, first, ok := s.Attach()
	if !ok {
		snd.end(hub.EndDeleted)
		return
	}
	now := t.now()
	defer s.Detach(att, now)
	// When the hub ends this attachment, the client is told why (close code or final status
	// event) whichever way pump returns: ending also cancels ctx, and a select or a write may
	// see that cancellation first.
	ended := false
	end := func(reason string) {
		if !ended {
			ended = true
			snd.end(reason)
		}
	}
	defer func() {
		select {
		case <-att.Done():
			end(s.Reason(att))
		default:
		}
	}()
	auditFields := []zap.Field{zap.String("stream_id", s.ID), zap.String("transport", mode)}
	if resume != nil {
		auditFields = append(auditFields, zap.Uint64("last_event_id", *resume))
	}
	t.audit(p, "stream.attach", auditFields...)

	// Cancel in-flight writes when this attachment is ended by the hub.
	ctx, cancel := context.WithCancel(ctx)
	var bg sync.WaitGroup
	defer func() {
		cancel()
		bg.Wait()
	}()
	bg.Add(1)
	go func() {
		defer bg.Done()
		select {
		case <-att.Done():
			cancel()
		case <-ctx.Done():
		}
	}()

	f, opts := s.Filter(), s.Options()
	follow := opts.Follow && (f.Until().IsZero() || f.Until().After(now))
	tail := opts.TailLines
	switch {
	case tail > 0:
	case tail < 0 || !follow || !f.Since().IsZero():
		tail = 0 // all retained (within since)
	default:
		tail = -1 // live only
	}
	// at is the live position (hub.Position) this attachment has delivered up to: queued
	// lines at or before it were sent already, by an earlier attachment or by the replay.
	var replay []*ring.Entry
	var at hub.Position
	gone := 0 // replay lines the resuming client missed that left the ring meanwhile
	switch {
	case resume != nil:
		// Exact after a timestamp-sorted replay and after late lines, whose seqs are not
		// in delivery order: the hub places the client's last line.
		replay, at, _, gone = t.hub.Resume(ctx, s, *resume, tail, now)
	case first:
		if tail >= 0 {
			// In timestamp order: what the client reads first is history.
			replay, _ = t.hub.Replay(ctx, s, tail, now)
		}
		at = s.Start()
	default:
		at = s.LastDelivered()
	}

	// send delivers a batch; queued batches are cut to what follows at.
	send := func(batch []*ring.Entry, queued bool) error {
		if queued {
			n := 0
			for _, e := range batch {
				if p := s.Pos(e); at.Less(p) {
					batch[n] = e
					n++
					at = p
				}
			}
			batch = batch[:n]
		}
		for len(batch) > 0 {
			chunk := batch[:min(len(batch), 512)]
			batch = batch[len(chunk):]
			if err := snd.entries(ctx, chunk); err != nil {
				return err
			}
			pos := hub.Position{}
			if queued {
				pos = s.Pos(chunk[len(chunk)-1])
			}
			s.Delivered(pos, len(chunk), t.now())
		}
		return nil
	}

	lastStatus := hub.StatusActive
	warned := false
	controls := func() error {
		rep := s.TakeDropReport()
		if rep.RateLimited > 0 {
			if err := snd.control(ctx, controlDropped{Type: "dropped", Reason: hub.ReasonRateLimited, Count: rep.RateLimited, Total: rep.TotalRateLimited}); err != nil {
				return err
			}
		}
		if rep.BufferFull > 0 {
			if err := snd.control(ctx, controlDropped{Type: "dropped", Reason: hub.ReasonBufferFull, Count: rep.BufferFull, Total: rep.TotalBufferFull}); err != nil {
				return err
			}
		}
		if rep.FilterBehind > 0 {
			if err := snd.control(ctx, controlDropped{Type: "dropped", Reason: hub.ReasonFilterBehind, Count: rep.FilterBehind, Total: rep.TotalFilterBehind}); err != nil {
				return err
			}
		}
		if g := s.TakeGapReport(); g.Gaps > 0 {
			if err := snd.control(ctx, gapControl(g)); err != nil {
				return err
			}
		}
		now := t.now()
		// Closed is told once, by end (the close frame, or SSE's final status event with its
		// reason). A tick that wins the select against att.Done once the hub ended the stream
		// would otherwise send it first, or write on the cancelled context, which drops the
		// WebSocket without its close frame.
		if st := s.Status(now); st != lastStatus && st != hub.StatusClosed {
			lastStatus = st
			if err := snd.control(ctx, controlStatus{Type: "status", Status: st, CurrentRate: s.Stats(now).CurrentRate}); err != nil {
				return err
			}
		}
		return nil
	}
	checkUsage := func() error {
		u := s.BufferUsage()
		switch {
		case u > warnUsage && !warned:
			warned = true
			return snd.control(ctx, controlWarning{Type: "warning", BufferUsage: u,
				Message: fmt.Sprintf("stream buffer %.0f%% full; lines will be dropped when it is full (raise buffer_size or narrow the filters)", u*100)})
		case u <= warnUsage:
			warned = false
		}
		return nil
	}

	if err := controls(); err != nil {
		return
	}
	switch {
	case gone > 0:
		if err := snd.control(ctx, controlDropped{Type: "dropped", Reason: hub.ReasonRetention, Count: uint64(gone), Total: uint64(gone)}); err != nil {
			return
		}
	case gone == hub.GoneUncounted:
		if err := snd.control(ctx, controlUncounted{Type: "dropped", Reason: hub.ReasonRetention,
			Message: "the replay was too long to keep its order: lines of it after the one resumed from may have left the retained buffer"}); err != nil {
			return
		}
	}
	if err := send(replay, false); err != nil {
		return
	}
	replay = nil
	s.Delivered(at, 0, t.now())
	if !follow {
		end("")
		if !s.Ephemeral {
			t.hub.Remove(s.ID, hub.EndDeleted)
		}
		return
	}

	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	ping := time.NewTicker(t.cfg.Streams.PingInterval)
	defer ping.Stop()
	var buf []*ring.Entry
	// select picks among ready cases at random: once the hub ended the attachment, a tick or
	// a notification ready at the same time must not write on the cancelled context.
	ending := func() bool {
		select {
		case <-att.Done():
			return true
		default:
			return false
		}
	}
	for {
		select {
		case <-att.Done():
			return
		case <-ctx.Done():
			return
		case <-s.Notify():
			if ending() || checkUsage() != nil {
				return
			}
			buf = s.Drain(buf[:0])
			if send(buf, true) != nil {
				return
			}
			clear(buf)
			if controls() != nil {
				return
			}
		case <-tick.C:
			if ending() || checkUsage() != nil {
				return
			}
			// A PATCH resume signals Notify; this catches lines queued while paused too.
			// Lines first, then the reports, as on Notify: a drop or gap report follows the
			// lines queued before it (a backfill's lines, then what it could not bring).
			buf = s.Drain(buf[:0])
			if send(buf, true) != nil {
				return
			}
			clear(buf)
			if controls() != nil {
				return
			}
		case <-ping.C:
			if snd.ping(ctx) != nil {
				return
			}
		}
	}
}

type wsSender struct {
	c       *websocket.Conn
	conn    *heldConn
	timeout time.Duration
	// batch (?batch=true) sends a backlog of several entries as one JSON array per message;
	// a single entry is still one object, so a light stream pays nothing for it.
	batch bool
	buf   []byte
}

// send runs fn's writes as one batch: held, so that they leave in one write, and bounded by
// the write timeout and ctx. The library's writes get no context of their own (see heldConn).
func (s *wsSender) send(ctx context.Context, fn func() error) error {
	if err := s.conn.begin(ctx, s.timeout); err != nil {
		return err
	}
	s.conn.hold()
	err := fn()
	if rerr := s.conn.release(); err == nil {
		err = rerr
	}
	s.conn.finish()
	return err
}

func (s *wsSender) entries(ctx context.Context, es []*ring.Entry) error {
	return s.send(ctx, func() error {
		if s.batch && len(es) > 1 {
			b := append(s.buf[:0], '[')
			for i, e := range es {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, e.JSON()...)
			}
			b = append(b, ']')
			s.buf = b
			return s.conn.appendText(b)
		}
		// One message per entry, as the client asked, but one write for all of them.
		for _, e := range es {
			if err := s.conn.appendText(e.JSON()); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *wsSender) control(ctx context.Context, v any) error {
	b, _ := json.Marshal(v)
	return s.send(ctx, func() error { return s.c.Write(context.Background(), websocket.MessageText, b) })
}

func (s *wsSender) ping(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.c.Ping(pctx); err != nil {
		s.c.Close(closeStalled, "ping timeout")
		return err
	}
	return nil
}

func (s *wsSender) end(reason string) {
	code, text := closeFinished, "end of stream"
	switch reason {
	case hub.EndDeleted:
		text = "stream deleted"
	case hub.EndExpired:
		text = "stream expired"
	case hub.EndIdle:
		text = "stream idle timeout"
	case hub.EndShutdown:
		code, text = closeShutdown, "server shutting down"
	case hub.EndReplaced:
		code, text = closeReplaced, "stream attached by another connection"
	case hub.EndFilterTooSlow:
		// Policy violation: reconnecting with the same filter would end the same way.
		code, text = closeReplaced, "filter too slow: it kept exceeding its time budget per line; simplify it"
	}
	s.conn.handBack()
	_ = s.c.Close(code, text)
}

type httpSender struct {
	w       *batchWriter
	rc      *http.ResponseController
	fr      framing
	timeout time.Duration
	dlAt    time.Time // the write deadline set last
}

func (s *httpSender) flush() error {
	// Renewed once less than half is left, as for WebSocket (deadline).
	if now := time.Now(); s.dlAt.Sub(now) < s.timeout/2 {
		s.dlAt = now.Add(s.timeout)
		_ = s.rc.SetWriteDeadline(s.dlAt)
	}
	if err := s.w.Flush(); err != nil {
		return err
	}
	return s.rc.Flush()
}

func (s *httpSender) entries(_ context.Context, es []*ring.Entry) error {
	for _, e := range es {
		if s.fr == sseFraming {
			s.w.WriteString("id: ")
			s.w.WriteString(strconv.FormatUint(e.Seq, 10))
			s.w.WriteString("\ndata: ")
			s.w.Write(e.JSON())
			s.w.WriteString("\n\n")
		} else {
			s.w.Write(e.JSON())
			s.w.WriteByte('\n')
		}
	}
	return s.flush()
}

func (s *httpSender) control(_ context.Context, v any) error {
	b, _ := json.Marshal(v)
	if s.fr == sseFraming {
		// Named events carry no id, so Last-Event-ID stays the last entry's seq.
		var typ struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(b, &typ)
		s.w.WriteString("event: " + typ.Type + "\ndata: ")
		s.w.Write(b)
		s.w.WriteString("\n\n")
	} else {
		s.w.Write(b)
		s.w.WriteByte('\n')
	}
	return s.flush()
}

func (s *httpSender) ping(context.Context) error {
	if s.fr == sseFraming {
		s.w.WriteString(": ping\n\n")
	} else {
		s.w.WriteString("\n")
	}
	return s.flush()
}

func (s *httpSender) end(reason string) {
	if s.fr == sseFraming && reason != "" {
		b, _ := json.Marshal(controlStatus{Type: "status", Status: hub.StatusClosed, Message: reason})
		s.w.WriteString("event: status\ndata: ")
		s.w.Write(b)
		s.w.WriteString("\n\n")
	}
	_ = s.flush()
}

// batchWriter gathers what one send writes so that it reaches the connection as one write
// (a chunk of batchWriterMax once a backlog is larger). Unlike a bufio.Writer of that size
// it keeps at most batchWriterKeep between batches: a fixed 32 KiB per SSE stream was 8 MB
// of the live heap with 250 streams, scanned by every GC cycle.
type batchWriter struct {
	w   io.Writer
	buf []byte
	err error
}

const (
	batchWriterMax  = 32 << 10
	batchWriterKeep = 4 << 10
)

func (b *batchWriter) Write(p []byte) (int, error) {
	b.buf = append(b.buf, p...)
	if len(b.buf) >= batchWriterMax {
		b.writeOut()
	}
	return len(p), b.err
}

func (b *batchWriter) WriteString(s string) (int, error) {
	b.buf = append(b.buf, s...)
	return len(s), b.err
}

func (b *batchWriter) WriteByte(c byte) error {
	b.buf = append(b.buf, c)
	return b.err
}

func (b *batchWriter) writeOut() {
	if len(b.buf) > 0 && b.err == nil {
		_, b.err = b.w.Write(b.buf)
	}
	if cap(b.buf) > batchWriterKeep {
		b.buf = nil
	} else {
		b.buf = b.buf[:0]
	}
}

// Flush writes what was gathered; the first error sticks, as with bufio.
func (b *batchWriter) Flush() error {
	b.writeOut()
	return b.err
}
